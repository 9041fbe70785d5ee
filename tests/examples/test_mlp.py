"""examples/mlp.py: the TF1 feed-loop MLP learns digits in --quick mode; the Fashion-MNIST
IDX reader and the dataset auto-detection work on a small fake data set."""
import gzip
import importlib

import numpy as np
import pytest

from ._demos import ROOT, help_text, require_examples_extra, run_demo, summary_line


@pytest.fixture(autouse=True)
def _extra():
    require_examples_extra("sklearn")


@pytest.fixture
def mlp(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    return importlib.import_module("mlp")


def write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fake_fashion(directory, n_train=200, n_test=50) -> None:
    """Fashion-MNIST-shaped IDX files: 28x28 images whose brightest row is the label."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        images[np.arange(n), 2 * labels + 3] = 250
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)


def test_quick_run_learns_digits(tmp_path):
    stdout, summary = run_demo("mlp", tmp_path, "--quick", "--dataset", "digits")
    line = summary_line(stdout, "mlp")
    assert "dataset=digits" in line and "test_accuracy=" in line
    assert summary["test_accuracy"] > 0.8  # chance is 0.1
    assert summary["final_loss"] < 0.5, summary  # starts at ln(10) = 2.3
    assert summary["steps"] == 3 * 43 and summary["step_ms"] > 0
    assert (tmp_path / "loss.png").stat().st_size > 1000


def test_rmsprop_option(tmp_path):
    # TF1's RMSProp starts its mean square at 1, so it starts slower than Adam.
    _, summary = run_demo("mlp", tmp_path, "--quick", "--dataset", "digits", "--optimizer",
                          "rmsprop", "--no-progress")
    assert summary["optimizer"] == "rmsprop" and summary["test_accuracy"] > 0.5


def test_auto_picks_fashion_mnist_when_its_files_are_there(tmp_path):
    data = tmp_path / "fashion"
    data.mkdir()
    fake_fashion(data)
    stdout, summary = run_demo("mlp", tmp_path / "out", "--quick", "--data-dir", str(data),
                               "--no-progress")
    assert "dataset=fashion-mnist" in summary_line(stdout, "mlp")
    assert summary["steps"] == 3 * 2  # 200 images, batch 128


def test_idx_reader(tmp_path, mlp):
    fake_fashion(tmp_path, n_train=7, n_test=3)
    x_train, x_test, y_train, y_test = mlp.load_fashion_mnist(tmp_path)
    assert x_train.shape == (7, 784) and x_test.shape == (3, 784)
    assert x_train.dtype == np.float32 and 0 <= x_train.min() and x_train.max() <= 1
    brightest_row = x_train.reshape(7, 28, 28).mean(axis=2).argmax(axis=1)
    np.testing.assert_array_equal(brightest_row, 2 * y_train + 3)
    assert mlp.choose_dataset("auto", tmp_path) == "fashion-mnist"
    assert mlp.choose_dataset("auto", tmp_path / "missing") == "digits"


def test_help_lists_the_options():
    text = help_text("mlp")
    for flag in ("--quick", "--backend", "--out", "--optimizer", "--dataset", "--data-dir"):
        assert flag in text
