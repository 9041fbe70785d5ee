"""Masks and rankings (TF1): ``sequence_mask``, ``top_k`` (differentiable in its values) and
``in_top_k``, plus the pair of last-axis gather/scatter ops behind ``top_k``'s gradients.

Ties follow TF: ``top_k`` puts the lower index first; ``in_top_k`` counts a target as in the top
``k`` when fewer than ``k`` classes score strictly higher, so tied classes straddling the k-th
place are all in.
"""
from __future__ import annotations

import operator
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..errors import InvalidArgumentError
from ..graph import TensorType, format_shape
from ..tensor import Tensor, convert_to_tensor
from . import _samples
from ._infer import require_float
from ._like import arange_like
from ._operands import scalar_hint
from .registry import InferError, apply_op, defop

# -- shape/dtype rules and NumPy references ------------------------------------------------------


def _infer_sequence_mask(types, maxlen, dtype):
    lengths = types[0]
    if not dtypes.is_integer(lengths.dtype):
        raise InferError(f"lengths must be integers, got {lengths.dtype}")
    if len(types) == 2 and (not dtypes.is_integer(types[1].dtype)
                            or types[1].shape not in (None, ())):
        raise InferError(f"maxlen must be an int scalar, got {types[1].describe()}")
    if maxlen is not None and maxlen < 0:
        raise InferError(f"maxlen must be non-negative, got {maxlen}")
    return TensorType(None if lengths.shape is None else lengths.shape + (maxlen,), dtype)


def _sequence_mask_ref(lengths, *maxlen_value, maxlen, dtype):
    """``mask[..., j] = j < lengths[...]``; ``maxlen`` defaults to the longest length."""
    if maxlen_value:
        maxlen = int(maxlen_value[0])
    elif maxlen is None:
        maxlen = max(int(np.max(lengths)), 0) if lengths.size else 0
    if maxlen < 0:
        raise InvalidArgumentError(f"sequence_mask: maxlen must be non-negative, got {maxlen}")
    return (arange_like(lengths, maxlen) < lengths[..., None]).astype(dtype)


def _infer_top_k(types, k, sorted):
    (t,) = types
    if t.dtype == dtypes.bool_:
        raise InferError("input must be numbers, got bool")
    if k < 0:
        raise InferError(f"k must be non-negative, got {k}")
    if t.shape is None:
        return [TensorType(None, t.dtype), TensorType(None, dtypes.int32)]
    if not t.shape or (t.shape[-1] is not None and t.shape[-1] < k):
        raise InferError(f"input must have a last dimension >= k = {k}, got shape "
                         f"{format_shape(t.shape)}")
    shape = t.shape[:-1] + (k,)
    return [TensorType(shape, t.dtype), TensorType(shape, dtypes.int32)]


def _top_k_ref(x, k, sorted):
    """The ``k`` largest along the last axis, largest first, ties by lower index (NaN largest)."""
    n = x.shape[-1]
    if n < k:
        raise InvalidArgumentError(f"top_k: input must have a last dimension >= k = {k}, got "
                                   f"shape {format_shape(x.shape)}")
    key = np.where(np.isnan(x), np.inf, x) if x.dtype.kind == "f" else x
    # a stable ascending sort of the reversed row, read backwards: descending, lower index first
    ascending = np.argsort(key[..., ::-1], axis=-1, kind="stable")
    order = (n - 1 - ascending[..., ::-1])[..., :k]
    return np.take_along_axis(x, order, axis=-1), order.astype(np.int32)


def _infer_take_along(types):
    x, indices = types
    if not dtypes.is_integer(indices.dtype):
        raise InferError(f"indices must be integers, got {indices.dtype}")
    if x.shape is None or indices.shape is None:
        return TensorType(indices.shape, x.dtype)
    if len(x.shape) != len(indices.shape) or not x.shape:
        raise InferError(f"indices {format_shape(indices.shape)} must have the rank (>= 1) of "
                         f"the input {format_shape(x.shape)}")
    return TensorType(indices.shape, x.dtype)


def _infer_scatter_along(types):
    updates, like, indices = types
    if updates.dtype != like.dtype:
        raise InferError(f"updates ({updates.dtype}) and like ({like.dtype}) must share a dtype")
    _infer_take_along([like, indices])
    return like


