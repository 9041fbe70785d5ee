"""Softmax, log-softmax, cross-entropies, l2_loss, ``mg.nn`` and ``mg.losses``: values,
stability at logits of +-1e4, gradients (first and second order) and errors."""
import numpy as np
import pytest

import minigraph as mg
import minigraph.losses as losses
import minigraph.nn as nn
from minigraph.errors import InvalidArgumentError
from minigraph.ops import elementwise
from minigraph.testing import check_grads

RNG = np.random.default_rng(1234)
HUGE = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [3.0, 1e4, 1e4]])


def _run(fetch, feeds=None):
    return mg.Session().run(fetch, feeds or {})


def _np_log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _np_sigmoid_xent(z, x):
    return np.logaddexp(0, x) - x * z


def _distribution(shape, axis=-1):
    w = RNG.uniform(0.1, 1.0, size=shape)
    return w / w.sum(axis=axis, keepdims=True)


# -- forward values ------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0, 1, 2, -2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_and_log_softmax_match_numpy(axis, dtype):
    x = RNG.normal(size=(2, 3, 4)).astype(dtype)
    ph = mg.placeholder(dtype, (None, 3, None))
    sm, lsm = _run([nn.softmax(ph, axis=axis), nn.log_softmax(ph, axis=axis)], {ph: x})
    tol = 1e-6 if dtype == "float32" else 1e-13
    assert sm.dtype == dtype and lsm.dtype == dtype
    np.testing.assert_allclose(lsm, _np_log_softmax(x, axis), rtol=tol, atol=tol)
    np.testing.assert_allclose(sm, np.exp(_np_log_softmax(x, axis)), rtol=tol, atol=tol)


def test_softmax_accepts_tf1_dim_alias_and_unknown_rank():
    x = RNG.normal(size=(3, 2))
    ph = mg.placeholder(mg.float64, None)
    got = _run(nn.softmax(ph, dim=0), {ph: x})
    np.testing.assert_allclose(got, np.exp(_np_log_softmax(x, 0)), rtol=1e-13)


def test_softmax_is_finite_for_huge_logits():
    sm, lsm = _run([nn.softmax(HUGE), nn.log_softmax(HUGE)])
    assert np.isfinite(sm).all() and np.isfinite(lsm).all()
    np.testing.assert_allclose(sm[0], [1, 0, 0])
    np.testing.assert_allclose(sm[1], [0, 0, 1])
    np.testing.assert_allclose(lsm[0], [0, -2e4, -1e4])


@pytest.mark.parametrize("fn", [nn.softmax_cross_entropy_with_logits,
                                nn.softmax_cross_entropy_with_logits_v2])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_cross_entropy_values(fn, axis):
    logits = RNG.normal(size=(4, 5))
    labels = _distribution((4, 5), axis)
    got = _run(fn(labels=labels, logits=logits, axis=axis))
    expected = -(labels * _np_log_softmax(logits, axis)).sum(axis=axis)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_cross_entropies_are_finite_and_right_for_huge_logits():
    onehot = np.eye(3)[[1, 0, 2]]
    dense = nn.softmax_cross_entropy_with_logits_v2(labels=onehot, logits=HUGE)
    sparse = nn.sparse_softmax_cross_entropy_with_logits(labels=[1, 0, 2], logits=HUGE)
    d, s = _run([dense, sparse])
    expected = [2e4, 2e4, np.log(2)]
    np.testing.assert_allclose(d, expected, rtol=1e-12)
    np.testing.assert_allclose(s, expected, rtol=1e-12)


def test_cross_entropy_gradients_are_finite_for_huge_logits():
    logits = mg.constant(HUGE)
    onehot = np.eye(3)[[1, 0, 2]]
    expected = np.exp(_np_log_softmax(HUGE)) - onehot
    dense = nn.softmax_cross_entropy_with_logits_v2(labels=onehot, logits=logits)
    sparse = nn.sparse_softmax_cross_entropy_with_logits(labels=[1, 0, 2], logits=logits)
    for loss in (dense, sparse):
        (g,) = _run(mg.gradients(loss, [logits]))
        np.testing.assert_allclose(g, expected, atol=1e-12)


