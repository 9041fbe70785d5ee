"""Reductions and argmax/argmin: values vs NumPy, dtypes, attrs, errors and gradients."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.ops.reduce import _exclusive_products
from minigraph.ops.registry import REGISTRY, apply_op
from minigraph.testing import check_grads
from minigraph.testing.strategies import shapes

FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NUMPY = {"reduce_sum": np.sum, "reduce_mean": np.mean, "reduce_max": np.max,
         "reduce_min": np.min, "reduce_prod": np.prod}
REDUCTIONS = [*NUMPY, "reduce_logsumexp"]


def _np_logsumexp(x, axis, keepdims):
    top = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


def _run(fetch, feeds=None):
    return mg.Session().run(fetch, feeds or {})


@st.composite
def _case(draw):
    """A shape, a user-style axis argument (None, int, list, negatives) and keepdims."""
    shape = draw(shapes(min_side=1))
    rank = len(shape)
    kind = draw(st.sampled_from(["none", "int", "list"] if rank else ["none", "list"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-rank, rank - 1))
    else:
        picked = draw(st.permutations(range(rank)))[:draw(st.integers(0, rank))]
        axis = [a - rank if draw(st.booleans()) else a for a in picked]
    return shape, axis, draw(st.booleans()), draw(st.booleans())


@pytest.mark.parametrize("op", REDUCTIONS)
@FUZZ
@given(case=_case(), seed=st.integers(0, 2**16))
def test_forward_matches_numpy(op, case, seed):
    shape, axis, keepdims, dynamic = case
    x = np.random.default_rng(seed).uniform(-2, 2, size=shape)
    ph = mg.placeholder(mg.float64, [None] * len(shape) if dynamic else shape)
    y = getattr(mg, op)(ph, axis, keepdims)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    reference = NUMPY.get(op, _np_logsumexp)
    expected = reference(x, axis=np_axis, keepdims=keepdims)
    got = _run(y, {ph: x})
    assert got.shape == np.shape(expected) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    static = y.get_shape()
    assert len(static) == got.ndim
    assert all(d is None or d == g for d, g in zip(static, got.shape))


@pytest.mark.parametrize("op", REDUCTIONS)
@FUZZ
@given(data=st.data())
def test_gradients_on_sampled_inputs(op, data):
    inputs, attrs = REGISTRY[op].sample(data.draw)
    check_grads(lambda x: apply_op(op, [x], attrs), inputs, order=1 if op == "reduce_prod" else 2)


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_mean", "reduce_logsumexp", "reduce_max"])
def test_gradients_through_tensor_methods_and_keepdims(op):
    x = np.random.default_rng(0).permutation(24).reshape(2, 3, 4) * 0.1
    check_grads(lambda t: getattr(mg, op)(t, [0, -1], keepdims=True) * 2.0, [x], order=2)
    check_grads(lambda t: getattr(mg, op)(t, 1), [x])


def test_tensor_methods():
    x = np.arange(6.0).reshape(2, 3)
    t = mg.constant(x)
    got = _run([t.sum(), t.sum(1), t.mean(0, keepdims=True), t.max(axis=1), t.min(), t.prod(1)])
    for g, e in zip(got, [x.sum(), x.sum(1), x.mean(0, keepdims=True), x.max(1), x.min(),
                          x.prod(1)]):
        np.testing.assert_allclose(g, e)
    assert _run(t.argmax()).tolist() == [1, 1, 1]  # TF1: axis None means axis 0


def test_integer_and_bool_dtypes():
    ints = mg.constant(np.array([[-3, 0], [4, 1]], dtype=np.int32))
    bools = mg.constant(np.array([[True, False], [True, True]]))
    assert mg.reduce_sum(ints).dtype == np.int32
    assert mg.reduce_max(ints, 0).dtype == np.int32
    assert mg.reduce_sum(bools).dtype == np.int64
    assert mg.reduce_max(bools).dtype == np.bool_
    means = _run(mg.reduce_mean(ints, 1))
    assert means.dtype == np.int32 and means.tolist() == [-1, 2]  # truncates toward zero
    bool_mean = mg.reduce_mean(bools)
    assert bool_mean.dtype == mg.dtypes.floatx()
    assert _run(bool_mean) == pytest.approx(0.75)
    assert _run(mg.reduce_sum(bools, 0)).tolist() == [2, 1]
    assert _run(mg.reduce_prod(ints, 0)).tolist() == [-12, 0]


def test_reduce_all_and_any():
    b = mg.constant(np.array([[True, False], [True, True]]))
    assert _run(mg.reduce_all(b, 1)).tolist() == [False, True]
    assert _run(mg.reduce_any(b, 0, keepdims=True)).tolist() == [[True, True]]
    with pytest.raises(TypeError, match="bool"):
        mg.reduce_all(mg.constant([1.0]))


def test_tf1_aliases():
    x = mg.placeholder(mg.float32, (None, 3, 4))
    assert mg.reduce_sum(x, reduction_indices=[1], keep_dims=True).get_shape().as_list() == [
        None, 1, 4]
    assert mg.reduce_mean(x, axis=2, keep_dims=False).get_shape().as_list() == [None, 3]
    assert mg.argmax(x, dimension=2).get_shape().as_list() == [None, 3]
    with pytest.raises(ValueError, match="reduction_indices"):
        mg.reduce_sum(x, axis=0, reduction_indices=1)
    with pytest.raises(ValueError, match="keep_dims"):
        mg.reduce_sum(x, keepdims=True, keep_dims=False)


def test_axis_attrs_are_canonical():
    x = mg.placeholder(mg.float32, (2, 3, 4))
    for axis in ([-1, 0], (0, 2), [2, -3], np.array([0, 2])):
        assert mg.reduce_sum(x, axis).op.attrs["axis"] == (0, 2)
    assert mg.reduce_max(x).op.attrs["axis"] == (0, 1, 2)
    assert mg.reduce_max(x, np.int64(-2)).op.attrs["axis"] == (1,)
    node = mg.reduce_prod(x, 1).op
    assert REGISTRY[node.op].kind == "reduction" and REGISTRY[node.op].extra["reduce"] == "prod"


def test_axis_errors_name_axis_rank_and_op():
    x = mg.placeholder(mg.float32, (None, 3), name="x")
    with pytest.raises(ValueError, match=r"reduce_sum .*axis 2 is out of range for a tensor of "
                                         r"rank 2.*\(\?, 3\) float32"):
        mg.reduce_sum(x, 2)
    with pytest.raises(ValueError, match=r"axis -3 is out of range for a tensor of rank 2"):
        mg.reduce_mean(x, [0, -3])
    with pytest.raises(ValueError, match="repeated axis"):
        mg.reduce_max(x, [1, -1])
    with pytest.raises(ValueError, match="argmax .*axis 2 is out of range"):
        mg.argmax(x, 2)
    with pytest.raises(ValueError, match="output_type"):
        mg.argmax(x, 1, output_type=mg.float32)
    with pytest.raises(ValueError, match="float"):
        mg.reduce_logsumexp(mg.constant([1, 2]))
    with pytest.raises(TypeError, match="axis"):
        mg.reduce_sum(x, mg.constant(0))


def test_unknown_rank_inputs():
    x = mg.placeholder(mg.float64)
    value = np.arange(24.0).reshape(2, 3, 4)
    total, kept, partial, last = mg.reduce_sum(x), mg.reduce_sum(x, keepdims=True), \
        mg.reduce_max(x, [2, 0]), mg.argmin(x, -1)
    assert total.get_shape() == () and kept.get_shape() is None and partial.get_shape() is None
    got = _run([total, kept, partial, last], {x: value})
    np.testing.assert_allclose(got[0], value.sum())
    assert got[1].shape == (1, 1, 1)
    np.testing.assert_allclose(got[2], value.max(axis=(0, 2)))
    assert got[3].tolist() == np.argmin(value, -1).tolist()
    with pytest.raises(ValueError, match="negative axis .* known rank"):
        mg.reduce_sum(x, -1)
    grad = mg.gradients(mg.reduce_mean(x, [0, 2]), x, grad_ys=np.ones(3))[0]
    np.testing.assert_allclose(_run(grad, {x: value}), np.full((2, 3, 4), 1 / 8))


def test_mean_gradient_with_dynamic_count():
    x = mg.placeholder(mg.float64, (None, 3))
    for axis, dy_shape, expected in ((0, (3,), 1 / 5), (None, (), 1 / 15), (1, (5,), 1 / 3)):
        grad = mg.gradients(mg.reduce_mean(x, axis), x, grad_ys=np.ones(dy_shape))[0]
        np.testing.assert_allclose(_run(grad, {x: np.zeros((5, 3))}), np.full((5, 3), expected))
    ops = {n.op for n in x.graph.nodes}
    assert "reduction_count" in ops


def test_extremum_gradient_splits_ties_equally():
    x = mg.constant(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
    grads = mg.gradients(mg.reduce_max(x, 1), x, grad_ys=np.array([1.0, 6.0]))[0]
    np.testing.assert_allclose(_run(grads), [[0, 0.5, 0.5], [2, 2, 2]])
    grads = mg.gradients(mg.reduce_min(x), x, grad_ys=np.array(1.0))[0]
    np.testing.assert_allclose(_run(grads), [[1, 0, 0], [0, 0, 0]])


def test_prod_gradient_handles_zeros():
    x = mg.constant(np.array([[2.0, 0.0, 3.0], [0.0, 5.0, 0.0], [1.0, 2.0, 4.0]]))
    grads = mg.gradients(mg.reduce_prod(x, 1), x, grad_ys=np.ones(3))[0]
    np.testing.assert_allclose(_run(grads), [[0, 6, 0], [0, 0, 0], [8, 4, 2]])
    with pytest.raises(LookupError, match="prod_grad"):
        mg.gradients(mg.reduce_sum(grads), x, grad_ys=np.array(1.0))


@FUZZ
@given(shape=shapes(), data=st.data(), seed=st.integers(0, 2**16))
def test_exclusive_products_match_brute_force(shape, data, seed):
    rng = np.random.default_rng(seed)
    x = np.where(rng.random(shape) < 0.3, 0.0, rng.uniform(-2, 2, shape))
    axis = tuple(a for a in range(len(shape)) if data.draw(st.booleans()))
    got = _exclusive_products(x, axis)
    assert got.shape == x.shape
    for index in np.ndindex(*shape):
        others = x.copy()
        others[index] = 1.0
        group = tuple(slice(None) if a in axis else i for a, i in enumerate(index))
        assert got[index] == pytest.approx(np.prod(others[group]), abs=1e-12)


def test_logsumexp_is_stable():
    x = mg.constant(np.array([[1000.0, 1000.0], [-1000.0, -1e4], [-np.inf, -np.inf]]))
    got = _run(mg.reduce_logsumexp(x, 1))
    np.testing.assert_allclose(got[:2], [1000 + np.log(2), -1000])
    assert got[2] == -np.inf
    y = mg.constant(np.array([[1000.0, 1000.0], [-1000.0, -1e4]]))
    grads = mg.gradients(mg.reduce_logsumexp(y, 1), y, grad_ys=np.ones(2))[0]
    np.testing.assert_allclose(_run(grads), [[0.5, 0.5], [1, 0]])


def test_argmax_argmin():
    x = np.array([[1.0, 5.0, 5.0], [7.0, -1.0, 0.0]])
    t = mg.constant(x)
    assert _run(mg.argmax(t)).tolist() == [1, 0, 0]
    assert _run(mg.argmax(t, 1)).tolist() == [1, 0]  # ties: first index, as TF
    assert _run(mg.argmin(t, -1)).tolist() == [0, 1]
    narrow = mg.argmax(t, 1, output_type=mg.int32)
    assert narrow.dtype == np.int32 and _run(narrow).dtype == np.int32
    assert mg.argmin(t, 0).dtype == np.int64
    assert mg.gradients(mg.cast(mg.argmax(t, 1), mg.float64), t, grad_ys=np.ones(2)) == [None]
    with pytest.raises(ValueError, match="out of range for a tensor of rank 0"):
        mg.argmax(mg.constant(1.0))


def test_empty_reductions():
    x = mg.constant(np.zeros((0, 3)))
    assert _run(mg.reduce_sum(x, 0)).tolist() == [0, 0, 0]
    assert _run(mg.reduce_prod(x, 0)).tolist() == [1, 1, 1]
    assert _run(mg.reduce_max(x, 1)).shape == (0,)
    assert np.isnan(_run(mg.reduce_mean(x)))
    grads = mg.gradients(mg.reduce_prod(x, 0), x, grad_ys=np.ones(3))[0]
    assert _run(grads).shape == (0, 3)
