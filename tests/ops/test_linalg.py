"""matmul, dot (and ``@``) and tensordot: values vs NumPy, static errors and gradients."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.ops.registry import REGISTRY, apply_op
from minigraph.testing import check_grads
from minigraph.testing.strategies import broadcastable_shapes, shapes

FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _run(fetch, feeds=None):
    return mg.Session().run(fetch, feeds or {})


def _swap(shape, flag):
    return shape[:-2] + (shape[-1], shape[-2]) if flag else shape


@st.composite
def _matmul_case(draw):
    batch_a, batch_b = draw(broadcastable_shapes((), 2, max_dims=2, max_side=3))
    m, k, n = (draw(st.integers(0, 4)) for _ in range(3))
    ta, tb, dynamic = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    dtype = draw(st.sampled_from(["float64", "float32", "int32"]))
    return (_swap(batch_a + (m, k), ta), _swap(batch_b + (k, n), tb), ta, tb, dynamic,
            np.dtype(dtype))


@FUZZ
@given(case=_matmul_case(), seed=st.integers(0, 2**16))
def test_matmul_matches_numpy(case, seed):
    shape_a, shape_b, ta, tb, dynamic, dtype = case
    rng = np.random.default_rng(seed)
    a, b = (rng.integers(-3, 4, size=s).astype(dtype) for s in (shape_a, shape_b))
    pa, pb = (mg.placeholder(dtype, [None] * len(s) if dynamic else s)
              for s in (shape_a, shape_b))
    y = mg.matmul(pa, pb, transpose_a=ta, transpose_b=tb)
    expected = np.matmul(np.swapaxes(a, -1, -2) if ta else a, np.swapaxes(b, -1, -2) if tb else b)
    got = _run(y, {pa: a, pb: b})
    assert got.dtype == dtype and y.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    static = y.get_shape()
    assert len(static) == got.ndim
    assert all(d is None or d == g for d, g in zip(static, got.shape))


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_gradients_for_each_transpose_combination(ta, tb):
    rng = np.random.default_rng(int(ta) * 2 + int(tb))
    a = rng.standard_normal(_swap((2, 1, 3, 4), ta))
    b = rng.standard_normal(_swap((5, 4, 2), tb))
    check_grads(lambda x, y: mg.matmul(x, y, transpose_a=ta, transpose_b=tb), [a, b], order=2)


@FUZZ
@given(data=st.data())
def test_matmul_gradients_on_sampled_inputs(data):
    inputs, attrs = REGISTRY["matmul"].sample(data.draw)
    check_grads(lambda a, b: apply_op("matmul", [a, b], attrs), inputs)


def test_matmul_vjp_uses_no_transpose_nodes():
    a = mg.placeholder(mg.float64, (3, 4))
    b = mg.placeholder(mg.float64, (5, 4))
    grads = mg.gradients(mg.matmul(a, b, transpose_b=True), [a, b], grad_ys=np.ones((3, 5)))
    ops = {n.op for n in grads[0].graph.nodes}
    assert "transpose" not in ops and [g.get_shape().as_list() for g in grads] == [[3, 4],
                                                                                   [5, 4]]


def test_matmul_inner_dimension_error_shows_effective_shapes():
    x = mg.placeholder(mg.float32, (None, 784), name="x")
    w = mg.placeholder(mg.float32, (512, 10), name="w")
    with pytest.raises(ValueError) as info:
        mg.matmul(x, w)
    message = str(info.value)
    assert "cannot multiply (?, 784) by (512, 10)" in message
    assert message.startswith("matmul 'MatMul'") and "test_linalg.py" in message
    xt = mg.placeholder(mg.float32, (784, None))
    with pytest.raises(ValueError, match=r"cannot multiply \(\?, 784\) by \(512, 10\)"):
        mg.matmul(xt, w, transpose_a=True)
    with pytest.raises(ValueError, match=r"cannot multiply \(2, 3\) by \(2, 3\)"):
        mg.matmul(mg.constant(np.ones((2, 3))), mg.constant(np.ones((3, 2))), transpose_b=True)


def test_matmul_static_errors():
    m32 = mg.placeholder(mg.float32, (2, 3))
    with pytest.raises(ValueError, match="same dtype, got float32 and float64"):
        mg.matmul(m32, mg.placeholder(mg.float64, (3, 2)))
    with pytest.raises(ValueError, match=r"rank >= 2, got shape \(3,\)"):
        mg.matmul(m32, mg.placeholder(mg.float32, (3,)))
    with pytest.raises(ValueError, match="batch dimensions of .* cannot be broadcast"):
        mg.matmul(mg.placeholder(mg.float32, (2, 2, 3)), mg.placeholder(mg.float32, (3, 3, 2)))
    with pytest.raises(ValueError, match="bool"):
        mg.matmul(mg.constant(np.ones((2, 2), bool)), mg.constant(np.ones((2, 2), bool)))


def test_matmul_operands_and_flags():
    x = mg.placeholder(mg.float32, (None, 3))
    y = mg.matmul(x, np.ones((3, 2)), adjoint_b=False, a_is_sparse=True)
    assert y.dtype == np.float32 and y.get_shape().as_list() == [None, 2]
    z = mg.matmul(x, np.ones((2, 3)), adjoint_b=True)
    assert z.op.attrs["transpose_b"] is True
    unknown = mg.matmul(mg.placeholder(mg.float32), x)
    assert unknown.get_shape() is None
    assert REGISTRY["matmul"].kind == "linalg" and REGISTRY["matmul"].extra["broadcasts"]


DOT_SHAPES = [((), ()), ((), (3,)), ((2, 3), ()), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)),
              ((2, 3), (3, 4)), ((5, 2, 3), (3,)), ((3,), (5, 3, 4)), ((5, 2, 3), (3, 4)),
              ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (4, 3, 2)), ((0,), (0,)),
              ((2, 0), (0, 3))]


@pytest.mark.parametrize("shape_a, shape_b", DOT_SHAPES)
def test_dot_matches_numpy(shape_a, shape_b):
    rng = np.random.default_rng(len(shape_a) * 10 + len(shape_b))
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    expected = np.dot(a, b) if min(a.ndim, b.ndim) == 0 or max(a.ndim, b.ndim) <= 2 \
        else np.matmul(a, b)
    ta, tb = mg.constant(a), mg.constant(b)
    for y in (mg.dot(ta, tb), ta @ tb, ta.dot(b)):
        assert y.get_shape().as_list() == list(expected.shape)
        np.testing.assert_allclose(_run(y), expected, rtol=1e-12)
    if a.size and b.size:
        check_grads(mg.dot, [a, b], order=2)


def test_dot_operators_and_promotion():
    x = mg.placeholder(mg.float32, (None, 3))
    w = np.arange(6.0).reshape(3, 2)
    forward, reflected = x @ w, w.T @ mg.transpose(x)
    assert forward.dtype == np.float32 and forward.get_shape().as_list() == [None, 2]
    value = np.ones((4, 3), np.float32)
    got = _run([forward, reflected], {x: value})
    np.testing.assert_allclose(got[0], value @ w)
    np.testing.assert_allclose(got[1], w.T @ value.T)
    mixed = mg.dot(mg.constant(np.ones((2, 3), np.float32)), mg.constant(np.ones(3)))
    assert mixed.dtype == np.float64  # Theano's dot upcasts
    with pytest.raises(ValueError, match=r"cannot multiply \(2, 3\) by \(4,\)"):
        mg.dot(mg.constant(np.ones((2, 3))), mg.constant(np.ones(4)))
    with pytest.raises(ValueError, match="known rank"):
        mg.dot(mg.placeholder(mg.float32), x)


@st.composite
def _tensordot_case(draw):
    """Operands sharing ``n`` contracted dims placed at random positions, plus the axes arg."""
    contracted = draw(shapes(max_dims=2, min_side=1))
    free_a, free_b = draw(shapes(max_dims=2)), draw(shapes(max_dims=2))
    order_a = draw(st.permutations(range(len(free_a) + len(contracted))))
    order_b = draw(st.permutations(range(len(free_b) + len(contracted))))
    dims_a, dims_b = list(free_a) + list(contracted), list(free_b) + list(contracted)
    shape_a = tuple(dims_a[i] for i in order_a)
    shape_b = tuple(dims_b[i] for i in order_b)
    n = len(contracted)
    axes_a = [order_a.index(len(free_a) + c) for c in range(n)]
    axes_b = [order_b.index(len(free_b) + c) for c in range(n)]
    if draw(st.booleans()):
        axes_a = [a - len(shape_a) for a in axes_a]
    return shape_a, shape_b, [axes_a, axes_b]


@FUZZ
@given(case=_tensordot_case(), seed=st.integers(0, 2**16))
def test_tensordot_matches_numpy(case, seed):
    shape_a, shape_b, axes = case
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    y = mg.tensordot(mg.constant(a), mg.constant(b), axes)
    expected = np.tensordot(a, b, axes)
    assert y.get_shape().as_list() == list(expected.shape)
    np.testing.assert_allclose(_run(y), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("axes, shape_b", [
    (0, (2, 2)), (1, (4, 2)), (2, (3, 4, 2)), ([[1], [1]], (4, 3, 2)),
    ([[0, 2], [2, 0]], (4, 3, 2)), ([2, 0], (4, 5)), ([[-1], [-3]], (4, 3, 2))])
def test_tensordot_int_and_pair_axes_with_gradients(axes, shape_b):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal(shape_b)
    y = mg.tensordot(mg.constant(a), mg.constant(b), axes)
    np.testing.assert_allclose(_run(y), np.tensordot(a, b, axes), rtol=1e-12)
    check_grads(lambda x, z: mg.tensordot(x, z, axes), [a, b], order=2)


def test_tensordot_with_unknown_dims():
    x = mg.placeholder(mg.float64, (None, None, 4))
    w = mg.placeholder(mg.float64, (4, None))
    y = mg.tensordot(x, w, 1, name="proj")
    assert y.get_shape().as_list() == [None, None, None] and y.name.startswith("proj/")
    xv, wv = np.ones((2, 3, 4)), np.arange(20.0).reshape(4, 5)
    np.testing.assert_allclose(_run(y, {x: xv, w: wv}), np.tensordot(xv, wv, 1))
    z = mg.tensordot(x, mg.placeholder(mg.float64, (None, 3, 4)), [[0, 2], [0, 2]])
    assert z.get_shape().as_list() == [None, 3]


def test_tensordot_errors():
    a, b = mg.constant(np.ones((2, 3))), mg.constant(np.ones((4, 2)))
    with pytest.raises(ValueError, match="differ in size"):
        mg.tensordot(a, b, 1)
    with pytest.raises(ValueError, match="must be in"):
        mg.tensordot(a, b, 3)
    with pytest.raises(ValueError, match="same length"):
        mg.tensordot(a, b, [[0, 1], [1]])
    with pytest.raises(ValueError, match="out of range"):
        mg.tensordot(a, b, [[2], [0]])
