"""The benchmark suite: a --quick smoke run, and the harness's agreement check and tables."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.harness import Case, Impl, Row, Timing, disagreement, format_case, run_case
from bench.targets import format_targets

ROOT = Path(__file__).resolve().parents[2]
TITLES = ["W1 quadratic", "W2 B128 SGD", "W2 B128 RMSProp", "W3 forward", "W3 gradient",
          "W4 RNN LM step", "W5 word2vec step",
          "W2 compile", "Issue 4 targets"]


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_quick_run_prints_every_table_and_agrees():
    proc = _run("-m", "bench", "--quick", "--threads", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for title in TITLES:
        assert title in proc.stdout
    assert "met?" in proc.stdout and "x BLAS floor" in proc.stdout
    assert "MISMATCH" not in proc.stdout and "ERROR" not in proc.stdout


def test_runs_as_a_script_and_rejects_unknown_workloads():
    proc = _run("bench/run.py", "--quick", "--only", "compile", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert "W2 compile" in proc.stdout and "minigraph[numpy] Session.run" in proc.stdout
    proc = _run("-m", "bench", "--only", "W9")
    assert proc.returncode == 2 and "unknown workload" in proc.stderr


def _constant(value):
    """An impl whose step does nothing and whose result is ``value``."""
    return lambda: (lambda: None, lambda: [np.asarray(value)])


def _raises():
    raise RuntimeError("cannot build")


EXPECTED = np.linspace(1.0, 2.0, 1000)
FAST = Timing(reps=3, sample_s=1e-4, warmup_s=1e-4)


def test_agreement_check_flags_a_wrong_implementation(capsys):
    case = Case("T", "toy", "us", [
        Impl("wrong", _constant(EXPECTED * 1.01)),
        Impl("right", _constant(EXPECTED + 1e-9)),
        Impl("ref", _constant(EXPECTED)),
        Impl("floor", lambda: (lambda: None, None)),
        Impl("broken", _raises),
    ], reference="ref", floor="floor")
    rows = {row.name: row for row in run_case(case, FAST)}
    assert rows["wrong"].status.startswith("MISMATCH") and not rows["wrong"].samples
    assert rows["broken"].status.startswith("ERROR: RuntimeError") and not rows["broken"].samples
    assert rows["right"].status == "ok" and len(rows["right"].samples) == 3
    assert rows["floor"].status == "floor" and len(rows["floor"].samples) == 3
    assert "wrong DISAGREES with ref" in capsys.readouterr().err
    table = format_case(case, list(rows.values()))
    assert "wrong" in table and "MISMATCH" in table and "x floor" in table


def test_rows_are_unchecked_when_the_reference_fails():
    case = Case("T", "toy", "us", [Impl("ref", _raises), Impl("other", _constant(EXPECTED))],
                reference="ref")
    rows = {row.name: row for row in run_case(case, FAST)}
    assert rows["other"].status.startswith("UNCHECKED") and not rows["other"].samples


@pytest.mark.parametrize("got, why", [
    ([EXPECTED], None),
    ([np.where(np.arange(1000) == 7, 0.0, EXPECTED)], None),  # one element off: a ReLU kink
    ([EXPECTED * 1.1], "relative error"),
    ([-EXPECTED], "relative error"),
    ([EXPECTED[:-1]], "shape"),
    ([np.full(1000, np.nan)], "non-finite"),
    ([EXPECTED, EXPECTED], "2 results"),
])
def test_disagreement(got, why):
    found = disagreement(got, [EXPECTED], rtol=0.05, atol=0.0)
    assert found is None if why is None else why in found


def test_target_table_judges_measured_rows_and_marks_the_rest():
    w1 = "W1 quadratic"
    results = {(w1, "minigraph[numpy] function"): Row("f", samples=[0.5e-6] * 3),
               (w1, "minigraph[numpy] make_callable"): Row("c", samples=[0.8e-6, 0.9e-6, 2e-6]),
               (w1, "minigraph[numpy] Session.run"): Row("s", samples=[7e-6] * 3)}
    lines = format_targets(results, ["numpy"]).splitlines()
    row = {line.split("  ")[0]: line.rstrip() for line in lines}
    assert row["W1 step via mg.function / make_callable"].endswith("yes (noisy)")
    assert row["W1 step via Session.run(train_op)"].endswith("NO")
    assert "not run" in row["W3 forward"]
