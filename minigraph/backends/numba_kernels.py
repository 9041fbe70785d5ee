"""Hand-written Numba kernels of the numba backend, by op name (from ``kernels.numba``).

Each entry is ``make(node)`` returning the node's kernel: a ``WritingKernel`` (writes planned
output buffers) or, for dtypes, shapes or attrs a kernel does not cover, the op's NumPy ``ref``
(never a silent wrong answer). Reductions get a kernel only where one measured faster than
NumPy's (see ``kernels.numba.reduce``).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from kernels.numba import conv, indexing, nn, reduce

from ..ops._conv_ref import check_depth, spatial_geometry
from ..ops.indexing import gather_axis_of_spec
from ..ops.registry import get_op
from .kernel import WritingKernel

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _ref(node) -> Callable:
    return get_op(node.op).ref


def _last_axis(value, axis: int) -> bool:
    """Whether ``axis`` is the last axis of ``value`` (also when its rank is unknown)."""
    shape = value.type.shape
    return axis == -1 or (shape is not None and axis == len(shape) - 1)


def _float_rows(node, axis: int | None = -1) -> bool:
    """Float32/64 logits (the last input) reduced over their last axis."""
    logits = node.inputs[-1]
    return logits.type.dtype in _FLOATS and _last_axis(logits, axis)


def _softmax(kernel):
    def make(node):
        return WritingKernel(kernel) if _float_rows(node, node.attrs["axis"]) else _ref(node)
    return make


def _xent(node):
    if not _float_rows(node, node.attrs["axis"]):
        return _ref(node)
    return WritingKernel(nn.softmax_cross_entropy)


def _sparse_xent(node):
    """Sparse cross-entropy (optionally also writing the softmax); a bad label is reported by
    the kernel, then the reference raises its error naming it."""
    if not _float_rows(node):
        return _ref(node)
    ref = _ref(node)

    def run(labels, logits, *outputs):
        if nn.sparse_softmax_cross_entropy(labels, logits, *outputs) >= 0:
            ref(labels, logits)
    return WritingKernel(run)


def _one_hot_like(node):
    if node.inputs[1].type.dtype not in _FLOATS:
        return _ref(node)
    ref = _ref(node)

    def run(labels, logits, out):
        if indexing.one_hot_rows(labels, out) >= 0:
            ref(labels, logits)
    return WritingKernel(run)


# -- reductions ----------------------------------------------------------------------------------


def _contiguous_blocks(x: np.ndarray, axes) -> np.ndarray | None:
    """``x`` as ``(outer, reduced, inner)`` when ``axes`` is a non-empty run of adjacent axes."""
    axes = tuple(range(x.ndim)) if axes is None else tuple(axes)
    if not axes or axes != tuple(range(axes[0], axes[-1] + 1)):
        return None
    return reduce.blocks(x, axes[0], axes[-1])


def _reduction(compute):
    """``make`` for a float reduction: ``compute(blocks, out_matrix)`` where the axes form a
    run and (for all but sums) are non-empty; the reference elsewhere."""
    def make(node):
        if node.inputs[0].type.dtype not in _FLOATS:
            return _ref(node)
        ref, attrs = _ref(node), dict(node.attrs)

        def run(x, out):
            blocks = _contiguous_blocks(x, attrs["axis"])
            if blocks is None or (blocks.shape[1] == 0 and node.op != "reduce_sum"):
                out[...] = ref(x, **attrs)
            else:
                compute(blocks, out.reshape(blocks.shape[0], blocks.shape[2]))
        return WritingKernel(run)
    return make


def _arg_reduction(larger: bool):
    def make(node):
        if node.inputs[0].type.dtype not in _FLOATS:
            return _ref(node)
        ref, attrs = _ref(node), dict(node.attrs)

        def run(x, out):
            axis = attrs["axis"] % max(x.ndim, 1)
            if x.ndim == 0 or x.shape[axis] == 0:
                out[...] = ref(x, **attrs)
                return
            blocks = reduce.blocks(x, axis, axis)
            reduce.arg_blocks(blocks, out.reshape(blocks.shape[0], blocks.shape[2]), larger)
        return WritingKernel(run)
    return make


def _sum_to(node):
    """Gradient sums over leading broadcast axes (bias gradients) as column sums."""
    if node.inputs[0].type.dtype not in _FLOATS:
        return _ref(node)
    ref = _ref(node)

    def run(grad, like, out):
        lead = grad.ndim - like.ndim
        if lead < 0 or grad.shape[lead:] != like.shape:
            out[...] = ref(grad, like)
            return
        blocks = grad.reshape(1, math.prod(grad.shape[:lead]), like.size)
        reduce.sum_columns(np.ascontiguousarray(blocks), out.reshape(1, like.size), 1.0)
    return WritingKernel(run)


# -- indexing ------------------------------------------------------------------------------------


def _plain(dtype) -> bool:
    return dtype.kind in "biuf"


def _gather(node):
    if not _plain(node.inputs[0].type.dtype):
        return _ref(node)
    ref, axis = _ref(node), node.attrs["axis"]

    def run(params, indices, out):
        if params.ndim == 0 or indexing.gather(params, indices, axis % params.ndim, out) >= 0:
            out[...] = ref(params, indices, axis=axis)
    return WritingKernel(run)


def _scatter_add(node):
    """``getitem_grad`` of a gather (repeated indices accumulate); other specs: reference."""
    axis = gather_axis_of_spec(node.attrs["spec"])
    if axis is None or len(node.inputs) != 3 or not _plain(node.inputs[0].type.dtype):
        return _ref(node)
    ref, spec = _ref(node), node.attrs["spec"]

    def run(dy, like, indices, out):
        if indexing.scatter_add(dy, indices, axis, out) >= 0:
            out[...] = ref(dy, like, indices, spec=spec)
    return WritingKernel(run)


def _segment_sum(node):
    """``unsorted_segment_sum`` (deduplicating sparse gradients): the scatter-add kernel into
    a fresh array; negative or out-of-range ids go to the reference, which reports them."""
    if not _plain(node.inputs[0].type.dtype):
        return _ref(node)
    ref = _ref(node)

    def run(data, segment_ids, num_segments):
        out = np.empty((int(num_segments),) + data.shape[segment_ids.ndim:], data.dtype)
        if (segment_ids.size and segment_ids.min() < 0) or \
                indexing.scatter_add(data, segment_ids, 0, out) >= 0:
            return ref(data, segment_ids, num_segments)
        return out
    return run


def _one_hot(node):
    attrs = dict(node.attrs)
    if not _plain(attrs["dtype"]):
        return _ref(node)
    on, off = np.where([True, False], attrs["on_value"], attrs["off_value"]).astype(attrs["dtype"])

    def run(indices, out):
        indexing.one_hot(indices, attrs["axis"] % (indices.ndim + 1), on, off, out)
    return WritingKernel(run)


# -- convolution and pooling ---------------------------------------------------------------------


def _conv_geometry(x_shape, w_shape, attrs) -> tuple:
    """``kernels.numba.conv``'s conv geometry tuple; run-time shape errors raise here."""
    check_depth(x_shape, w_shape)
    (oh, top, _), (ow, left, _) = spatial_geometry(x_shape, w_shape[:2], attrs["strides"],
                                                   attrs["dilations"], attrs["padding"])
    return (*w_shape[:2], *attrs["strides"], *attrs["dilations"], top, left, oh, ow)


