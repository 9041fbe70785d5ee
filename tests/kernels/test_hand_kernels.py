"""The numba backend's hand-written kernels against each op's NumPy reference.

Each case builds the IR node the backend would see, takes ``HAND_KERNELS[op](node)`` (checked
to be a real kernel, not the reference), runs it into fresh output buffers and compares.
"""
import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph  # noqa: F401  (registers the ops)
from minigraph.backends.kernel import WritingKernel
from minigraph.backends.numba_kernels import HAND_KERNELS
from minigraph.compiler.ir import IRNode
from minigraph.compiler.rewrite import make_node
from minigraph.errors import InvalidArgumentError
from minigraph.graph import TensorType
from minigraph.ops.registry import get_op

from kernels.numba import nn

FLOATS = ["float32", "float64"]
TOL = {np.dtype("float32"): dict(rtol=2e-5, atol=2e-6),
       np.dtype("float64"): dict(rtol=1e-12, atol=1e-13)}
SETTINGS = dict(deadline=None, max_examples=25)
dims = st.lists(st.integers(0, 5), min_size=1, max_size=3).map(tuple)


def _node(op, arrays, attrs, static=True):
    """The IR node of ``op`` on inputs typed like ``arrays`` (unknown dims unless ``static``)."""
    values = [IRNode("input", (), {}, (TensorType(
        a.shape if static else (None,) * a.ndim, a.dtype),)).outputs[0] for a in arrays]
    return make_node(op, values, attrs, None)


def _run(op, arrays, attrs, static=True):
    """``(kernel results, reference results)`` of ``op``; the kernel must be a hand kernel."""
    kernel = HAND_KERNELS[op](_node(op, arrays, attrs, static))
    assert isinstance(kernel, WritingKernel), f"{op} fell back to its reference"
    types = get_op(op).infer([TensorType(a.shape, a.dtype) for a in arrays], **attrs)
    types = types if isinstance(types, list) else [types]
    outs = [np.full(t.shape, 7, t.dtype) for t in types]
    kernel.fn(*arrays, *outs)
    want = get_op(op).ref(*arrays, **attrs)
    return outs, list(want) if isinstance(want, tuple) else [want]


def _agree(op, arrays, attrs, static=True):
    got, want = _run(op, arrays, attrs, static)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, **TOL[g.dtype])
        else:
            np.testing.assert_array_equal(g, w)
    return got


def _logits(draw, shape, dtype):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 30.0]))
    return (rng.standard_normal(shape) * scale).astype(dtype), rng


# -- softmax family -----------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@settings(**SETTINGS)
@given(data=st.data(), shape=dims, dtype=st.sampled_from(FLOATS), static=st.booleans())
def test_softmax_kernels(op, data, shape, dtype, static):
    x, _ = _logits(data.draw, shape, dtype)
    _agree(op, [x], {"axis": len(shape) - 1 if static else -1}, static)


@pytest.mark.parametrize("op", ["softmax_cross_entropy_with_logits",
                                "fused_softmax_cross_entropy"])
@settings(**SETTINGS)
@given(data=st.data(), shape=dims, dtype=st.sampled_from(FLOATS))
def test_dense_cross_entropy(op, data, shape, dtype):
    x, rng = _logits(data.draw, shape, dtype)
    weights = rng.uniform(0.1, 1.0, shape)
    labels = (weights / weights.sum(-1, keepdims=True)).astype(dtype)
    _agree(op, [labels, x], {"axis": len(shape) - 1})


@pytest.mark.parametrize("op", ["sparse_softmax_cross_entropy_with_logits",
                                "fused_sparse_softmax_cross_entropy", "one_hot_like"])
@settings(**SETTINGS)
@given(data=st.data(), batch=st.lists(st.integers(0, 5), max_size=2).map(tuple),
       classes=st.integers(1, 12), dtype=st.sampled_from(FLOATS),
       label_dtype=st.sampled_from(["int32", "int64"]))
def test_sparse_cross_entropy(op, data, batch, classes, dtype, label_dtype):
    x, rng = _logits(data.draw, batch + (classes,), dtype)
    labels = rng.integers(0, classes, batch).astype(label_dtype)
    _agree(op, [labels, x], {})