def _scatter_along_ref(updates, like, indices):
    """Zeros like ``like`` plus ``updates`` added at ``indices`` of the last axis (repeats
    accumulate); the row ids of the other axes are built beside ``indices`` (on its device)."""
    out = np.zeros_like(like)
    lead = indices.shape[:-1]
    rows = [arange_like(indices, d).reshape(tuple(d if j == i else 1 for j in range(len(lead)))
                                            + (1,)) for i, d in enumerate(lead)]
    np.add.at(out, (*rows, indices), updates)
    return out


def _infer_in_top_k(types, k):
    predictions, targets = types
    require_float([predictions], "predictions")
    if not dtypes.is_integer(targets.dtype):
        raise InferError(f"targets must be int32 or int64, got {targets.dtype}")
    if predictions.shape is not None and len(predictions.shape) != 2:
        raise InferError(f"predictions must be a matrix [batch_size, classes], got shape "
                         f"{format_shape(predictions.shape)}")
    if targets.shape is not None and len(targets.shape) != 1:
        raise InferError(f"targets must be a vector, got shape {format_shape(targets.shape)}")
    rows = {t.shape[0] for t in types if t.shape is not None} - {None}
    if len(rows) > 1:
        raise InferError(f"predictions and targets must have one row per target, got "
                         f"{format_shape(predictions.shape)} and {format_shape(targets.shape)}")
    return TensorType((rows.pop() if rows else None,), dtypes.bool_)


def _in_top_k_ref(predictions, targets, k):
    """TF's rule: fewer than ``k`` classes score strictly higher than the target; False for an
    out-of-range target or a row with a non-finite score."""
    batch, classes = predictions.shape
    if targets.shape != (batch,):
        raise InvalidArgumentError(f"in_top_k: {targets.shape[0]} targets for {batch} rows")
    valid = (targets >= 0) & (targets < classes)
    if not classes:
        return valid
    score = np.take_along_axis(predictions, np.where(valid, targets, 0)[:, None], axis=1)
    higher = np.sum(predictions > score, axis=1)
    return valid & np.all(np.isfinite(predictions), axis=1) & (higher < k)


def _top_k_vjp(node, dys):
    if dys[0] is None:
        return [None]
    x, indices = node.inputs[0], node.outputs[1]
    return [apply_op("scatter_along_last_axis", [dys[0], x, indices], {})]


def _sequence_mask_sample(draw):
    from hypothesis import strategies as st

    from ..testing import strategies

    lengths = _samples.rng_from(draw).integers(-1, 5, size=draw(strategies.shapes(max_dims=2)))
    attrs = {"maxlen": draw(st.one_of(st.none(), st.integers(0, 5))),
             "dtype": np.dtype(draw(st.sampled_from(["bool", "float32", "int32"])))}
    return [lengths.astype(draw(st.sampled_from(["int32", "int64"])))], attrs


def _top_k_sample(draw):
    """Distinct values (ties would make the gradient depend on the tie rule)."""
    from hypothesis import strategies as st

    from ..testing import strategies

    shape = draw(strategies.shapes(min_dims=1, max_dims=3))
    size = int(np.prod(shape))
    values = (_samples.rng_from(draw).permutation(size) * 0.1 - size * 0.05).reshape(shape)
    return [values], {"k": draw(st.integers(0, shape[-1])), "sorted": draw(st.booleans())}


def _along_sample(scatter):
    def sample(draw):
        from hypothesis import strategies as st

        from ..testing import strategies

        shape = draw(strategies.shapes(min_dims=1, max_dims=3, min_side=1))
        rng = _samples.rng_from(draw)
        indices = rng.integers(0, shape[-1], size=shape[:-1] + (draw(st.integers(0, 3)),))
        like = _samples.sample_values(rng, shape)
        if not scatter:
            return [like, indices.astype(np.int32)], {}
        return [_samples.sample_values(rng, indices.shape), like, indices], {}
    return sample


