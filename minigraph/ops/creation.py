"""Ops that make or replicate values: fill (zeros, ones), range, linspace, broadcast_to, tile."""
from __future__ import annotations

import math
import operator

import numpy as np

from .. import dtypes
from ..errors import InvalidArgumentError
from ..graph import TensorType, format_shape
from ..tensor import Tensor, convert_operands, convert_to_tensor
from . import _shape_samples as samples
from ._infer import broadcast_shapes
from ..feeds import c_contiguous
from ._like import arange_like
from ._operands import (check_dims, dims_attr, fmt_dims, normalize_axis, plain_hint,
                        runtime_dims, scalar_hint, shape_operand)
from .autodiff_ops import sum_to
from .elementwise import cast, ones_like_value, zeros_like_value
from .registry import InferError, apply_op, defop
from .shape import dim, reshape, reshape_like, unstack
from .state import constant


def _infer_broadcast_to(types, shape):
    x = types[0]
    dims = dims_attr(types, shape)
    if dims is None:
        return TensorType(None, x.dtype)
    check_dims(dims, "target shape")
    if x.shape is not None:
        if len(x.shape) > len(dims):
            raise InferError(f"cannot broadcast {format_shape(x.shape)} to a lower rank "
                             f"shape {fmt_dims(dims)}")
        padded = (1,) * (len(dims) - len(x.shape)) + x.shape
        dims = tuple(_broadcast_dim(a, b, x.shape, dims) for a, b in zip(padded, dims))
    return TensorType(tuple(dims), x.dtype)


def _broadcast_dim(have, want, x_shape, dims):
    if have is not None and want is not None and have not in (1, want):
        raise InferError(f"cannot broadcast {format_shape(x_shape)} to {fmt_dims(dims)}")
    return want if want is not None or have in (None, 1) else have


defop("broadcast_to", _infer_broadcast_to,
      lambda x, *v, shape: np.broadcast_to(x, runtime_dims(v, shape)).copy(), kind="movement",
      vjp=lambda n, d: [sum_to(d[0], n.inputs[0])] + [None] * (len(n.inputs) - 1),
      sample=samples.broadcast_to_inputs(), grad_inputs=(0,))


def _infer_tile(types, multiples):
    x = types[0]
    reps = dims_attr(types, multiples)
    if reps is None or x.shape is None:
        return TensorType(None if reps is None else (None,) * len(reps), x.dtype)
    check_dims(reps, "multiples")
    if len(reps) != len(x.shape):
        raise InferError(f"multiples {fmt_dims(reps)} must have one entry per axis of a tensor "
                         f"of shape {format_shape(x.shape)}")
    return TensorType(tuple(None if d is None or m is None else d * m
                            for d, m in zip(x.shape, reps)), x.dtype)


def _tile_vjp(node, dys):
    """Sum the copies: view dy as (m0, d0, m1, d1, ...) and sum the m axes."""
    x = node.inputs[0]
    out_shape = node.out_types[0].shape
    if out_shape is None:
        raise ValueError(f"{node.describe()}: the gradient of tile needs the input's rank")
    rank = len(out_shape)
    reps = (list(node.attrs["multiples"]) if len(node.inputs) == 1
            else unstack(node.inputs[1], num=rank))
    static = x.type.shape or (None,) * rank
    dims = [d if d is not None else dim(x, j) for j, d in enumerate(static)]
    split_dy = reshape(dys[0], [v for pair in zip(reps, dims) for v in pair])
    like = reshape(x, [v for d in dims for v in (1, d)])
    return [reshape_like(sum_to(split_dy, like), x)] + [None] * (len(node.inputs) - 1)


def _tile_ref(x, *vector, multiples):
    reps = runtime_dims(vector, multiples)
    if len(reps) != x.ndim:
        raise ValueError(f"multiples {tuple(reps)} must have one entry per axis of a tensor of "
                         f"shape {format_shape(x.shape)}")
    return np.tile(x, reps)


defop("tile", _infer_tile, _tile_ref, kind="movement", vjp=_tile_vjp,
      sample=samples.tile_inputs(), grad_inputs=(0,))


def _infer_fill(types, shape):
    value = types[0]
    if value.shape not in (None, ()):
        raise InferError(f"fill value must be a scalar, got shape {format_shape(value.shape)}")
    dims = dims_attr(types, shape)
    if dims is not None:
        check_dims(dims, "dims")
    return TensorType(dims, value.dtype)


