"""The cupy backend's hand-written kernels, by op: ``kernels.cupy.hand`` CUDA sources launched
for the node's shapes (softmax family, reductions, gather / scatter-add, one-hot).

Each ``make(node)`` returns a ``DeviceKernel`` whose ``prepare(input_shapes)`` works out the
launch geometry once; dtypes, layouts or attrs a hand kernel does not cover get the op's array
kernel instead (see ``cupy_kernels``). Launches with no work are skipped.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from kernels.cupy import hand

from ..ops.indexing import gather_axis_of_spec
from ..ops.registry import get_op
from .cupy_device import CudaModule, array_kernel, device_kernel, to_device, xp

NULL = np.uint64(0)
"""A null device pointer argument (an optional output left out)."""


def _launcher(kernel: hand.HandKernel, role: str, launch: hand.Launch) -> Callable:
    """``go(*args)``: launch ``kernel``'s ``role`` entry (compiled on first call)."""
    module, name = CudaModule.of(kernel.source), kernel.entry(role)

    def go(*args):
        module.function(name)(launch.grid, launch.block, args)
    return go


def _blocks(shape: tuple, axes) -> tuple[int, int, int] | None:
    """``(outer, n, inner)`` when ``axes`` (None: all) are a non-empty run of adjacent axes."""
    if not shape:
        return None
    ndim = len(shape)
    axes = range(ndim) if axes is None else axes if isinstance(axes, (tuple, list)) else (axes,)
    axes = sorted({a % ndim for a in axes})
    if not axes or axes != list(range(axes[0], axes[-1] + 1)):
        return None
    first, last = axes[0], axes[-1]
    return (math.prod(shape[:first]), math.prod(shape[first:last + 1]),
            math.prod(shape[last + 1:]))


def _last_axis_rows(node, axis: int) -> bool:
    """Float logits (the last input) of known rank >= 1, normalised over their last axis."""
    t = node.inputs[-1].type
    return (t.shape is not None and len(t.shape) >= 1 and t.dtype.name in hand.FLOATS
            and axis in (-1, len(t.shape) - 1))


def _rows(family: str):
    """``make`` for softmax, log_softmax and the (fused) cross-entropies over the last axis."""
    def make(node):
        sparse = family == "sparse_xent"
        labels = node.inputs[0].type.dtype.name
        if not _last_axis_rows(node, node.attrs.get("axis", -1)) or (
                sparse and labels not in hand.INDEX_DTYPES):
            return array_kernel(node)
        kernel = hand.row_kernel(family, node.inputs[-1].type.dtype.name,
                                 labels if sparse else "int64")

        def prepare(shapes):
            shape = shapes[-1]
            rows, n = math.prod(shape[:-1]), shape[-1]
            role, launch = hand.row_launch(rows, n)
            go, sizes = _launcher(kernel, role, launch), (np.int64(rows), np.int64(n))
            if family in ("softmax", "log_softmax"):
                return lambda x, y: go(x, y, *sizes) if rows * n else None
            return lambda labels, x, loss, *probs: go(
                labels, x, loss, probs[0] if probs else NULL, *sizes) if rows else None
        return device_kernel(prepare, node, [(kernel.name, kernel.source)])
    return make


def _reduction(op: str):
    """``make`` for reduce_sum / mean / max / min over a run of axes of a float array."""
    def make(node):
        dtype = node.inputs[0].type.dtype
        if dtype.name not in hand.FLOATS:
            return array_kernel(node)
        kernel = hand.reduce_kernel("sum" if op == "mean" else op, dtype.name)
        ref, attrs = get_op(node.op).ref, dict(node.attrs)

        def prepare(shapes):
            blocks = _blocks(shapes[0], attrs["axis"])
            if blocks is None:
                return _copy_result(_mean if op == "mean" else array_kernel(node), attrs)
            outer, n, inner = blocks
            if n == 0 and op in ("max", "min"):  # NumPy's error for an empty max/min
                return lambda x, out: ref(np.empty(shapes[0], dtype), **attrs)
            divisor = np.float64(n if op == "mean" else 1)
            return _block_reduce(kernel, outer, n, inner, divisor)
        return device_kernel(prepare, node, [(kernel.name, kernel.source)])
    return make


def _block_reduce(kernel, outer: int, n: int, inner: int, extra) -> Callable:
    """``run(x, out)`` reducing the middle axis of ``(outer, n, inner)``; ``extra``: the
    divisor of sums (None for argmax/argmin)."""
    if not outer * inner:
        return lambda x, out: None
    tail = () if extra is None else (extra,)
    if inner == 1:
        go = _launcher(kernel, "rows", hand.reduce_rows_launch(outer))
        sizes = (np.int64(outer), np.int64(n)) + tail
    else:
        go = _launcher(kernel, "cols", hand.flat_launch(outer * inner))
        sizes = (np.int64(outer), np.int64(n), np.int64(inner)) + tail
    return lambda x, out: go(x, out, *sizes)


