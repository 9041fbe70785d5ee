"""examples/quadratic.py in both API styles: same numbers, the analytic recurrence, convergence."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "quadratic.py")
LINE = re.compile(r"^step (\d+): cost=(-?\d+\.\d+) u=(-?\d+\.\d+)$")


def run_example(*args) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def parse(output: str) -> list[tuple[int, float, float]]:
    rows = []
    for line in output.splitlines():
        match = LINE.match(line)
        assert match, f"unexpected line {line!r}"
        rows.append((int(match[1]), float(match[2]), float(match[3])))
    return rows


@pytest.fixture(scope="module")
def outputs():
    return {style: run_example("--style", style) for style in ("tf", "theano")}


def test_both_styles_print_identical_numbers(outputs):
    assert outputs["tf"] == outputs["theano"]


def test_default_style_is_tf():
    assert run_example("--steps", "3") == run_example("--style", "tf", "--steps", "3")


def test_values_follow_the_gradient_descent_recurrence(outputs):
    rows = parse(outputs["tf"])
    assert [k for k, _, _ in rows] == list(range(20))
    u = 20.0
    for _, cost, printed_u in rows:
        assert printed_u == pytest.approx(u, abs=2e-6)
        assert cost == pytest.approx(u * u + u + 1, rel=1e-6, abs=2e-6)
        u = u - 0.3 * (2 * u + 1)


def test_converges_to_the_minimum(outputs):
    _, cost, u = parse(outputs["theano"])[-1]
    assert u == pytest.approx(-0.5, abs=1e-5)
    assert cost == pytest.approx(0.75, abs=1e-6)


def test_steps_option_and_help():
    assert len(parse(run_example("--steps", "5", "--style", "theano"))) == 5
    assert "--style" in run_example("--help")
