"""Shape ops: shape queries, reshape, transpose, expand_dims/squeeze, concat/stack/split."""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..graph import TensorType, format_shape
from ..tensor import Tensor, convert_operands, convert_to_tensor
from . import _shape_samples as samples
from ._infer import normalize_axes
from ._operands import (check_dims, dims_attr, fmt_dims, normalize_axis, plain_hint,
                        runtime_dims, shape_operand)
from .elementwise import zeros_like_value
from .registry import InferError, apply_op, defop
from .state import constant

# -- shape queries ------------------------------------------------------------------------------


def _infer_shape_query(types, out_type=dtypes.int64):
    shape = types[0].shape
    return TensorType((None if shape is None else len(shape),), out_type)


def _infer_dim(types, axis):
    shape = types[0].shape
    if shape is not None:
        normalize_axis(axis, len(shape))
    return TensorType((), dtypes.int64)


_NONDIFF = dict(kind="movement", differentiable=False, sample=samples.any_array(),
                extra={"shape_only": True})
"""Shape queries: their result depends on the input's shape only (constant folding uses that)."""
defop("shape", _infer_shape_query,
      lambda x, out_type=dtypes.int64: np.array(x.shape, out_type), **_NONDIFF)
defop("size", lambda types: TensorType((), dtypes.int64),
      lambda x: np.array(x.size, dtypes.int64), **_NONDIFF)
defop("rank", lambda types: TensorType((), dtypes.int32),
      lambda x: np.array(x.ndim, dtypes.int32), **_NONDIFF)
defop("dim", _infer_dim, lambda x, axis: np.array(x.shape[axis], dtypes.int64),
      kind="movement", differentiable=False, sample=samples.dim_inputs(),
      extra={"shape_only": True})

# -- reshape --------------------------------------------------------------------------------------


def _infer_reshape(types, shape):
    x = types[0]
    dims = dims_attr(types, shape)
    if dims is None:
        return TensorType(None, x.dtype)
    check_dims(dims, "shape", allow_wildcard=True)
    out = [d if not isinstance(d, tuple) else None if x.shape is None else x.shape[d[1]]
           for d in dims]
    solved = _solve_reshape(x.shape, dims)
    if -1 in out:
        out[out.index(-1)] = solved
    return TensorType(tuple(out), x.dtype)


def _solve_reshape(x_shape, dims):
    """The -1 dim (or None), checking element counts where both sides are known."""
    if x_shape is None:
        return None
    matched, out_known = set(), 1
    for d in dims:
        if isinstance(d, tuple) and d[1] not in matched:
            matched.add(d[1])
        elif isinstance(d, int) and d >= 0:
            out_known *= d
        elif d != -1:
            return None
    rest = [d for j, d in enumerate(x_shape) if j not in matched]
    if None in rest:
        return None
    total = math.prod(rest)
    if -1 not in dims:
        if total != out_known:
            raise _reshape_error(x_shape, dims)
        return None
    if out_known == 0 or total % out_known:
        raise _reshape_error(x_shape, dims)
    return total // out_known


def _reshape_error(x_shape, dims):
    size = math.prod(x_shape) if None not in x_shape else "?"
    return InferError(f"cannot reshape a tensor of shape {format_shape(x_shape)} ({size} "
                      f"elements) into shape {fmt_dims(dims)}")


def _reshape_ref(x, *vector, shape):
    target = runtime_dims(vector, shape)
    try:
        return x.reshape(target)
    except ValueError:
        raise ValueError(f"cannot reshape a tensor of shape {format_shape(x.shape)} "
                         f"({x.size} elements) into shape {format_shape(target)}") from None


def reshape_like(value: Tensor, like: Tensor) -> Tensor:
    """``value`` reshaped to ``like``'s shape (static when known, else ``shape(like)``)."""
    static = like.type.shape
    if static is not None and None not in static:
        return reshape(value, static)
    return reshape(value, shape(like))


defop("reshape", _infer_reshape, _reshape_ref, kind="movement",
      vjp=lambda n, d: [reshape_like(d[0], n.inputs[0])] + [None] * (len(n.inputs) - 1),
      sample=samples.reshape_inputs(), grad_inputs=(0,))

# -- transpose / expand_dims / squeeze -------------------------------------------------------------