@pytest.mark.parametrize("op", ["sparse_softmax_cross_entropy_with_logits",
                                "fused_sparse_softmax_cross_entropy", "one_hot_like"])
@pytest.mark.parametrize("bad", [-1, 3, 99])
def test_bad_labels_raise_naming_the_label(op, bad):
    labels, x = np.array([0, bad, 1]), np.zeros((3, 3), np.float32)
    with pytest.raises(InvalidArgumentError, match=f"label value of {bad} which is outside"):
        _run(op, [labels, x], {})


@pytest.mark.parametrize("dtype", FLOATS)
def test_huge_logits_stay_finite(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype)
    labels = np.array([1, 0, 2])
    probs = np.array([[0.2, 0.3, 0.5]] * 3, dtype)
    for op, arrays in [("softmax", [x]), ("log_softmax", [x]),
                       ("fused_sparse_softmax_cross_entropy", [labels, x]),
                       ("fused_softmax_cross_entropy", [probs, x])]:
        attrs = {} if op.startswith("fused_sparse") else {"axis": 1}
        for out in _agree(op, arrays, attrs):
            assert np.isfinite(out).all()


@pytest.mark.parametrize("threads", [1, 2])
def test_parallel_rows_agree(threads):
    """Inputs past ``PARALLEL_MIN_SIZE`` take the ``prange`` kernels."""
    x = np.random.default_rng(0).standard_normal((nn.PARALLEL_MIN_SIZE // 64 + 3, 64))
    labels = np.arange(x.shape[0]) % 64
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        _agree("softmax", [x], {"axis": 1})
        _agree("log_softmax", [x], {"axis": 1})
        _agree("fused_sparse_softmax_cross_entropy", [labels, x], {})
        _agree("fused_softmax_cross_entropy", [np.full_like(x, 1 / 64), x], {"axis": 1})
        labels[5] = 64
        with pytest.raises(InvalidArgumentError, match="label value of 64"):
            _run("sparse_softmax_cross_entropy_with_logits", [labels, x], {})
    finally:
        numba.set_num_threads(before)


def test_other_axes_and_dtypes_use_the_reference():
    x = np.zeros((2, 3), np.float32)
    assert not isinstance(HAND_KERNELS["softmax"](_node("softmax", [x], {"axis": 0})),
                          WritingKernel)
    half = x.astype(np.float16)
    assert HAND_KERNELS["log_softmax"](_node("log_softmax", [half], {"axis": 1})) is \
        get_op("log_softmax").ref


# -- reductions ---------------------------------------------------------------------------------


@st.composite
def _reduction_case(draw):
    shape = draw(st.lists(st.integers(0, 6), min_size=0, max_size=3).map(tuple))
    if draw(st.booleans()) or not shape:
        axis = None
    else:
        first = draw(st.integers(0, len(shape) - 1))
        axis = tuple(range(first, draw(st.integers(first, len(shape) - 1)) + 1))
    return shape, axis


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"])
@settings(**SETTINGS)
@given(data=st.data(), case=_reduction_case(), dtype=st.sampled_from(FLOATS),
       keepdims=st.booleans())
def test_reductions(op, data, case, dtype, keepdims):
    shape, axis = case
    reduced = [shape[a] for a in (range(len(shape)) if axis is None else axis)]
    if op != "reduce_sum" and 0 in reduced:
        return  # the reference raises (max of nothing) or warns (mean of nothing)
    x, _ = _logits(data.draw, shape, dtype)
    _agree(op, [x], {"axis": axis, "keepdims": keepdims})


@pytest.mark.parametrize("shape, axis", [((3, 100), (1,)), ((100, 3), (0,)), ((2, 4, 5), (0, 2)),
                                         ((7, 3), (1,))])
@pytest.mark.parametrize("op", ["reduce_max", "reduce_min", "argmax", "argmin"])
def test_extremes_propagate_nan_and_take_the_first_tie(shape, axis, op):
    x = np.random.default_rng(1).integers(0, 3, shape).astype(np.float64)
    x.flat[[4, 9]] = np.nan
    attrs = ({"axis": axis[0], "output_type": np.dtype("int32")} if op.startswith("arg")
             else {"axis": axis, "keepdims": False})
    if op.startswith("arg") and len(axis) > 1:
        return
    _agree(op, [x], attrs)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@settings(**SETTINGS)
@given(data=st.data(), shape=st.lists(st.integers(1, 70), min_size=1, max_size=3).map(tuple),
       dtype=st.sampled_from(FLOATS), output_type=st.sampled_from(["int32", "int64"]))
def test_arg_reductions(op, data, shape, dtype, output_type):
    x, _ = _logits(data.draw, shape, dtype)
    axis = data.draw(st.integers(0, len(shape) - 1))
    _agree(op, [x], {"axis": axis, "output_type": np.dtype(output_type)})


def test_large_sums_stay_accurate():
    x = np.random.default_rng(2).standard_normal(3_000_001).astype(np.float32)
    got, _ = _run("reduce_sum", [x], {"axis": None, "keepdims": False})
    np.testing.assert_allclose(got[0], np.sum(x, dtype=np.float64), rtol=1e-7)


@settings(**SETTINGS)
@given(data=st.data(), shape=st.lists(st.integers(0, 5), min_size=1, max_size=3).map(tuple),
       dtype=st.sampled_from(FLOATS))
def test_sum_to_leading_axes(data, shape, dtype):
    grad, _ = _logits(data.draw, shape, dtype)
    keep = data.draw(st.integers(0, len(shape)))
    _agree("sum_to", [grad, np.zeros(shape[keep:], dtype)], {})


def test_sum_to_inner_broadcast_uses_the_reference_result():
    grad = np.arange(12.0).reshape(3, 4)
    _agree("sum_to", [grad, np.zeros((3, 1))], {})


# -- indexing -----------------------------------------------------------------------------------


@st.composite
def _gather_case(draw):
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple))
    axis = draw(st.integers(0, len(shape) - 1))
    index_shape = draw(st.lists(st.integers(0, 4), max_size=2).map(tuple))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(["float32", "float64", "int64"]))
    indices = rng.integers(0, shape[axis], index_shape).astype(draw(st.sampled_from(
        ["int32", "int64"])))
    return rng.standard_normal(shape).astype(dtype), indices, axis


