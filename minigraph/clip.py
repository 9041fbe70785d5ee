"""TF1 gradient clipping: ``clip_by_norm``, ``global_norm`` and ``clip_by_global_norm``.

Plain functions of public ops; norms are taken through a ``where`` so zero tensors give zero
gradients instead of NaN (as TF1 does). ``IndexedSlices`` entries stay sparse: their norm is
that of their values, and clipping scales the values (TF1).
"""
from __future__ import annotations

from collections.abc import Sequence

from .graph import name_scope
from .indexed_slices import IndexedSlices
from .ops.elementwise import cast, greater, identity, maximum, minimum, ones_like_value, sqrt, where
from .ops.nn import l2_loss
from .ops.reduce import reduce_sum
from .ops.shape import stack
from .tensor import Tensor, convert_to_tensor


def _like(value, t: Tensor) -> Tensor:
    """``value`` as a tensor of ``t``'s dtype."""
    return cast(value, t.dtype) if isinstance(value, Tensor) else convert_to_tensor(
        value, dtype=t.dtype)


def clip_by_norm(t, clip_norm, axes=None, name=None) -> Tensor:
    """``t * clip_norm / max(||t||, clip_norm)``: L2 norm over ``axes`` at most ``clip_norm``."""
    with name_scope(name, "clip_by_norm"):
        t = convert_to_tensor(t)
        clip_norm = _like(clip_norm, t)
        l2sum = reduce_sum(t * t, axes, keepdims=True)
        nonzero = greater(l2sum, 0)
        # sqrt only of positive sums, so an all-zero t gets a zero gradient, not NaN.
        l2norm = where(nonzero, sqrt(where(nonzero, l2sum, ones_like_value(l2sum))), l2sum)
        return identity(t * clip_norm / maximum(l2norm, clip_norm))


def _tensor_list(t_list, what: str) -> list:
    """The sequence's entries as tensors (``None`` and ``IndexedSlices`` kept); ``TypeError``
    for a non-sequence."""
    if not isinstance(t_list, Sequence) or isinstance(t_list, str):
        raise TypeError(f"{what}: t_list should be a sequence of tensors, got "
                        f"{type(t_list).__name__}")
    return [t if t is None or isinstance(t, IndexedSlices) else convert_to_tensor(t)
            for t in t_list]


def _global_norm(tensors: list) -> Tensor:
    present = [t.values if isinstance(t, IndexedSlices) else t for t in tensors if t is not None]
    if not present:
        raise ValueError("global_norm: t_list has no tensors (every entry is None)")
    return sqrt(reduce_sum(stack([l2_loss(t) for t in present])) * 2)


def global_norm(t_list, name=None) -> Tensor:
    """``sqrt(sum(||t||**2 for t in t_list))``, skipping ``None`` entries."""
    tensors = _tensor_list(t_list, "global_norm")
    with name_scope(name, "global_norm"):
        return _global_norm(tensors)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None) -> tuple:
    """``(list scaled by clip_norm / max(global norm, clip_norm), global norm)``; keeps None."""
    tensors = _tensor_list(t_list, "clip_by_global_norm")
    with name_scope(name, "clip_by_global_norm"):
        norm = _global_norm(tensors) if use_norm is None else convert_to_tensor(use_norm)
        clip_norm = _like(clip_norm, norm)
        scale = clip_norm * minimum(1 / norm, 1 / clip_norm)
        # Adding ``norm - norm`` makes every value NaN when the norm is inf or NaN (TF1).
        scale = scale + (norm - norm)
        return [_scaled(t, scale) for t in tensors], norm


def _scaled(t, scale):
    if t is None:
        return None
    if isinstance(t, IndexedSlices):
        return t.with_values(identity(t.values * cast(scale, t.dtype)))
    return identity(t * cast(scale, t.dtype))


__all__ = ["clip_by_norm", "clip_by_global_norm", "global_norm"]