def _infer_transpose(types, perm):
    x = types[0]
    if perm is None:
        return TensorType(None if x.shape is None else x.shape[::-1], x.dtype)
    if sorted(perm) != list(range(len(perm))) or (
            x.shape is not None and len(perm) != len(x.shape)):
        raise InferError(f"perm {perm} is not a permutation of the axes of a rank-"
                         f"{'?' if x.shape is None else len(x.shape)} tensor")
    if x.shape is None:
        return TensorType((None,) * len(perm), x.dtype)
    return TensorType(tuple(x.shape[p] for p in perm), x.dtype)


def _transpose_vjp(node, dys):
    perm = node.attrs["perm"]
    return [transpose(dys[0], None if perm is None else tuple(np.argsort(perm).tolist()))]


defop("transpose", _infer_transpose, lambda x, perm: np.transpose(x, perm), kind="movement",
      vjp=_transpose_vjp, sample=samples.transpose_inputs())


def _infer_expand_dims(types, axis):
    x = types[0]
    if x.shape is None:
        return TensorType(None, x.dtype)
    axis = normalize_axis(axis, len(x.shape), extra=1)
    return TensorType(x.shape[:axis] + (1,) + x.shape[axis:], x.dtype)


defop("expand_dims", _infer_expand_dims, lambda x, axis: np.expand_dims(x, axis),
      kind="movement", vjp=lambda n, d: [squeeze(d[0], n.attrs["axis"])],
      sample=samples.expand_dims_inputs())


def _infer_squeeze(types, axis):
    x = types[0]
    if x.shape is None:
        return TensorType(None, x.dtype)
    if axis is None:
        if None in x.shape:
            return TensorType(None, x.dtype)
        return TensorType(tuple(d for d in x.shape if d != 1), x.dtype)
    axes = normalize_axes(axis, len(x.shape))
    for a in axes:
        if x.shape[a] not in (1, None):
            raise InferError(f"cannot squeeze axis {a} of size {x.shape[a]}")
    return TensorType(tuple(d for j, d in enumerate(x.shape) if j not in axes), x.dtype)


defop("squeeze", _infer_squeeze, lambda x, axis: np.squeeze(x, axis), kind="movement",
      vjp=lambda n, d: [reshape_like(d[0], n.inputs[0])], sample=samples.squeeze_inputs())

# -- concat / stack / unstack / split -----------------------------------------------------------


def _merge_shapes(shapes, skip_axis=None, what="inputs"):
    """Elementwise merge of equal-rank static shapes (None matches anything)."""
    known = [s for s in shapes if s is not None]
    if not known:
        return None
    if len({len(s) for s in known}) > 1:
        raise InferError(f"{what} must have the same rank, got "
                         + ", ".join(format_shape(s) for s in known))
    merged = []
    for j, column in enumerate(zip(*known)):
        sizes = {d for d in column if d is not None}
        if j != skip_axis and len(sizes) > 1:
            raise InferError(f"{what} must match in axis {j}, got "
                             + ", ".join(format_shape(s) for s in known))
        merged.append(sizes.pop() if len(sizes) == 1 and j != skip_axis else None)
    return tuple(merged)


def _infer_concat(types, axis):
    dtype = _common_dtype(types)
    ranks = {len(t.shape) for t in types if t.shape is not None}
    if not ranks:
        return TensorType(None, dtype)
    if ranks == {0}:
        raise InferError("cannot concatenate scalars")
    axis = normalize_axis(axis, max(ranks))
    merged = list(_merge_shapes([t.shape for t in types], axis, "concat inputs"))
    sizes = [t.shape[axis] if t.shape is not None else None for t in types]
    merged[axis] = None if None in sizes else sum(sizes)
    return TensorType(tuple(merged), dtype)


def _common_dtype(types):
    if len({t.dtype for t in types}) > 1:
        raise InferError("inputs must have the same dtype, got "
                         + ", ".join(str(t.dtype) for t in types))
    return types[0].dtype


def _concat_vjp(node, dys):
    axis = node.attrs["axis"]
    sizes = [t.type.shape[axis] if t.type.shape is not None and t.type.shape[axis] is not None
             else dim(t, axis) for t in node.inputs]
    return list(split(dys[0], sizes, axis)) if len(sizes) > 1 else [dys[0]]


defop("concat", _infer_concat, lambda *xs, axis: np.concatenate(xs, axis), kind="movement",
      vjp=_concat_vjp, sample=samples.concat_inputs())