def test_sparse_cross_entropy_values():
    logits = RNG.normal(size=(2, 3, 4)).astype("float32")
    labels = RNG.integers(0, 4, size=(2, 3)).astype("int32")
    got = _run(nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    picked = np.take_along_axis(_np_log_softmax(logits), labels[..., None], -1)[..., 0]
    assert got.dtype == np.float32 and got.shape == (2, 3)
    np.testing.assert_allclose(got, -picked, rtol=1e-6)


@pytest.mark.parametrize("bad", [4, -1])
def test_sparse_cross_entropy_rejects_out_of_range_labels_at_run_time(bad):
    labels = mg.placeholder(mg.int64, (None,))
    loss = nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=np.zeros((2, 4)))
    with pytest.raises(InvalidArgumentError, match=rf"label value of {bad} .*\[0, 4\)"):
        _run(loss, {labels: [0, bad]})


def test_sigmoid_cross_entropy_values_and_huge_logits():
    x = np.concatenate([RNG.normal(size=6), [1e4, -1e4, 1e4, -1e4]])
    z = np.concatenate([RNG.uniform(size=6), [0.0, 1.0, 1.0, 0.0]])
    got = _run(nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x))
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got[:6], _np_sigmoid_xent(z[:6], x[:6]), rtol=1e-12)
    np.testing.assert_allclose(got[6:], [1e4, 1e4, 0, 0], atol=1e-12)
    logits = mg.constant(x)
    (g,) = _run(mg.gradients(nn.sigmoid_cross_entropy_with_logits(labels=z, logits=logits),
                             [logits]))
    np.testing.assert_allclose(g, 1 / (1 + np.exp(-np.clip(x, -500, 500))) - z, atol=1e-12)


def test_l2_loss():
    t = RNG.normal(size=(3, 4)).astype("float32")
    got = _run(nn.l2_loss(t))
    assert got.dtype == np.float32 and got.shape == ()
    np.testing.assert_allclose(got, (t.astype("float64") ** 2).sum() / 2, rtol=1e-6)


# -- gradients -----------------------------------------------------------------------------------

X = RNG.normal(size=(3, 4))


@pytest.mark.parametrize("fn", [nn.softmax, nn.log_softmax])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_gradients_first_and_second_order(fn, axis):
    check_grads(lambda x: fn(x, axis=axis), [X], order=2, seed=0)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_cross_entropy_v2_gradients_reach_labels_and_logits(axis):
    labels = _distribution(X.shape, axis)

    def loss(y, x):
        return nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x, axis=axis)
    check_grads(loss, [labels, X], order=2, seed=0)


def test_v1_cross_entropy_stops_gradient_to_labels_but_v2_does_not():
    labels, logits = mg.constant(np.eye(4)[:3]), mg.constant(X)
    v1 = nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    v2 = nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
    assert mg.gradients(v1, [labels]) == [None]
    (g,) = _run(mg.gradients(v2, [labels]))
    np.testing.assert_allclose(g, -_np_log_softmax(X), rtol=1e-12)


def test_sparse_cross_entropy_gradients():
    labels = np.array([0, 3, 1])
    check_grads(lambda x: nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=x),
                [X], order=2, seed=0)
    ph = mg.placeholder(mg.int32, (3,))
    loss = nn.sparse_softmax_cross_entropy_with_logits(labels=ph, logits=X)
    assert mg.gradients(loss, [ph]) == [None]


def test_sigmoid_cross_entropy_gradients():
    z = RNG.uniform(size=X.shape)
    check_grads(lambda y, x: nn.sigmoid_cross_entropy_with_logits(labels=y, logits=x),
                [z, X], order=2, seed=0)


def test_l2_loss_gradient():
    check_grads(nn.l2_loss, [X], order=2, seed=0)


# -- static errors and API shape -----------------------------------------------------------------