def _in_top_k_sample(draw):
    """Scores on a coarse grid, so ties at the k-th place happen."""
    from hypothesis import strategies as st

    batch, classes = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    rng = _samples.rng_from(draw)
    predictions = rng.integers(0, 3, size=(batch, classes)) * 0.5
    targets = rng.integers(-1, classes + 1, size=batch)
    return [predictions, targets], {"k": draw(st.integers(0, classes + 1))}


defop("sequence_mask", _infer_sequence_mask, _sequence_mask_ref, kind="nn", differentiable=False,
      sample=_sequence_mask_sample, extra={"value_dependent_shape": True},
      doc="mask[..., j] = j < lengths[...], for j below maxlen")
defop("top_k", _infer_top_k, _top_k_ref, vjp=_top_k_vjp, kind="nn", sample=_top_k_sample,
      doc="the k largest entries of the last axis and their int32 indices")
defop("take_along_last_axis", _infer_take_along,
      lambda x, indices: np.take_along_axis(x, indices.astype(np.intp), axis=-1),
      vjp=lambda n, d: [apply_op("scatter_along_last_axis", [d[0], *n.inputs], {}), None],
      kind="nn", sample=_along_sample(False), grad_inputs=(0,),
      doc="out[..., j] = x[..., indices[..., j]] (second-order gradient of top_k)")
defop("scatter_along_last_axis", _infer_scatter_along, _scatter_along_ref,
      vjp=lambda n, d: [apply_op("take_along_last_axis", [d[0], n.inputs[2]], {}), None, None],
      kind="nn", sample=_along_sample(True), grad_inputs=(0,),
      doc="zeros like the second input plus updates added at indices of the last axis "
          "(the gradient of top_k)")
defop("in_top_k", _infer_in_top_k, _in_top_k_ref, kind="nn", differentiable=False,
      sample=_in_top_k_sample, doc="whether each target's score is among the row's k highest")

# -- public functions ----------------------------------------------------------------------------


def _static_int(value, what) -> int:
    """A Python int from an int or a constant int scalar tensor."""
    if isinstance(value, Tensor):
        hint = scalar_hint(value) if dtypes.is_integer(value.dtype) else None
        if not isinstance(hint, int):
            raise TypeError(f"{what} must be a Python int or a constant int tensor, got "
                            f"{value.name!r}")
        return hint
    return operator.index(value)


def sequence_mask(lengths, maxlen=None, dtype=dtypes.bool_, name=None) -> Tensor:
    """``mask[..., j] = j < lengths[...]`` for ``j < maxlen`` (default: ``max(lengths)``).

    ``maxlen`` may be an int scalar tensor; the result has ``lengths``' shape plus that axis.
    """
    lengths = convert_to_tensor(lengths)
    inputs, attr = [lengths], maxlen
    if isinstance(maxlen, Tensor):
        hint = scalar_hint(maxlen) if dtypes.is_integer(maxlen.dtype) else None
        attr = hint if isinstance(hint, int) else None
        if attr is None:
            inputs.append(maxlen)
    elif maxlen is not None:
        attr = operator.index(maxlen)
    return apply_op("sequence_mask", inputs, {"maxlen": attr, "dtype": dtypes.as_dtype(dtype)},
                    name=name)


TopKV2 = namedtuple("TopKV2", ["values", "indices"])


def top_k(input, k=1, sorted=True, name=None) -> TopKV2:
    """``(values, indices)`` of the ``k`` largest entries along the last axis.

    Always largest first with ties broken by the lower index (TF leaves the order undefined
    for ``sorted=False``); ``indices`` are int32; the gradient flows to the chosen entries.
    """
    x = convert_to_tensor(input)
    attrs = {"k": _static_int(k, "top_k: k"), "sorted": bool(sorted)}
    return TopKV2(*apply_op("top_k", [x], attrs, name=name))


def in_top_k(predictions, targets, k, name=None) -> Tensor:
    """Whether ``targets[i]`` is among the ``k`` highest ``predictions[i]``, ties included
    (TF: fewer than ``k`` classes score strictly higher); False for bad targets or NaN rows."""
    x, y = convert_to_tensor(predictions), convert_to_tensor(targets)
    return apply_op("in_top_k", [x, y], {"k": _static_int(k, "in_top_k: k")}, name=name)


__all__ = ["sequence_mask", "top_k", "in_top_k"]