@settings(**SETTINGS)
@given(_gather_case())
def test_gather(case):
    params, indices, axis = case
    _agree("gather", [params, indices], {"axis": axis})


@settings(**SETTINGS)
@given(_gather_case(), st.booleans())
def test_scatter_add_accumulates_repeats(case, negative):
    """``getitem_grad`` of a gather: indices repeat (drawn from a small range), may be negative."""
    like, indices, axis = case
    if negative:
        indices = indices - like.shape[axis]
    spec = (("slice", None, None, None),) * axis + (("index", 0),)
    dy_shape = like.shape[:axis] + indices.shape + like.shape[axis + 1:]
    dy = np.random.default_rng(3).standard_normal(dy_shape).astype(like.dtype)
    _agree("getitem_grad", [dy, like, indices], {"spec": spec})


def test_bad_indices_raise_the_reference_errors():
    params = np.zeros((3, 2))
    with pytest.raises(ValueError, match="index 3 is out of range"):
        _run("gather", [params, np.array([0, 3])], {"axis": 0})
    spec = (("index", 0),)
    with pytest.raises(IndexError):
        _run("getitem_grad", [np.ones((2, 2)), params, np.array([1, -4])], {"spec": spec})


@settings(**SETTINGS)
@given(data=st.data(), shape=st.lists(st.integers(0, 4), max_size=2).map(tuple),
       depth=st.integers(0, 5), dtype=st.sampled_from(["float32", "int32", "bool"]))
def test_one_hot(data, shape, depth, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    indices = rng.integers(-1, depth + 2, shape)
    axis = data.draw(st.integers(-1, len(shape)))
    attrs = {"depth": depth, "on_value": data.draw(st.sampled_from([1, 5, 2.5])),
             "off_value": data.draw(st.sampled_from([0, -1])), "axis": axis,
             "dtype": np.dtype(dtype)}
    _agree("one_hot", [indices], attrs)