def _mean(x, axis, keepdims):
    """A float mean as a device sum over the count (the reference converts to NumPy)."""
    axes = range(x.ndim) if axis is None else axis if isinstance(axis, (tuple, list)) else (
        axis,)
    count = math.prod(x.shape[a % x.ndim] for a in axes) if x.ndim else 1
    return np.sum(x, axis=axis, keepdims=keepdims) / x.dtype.type(count)


def _arg_reduction(op: str):
    def make(node):
        dtype = node.inputs[0].type.dtype
        if dtype.name not in hand.FLOATS:
            return array_kernel(node)
        attrs = dict(node.attrs)
        kernel = hand.reduce_kernel(op, dtype.name, np.dtype(attrs["output_type"]).name)
        ref = get_op(node.op).ref

        def prepare(shapes):
            blocks = _blocks(shapes[0], attrs["axis"])
            if blocks is None:
                return _copy_result(array_kernel(node), attrs)
            if blocks[1] == 0:  # NumPy's error for an empty argmax
                return lambda x, out: ref(np.empty(shapes[0], dtype), **attrs)
            return _block_reduce(kernel, *blocks, None)
        return device_kernel(prepare, node, [(kernel.name, kernel.source)])
    return make


def _sum_to(node):
    """Gradient sums over leading broadcast axes (bias gradients): column sums."""
    dtype = node.inputs[0].type.dtype
    if dtype.name not in hand.FLOATS:
        return array_kernel(node)
    kernel = hand.reduce_kernel("sum", dtype.name)

    def prepare(shapes):
        grad, like = shapes
        lead = len(grad) - len(like)
        if lead < 0 or grad[lead:] != like:
            return _copy_result(array_kernel(node), {})
        run = _block_reduce(kernel, 1, math.prod(grad[:lead]), math.prod(like), np.float64(1))
        return lambda grad, like, out: run(grad, out)
    return device_kernel(prepare, node, [(kernel.name, kernel.source)])


def _copy_result(kernel: Callable, attrs: dict) -> Callable:
    """A writing ``run(*inputs, out)`` from an allocating array kernel."""
    def run(*arrays):
        xp().copyto(arrays[-1], kernel(*arrays[:-1], **attrs), casting="unsafe")
    return run


def _index_kernel(family: str, node, values: int, ids: int):
    """The hand kernel of ``family`` for the node's value / id inputs, or None."""
    value_dtype = (node.inputs[values].type.dtype if values >= 0
                   else np.dtype(node.attrs["dtype"])).name
    id_dtype = node.inputs[ids].type.dtype.name
    if not hand.supports(family, value_dtype, id_dtype):
        return None
    return hand.index_kernel(family, value_dtype, id_dtype)


def _gather(node):
    kernel = _index_kernel("gather", node, 0, 1)
    if kernel is None:
        return array_kernel(node)
    axis = node.attrs["axis"]

    def prepare(shapes):
        params, ids = shapes
        if not params:
            return _copy_result(array_kernel(node), {"axis": axis})
        a = axis % len(params)
        outer, rows, inner, n_ids = (math.prod(params[:a]), params[a],
                                     math.prod(params[a + 1:]), math.prod(ids))
        total = outer * n_ids * inner
        go = _launcher(kernel, "main", hand.flat_launch(total))
        sizes = tuple(np.int64(v) for v in (outer, rows, n_ids, inner))
        return lambda params, ids, out: go(params, ids, out, *sizes) if total else None
    return device_kernel(prepare, node, [(kernel.name, kernel.source)])


def _scatter(kernel, outer: int, rows: int, n_ids: int, inner: int, wrap: bool = False,
             negate: bool = False):
    """``run(updates, ids, out)`` adding (``negate``: subtracting) rows into ``out``, which is
    zeroed first unless ``wrap`` (a variable's rows updated in place; negative ids count from
    the end, as NumPy's ``ufunc.at``)."""
    total = outer * n_ids * inner
    go = _launcher(kernel, "main", hand.flat_launch(total))
    args = tuple(np.int64(v) for v in (outer, rows, n_ids, inner)) + (np.int32(negate),
                                                                        np.int32(wrap))

    def run(updates, ids, out):
        if not wrap:
            out.fill(0)
        if total:
            go(updates, ids, out, *args)
    return run


def scatter_rows(storage, indices, updates, negate: bool) -> None:
    """``scatter_add`` / ``scatter_sub`` rows of a variable in place (checked before by the
    op's ``check_rows``): ``updates`` broadcast to the rows, repeated ids accumulating."""
    cupy = xp()
    tail = storage.shape[1:]
    full = cupy.ascontiguousarray(cupy.broadcast_to(updates, indices.shape + tail))
    ids = to_device(indices)
    if not hand.supports("scatter_add", storage.dtype.name, ids.dtype.name):
        (cupy.subtract if negate else cupy.add).at(storage, ids, full)
        return
    kernel = hand.index_kernel("scatter_add", storage.dtype.name, ids.dtype.name)
    _scatter(kernel, 1, storage.shape[0], ids.size, math.prod(tail), wrap=True,
             negate=negate)(full, ids, storage)