def _fill_ref(value, *vector, shape):
    """``np.full(dims, value)``, built from the value array (so it stays on its device)."""
    return np.broadcast_to(value, runtime_dims(vector, shape)).copy()


defop("fill", _infer_fill, _fill_ref,
      kind="movement", vjp=lambda n, d: [sum_to(d[0], n.inputs[0])] + [None] * (len(n.inputs) - 1),
      sample=samples.fill_inputs(), grad_inputs=(0,))


def _infer_range(types, bounds, dtype):
    for t in types:
        if t.shape not in (None, ()):
            raise InferError(f"range bounds must be scalars, got shape {format_shape(t.shape)}")
    if None in bounds:
        return TensorType((None,), dtype)
    start, limit, delta = bounds
    if delta == 0:
        raise InferError("range: delta must not be zero")
    return TensorType((max(0, math.ceil((limit - start) / delta)),), dtype)


def _range_ref(*values, bounds, dtype):
    given = iter(values)
    start, limit, delta = (next(given).item() if b is None else b for b in bounds)
    if delta == 0:
        raise ValueError("range: delta must not be zero")
    return np.arange(start, limit, delta).astype(dtype)


defop("range", _infer_range, _range_ref, kind="movement", differentiable=False,
      sample=samples.range_inputs())


def _infer_linspace(types, num, axis):
    start, stop = types[:2]
    if start.dtype.kind != "f" or stop.dtype != start.dtype:
        raise InferError(f"start and stop must be floats of one dtype, got {start.dtype} and "
                         f"{stop.dtype}")
    if len(types) == 3 and (not dtypes.is_integer(types[2].dtype)
                            or types[2].shape not in (None, ())):
        raise InferError(f"num must be an int scalar, got {types[2].describe()}")
    if num is not None and num < 0:
        raise InferError(f"num must be non-negative, got {num}")
    shape = broadcast_shapes(start.shape, stop.shape)
    if shape is None:
        return TensorType(None, start.dtype)
    axis = normalize_axis(axis, len(shape), extra=1)
    return TensorType(shape[:axis] + (num,) + shape[axis:], start.dtype)


def _linspace_ref(start, stop, *num_value, num, axis):
    """TF's values: ``start + i * (stop - start) / (num - 1)``, with both ends exact."""
    n = int(num_value[0]) if num_value else num
    if n < 0:
        raise InvalidArgumentError(f"linspace: num must be non-negative, got {n}")
    start, stop = np.broadcast_arrays(start, stop)
    delta = (stop - start) / start.dtype.type(max(n - 1, 1))
    steps = arange_like(start, n, start.dtype).reshape((n,) + (1,) * start.ndim)
    out = start + delta * steps
    if n:
        out[0] = start
    if n > 1:
        out[-1] = stop
    return c_contiguous(np.moveaxis(out, 0, axis))


def _linspace_vjp(node, dys):
    """Each value weighs ``stop`` by its fraction ``t`` of the way and ``start`` by ``1 - t``."""
    from .reduce import reduce_sum

    start, stop = node.inputs[:2]
    t = apply_op("linspace", [zeros_like_value(start), ones_like_value(stop), *node.inputs[2:]],
                 node.attrs)
    axis = node.attrs["axis"]
    d_stop = reduce_sum(dys[0] * t, axis)
    d_start = reduce_sum(dys[0], axis) - d_stop
    return [sum_to(d_start, start), sum_to(d_stop, stop)] + [None] * (len(node.inputs) - 2)


def _linspace_sample(draw):
    from hypothesis import strategies as st

    from ._samples import nary

    (start, stop), _ = nary(2)(draw)
    num, rank = draw(st.integers(0, 4)), np.broadcast(start, stop).ndim
    axis = draw(st.integers(-rank - 1, rank))
    return [start, stop], {"num": num, "axis": axis % (rank + 1)}


defop("linspace", _infer_linspace, _linspace_ref, vjp=_linspace_vjp, kind="movement",
      sample=_linspace_sample, grad_inputs=(0, 1),
      doc="num evenly spaced values from start to stop (both included) along a new axis")

# -- public functions ------------------------------------------------------------------------------


def fill(dims, value, name=None) -> Tensor:
    """A tensor of shape ``dims`` (ints and/or int scalar tensors) filled with ``value``."""
    value = convert_to_tensor(value)
    hint, vector = shape_operand(dims, "fill: dims")
    inputs = [value] if vector is None else [value, vector]
    return apply_op("fill", inputs, {"shape": plain_hint(hint)}, name=name)


