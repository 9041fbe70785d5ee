"""Shape, layout and creation ops: values vs NumPy, static shapes with None dims, errors, grads."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.errors import InvalidArgumentError
from minigraph.testing import check_grads
from minigraph.testing.strategies import broadcastable_shapes, shapes

FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _run(fetch, feeds=None):
    return mg.Session().run(fetch, feeds or {})


def _rand(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape)


def _unknown(shape, dtype=mg.float64):
    return mg.placeholder(dtype, [None] * len(shape))


# -- shape queries --------------------------------------------------------------------------------


def test_shape_size_rank_dim_values_and_types():
    x = mg.placeholder(mg.float32, [None, 3])
    xv = np.zeros((5, 3), np.float32)
    assert mg.shape(x).type == ((2,), np.int64) and mg.size(x).type == ((), np.int64)
    assert mg.rank(x).dtype == np.int32
    got = _run([mg.shape(x), mg.size(x), mg.rank(x), mg.dim(x, 0), mg.dim(x, -1)], {x: xv})
    assert [np.asarray(g).tolist() for g in got] == [[5, 3], 15, 2, 5, 3]
    assert mg.shape(mg.placeholder(mg.float32)).type.shape == (None,)
    assert mg.shape(x, out_type=mg.int32).dtype == np.int32


def test_symbolic_dims_support_arithmetic():
    x = mg.placeholder(mg.float32, [None, 4])
    n = x.shape[0]
    assert x.shape[1] == 4 and n.node.op == "dim"
    assert int(_run(n * 2 + 1, {x: np.zeros((3, 4), np.float32)})) == 7
    assert mg.dim(x, 1).node.op == "constant"
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        mg.dim(x, 2)


# -- reshape ------------------------------------------------------------------------------------


@st.composite
def _reshape_cases(draw):
    shape = draw(shapes(max_dims=4))
    size = math.prod(shape)
    factors = draw(st.permutations(list(shape) + [1]))
    target = list(factors)
    if size and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, target, draw(st.sampled_from(["static", "dims", "vector"]))


@FUZZ
@given(case=_reshape_cases())
def test_reshape_matches_numpy(case):
    shape, target, how = case
    xv = _rand(shape)
    x = _unknown(shape) if how != "static" else mg.placeholder(mg.float64, shape)
    feeds = {x: xv}
    given_shape = target
    if how == "dims":  # every other entry is a fed int scalar
        given_shape = [mg.placeholder(mg.int64, []) if i % 2 else t for i, t in enumerate(target)]
        feeds.update({t: v for t, v in zip(given_shape, target) if isinstance(t, mg.Tensor)})
    elif how == "vector":
        given_shape = mg.placeholder(mg.int32, [None])
        feeds[given_shape] = np.array(target, np.int32)
    y = mg.reshape(x, given_shape)
    expected = xv.reshape(target)
    np.testing.assert_array_equal(_run(y, feeds), expected)
    if how == "static":
        assert y.type.shape == expected.shape
    elif how == "dims":
        assert len(y.type.shape) == expected.ndim
        assert all(d is None or d == e for d, e in zip(y.type.shape, expected.shape))


def test_reshape_static_inference_with_symbolic_dims():
    x = mg.placeholder(mg.float32, [None, 3, 4])
    assert mg.reshape(x, [x.shape[0], -1]).type.shape == (None, 12)
    assert mg.reshape(x, [-1, 2, 6]).type.shape == (None, 2, 6)
    assert mg.reshape(x, mg.shape(x)).type.shape == (None, 3, 4)
    n = mg.placeholder(mg.int32, [])
    assert mg.reshape(x, [n, -1]).type.shape == (None, None)
    assert mg.reshape(x, mg.placeholder(mg.int32, [None])).type.shape is None
    assert mg.reshape(mg.placeholder(mg.float32, [2, 6]), [3, -1]).type.shape == (3, 4)
    y = mg.placeholder(mg.float32, [None, 5])
    flat = mg.reshape(x, [y.shape[0], -1])  # another tensor's dim: no inference possible
    assert flat.type.shape == (None, None)


def test_reshape_errors():
    x = mg.placeholder(mg.float32, [2, 3])
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\) \(6 "
                                         r"elements\) into shape \(4,\)"):
        mg.reshape(x, [4])
    with pytest.raises(ValueError, match="more than one -1"):
        mg.reshape(x, [-1, -1])
    with pytest.raises(ValueError, match="negative dimension"):
        mg.reshape(x, [-2, 3])
    with pytest.raises(ValueError, match=r"into shape \(4, -1\)"):
        mg.reshape(x, [4, -1])
    with pytest.raises(TypeError, match="integer dtype"):
        mg.reshape(x, mg.constant([2.0, 3.0]))
    dynamic = mg.placeholder(mg.float32, [None, 3])
    with pytest.raises(InvalidArgumentError, match=r"cannot reshape a tensor of shape \(5, 3\) "
                                                   r"\(15 elements\) into shape \(2, -1\)"):
        _run(mg.reshape(dynamic, [2, -1]), {dynamic: np.zeros((5, 3), np.float32)})


@pytest.mark.parametrize("order", [1, 2])
def test_reshape_gradients_static_and_dynamic(order):
    check_grads(lambda t: mg.reshape(t, [3, -1]) ** 2, [_rand((2, 3, 2))], order=order)
    check_grads(lambda t: mg.reshape(t * t, [t.shape[0] * 2, -1]), [_rand((2, 3, 2))],
                order=order)

    def dynamic(t):
        flat = mg.reshape(t, [-1])  # the gradient must reshape back through shape(t)
        return flat * flat

    x = mg.placeholder(mg.float64, [None, None])
    grad = mg.gradients(dynamic(x), [x])[0]
    assert grad.type.shape == (None, None)
    xv = _rand((3, 2))
    np.testing.assert_allclose(_run(grad, {x: xv}), 2 * xv)


# -- transpose / expand_dims / squeeze -------------------------------------------------------------


@FUZZ
@given(shape=shapes(max_dims=4), data=st.data())
def test_transpose_matches_numpy(shape, data):
    perm = data.draw(st.one_of(st.none(), st.permutations(range(len(shape)))))
    xv = _rand(shape)
    y = mg.transpose(xv, perm)
    np.testing.assert_array_equal(_run(y), np.transpose(xv, perm))
    assert mg.transpose(_unknown(shape), perm).type.shape == (None,) * len(shape)


def test_transpose_gradient_and_errors():
    check_grads(lambda t: mg.transpose(t, [2, 0, 1]) * mg.transpose(t, [2, 0, 1]),
                [_rand((2, 3, 4))], order=2)
    check_grads(lambda t: t.T, [_rand((2, 3))])
    assert mg.placeholder(mg.float32, [None, 3]).T.type.shape == (3, None)
    with pytest.raises(ValueError, match="not a permutation"):
        mg.transpose(mg.placeholder(mg.float32, [2, 3]), [0, 0])


@FUZZ
@given(shape=shapes(max_dims=3), data=st.data())
def test_expand_dims_and_squeeze_match_numpy(shape, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    xv = _rand(shape)
    grown = mg.expand_dims(xv, axis)
    np.testing.assert_array_equal(_run(grown), np.expand_dims(xv, axis))
    np.testing.assert_array_equal(_run(mg.squeeze(grown, [axis])), xv)
    np.testing.assert_array_equal(_run(mg.squeeze(grown)), np.squeeze(np.expand_dims(xv, axis)))


def test_squeeze_static_inference_and_errors():
    x = mg.placeholder(mg.float32, [1, None, 3, 1])
    assert mg.squeeze(x, [0, -1]).type.shape == (None, 3)
    assert mg.squeeze(x, squeeze_dims=[1]).type.shape == (1, 3, 1)
    assert mg.squeeze(x).type.shape is None  # the unknown dim might be 1
    assert mg.squeeze(mg.placeholder(mg.float32, [1, 2, 1])).type.shape == (2,)
    assert mg.expand_dims(x, dim=1).type.shape == (1, 1, None, 3, 1)
    with pytest.raises(ValueError, match="cannot squeeze axis 2 of size 3"):
        mg.squeeze(x, 2)
    with pytest.raises(ValueError, match="axis 5 is out of range"):
        mg.expand_dims(x, 5)


def test_expand_dims_squeeze_gradients():
    check_grads(lambda t: mg.expand_dims(t, 1) ** 2, [_rand((2, 3))], order=2)
    check_grads(lambda t: mg.squeeze(t) ** 2, [_rand((2, 1, 3, 1))], order=2)


# -- concat / stack / unstack / split --------------------------------------------------------------


@st.composite
def _concat_cases(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    sizes = draw(st.lists(st.integers(0, 3), min_size=1, max_size=4))
    k = axis % len(shape)
    return [shape[:k] + (n,) + shape[k + 1:] for n in sizes], axis


@FUZZ
@given(case=_concat_cases())
def test_concat_and_split_match_numpy(case):
    part_shapes, axis = case
    parts = [_rand(s, i) for i, s in enumerate(part_shapes)]
    phs = [_unknown(s) for s in part_shapes]
    joined = mg.concat(phs, axis)
    expected = np.concatenate(parts, axis)
    np.testing.assert_array_equal(_run(joined, dict(zip(phs, parts))), expected)
    assert mg.concat(parts, axis).type.shape == expected.shape
    sizes = [s[axis] for s in part_shapes]
    pieces = mg.split(expected, sizes, axis)
    for got, want in zip(_run(pieces), parts):
        np.testing.assert_array_equal(got, want)
    assert [p.type.shape for p in pieces] == [p.shape for p in parts]


@FUZZ
@given(shape=shapes(), count=st.integers(1, 3), data=st.data())
def test_stack_and_unstack_match_numpy(shape, count, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    values = [_rand(shape, i) for i in range(count)]
    stacked = mg.stack(values, axis)
    expected = np.stack(values, axis)
    assert stacked.type.shape == expected.shape
    np.testing.assert_array_equal(_run(stacked), expected)
    for got, want in zip(_run(mg.unstack(stacked, axis=axis)), values):
        np.testing.assert_array_equal(got, want)


def test_join_static_inference_and_errors():
    a, b = mg.placeholder(mg.float32, [None, 3]), mg.placeholder(mg.float32, [2, None])
    assert mg.concat([a, b], 0).type.shape == (None, 3)
    assert mg.concat([b, b], 0).type.shape == (4, None)
    assert mg.concat([a, b], 1).type.shape == (2, None)
    assert mg.stack([a, b], 1).type.shape == (2, 2, 3)
    assert mg.stack([1, mg.dim(a, 0)]).dtype == np.int64
    with pytest.raises(ValueError, match="must match in axis 1"):
        mg.concat([a, mg.placeholder(mg.float32, [2, 4])], 0)
    with pytest.raises(ValueError, match="same rank"):
        mg.stack([a, mg.placeholder(mg.float32, [3])])
    with pytest.raises(ValueError, match="cannot infer num"):
        mg.unstack(a)
    with pytest.raises(ValueError, match="do not add up to the size 3"):
        mg.split(a, [1, 1], axis=1)
    with pytest.raises(ValueError, match="does not split into 2 equal parts"):
        mg.split(a, 2, axis=1)


def test_split_forms():
    x = mg.placeholder(mg.float64, [None, 6])
    xv = _rand((2, 6))
    parts = mg.split(x, [1, -1, 2], axis=1)
    assert [p.type.shape for p in parts] == [(None, 1), (None, 3), (None, 2)]
    for got, want in zip(_run(parts, {x: xv}), np.split(xv, [1, 4], axis=1)):
        np.testing.assert_array_equal(got, want)
    n = mg.placeholder(mg.int32, [])
    dynamic = mg.split(x, [n, 6 - n], axis=-1)
    assert [p.type.shape for p in dynamic] == [(None, None)] * 2
    got = _run(dynamic, {x: xv, n: 4})
    np.testing.assert_array_equal(got[1], xv[:, 4:])
    assert [p.type.shape for p in mg.split(x, 3, axis=1)] == [(None, 2)] * 3
    with pytest.raises(InvalidArgumentError, match="do not add up"):
        _run(dynamic, {x: xv, n: 7})


def test_join_gradients_including_unused_outputs():
    check_grads(lambda a, b: mg.concat([a, b * b], axis=-1), [_rand((2, 1)), _rand((2, 3))],
                order=2)
    check_grads(lambda a, b: mg.stack([a, b * b], axis=1), [_rand((2, 3)), _rand((2, 3))],
                order=2)
    check_grads(lambda t: mg.split(t, [1, 3], axis=1)[1] ** 2, [_rand((2, 4))], order=2)
    check_grads(lambda t: mg.unstack(t, axis=1)[0] ** 2, [_rand((2, 3))], order=2)

    a, b = _unknown((2, 2)), _unknown((3, 2))
    joined = mg.concat([a, b], 0)  # dims unknown: the gradient splits at run time
    grads = mg.gradients(joined * joined, [a, b])
    av, bv = _rand((2, 2)), _rand((3, 2))
    got = _run(grads, {a: av, b: bv})
    np.testing.assert_allclose(got[0], 2 * av)
    np.testing.assert_allclose(got[1], 2 * bv)


# -- broadcast_to / tile / fill / range ------------------------------------------------------------


@FUZZ
@given(pair=broadcastable_shapes((), 2), symbolic=st.booleans())
def test_broadcast_to_matches_numpy(pair, symbolic):
    x_shape, other = pair
    target = np.broadcast_shapes(x_shape, other)
    xv = _rand(x_shape)
    holder = _unknown(target)
    shape = [holder.shape[i] for i in range(len(target))] if symbolic else target
    y = mg.broadcast_to(xv, shape)
    np.testing.assert_array_equal(_run(y, {holder: np.zeros(target)}),
                                  np.broadcast_to(xv, target))
    if not symbolic:
        assert y.type.shape == target


def test_broadcast_to_inference_errors_and_gradient():
    x = mg.placeholder(mg.float32, [3, 1])
    n = mg.placeholder(mg.int32, [])
    assert mg.broadcast_to(x, [n, 3, n]).type.shape == (None, 3, None)
    with pytest.raises(ValueError, match=r"cannot broadcast \(3, 1\) to \(2, 4\)"):
        mg.broadcast_to(x, [2, 4])
    check_grads(lambda t: mg.broadcast_to(t, [2, 3, 4]) ** 2, [_rand((3, 1))], order=2)


@FUZZ
@given(shape=shapes(), data=st.data())
def test_tile_matches_numpy(shape, data):
    reps = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    xv = _rand(shape)
    y = mg.tile(xv, reps)
    assert y.type.shape == np.tile(xv, reps).shape
    np.testing.assert_array_equal(_run(y), np.tile(xv, reps))


def test_tile_gradients_static_and_dynamic():
    check_grads(lambda t: mg.tile(t, [2, 1, 3]) ** 2, [_rand((2, 3, 1))], order=2)
    x = mg.placeholder(mg.float64, [None, 2])
    m = mg.placeholder(mg.int32, [])
    tiled = mg.tile(x, [m, 2])
    assert tiled.type.shape == (None, 4)
    grad = mg.gradients(tiled * tiled, [x])[0]
    xv = _rand((3, 2))
    np.testing.assert_allclose(_run(grad, {x: xv, m: 3}), 2 * 6 * xv)
    with pytest.raises(ValueError, match="one entry per axis"):
        mg.tile(x, [2])


def test_fill_zeros_ones_with_symbolic_shapes():
    x = mg.placeholder(mg.float32, [None, 3])
    z = mg.zeros([x.shape[0], 2])
    o = mg.ones((x.shape[0], x.shape[1]), dtype=mg.int32)
    f = mg.fill(mg.shape(x), 2.5)
    assert z.type == ((None, 2), np.float32) and o.type == ((None, 3), np.int32)
    assert f.type.shape == (None, 3) and mg.zeros(4).type.shape == (4,)
    got = _run([z, o, f], {x: np.zeros((4, 3), np.float32)})
    np.testing.assert_array_equal(got[0], np.zeros((4, 2)))
    np.testing.assert_array_equal(got[1], np.ones((4, 3)))
    np.testing.assert_array_equal(got[2], np.full((4, 3), 2.5, np.float32))
    with pytest.raises(TypeError, match="ints or int scalar tensors"):
        mg.zeros([None, 3])
    with pytest.raises(ValueError, match="negative dimension"):
        mg.ones([-3])
    check_grads(lambda v: mg.fill([2, 3], v) ** 2, [np.array(0.7)], order=2)


def test_zeros_like_and_ones_like():
    x = mg.placeholder(mg.float32, [None, 2])
    xv = np.ones((3, 2), np.float32)
    zl, ol = mg.zeros_like(x), mg.ones_like(x, dtype=mg.int64)
    assert zl.type == ((None, 2), np.float32) and ol.dtype == np.int64
    got = _run([zl, ol], {x: xv})
    np.testing.assert_array_equal(got[0], np.zeros((3, 2)))
    np.testing.assert_array_equal(got[1], np.ones((3, 2)))


@pytest.mark.parametrize("args, kwargs", [
    ((5,), {}), ((2, 9, 3), {}), ((5, 1, -2), {}), ((0.5, 2.0, 0.25), {}), ((4, 2), {}),
    ((3,), {"dtype": "float64"}),
])
def test_range_matches_numpy(args, kwargs):
    y = mg.range(*args, **kwargs)
    expected = np.arange(*args)
    assert y.type.shape == expected.shape
    np.testing.assert_allclose(_run(y), expected)
    assert y.dtype == (np.dtype(kwargs["dtype"]) if kwargs else
                       np.int32 if all(isinstance(a, int) for a in args) else np.float32)


def test_range_with_tensor_bounds():
    y = mg.placeholder(mg.float32, [None, 4])
    idx = mg.arange(y.shape[0])
    assert idx.type == ((None,), np.int64)
    assert _run(idx, {y: np.zeros((3, 4), np.float32)}).tolist() == [0, 1, 2]
    n = mg.placeholder(mg.int32, [])
    stepped = mg.range(1, n, 2)
    assert stepped.dtype == np.int32
    assert _run(stepped, {n: 8}).tolist() == [1, 3, 5, 7]
    with pytest.raises(ValueError, match="delta must not be zero"):
        mg.range(0, 3, 0)
    with pytest.raises(InvalidArgumentError, match="delta must not be zero"):
        _run(mg.range(0, 3, n), {n: 0})
