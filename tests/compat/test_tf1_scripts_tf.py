"""The same TF1 course scripts under TensorFlow's tf.compat.v1 (the import line swapped): they
run, and where no random numbers are involved they print the same numbers as under minigraph."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.examples.test_tf1_scripts import SCRIPTS, numbers_after, run_script

pytest.importorskip("tensorflow")
TF_IMPORT = "import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()"


def run_under_tf(name: str, tmp_path: Path, *args: str) -> str:
    source = (SCRIPTS / f"{name}.py").read_text().replace(
        "import minigraph as tf  # the TF1 original: import tensorflow as tf", TF_IMPORT)
    script = tmp_path / f"{name}_tf.py"
    script.write_text(source)
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, str(script), "--quick", *args], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_linear_regression_prints_the_same_numbers(tmp_path):
    ours = numbers_after("Epoch [0-9]+", run_script("linear_regression", "--logdir",
                                                    str(tmp_path / "mg")))
    theirs = numbers_after("Epoch [0-9]+", run_under_tf("linear_regression", tmp_path,
                                                        "--logdir", str(tmp_path / "tf")))
    assert ours == pytest.approx(theirs, rel=1e-5)


@pytest.mark.parametrize("name", ["logistic_regression", "convnet", "word2vec_tb", "char_rnn"])
def test_script_runs_under_tensorflow(name, tmp_path):
    args = {"convnet": ["--workdir", str(tmp_path)],
            "word2vec_tb": ["--logdir", str(tmp_path)]}.get(name, [])
    assert run_under_tf(name, tmp_path, *args).strip()
