"""examples/shake_shake.py: the custom-gradient mix (alpha forward, independent beta backward)
and a --quick run of both models."""
import importlib

import numpy as np
import pytest

import minigraph as mg

from ._demos import ROOT, help_text, require_examples_extra, run_demo, summary_line


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    return importlib.import_module("shake_shake")


def test_shake_mixes_with_alpha_and_backpropagates_with_an_independent_beta(demo):
    a = mg.placeholder(mg.float32, [None, 3])
    b = mg.placeholder(mg.float32, [None, 3])
    mixed = demo.shake(a, b)
    grad_a, grad_b = mg.gradients(mg.reduce_sum(mixed), [a, b])
    with mg.Session() as sess:
        y, ga, gb = sess.run([mixed, grad_a, grad_b], {a: np.ones((500, 3)), b: np.zeros((500, 3))})
    alpha, beta = y[:, 0], ga[:, 0]
    for per_example in (y, ga):  # one draw per example, shared across features
        np.testing.assert_array_equal(per_example, per_example[:, :1].repeat(3, axis=1))
    assert 0 <= alpha.min() and alpha.max() <= 1 and 0 <= beta.min() and beta.max() <= 1
    np.testing.assert_allclose(ga + gb, 1, atol=1e-6)
    assert abs(np.corrcoef(alpha, beta)[0, 1]) < 0.2  # independent draws, not alpha again
    assert 0.4 < alpha.mean() < 0.6 and 0.4 < beta.mean() < 0.6


def test_even_mix_is_the_mean(demo):
    with mg.Session() as sess:
        out = sess.run(demo.even(mg.constant([2.0, 4.0]), mg.constant([0.0, 8.0])))
    np.testing.assert_allclose(out, [1.0, 6.0])


def test_quick_run_trains_both_models(tmp_path):
    require_examples_extra("sklearn")
    stdout, summary = run_demo("shake_shake", tmp_path, "--quick")
    line = summary_line(stdout, "shake_shake")
    assert "shake_accuracy=" in line and "plain_accuracy=" in line
    assert "shake-shake" in stdout and "no shake" in stdout  # the side-by-side table
    assert summary["shake_accuracy"] > 0.5 and summary["plain_accuracy"] > 0.5  # chance: 0.1
    assert (tmp_path / "loss.png").stat().st_size > 1000


def test_help():
    text = help_text("shake_shake")
    assert all(flag in text for flag in ("--quick", "--backend", "--out", "--epochs"))