def test_static_errors_name_the_problem():
    with pytest.raises(ValueError, match="rank >= 1"):
        nn.softmax(mg.constant(1.0))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        nn.log_softmax(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match="same shape"):
        nn.softmax_cross_entropy_with_logits_v2(labels=np.zeros((2, 4)), logits=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="same dtype"):
        nn.sigmoid_cross_entropy_with_logits(labels=mg.constant(np.zeros(2, "float32")),
                                             logits=np.zeros(2))
    with pytest.raises(ValueError, match="int32 or int64"):
        nn.sparse_softmax_cross_entropy_with_logits(labels=np.zeros(2), logits=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"labels and logits\[:-1\]"):
        nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 1, 2], logits=np.zeros((2, 3)))


def test_cross_entropies_take_keyword_arguments_only():
    with pytest.raises(TypeError):
        nn.softmax_cross_entropy_with_logits(np.eye(2), np.zeros((2, 2)))


def test_nn_namespace_reexports_activations():
    assert nn.relu is elementwise.relu and nn.tanh is elementwise.tanh
    assert nn.softmax is mg.softmax and nn.l2_loss is mg.l2_loss
    for name in nn.__all__:
        assert callable(getattr(nn, name)) or name == "rnn_cell", name


# -- tf.losses -----------------------------------------------------------------------------------


def test_mean_squared_error_is_the_mean_and_lands_in_the_collection():
    labels, preds = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    loss = losses.mean_squared_error(labels, preds)
    np.testing.assert_allclose(_run(loss), ((preds - labels) ** 2).mean(), rtol=1e-12)
    assert losses.get_losses() == [loss]


def test_weighted_reductions_follow_tf1():
    labels, preds = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    weights = np.array([[1.0], [0.0], [2.0], [0.0]])
    sq = weights * (preds - labels) ** 2
    R = losses.Reduction
    expected = {R.SUM_BY_NONZERO_WEIGHTS: sq.sum() / 6, R.SUM: sq.sum(),
                R.MEAN: sq.sum() / 9, R.SUM_OVER_BATCH_SIZE: sq.sum() / 12, R.NONE: sq}
    for reduction, value in expected.items():
        got = _run(losses.mean_squared_error(labels, preds, weights, reduction=reduction))
        np.testing.assert_allclose(got, value, rtol=1e-12)
    assert _run(losses.mean_squared_error(labels, preds, weights=0.0)) == 0.0


def test_mean_squared_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(3, 1\) and predictions \(3,\)"):
        losses.mean_squared_error(np.zeros((3, 1)), np.zeros(3))


def test_softmax_cross_entropy_loss_with_smoothing_and_no_label_gradient():
    logits = RNG.normal(size=(4, 5))
    onehot = np.eye(5)[[0, 2, 4, 1]]
    smoothed = onehot * 0.9 + 0.1 / 5
    labels = mg.constant(onehot)
    loss = losses.softmax_cross_entropy(labels, logits, label_smoothing=0.1)
    expected = -(smoothed * _np_log_softmax(logits)).sum(-1).mean()
    np.testing.assert_allclose(_run(loss), expected, rtol=1e-12)
    assert mg.gradients(loss, [labels]) == [None]


def test_sparse_and_sigmoid_losses_are_batch_means():
    logits = RNG.normal(size=(4, 5))
    labels = np.array([0, 2, 4, 1])
    sparse = losses.sparse_softmax_cross_entropy(labels, logits)
    expected = -np.take_along_axis(_np_log_softmax(logits), labels[:, None], -1).mean()
    np.testing.assert_allclose(_run(sparse), expected, rtol=1e-12)
    z = RNG.uniform(size=(4, 5))
    sig = losses.sigmoid_cross_entropy(z, logits, label_smoothing=0.2)
    expected = _np_sigmoid_xent(z * 0.8 + 0.1, logits).mean()
    np.testing.assert_allclose(_run(sig), expected, rtol=1e-12)


def test_losses_differentiate_to_the_predictions():
    labels = RNG.normal(size=(3, 2))
    check_grads(lambda p: losses.mean_squared_error(labels, p), [X[:, :2]], seed=0)
    check_grads(lambda x: losses.sparse_softmax_cross_entropy([1, 0, 3], x), [X], seed=0)
