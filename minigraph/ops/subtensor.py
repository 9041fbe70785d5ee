"""Theano's ``inc_subtensor`` / ``set_subtensor``: a tensor's copy with a region updated.

The result is ``a`` with the region ``a[key]`` incremented by (or set to) a value ``y``. Both
lower to one op, ``subtensor_update(a, y, *indices; spec, mode)``, whose ``spec`` is the
``getitem`` spec of the region (see ``indexing.py``). ``mode="inc"`` accumulates repeated
integer indices (as Theano's ``AdvancedIncSubtensor1``); ``mode="set"`` keeps, for a repeated
index, the value written last (NumPy's assignment order). The inputs are never mutated.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import TensorType, format_shape
from ..tensor import Tensor, convert_to_tensor
from . import _shape_samples
from ._samples import rng_from
from .autodiff_ops import sum_to
from .creation import range as arange
from .elementwise import add, cast, equal, where, zeros_like_value
from .indexing import _gather_spec, _infer_getitem, numpy_key
from .registry import InferError, apply_op, defop
from .shape import reshape_like, size
from .state import constant

MODES = ("inc", "set")

# -- static rule -------------------------------------------------------------------------------


def _infer_update(types, spec, mode):
    a, y, index_types = types[0], types[1], types[2:]
    if mode not in MODES:
        raise InferError(f"mode must be one of {MODES}, got {mode!r}")
    if y.dtype != a.dtype:
        raise InferError(f"the value has dtype {y.dtype} but the tensor has dtype {a.dtype}")
    check_fits(y.shape, _infer_getitem([a, *index_types], spec).shape)
    return TensorType(a.shape, a.dtype)


def check_fits(value, region) -> None:
    """Raise unless a value of shape ``value`` broadcasts to ``region`` (None: unknown)."""
    if value is None or region is None:
        return
    if len(value) > len(region) or any(
            v is not None and r is not None and v not in (1, r)
            for v, r in zip(reversed(value), reversed(region))):
        raise InferError(f"a value of shape {format_shape(value)} does not broadcast to the "
                         f"indexed region of shape {format_shape(region)}")


# -- reference ----------------------------------------------------------------------------------


def _region_shape(shape, key) -> tuple:
    """The shape of ``x[key]`` for an ``x`` of ``shape``, from the index arrays' shapes (so
    device index arrays are never read on the host)."""
    host = tuple(np.zeros(k.shape, np.intp) if hasattr(k, "shape") else k for k in key)
    return np.broadcast_to(np.int8(0), shape)[host].shape


def _update_ref(a, y, *indices, spec, mode):
    out = a.copy()
    key = numpy_key(spec, indices)
    region = _region_shape(a.shape, key)
    check_fits(y.shape, region)
    if mode == "set":
        out[key] = y
    elif any(hasattr(k, "shape") for k in key):
        # Broadcast first: NumPy 2.4's ufunc.at misreads values of lower rank than the region.
        np.add.at(out, key, np.broadcast_to(y, region))
    else:
        out[key] += y
    return out


# -- gradient -------------------------------------------------------------------------------------


def _update_vjp(node, dys):
    a, y, *indices = node.inputs
    spec, dy = node.attrs["spec"], dys[0]
    region = apply_op("getitem", [dy, *indices], {"spec": spec})
    if node.attrs["mode"] == "inc":
        return [dy, _reduce_to(region, y)] + [None] * len(indices)
    zero = constant(np.zeros((), dy.dtype))
    cleared = apply_op("subtensor_update", [dy, zero, *indices], {"spec": spec, "mode": "set"})
    if _may_repeat(spec, indices):
        region = where(_last_writes(dy, region, spec, indices), region, zeros_like_value(region))
    return [cleared, _reduce_to(region, y)] + [None] * len(indices)


def _reduce_to(grad: Tensor, like: Tensor) -> Tensor:
    """Sum a region's cotangent down to the (broadcast) value's shape."""
    shape = like.type.shape
    if shape is not None and None not in shape and grad.type.shape == shape:
        return grad
    return sum_to(grad, like)


def _may_repeat(spec, indices) -> bool:
    """Whether the region may name an element twice (only index arrays can repeat)."""
    return any(item[0] == "index" and indices[item[1]].type.shape != () for item in spec)


def _last_writes(like: Tensor, region: Tensor, spec, indices) -> Tensor:
    """Bool mask over the region: True where that write is the one ``set`` keeps.

    Each region position writes its own id with this very op; reading the ids back shows
    which write survived, so the mask agrees with the forward pass by construction.
    """
    ids = reshape_like(arange(1, add(size(region), 1), dtype=dtypes.int64), region)
    canvas = cast(zeros_like_value(like), dtypes.int64)
    written = apply_op("subtensor_update", [canvas, ids, *indices], {"spec": spec, "mode": "set"})
    return equal(apply_op("getitem", [written, *indices], {"spec": spec}), ids)


# -- sample rule -------------------------------------------------------------------------------


def _draw_region(draw):
    """A shape and a key: any getitem key, or (2 in 3) slices and ints with repeating arrays."""
    from hypothesis import strategies as st

    if draw(st.integers(0, 2)) == 0:
        shape = _shape_samples._shape(draw, max_dims=3)
        return (shape, *_shape_samples._draw_key(draw, shape))
    shape = _shape_samples._shape(draw, min_dims=1, max_dims=3)
    shape = tuple(max(d, 1) for d in shape)
    rng = rng_from(draw)
    index_shape = draw(st.sampled_from([(2,), (3,), (2, 2), (1, 3)]))
    spec, indices = [], []
    for side in shape:
        kind = draw(st.sampled_from(["array", "array", "slice", "int"]))
        if kind == "array":
            index = rng.integers(-side, side, size=index_shape)
            index.flat[-1] = index.flat[0]
            indices.append(index.astype(np.int64))
            spec.append(("index", len(indices) - 1))
        elif kind == "int":
            spec.append(("int", draw(st.integers(-side, side - 1))))
        else:
            spec.append(_shape_samples._draw_slice(draw, side))
    return shape, tuple(spec), indices


def _update_inputs():
    """A tensor, a key, and a value broadcasting to the region (fewer dims, some of size 1)."""
    def sample(draw):
        from hypothesis import strategies as st

        shape, spec, indices = _draw_region(draw)
        a = _shape_samples._values(draw, shape)
        region = a[numpy_key(spec, indices)].shape
        kept = region[draw(st.integers(0, len(region))):]
        ones = draw(st.lists(st.booleans(), min_size=len(kept), max_size=len(kept)))
        y = _shape_samples._values(draw, tuple(1 if one else d for one, d in zip(ones, kept)))
        return [a, y, *indices], {"spec": spec, "mode": draw(st.sampled_from(MODES))}
    return sample


defop("subtensor_update", _infer_update, _update_ref, vjp=_update_vjp, kind="movement",
      sample=_update_inputs(), grad_inputs=(0, 1),
      doc="a copy of the first input with its indexed region incremented by / set to the second")

# -- public functions ------------------------------------------------------------------------------


def inc_subtensor(x, y, inplace=False, set_instead_of_inc=False, tolerate_inplace_aliasing=False,
                  ignore_duplicates=False, name=None) -> Tensor:
    """Theano's ``inc_subtensor``: ``a`` with the region ``x = a[key]`` incremented by ``y``.

    ``x`` must be an indexing result (``a[key]`` or ``gather``); ``y`` broadcasts to ``x``.
    Repeated indices accumulate unless ``ignore_duplicates`` (then each element gets one
    increment: NumPy's ``a[key] += y``). ``inplace`` and ``tolerate_inplace_aliasing`` are
    accepted for compatibility: the result is always a new tensor (the memory planner decides
    on reuse).
    """
    source, indices, spec = _region_of(x, "set_subtensor" if set_instead_of_inc else
                                       "inc_subtensor")
    value = _value_for(y, source)
    if set_instead_of_inc:
        mode = "set"
    elif ignore_duplicates and _may_repeat(spec, indices):
        region = apply_op("getitem", [source, *indices], {"spec": spec})
        value, mode = add(region, value), "set"
    else:
        mode = "inc"
    return apply_op("subtensor_update", [source, value, *indices], {"spec": spec, "mode": mode},
                    name=name)


def set_subtensor(x, y, inplace=False, tolerate_inplace_aliasing=False, name=None) -> Tensor:
    """Theano's ``set_subtensor``: ``a`` with the region ``x = a[key]`` replaced by ``y``.

    For a repeated index the value written last wins (NumPy's ``a[key] = y`` order).
    """
    return inc_subtensor(x, y, inplace, set_instead_of_inc=True,
                         tolerate_inplace_aliasing=tolerate_inplace_aliasing, name=name)


def _region_of(x, caller: str):
    """``(a, index tensors, spec)`` for an indexing result ``x``; TypeError otherwise."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{caller}: x must be the result of indexing a tensor (a[...] or "
                        f"gather), got a {type(x).__name__}")
    node = x.node
    if node.op == "getitem":
        return node.inputs[0], list(node.inputs[1:]), node.attrs["spec"]
    if node.op == "gather":
        return node.inputs[0], [node.inputs[1]], _gather_spec(node.attrs["axis"])
    raise TypeError(f"{caller}: x must be the result of indexing a tensor (a[...] or gather), "
                    f"but {x.name!r} is the output of op {node.op!r} (created at {node.site})")


def _value_for(y, source: Tensor) -> Tensor:
    """``y`` as a tensor of ``source``'s dtype (same-kind casts only, as NumPy assignment)."""
    target = source.dtype
    if hasattr(y, "_as_tensor"):
        y = convert_to_tensor(y)
    given = y.dtype if isinstance(y, Tensor) else np.asarray(y).dtype
    if not np.can_cast(given, target, "same_kind"):
        raise TypeError(f"cannot write a value of dtype {given} into a tensor of dtype {target}")
    if isinstance(y, Tensor):
        return y if y.dtype == target else cast(y, target)
    return constant(y, dtype=target)


__all__ = ["inc_subtensor", "set_subtensor"]
