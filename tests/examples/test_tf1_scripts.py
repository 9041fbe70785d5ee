"""examples/tf1_scripts: TF1 course scripts run unmodified under ``import minigraph as tf``."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import minigraph as mg
from tests.backends import standin

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "examples" / "tf1_scripts"


def run_script(name: str, *args: str) -> str:
    """Run a script with ``--quick`` on the suite's backend (``cupy-standin``: through
    ``tests.backends.standin``); return its output."""
    backend = getattr(mg.config, "backend", "numpy")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MINIGRAPH_FLAGS=f"backend={backend}")
    runner = ["-m", "tests.backends.standin"] if backend == "cupy" and standin.active() else []
    done = subprocess.run([sys.executable, *runner, str(SCRIPTS / f"{name}.py"), "--quick", *args],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def numbers_after(label: str, text: str) -> list[float]:
    return [float(m) for m in re.findall(rf"{label}\S*:?\s+(-?\d+(?:\.\d+)?(?:e-?\d+)?)", text)]


def test_every_script_imports_minigraph_as_tf():
    for path in SCRIPTS.glob("*.py"):
        assert "import minigraph as tf  # the TF1 original: import tensorflow as tf" in \
            path.read_text(), path.name


def test_linear_regression_fits_the_line(tmp_path):
    out = run_script("linear_regression", "--logdir", str(tmp_path))
    losses = numbers_after("Epoch [0-9]+", out)
    assert losses[-1] < losses[0] / 2
    assert list(tmp_path.glob("events.out.tfevents.*")), "no event file for the graph"


def test_logistic_regression_learns_digits():
    pytest.importorskip("sklearn")
    out = run_script("logistic_regression")
    assert numbers_after("Accuracy", out)[0] > 0.85


def test_convnet_writes_summaries_and_resumes_from_its_checkpoint(tmp_path):
    pytest.importorskip("sklearn")
    first = run_script("convnet", "--workdir", str(tmp_path))
    second = run_script("convnet", "--workdir", str(tmp_path))
    assert "restored convnet-20" in second and "step 40" in second and "restored" not in first
    assert (tmp_path / "checkpoints" / "checkpoint").exists()
    assert list((tmp_path / "graphs").glob("events.out.tfevents.*"))


def test_word2vec_loss_falls(tmp_path):
    losses = numbers_after("Average loss at step [0-9]+", run_script(
        "word2vec_tb", "--logdir", str(tmp_path)))
    assert losses[-1] < losses[0] / 2


def test_char_rnn_trains_and_samples_text():
    out = run_script("char_rnn")
    samples = re.findall(r"^'T.*'$|^\"T.*\"$", out, flags=re.M)
    assert len(samples) == 3  # one 40-character sample per report
    losses = numbers_after("Loss", out)
    assert losses[-1] < losses[0]