def _infer_stack(types, axis):
    dtype = _common_dtype(types)
    merged = _merge_shapes([t.shape for t in types], what="stack inputs")
    if merged is None:
        return TensorType(None, dtype)
    axis = normalize_axis(axis, len(merged), extra=1)
    return TensorType(merged[:axis] + (len(types),) + merged[axis:], dtype)


defop("stack", _infer_stack, lambda *xs, axis: np.stack(xs, axis), kind="movement",
      vjp=lambda n, d: list(unstack(d[0], num=len(n.inputs), axis=n.attrs["axis"])),
      sample=samples.stack_inputs())


def _infer_unstack(types, num, axis):
    x = types[0]
    if x.shape is None:
        return [TensorType(None, x.dtype)] * num
    if not x.shape:
        raise InferError("cannot unstack a scalar")
    axis = normalize_axis(axis, len(x.shape))
    if x.shape[axis] not in (None, num):
        raise InferError(f"cannot unstack axis {axis} of size {x.shape[axis]} into {num} parts")
    return [TensorType(x.shape[:axis] + x.shape[axis + 1:], x.dtype)] * num


def _unstack_ref(x, num, axis):
    if x.shape[axis] != num:
        raise ValueError(f"cannot unstack axis {axis} of size {x.shape[axis]} into {num} parts")
    return tuple(np.moveaxis(x, axis, 0))


def _zero_filled(node, dys):
    """Cotangents of every output, with zeros for outputs that received none."""
    return [d if d is not None else zeros_like_value(t) for d, t in zip(dys, node.outputs)]


defop("unstack", _infer_unstack, _unstack_ref, kind="movement",
      vjp=lambda n, d: [stack(_zero_filled(n, d), n.attrs["axis"])],
      sample=samples.unstack_inputs())


def _infer_split(types, axis, num, sizes):
    x = types[0]
    sizes = dims_attr(types, sizes)
    if x.shape is None:
        return [TensorType(None, x.dtype)] * num
    axis = normalize_axis(axis, len(x.shape))
    length = x.shape[axis]
    if sizes is None:
        if length is not None and length % num:
            raise InferError(f"axis {axis} of size {length} does not split into {num} equal parts")
        parts = [None if length is None else length // num] * num
    else:
        parts = _split_sizes(list(sizes), length, axis)
    return [TensorType(x.shape[:axis] + (p,) + x.shape[axis + 1:], x.dtype) for p in parts]


def _split_sizes(sizes, length, axis):
    """Static split sizes with a -1 resolved; checks they add up to the axis length."""
    check_dims(sizes, "split sizes", allow_wildcard=True)
    if None in sizes or length is None:
        return [None if s == -1 else s for s in sizes]
    resolved = [length - sum(s for s in sizes if s != -1) if s == -1 else s for s in sizes]
    if sum(resolved) != length or min(resolved, default=0) < 0:
        raise InferError(f"split sizes {tuple(sizes)} do not add up to the size {length} of "
                         f"axis {axis}")
    return resolved


def _split_ref(x, *vector, axis, num, sizes):
    sizes = runtime_dims(vector, sizes)
    if sizes is None:
        if x.shape[axis] % num:
            raise ValueError(f"axis {axis} of size {x.shape[axis]} does not split into {num} "
                             "equal parts")
        return tuple(np.split(x, num, axis))
    sizes = _split_sizes(list(sizes), x.shape[axis], axis)  # InferError is a ValueError
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis))


defop("split", _infer_split, _split_ref, kind="movement",
      vjp=lambda n, d: [concat(_zero_filled(n, d), n.attrs["axis"])] + [None] * (
          len(n.inputs) - 1), sample=samples.split_inputs(), grad_inputs=(0,))

# -- public functions ------------------------------------------------------------------------------


def shape(input, name=None, out_type=dtypes.int64) -> Tensor:
    """The run-time shape of ``input`` as an int vector (``tf.shape``)."""
    return apply_op("shape", [convert_to_tensor(input)], {"out_type": dtypes.as_dtype(out_type)},
                    name=name)


def size(input, name=None) -> Tensor:
    """The number of elements of ``input`` as an int64 scalar."""
    return apply_op("size", [convert_to_tensor(input)], {}, name=name)


def rank(input, name=None) -> Tensor:
    """The number of axes of ``input`` as an int32 scalar."""
    return apply_op("rank", [convert_to_tensor(input)], {}, name=name)


