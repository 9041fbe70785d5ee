"""Shape-like operands (a reshape target, tile multiples, split sizes...) and axis helpers.

Such operands may mix Python ints with int scalar tensors. All-int ones become attrs; otherwise
they are packed into one int64 vector input and the attr keeps a *hint*: what is statically
known about each entry (an int, or None), so shape inference still recovers what it can.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import format_shape
from ..tensor import Tensor
from .elementwise import cast
from .registry import InferError

def scalar_hint(t: Tensor):
    """What is known statically about an int scalar tensor: an int, ``("dim", x, axis)``, None."""
    node = t.node
    if node.op == "constant" and node.attrs["value"].ndim == 0:
        return int(node.attrs["value"])
    if node.op == "dim":
        source, axis = node.inputs[0], node.attrs["axis"]
        known = source.type.shape[axis] if source.type.shape is not None else None
        return known if known is not None else ("dim", source, axis)
    if node.op == "cast" and dtypes.is_integer(node.inputs[0].dtype):
        return scalar_hint(node.inputs[0])
    return None


def vector_hint(t: Tensor):
    """Per-entry hints for an int vector tensor, or None when its length is unknown."""
    shape = t.type.shape
    if shape is None or len(shape) != 1 or shape[0] is None:
        return None
    node = t.node
    if node.op == "constant":
        return tuple(int(v) for v in node.attrs["value"])
    if node.op == "shape" and node.inputs[0].type.shape is not None:
        source = node.inputs[0]
        return tuple(d if d is not None else ("dim", source, j)
                     for j, d in enumerate(source.type.shape))
    if node.op == "stack" and node.attrs["axis"] == 0:
        return tuple(scalar_hint(s) for s in node.inputs)
    if node.op == "cast" and dtypes.is_integer(node.inputs[0].dtype):
        return vector_hint(node.inputs[0])
    return (None,) * shape[0]


def shape_operand(value, what: str = "shape"):
    """``(static_dims, None)`` for all-int shapes, else ``(hint, int64 vector tensor)``."""
    if isinstance(value, Tensor):
        _require_int(value, what)
        if value.ndim == 0:
            value = [value]
        elif value.ndim not in (1, None):
            raise ValueError(f"{what} must be a vector, got a tensor of shape "
                             f"{format_shape(value.type.shape)}")
        else:
            hint = vector_hint(value)
            if hint is not None and all(isinstance(h, int) for h in hint):
                return hint, None
            return hint, cast(value, dtypes.int64)
    entries = list(np.atleast_1d(value)) if isinstance(value, (np.ndarray, np.generic)) \
        else [value] if isinstance(value, int) else list(value)
    hint = tuple(_entry_hint(e, what) for e in entries)
    if all(isinstance(h, int) for h in hint):
        return hint, None
    from .shape import stack

    parts = [cast(e, dtypes.int64) if isinstance(e, Tensor) else int(e) for e in entries]
    return hint, stack(parts)


def _entry_hint(entry, what):
    if isinstance(entry, Tensor):
        _require_int(entry, what)
        if entry.ndim not in (0, None):
            raise ValueError(f"{what}: entries must be scalars, got a tensor of shape "
                             f"{format_shape(entry.type.shape)}")
        return scalar_hint(entry)
    if isinstance(entry, (bool, np.bool_)) or not isinstance(entry, (int, np.integer)):
        raise TypeError(f"{what}: entries must be ints or int scalar tensors, got {entry!r}")
    return int(entry)


def _require_int(t: Tensor, what):
    if not dtypes.is_integer(t.dtype):
        raise TypeError(f"{what} must have an integer dtype, got tensor {t.name!r} of {t.dtype}")


def plain_hint(hint):
    """A hint with references to other tensors' dims dropped (attrs hold plain values only)."""
    return None if hint is None else tuple(h if isinstance(h, int) else None for h in hint)


def dims_attr(types, dims):
    """The target dims: the attr, or all-unknown dims of the shape vector's length."""
    if dims is not None or len(types) < 2:
        return dims
    shape = types[1].shape
    return None if shape is None or shape[0] is None else (None,) * shape[0]


def runtime_dims(vector, dims):
    return tuple(int(v) for v in vector[0]) if vector else dims


def check_dims(dims, what, allow_wildcard=False):
    """Reject negative dims (except one -1 where allowed) in a static shape."""
    for d in dims:
        if isinstance(d, int) and d < 0 and not (allow_wildcard and d == -1):
            raise InferError(f"{what} {fmt_dims(dims)} has a negative dimension")
    if sum(d == -1 for d in dims) > 1:
        raise InferError(f"{what} {fmt_dims(dims)} has more than one -1")


def fmt_dims(dims) -> str:
    """A shape operand or hint rendered like a static shape."""
    return format_shape(tuple(d if isinstance(d, int) else None for d in dims))


def normalize_axis(axis, rank, extra=0):
    """Non-negative axis when the rank is known (``extra`` widens the range, e.g. for stack)."""
    if rank is None:
        return axis
    if not -(rank + extra) <= axis < rank + extra:
        raise InferError(f"axis {axis} is out of range for a tensor of rank {rank}")
    return axis % (rank + extra)
