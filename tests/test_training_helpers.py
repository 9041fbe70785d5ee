"""TF1 training helpers: dropout, clip_by_norm / global_norm / clip_by_global_norm,
l2_normalize, moments and batch_normalization — values, gradients, statistics and errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigraph as mg
import minigraph.nn as nn
from minigraph.clip import clip_by_global_norm, clip_by_norm, global_norm
from minigraph.testing import check_grads
from minigraph.testing.strategies import shapes

RNG = np.random.default_rng(5)


def _run(fetch, feeds=None):
    return mg.Session().run(fetch, feeds or {})


def _values(seed, shape):
    """Standard normal float64 values, nudged away from zero."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return np.where(np.abs(x) < 0.1, 0.5, x)


# -- dropout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, keep", [({"keep_prob": 0.3}, 0.3), ({"rate": 0.75}, 0.25)])
def test_dropout_keeps_the_right_fraction_scaled_by_one_over_keep(kwargs, keep):
    got = _run(nn.dropout(np.ones((400, 500)), seed=7, **kwargs))
    kept = got != 0
    assert abs(kept.mean() - keep) < 0.01
    np.testing.assert_allclose(got[kept], 1 / keep, rtol=1e-12)


def test_dropout_with_a_tensor_keep_prob_fed_one_is_the_identity():
    x = RNG.standard_normal((50, 8)).astype(np.float32)
    ph = mg.placeholder(mg.float32, (None, 8))
    keep = mg.placeholder(mg.float32, ())
    y = nn.dropout(ph, keep, seed=1)
    sess = mg.Session()
    np.testing.assert_array_equal(sess.run(y, {ph: x, keep: 1.0}), x)
    halved = sess.run(y, {ph: x, keep: 0.5})
    assert 0.3 < (halved != 0).mean() < 0.7


def test_dropout_keep_prob_one_returns_x():
    x = mg.placeholder(mg.float32, (3,))
    assert nn.dropout(x, 1.0) is x and nn.dropout(x, rate=0) is x


def test_dropout_is_reproducible_with_a_seed_and_fresh_per_run():
    y = nn.dropout(np.ones((20, 20)), 0.5, seed=3)
    first, second = mg.Session(), mg.Session()
    a = first.run(y)
    np.testing.assert_array_equal(a, second.run(y))
    assert not np.array_equal(a, first.run(y))


def test_dropout_noise_shape_broadcasts_and_fills_none():
    x = np.ones((300, 4))
    for noise_shape in ([300, 1], [None, 1]):
        got = _run(nn.dropout(x, 0.5, noise_shape=noise_shape, seed=2))
        assert (got == got[:, :1]).all() and 0.3 < (got[:, 0] != 0).mean() < 0.7


def test_dropout_gradient_is_the_scaled_mask():
    x = mg.placeholder(mg.float64, (30, 30))
    y = nn.dropout(x, 0.4, seed=4)
    grad = mg.gradients(mg.reduce_sum(y), [x])[0]
    out, grad = mg.Session().run([y, grad], {x: np.ones((30, 30))})
    np.testing.assert_allclose(grad, out, rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"keep_prob": 0.0}, "keep_prob must be in"), ({"keep_prob": 1.5}, "keep_prob must be in"),
    ({"rate": 1.0}, "rate must be in"), ({}, "exactly one"),
    ({"keep_prob": 0.5, "rate": 0.5}, "exactly one")])