def _conv(compute):
    """``make`` for conv2d (``x, w``) or a backprop (``x, w, dy``): ``compute(x, w, dy, geo,
    out)`` (``dy`` None for the forward) on float inputs."""
    def make(node):
        if node.inputs[0].type.dtype not in _FLOATS:
            return _ref(node)
        attrs = dict(node.attrs)

        def run(x, w, *rest):
            dy, out = rest if len(rest) == 2 else (None, rest[0])
            compute(x, w, dy, _conv_geometry(x.shape, w.shape, attrs), out)
        return WritingKernel(run)
    return make


def _pool_geometry(x_shape, attrs) -> tuple:
    (oh, top, _), (ow, left, _) = spatial_geometry(x_shape, attrs["ksize"], attrs["strides"],
                                                   (1, 1), attrs["padding"])
    return (*attrs["ksize"], *attrs["strides"], top, left, oh, ow)


def _pool(kernel):
    """``make`` for a pooling op: ``kernel(*inputs, geometry, out)`` on float inputs."""
    def make(node):
        if node.inputs[0].type.dtype not in _FLOATS:
            return _ref(node)
        attrs = dict(node.attrs)

        def run(*arrays):
            kernel(*arrays[:-1], _pool_geometry(arrays[0].shape, attrs), arrays[-1])
        return WritingKernel(run)
    return make


HAND_KERNELS: dict[str, Callable] = {
    "softmax": _softmax(nn.softmax),
    "log_softmax": _softmax(nn.log_softmax),
    "softmax_cross_entropy_with_logits": _xent,
    "fused_softmax_cross_entropy": _xent,
    "sparse_softmax_cross_entropy_with_logits": _sparse_xent,
    "fused_sparse_softmax_cross_entropy": _sparse_xent,
    "one_hot_like": _one_hot_like,
    "reduce_sum": _reduction(lambda x, out: reduce.sum_blocks(x, out, 1.0)),
    "reduce_mean": _reduction(lambda x, out: reduce.sum_blocks(x, out, 1.0 / x.shape[1])),
    "reduce_max": _reduction(lambda x, out: reduce.extreme_blocks(x, out, True)),
    "reduce_min": _reduction(lambda x, out: reduce.extreme_blocks(x, out, False)),
    "argmax": _arg_reduction(True),
    "argmin": _arg_reduction(False),
    "unsorted_segment_sum": _segment_sum,
    "sum_to": _sum_to,
    "gather": _gather,
    "getitem_grad": _scatter_add,
    "one_hot": _one_hot,
    "conv2d": _conv(lambda x, w, dy, geo, out: conv.conv2d_forward(x, w, geo, out)),
    "conv2d_backprop_input": _conv(
        lambda x, w, dy, geo, out: conv.conv2d_backprop_input(w, dy, geo, out)),
    "conv2d_backprop_filter": _conv(
        lambda x, w, dy, geo, out: conv.conv2d_backprop_filter(x, dy, geo, out)),
    "max_pool": _pool(conv.max_pool),
    "max_pool_grad": _pool(conv.max_pool_grad),
    "max_pool_grad_grad": _pool(conv.max_pool_grad_grad),
    "avg_pool": _pool(conv.avg_pool),
    "avg_pool_grad": _pool(lambda x, dy, geo, out: conv.avg_pool_grad(dy, geo, out)),
}
