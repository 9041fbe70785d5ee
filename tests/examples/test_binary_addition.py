"""examples/binary_addition.py: the scan RNN reaches 100% on held-out pairs (full default run,
a few seconds), the loss falls in --quick mode, and the data encoding is LSB first."""
import importlib

import numpy as np
import pytest

from ._demos import ROOT, help_text, require_examples_extra, run_demo, summary_line


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    return importlib.import_module("binary_addition")


def test_bits_are_least_significant_first(demo):
    np.testing.assert_array_equal(demo.to_bits(np.array([1, 6, 255]))[:3],
                                  [[1, 0, 1], [0, 1, 1], [0, 1, 1]])


def test_data_holds_out_a_quarter_of_the_pairs(demo):
    (x_tr, y_tr, a_tr, b_tr), (x_te, y_te, a_te, b_te) = demo.make_data(0)
    assert x_tr.shape == (8, 12288, 2) and y_te.shape == (8, 4096, 1)
    assert not set(zip(a_tr, b_tr)) & set(zip(a_te, b_te))
    np.testing.assert_array_equal((2 ** np.arange(8)) @ y_te[..., 0], a_te + b_te)
    np.testing.assert_array_equal((2 ** np.arange(8)) @ x_te[..., 1], b_te)


def test_default_run_adds_every_held_out_pair(tmp_path):
    require_examples_extra()
    stdout, summary = run_demo("binary_addition", tmp_path)
    assert "test_accuracy=1.0000" in summary_line(stdout, "binary_addition")
    assert summary["test_pairs"] == 4096 and summary["bit_accuracy"] == 1.0
    assert (tmp_path / "loss.png").stat().st_size > 1000


def test_quick_run_loss_falls(tmp_path):
    require_examples_extra()
    stdout, summary = run_demo("binary_addition", tmp_path, "--quick", "--no-progress")
    summary_line(stdout, "binary_addition")
    assert summary["steps"] == 800 and summary["final_loss"] < 0.5  # starts near 1.2


def test_help():
    text = help_text("binary_addition")
    assert all(flag in text for flag in ("--quick", "--backend", "--out", "--hidden"))