def test_dropout_rejects_bad_probabilities(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.dropout(np.ones(3), **kwargs)


def test_dropout_rejects_integer_x():
    with pytest.raises(ValueError, match="float"):
        nn.dropout(np.ones(3, dtype=np.int32), 0.5)


# -- clipping ------------------------------------------------------------------------------------


def _np_clip_by_norm(t, clip, axes=None):
    norm = np.sqrt(np.sum(t * t, axis=axes, keepdims=True))
    return t * clip / np.maximum(norm, clip)


@pytest.mark.parametrize("axes", [None, 1, [0, 1]])
def test_clip_by_norm_matches_numpy(axes):
    t = RNG.standard_normal((4, 5))
    got = _run(clip_by_norm(t, 1.5, axes=axes))
    np_axes = tuple(axes) if isinstance(axes, list) else axes
    np.testing.assert_allclose(got, _np_clip_by_norm(t, 1.5, np_axes), rtol=1e-12)
    np.testing.assert_allclose(_run(clip_by_norm(t, 100.0, axes=axes)), t, rtol=1e-12)


def test_clip_by_norm_of_zeros_is_zero_with_zero_gradient():
    t = mg.placeholder(mg.float64, (3,))
    y = clip_by_norm(t, mg.constant(1.0, mg.float64))
    value, grad = mg.Session().run([y, mg.gradients(mg.reduce_sum(y), [t])[0]], {t: np.zeros(3)})
    assert (value == 0).all() and np.isfinite(grad).all()


@given(shape=shapes(min_dims=1, min_side=1), seed=st.integers(0, 2**16),
       factor=st.sampled_from([0.5, 2.0]))
def test_clip_by_norm_gradients(shape, seed, factor):
    t = _values(seed, shape)
    clip = factor * float(np.linalg.norm(t))  # clipped (0.5) or not (2.0), away from the kink
    check_grads(lambda x: clip_by_norm(x, clip), [t], seed=seed)


def test_clip_by_norm_gradients_per_row():
    t = np.array([[3.0, 4.0, 0.5], [0.1, -0.2, 0.3]])  # row norms ~5.0 and ~0.37, clip at 1
    check_grads(lambda x: clip_by_norm(x, 1.0, axes=[1]), [t], order=2, seed=0)


def test_global_norm_and_clip_by_global_norm_skip_none():
    a, b = RNG.standard_normal((3, 2)), RNG.standard_normal(4)
    norm = np.sqrt(np.sum(a * a) + np.sum(b * b))
    clipped, got_norm = clip_by_global_norm([a, None, b], 1.0)
    assert clipped[1] is None
    ca, cb, n, g = _run([clipped[0], clipped[2], got_norm, global_norm([None, a, b])])
    np.testing.assert_allclose([n, g], [norm, norm], rtol=1e-12)
    np.testing.assert_allclose(ca, a / norm, rtol=1e-12)
    np.testing.assert_allclose(cb, b / norm, rtol=1e-12)


def test_clip_by_global_norm_leaves_small_lists_and_takes_tensors():
    a = np.array([0.3, 0.4])
    limit = mg.placeholder(mg.float64, ())
    clipped, norm = clip_by_global_norm([a], limit, use_norm=mg.constant(0.5, mg.float64))
    got, n = mg.Session().run([clipped[0], norm], {limit: 2.0})
    np.testing.assert_allclose(got, a, rtol=1e-12)
    assert n == 0.5


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_clip_by_global_norm_gives_nan_for_an_infinite_norm():
    clipped, _ = clip_by_global_norm([np.array([np.inf, 1.0])], 1.0)
    assert np.isnan(_run(clipped[0])).all()


def test_clip_by_global_norm_gradients():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
    check_grads(lambda x, y: clip_by_global_norm([x, y], 1.0)[0], [a, b], order=2, seed=1)


def test_global_norm_errors():
    with pytest.raises(TypeError, match="sequence"):
        clip_by_global_norm(np.ones(3), 1.0)
    with pytest.raises(TypeError, match="sequence"):
        global_norm(mg.constant([1.0]))
    with pytest.raises(ValueError, match="no tensors"):
        global_norm([None])


# -- l2_normalize, moments, batch_normalization --------------------------------------------------


@pytest.mark.parametrize("kwargs, axes", [({}, None), ({"axis": 1}, 1), ({"dim": 0}, 0),
                                          ({"axis": [0, 1]}, (0, 1))])
def test_l2_normalize_matches_numpy(kwargs, axes):
    x = RNG.standard_normal((3, 4))
    expected = x / np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
    np.testing.assert_allclose(_run(nn.l2_normalize(x, **kwargs)), expected, rtol=1e-12)


def test_l2_normalize_of_zeros_uses_epsilon():
    got = _run(nn.l2_normalize(np.array([[0.0, 0.0], [3e-7, 4e-7]]), axis=1, epsilon=1e-12))
    np.testing.assert_allclose(got, [[0.0, 0.0], [0.3, 0.4]], rtol=1e-12)


def test_l2_normalize_rejects_clashing_axis_and_dim():
    with pytest.raises(ValueError, match="alias"):
        nn.l2_normalize(np.ones((2, 2)), axis=0, dim=1)


@given(shape=shapes(min_dims=1, min_side=1), seed=st.integers(0, 2**16))
def test_l2_normalize_gradients(shape, seed):
    check_grads(lambda x: nn.l2_normalize(x, axis=-1), [_values(seed, shape)], order=2, seed=seed)


@pytest.mark.parametrize("axes", [[0], [0, 2], [-1]])
@pytest.mark.parametrize("keep_dims", [False, True])
def test_moments_match_numpy(axes, keep_dims):
    x = RNG.standard_normal((3, 4, 5)) + 10
    mean, var = _run(nn.moments(x, axes, keep_dims=keep_dims))
    np.testing.assert_allclose(mean, x.mean(axis=tuple(axes), keepdims=keep_dims), rtol=1e-12)
    np.testing.assert_allclose(var, x.var(axis=tuple(axes), keepdims=keep_dims), rtol=1e-10)


def test_moments_of_float16_are_float16():
    mean, var = nn.moments(mg.constant(np.arange(6, dtype=np.float16)), [0])
    assert mean.dtype == np.float16 and var.dtype == np.float16
    np.testing.assert_allclose(_run([mean, var]), [2.5, 35 / 12], rtol=1e-3)


@given(shape=shapes(min_dims=2, min_side=1), seed=st.integers(0, 2**16))
def test_moments_gradients(shape, seed):
    check_grads(lambda x: nn.moments(x, [0, -1]), [_values(seed, shape)], order=2, seed=seed)


def _np_batch_norm(x, mean, var, offset, scale, eps):
    return (x - mean) / np.sqrt(var + eps) * scale + offset


@pytest.mark.parametrize("with_offset, with_scale", [(True, True), (False, True), (True, False),
                                                     (False, False)])
def test_batch_normalization_matches_numpy(with_offset, with_scale):
    x, mean, offset, scale = (RNG.standard_normal(s) for s in [(6, 3), 3, 3, 3])
    var = RNG.uniform(0.5, 2.0, 3)
    got = _run(nn.batch_normalization(x, mean, var, offset if with_offset else None,
                                      scale if with_scale else None, 1e-3))
    expected = _np_batch_norm(x, mean, var, offset if with_offset else 0,
                              scale if with_scale else 1, 1e-3)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_batch_normalization_with_moments_standardises():
    x = mg.placeholder(mg.float32, (None, 4))
    mean, var = nn.moments(x, [0])
    y = nn.batch_normalization(x, mean, var, None, None, 1e-6)
    got = _run(y, {x: RNG.standard_normal((100, 4)).astype(np.float32) * 3 + 1})
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(got.std(0), 1, atol=1e-4)


@given(shape=shapes(min_dims=1, min_side=1), seed=st.integers(0, 2**16))
def test_batch_normalization_gradients(shape, seed):
    rng = np.random.default_rng(seed)
    x, mean, offset, scale = (rng.standard_normal(s) for s in [shape] + [shape[-1:]] * 3)
    var = rng.uniform(0.5, 2.0, shape[-1:])
    check_grads(lambda *a: nn.batch_normalization(*a, variance_epsilon=1e-3),
                [x, mean, var, offset, scale], order=2, seed=seed)