def _scatter_add(node):
    """``getitem_grad`` of a gather: zeros with the rows of ``dy`` added at the ids (other
    index specs: the device array's own indexing)."""
    axis = gather_axis_of_spec(node.attrs["spec"])
    kernel = _index_kernel("scatter_add", node, 0, 2) if len(node.inputs) == 3 else None
    if axis is None or kernel is None:
        return _getitem_grad

    def prepare(shapes):
        _, like, ids = shapes
        run = _scatter(kernel, math.prod(like[:axis]), like[axis], math.prod(ids),
                       math.prod(like[axis + 1:]))
        return lambda dy, like, ids, out: run(dy, ids, out)
    return device_kernel(prepare, node, [(kernel.name, kernel.source)])


def _getitem_grad(dy, like, *indices, spec):
    """The reference's scatter-add into zeros, on device arrays (repeated ids accumulate)."""
    from ..ops.indexing import numpy_key

    cupy = xp()
    out = cupy.zeros(like.shape, dy.dtype)
    key = numpy_key(spec, indices)
    if any(hasattr(k, "shape") for k in key):
        cupy.add.at(out, key, dy)
    else:
        out[key] += dy
    return out


_getitem_grad.capturable = True


def _segment_sum(node):
    """``unsorted_segment_sum``: its size is a value (read back from the device), so it
    allocates; negative or too large ids are dropped, as TF does."""
    kernel = _index_kernel("scatter_add", node, 0, 1)
    if kernel is None:
        return array_kernel(node)

    def run(data, ids, num_segments):
        tail = data.shape[ids.ndim:]
        out = xp().empty((int(num_segments),) + tail, data.dtype)
        _scatter(kernel, 1, out.shape[0], ids.size, math.prod(tail))(data, ids, out)
        return out
    run.capturable = False
    run.sources = ((kernel.name, kernel.source),)
    return run


def _one_hot(node):
    kernel = _index_kernel("one_hot", node, -1, 0)
    if kernel is None:
        return array_kernel(node)
    attrs = dict(node.attrs)
    scalar = np.dtype(attrs["dtype"]).type
    on, off = scalar(attrs["on_value"]), scalar(attrs["off_value"])

    def prepare(shapes):
        (ids,) = shapes
        a = attrs["axis"] % (len(ids) + 1)
        outer, inner = math.prod(ids[:a]), math.prod(ids[a:])
        return _one_hot_run(kernel, outer, attrs["depth"], inner, on, off)
    return device_kernel(prepare, node, [(kernel.name, kernel.source)])


def _one_hot_like(node):
    """One-hot rows shaped and typed like the logits (the sparse cross-entropy gradient)."""
    labels, logits = node.inputs
    if logits.type.dtype.name not in hand.FLOATS or labels.type.dtype.name not in \
            hand.INDEX_DTYPES:
        return array_kernel(node)
    kernel = hand.index_kernel("one_hot", logits.type.dtype.name, labels.type.dtype.name)
    one, zero = logits.type.dtype.type(1), logits.type.dtype.type(0)

    def prepare(shapes):
        labels, logits = shapes
        run = _one_hot_run(kernel, math.prod(labels), logits[-1], 1, one, zero)
        return lambda labels, logits, out: run(labels, out)
    return device_kernel(prepare, node, [(kernel.name, kernel.source)])


def _one_hot_run(kernel, outer: int, depth: int, inner: int, on, off) -> Callable:
    total = outer * depth * inner
    go = _launcher(kernel, "main", hand.flat_launch(total))
    sizes = tuple(np.int64(v) for v in (outer, depth, inner))
    return lambda ids, out: go(ids, out, *sizes, on, off) if total else None


HAND_KERNELS: dict[str, Callable] = {
    "softmax": _rows("softmax"),
    "log_softmax": _rows("log_softmax"),
    "softmax_cross_entropy_with_logits": _rows("xent"),
    "fused_softmax_cross_entropy": _rows("xent"),
    "sparse_softmax_cross_entropy_with_logits": _rows("sparse_xent"),
    "fused_sparse_softmax_cross_entropy": _rows("sparse_xent"),
    "reduce_sum": _reduction("sum"),
    "reduce_mean": _reduction("mean"),
    "reduce_max": _reduction("max"),
    "reduce_min": _reduction("min"),
    "argmax": _arg_reduction("argmax"),
    "argmin": _arg_reduction("argmin"),
    "sum_to": _sum_to,
    "gather": _gather,
    "getitem_grad": _scatter_add,
    "unsorted_segment_sum": _segment_sum,
    "one_hot": _one_hot,
    "one_hot_like": _one_hot_like,
}
"""Op name -> ``make(node)`` returning the node's hand kernel (or its array kernel)."""