def zeros(shape, dtype=dtypes.float32, name=None) -> Tensor:
    """All zeros; ``shape`` may contain int scalar tensors."""
    return fill(shape, constant(0, dtype=dtype), name=name or "zeros")


def ones(shape, dtype=dtypes.float32, name=None) -> Tensor:
    """All ones; ``shape`` may contain int scalar tensors."""
    return fill(shape, constant(1, dtype=dtype), name=name or "ones")


def zeros_like(tensor, dtype=None, name=None, optimize=True) -> Tensor:
    """Zeros with the shape of ``tensor`` (and its dtype unless ``dtype`` is given)."""
    x = convert_to_tensor(tensor)
    result = zeros_like_value(x)
    return result if dtype is None else cast(result, dtype, name=name)


def ones_like(tensor, dtype=None, name=None, optimize=True) -> Tensor:
    """Ones with the shape of ``tensor`` (and its dtype unless ``dtype`` is given)."""
    x = convert_to_tensor(tensor)
    result = ones_like_value(x)
    return result if dtype is None else cast(result, dtype, name=name)


def range(start, limit=None, delta=1, dtype=None, name=None) -> Tensor:
    """``[start, start + delta, ...)`` up to ``limit``; bounds may be scalar tensors.

    With ``dtype=None`` the result has the bounds' promoted dtype (Python ints give int32).
    """
    if limit is None:
        start, limit = 0, start
    values = [v._as_tensor() if hasattr(v, "_as_tensor") else v for v in (start, limit, delta)]
    tensors = [v for v in values if isinstance(v, Tensor)]
    if dtype is None:
        dtype = dtypes.promote(*(v.dtype if isinstance(v, Tensor) else dtypes.default_dtype_of(v)
                                 for v in values))
    bounds = tuple(None if isinstance(v, Tensor) else np.asarray(v).item() for v in values)
    return apply_op("range", tensors, {"bounds": bounds, "dtype": dtypes.as_dtype(dtype)},
                    name=name)


arange = range


def linspace(start, stop, num, name=None, axis=0) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` inclusive, along a new ``axis``.

    ``start`` and ``stop`` broadcast together; integer ones give float64 values (as TF).
    ``num`` is an int or an int scalar tensor.
    """
    start, stop = convert_operands(start, stop)
    if start.dtype.kind != "f":
        start, stop = cast(start, dtypes.float64), cast(stop, dtypes.float64)
    inputs = [start, stop]
    if isinstance(num, Tensor):
        hint = scalar_hint(num) if dtypes.is_integer(num.dtype) else None
        if not isinstance(hint, int):
            inputs.append(num)
            hint = None
        num = hint
    else:
        num = operator.index(num)
    attrs = {"num": num, "axis": _linspace_axis(axis, start, stop)}
    return apply_op("linspace", inputs, attrs, name=name)


def _linspace_axis(axis, start: Tensor, stop: Tensor):
    """``axis`` made non-negative when the result's rank is known (bad ones reach ``infer``)."""
    axis = operator.index(axis)
    if start.type.shape is None or stop.type.shape is None:
        return axis
    rank = max(len(start.type.shape), len(stop.type.shape)) + 1
    return axis % rank if -rank <= axis < rank else axis


lin_space = linspace


def broadcast_to(input, shape, name=None) -> Tensor:
    """``input`` broadcast (NumPy rules) to ``shape``, which may contain int scalar tensors."""
    x = convert_to_tensor(input)
    hint, vector = shape_operand(shape, "broadcast_to: shape")
    inputs = [x] if vector is None else [x, vector]
    return apply_op("broadcast_to", inputs, {"shape": plain_hint(hint)}, name=name)


def tile(input, multiples, name=None) -> Tensor:
    """``input`` repeated ``multiples[i]`` times along each axis i."""
    x = convert_to_tensor(input)
    hint, vector = shape_operand(multiples, "tile: multiples")
    inputs = [x] if vector is None else [x, vector]
    return apply_op("tile", inputs, {"multiples": plain_hint(hint)}, name=name)


__all__ = ["fill", "zeros", "ones", "zeros_like", "ones_like", "range", "arange",
           "broadcast_to", "tile", "linspace", "lin_space"]
