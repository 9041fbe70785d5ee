"""Shared static shape/dtype rules used by many ops' ``infer`` functions."""
from __future__ import annotations

from ..graph import TensorType, format_shape
from .registry import InferError


def broadcast_shapes(*shapes):
    """NumPy broadcasting of static shapes with ``None`` dims; raises ``InferError`` on clash."""
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(-rank, 0):
        dims = [s[axis] for s in shapes if len(s) >= -axis]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise InferError("shapes " + " and ".join(format_shape(s) for s in shapes)
                             + " cannot be broadcast together")
        if known:
            result.append(known.pop())
        elif any(d is None for d in dims):
            result.append(None)
        else:
            result.append(1)
    return tuple(result)


def same_dtype(types) -> None:
    """Require all inputs to share one dtype (the wrappers cast operands beforehand)."""
    kinds = {t.dtype for t in types}
    if len(kinds) > 1:
        raise InferError("inputs must have the same dtype, got "
                         + ", ".join(str(t.dtype) for t in types))


def require_float(types, what="input") -> None:
    for t in types:
        if t.dtype.kind != "f":
            raise InferError(f"{what} must be a float tensor, got {t.dtype}")


def normalize_axes(axis, rank, op="reduction"):
    """Tuple of non-negative axes from ``None`` (all), an int or a sequence; checks range."""
    if axis is None:
        return tuple(range(rank))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    result = []
    for a in axes:
        if not -rank <= a < rank:
            raise InferError(f"axis {a} is out of range for a tensor of rank {rank}")
        result.append(a % rank if rank else 0)
    if len(set(result)) != len(result):
        raise InferError(f"repeated axis in {axes}")
    return tuple(sorted(result))


def like(t: TensorType, dtype=None, shape=...) -> TensorType:
    return TensorType(t.shape if shape is ... else shape, t.dtype if dtype is None else dtype)