def dim(x, axis: int, name=None) -> Tensor:
    """Size of one axis as an int64 scalar: a constant when static, else computed at run time."""
    x = convert_to_tensor(x)
    static = x.type.shape
    if static is not None and -len(static) <= axis < len(static):
        axis %= len(static)
        if static[axis] is not None:
            return constant(static[axis], dtype=dtypes.int64)
    return apply_op("dim", [x], {"axis": int(axis)}, name=name)


def reshape(tensor, shape, name=None) -> Tensor:
    """``tensor`` with a new shape; ``shape`` may mix ints (one -1) and int scalar tensors."""
    x = convert_to_tensor(tensor)
    hint, vector = shape_operand(shape, "reshape: shape")
    if vector is None:
        return apply_op("reshape", [x], {"shape": hint}, name=name)
    if hint is not None:
        hint = tuple(("dim", h[2]) if isinstance(h, tuple) and h[1] == x
                     else None if isinstance(h, tuple) else h for h in hint)
    return apply_op("reshape", [x, vector], {"shape": hint}, name=name)


def transpose(a, perm=None, name=None, conjugate=False) -> Tensor:
    """Permute axes; ``perm=None`` reverses them."""
    perm = None if perm is None else tuple(int(p) for p in perm)
    return apply_op("transpose", [convert_to_tensor(a)], {"perm": perm}, name=name)


def expand_dims(input, axis=None, name=None, dim=None) -> Tensor:
    """Insert a size-1 axis at ``axis`` (TF1 also calls it ``dim``)."""
    axis = dim if axis is None else axis
    if axis is None:
        raise ValueError("expand_dims: axis must be given")
    return apply_op("expand_dims", [convert_to_tensor(input)], {"axis": int(axis)}, name=name)


def squeeze(input, axis=None, name=None, squeeze_dims=None) -> Tensor:
    """Remove size-1 axes: those in ``axis``, or all of them."""
    axis = squeeze_dims if axis is None else axis
    if axis is not None:
        axis = (int(axis),) if isinstance(axis, (int, np.integer)) else tuple(int(a) for a in axis)
    return apply_op("squeeze", [convert_to_tensor(input)], {"axis": axis}, name=name)


def concat(values, axis: int, name=None) -> Tensor:
    """Join tensors along an existing axis."""
    if not values:
        raise ValueError("concat: needs at least one tensor")
    return apply_op("concat", convert_operands(*values), {"axis": int(axis)}, name=name)


def stack(values, axis: int = 0, name=None) -> Tensor:
    """Join same-shaped tensors along a new axis (``tf.stack``, formerly ``pack``)."""
    if not values:
        raise ValueError("stack: needs at least one tensor")
    return apply_op("stack", convert_operands(*values), {"axis": int(axis)}, name=name)


def unstack(value, num=None, axis: int = 0, name=None) -> list:
    """Split ``value`` along ``axis`` into ``num`` tensors of one rank less."""
    x = convert_to_tensor(value)
    if num is None:
        static = x.type.shape
        if static is None or not -len(static) <= axis < len(static) or static[axis] is None:
            raise ValueError(f"unstack: cannot infer num from shape {format_shape(static)} "
                             f"along axis {axis}; pass num")
        num = static[axis]
    if num == 0:
        return []
    return list(apply_op("unstack", [x], {"num": int(num), "axis": int(axis)}, name=name))


def split(value, num_or_size_splits, axis: int = 0, num=None, name=None) -> list:
    """Split along ``axis`` into ``n`` equal parts (an int) or parts of the given sizes.

    One size may be -1 (the rest of the axis); sizes may be int scalar tensors.
    """
    x = convert_to_tensor(value)
    count = num_or_size_splits
    if isinstance(count, (int, np.integer)) and not isinstance(count, (bool, np.bool_)):
        if count <= 0:
            raise ValueError(f"split: the number of splits must be positive, got {count}")
        attrs = {"axis": int(axis), "num": int(count), "sizes": None}
        return list(apply_op("split", [x], attrs, name=name))
    hint, vector = shape_operand(count, "split: size_splits")
    if hint is None and num is None:
        raise ValueError("split: cannot infer the number of splits; pass num")
    hint = plain_hint(hint) if hint is not None else (None,) * int(num)
    inputs = [x] if vector is None else [x, vector]
    attrs = {"axis": int(axis), "num": len(hint), "sizes": hint}
    return list(apply_op("split", inputs, attrs, name=name))


pack, unpack = stack, unstack

__all__ = ["shape", "size", "rank", "dim", "reshape", "transpose",
           "expand_dims", "squeeze", "concat", "stack", "unstack", "split", "pack", "unpack"]
