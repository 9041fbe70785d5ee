"""stabilise: fragile forms become the stable primitives and stay finite at +-1e4."""
import numpy as np
import pytest

import minigraph as mg
from minigraph.compiler.pipeline import PASSES

from .util import ops, optimised, program_of, run

LOGITS = np.array([[1e4, -1e4, 0.0], [0.5, -0.25, 2.0]])
LABELS = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])


def _stabilised(fetches, fed):
    program, fired = PASSES["stabilise"](program_of(fetches, fed))
    return optimised(program, "dead_code"), fired


def _log_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def test_log_of_softmax_becomes_log_softmax():
    x = mg.placeholder("float64", (None, 3))
    y = mg.log(mg.softmax(x, axis=0))
    program, fired = _stabilised([y], [x])
    assert ops(program) == ["log_softmax"] and fired == ["log_softmax"]
    assert program.nodes[0].attrs["axis"] == 0
    assert program.nodes[0].origin is y.node
    with np.errstate(divide="ignore"):
        assert not np.isfinite(run(program_of([y], [x]), [LOGITS])[0]).all()
    (value,) = run(program, [LOGITS])
    np.testing.assert_allclose(value, _log_softmax(LOGITS.T).T)


def test_log_of_sigmoid_becomes_minus_softplus_of_minus_x():
    x = mg.placeholder("float64", (3,))
    program, fired = _stabilised([mg.log(mg.sigmoid(x))], [x])
    assert ops(program) == ["negative", "softplus", "negative"] and fired == ["log_sigmoid"]
    values = np.array([1e4, -1e4, 0.5])
    np.testing.assert_allclose(run(program, [values])[0], -np.logaddexp(0, -values))


@pytest.mark.parametrize("build", [
    lambda x: mg.log(1.0 + mg.exp(x)), lambda x: mg.log(mg.exp(x) + 1.0),
    lambda x: mg.log(mg.exp(x) + np.ones((1, 3))), lambda x: mg.log1p(mg.exp(x)),
])
def test_log_one_plus_exp_becomes_softplus(build):
    x = mg.placeholder("float64", (None, 3))
    program, fired = _stabilised([build(x)], [x])
    assert ops(program) == ["softplus"] and fired == ["softplus"]
    (value,) = run(program, [LOGITS])
    assert np.isfinite(value).all()
    np.testing.assert_allclose(value, np.logaddexp(0, LOGITS))


def test_log_of_exp_plus_a_broadcasting_one_is_kept():
    x = mg.placeholder("float64", (3,))
    program, fired = _stabilised([mg.log(mg.exp(x) + np.ones((2, 3)))], [x])
    assert fired == [] and "softplus" not in ops(program)


@pytest.mark.parametrize("build", [
    lambda labels, logits: -mg.reduce_sum(labels * mg.log(mg.softmax(logits)), axis=1),
    lambda labels, logits: mg.reduce_sum(-labels * mg.log(mg.softmax(logits)), axis=-1),
    lambda labels, logits: mg.reduce_sum(mg.log(mg.softmax(logits)) * -labels, axis=1),
    lambda labels, logits: mg.reduce_sum(labels * -mg.log_softmax(logits), axis=1),
    lambda labels, logits: -mg.reduce_sum(-(-(labels * mg.log_softmax(logits))), axis=1),
])
def test_cross_entropy_pattern_becomes_the_fused_op(build):
    labels, logits = mg.placeholder("float64", (None, 3)), mg.placeholder("float64", (None, 3))
    loss = mg.reduce_mean(build(labels, logits))
    program, fired = _stabilised([loss], [labels, logits])
    assert ops(program) == ["softmax_cross_entropy_with_logits", "reduce_mean"]
    assert fired[-1] == "softmax_cross_entropy"
    (value,) = run(program, [LABELS, LOGITS])
    assert np.isfinite(value)
    np.testing.assert_allclose(value, np.mean(-np.sum(LABELS * _log_softmax(LOGITS), axis=1)))


@pytest.mark.parametrize("build", [
    lambda labels, logits: -mg.reduce_sum(labels * mg.log_softmax(logits), axis=0),
    lambda labels, logits: -mg.reduce_sum(labels * mg.log_softmax(logits), 1, keepdims=True),
    lambda labels, logits: mg.reduce_sum(labels * mg.log_softmax(logits), axis=1),
    lambda labels, logits: -mg.reduce_sum(labels[0] * mg.log_softmax(logits), axis=1),
])
def test_cross_entropy_lookalikes_are_kept(build):
    labels, logits = mg.placeholder("float64", (2, 3)), mg.placeholder("float64", (2, 3))
    program, fired = _stabilised([build(labels, logits)], [labels, logits])
    assert "softmax_cross_entropy" not in fired


def test_tf1_tutorial_loss_is_finite_after_the_default_passes():
    labels, x = mg.placeholder("float64", (None, 3)), mg.placeholder("float64", (None, 3))
    w = mg.constant(np.eye(3))
    y = mg.nn.softmax(mg.matmul(x, w) * 1.0)
    loss = mg.reduce_mean(-mg.reduce_sum(labels * mg.log(y), axis=[1]))
    program = program_of([loss], [labels, x])
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.isnan(run(program, [LABELS, LOGITS])[0])
    stable = optimised(program)
    assert "softmax_cross_entropy_with_logits" in ops(stable) and "log" not in ops(stable)
    assert np.isfinite(run(stable, [LABELS, LOGITS])[0])
