"""examples/quadratic.py: both API styles give the same numbers, the analytic recurrence,
convergence, the Momentum/Adam variants and the --compare table."""
import re

import pytest

from ._demos import help_text, require_examples_extra, run_demo, summary_line

LINE = re.compile(r"^step (\d+): cost=(-?\d+\.\d+) u=(-?\d+\.\d+)$")


@pytest.fixture(autouse=True)
def _extra():
    require_examples_extra()


def run_example(tmp_path, *args) -> str:
    stdout, _ = run_demo("quadratic", tmp_path, *args)
    return stdout


def steps_of(output: str) -> str:
    """The step lines (everything before the summary line)."""
    lines = output.splitlines()
    summary_line(output, "quadratic")
    return "\n".join(lines[:-1])


def parse(output: str) -> list[tuple[int, float, float]]:
    rows = []
    for line in steps_of(output).splitlines():
        match = LINE.match(line)
        assert match, f"unexpected line {line!r}"
        rows.append((int(match[1]), float(match[2]), float(match[3])))
    return rows


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    return {style: run_example(tmp_path_factory.mktemp(style), "--style", style)
            for style in ("tf", "theano")}


def test_both_styles_print_identical_numbers(outputs):
    assert steps_of(outputs["tf"]) == steps_of(outputs["theano"])


def test_default_style_is_tf(tmp_path):
    assert run_example(tmp_path, "--steps", "3") == run_example(tmp_path, "--style", "tf",
                                                                "--steps", "3")


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


def test_summary_line_and_png(tmp_path):
    output = run_example(tmp_path, "--steps", "20")
    line = summary_line(output, "quadratic")
    assert "optimizer=sgd" in line and "cost=0.750000" in line and "u=-0.499999" in line
    assert (tmp_path / "loss.png").stat().st_size > 1000


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_momentum_and_adam_agree_across_styles_and_converge(tmp_path, optimizer):
    runs = [parse(run_example(tmp_path, "--optimizer", optimizer, "--steps", "150",
                              "--style", style)) for style in ("tf", "theano")]
    assert runs[0] == runs[1]
    _, cost, u = runs[0][-1]
    assert u == pytest.approx(-0.5, abs=0.02) and cost == pytest.approx(0.75, abs=1e-3)


def test_momentum_follows_the_heavy_ball_recurrence(tmp_path):
    rows = parse(run_example(tmp_path, "--optimizer", "momentum", "--steps", "10"))
    u, velocity = 20.0, 0.0
    for _, _, printed_u in rows:
        assert printed_u == pytest.approx(u, rel=1e-5, abs=1e-5)
        velocity = 0.9 * velocity + (2 * u + 1)
        u -= 0.1 * velocity


def test_compare_prints_a_table_and_plots_three_curves(tmp_path):
    output = run_example(tmp_path, "--compare")
    table = {line.split()[0]: line.split() for line in output.splitlines()[1:4]}
    assert set(table) == {"sgd", "momentum", "adam"}
    assert float(table["sgd"][2]) == pytest.approx(0.75, abs=1e-6)
    assert table["sgd"][4] != "-"
    assert "fastest=sgd" in summary_line(output, "quadratic")
    assert (tmp_path / "loss.png").stat().st_size > 1000


def test_steps_option_and_help(tmp_path):
    assert len(parse(run_example(tmp_path, "--steps", "5", "--style", "theano"))) == 5
    text = help_text("quadratic")
    assert all(flag in text for flag in ("--style", "--optimizer", "--compare", "--quick",
                                         "--backend", "--out"))
