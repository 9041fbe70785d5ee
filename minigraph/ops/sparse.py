"""Ops over sparse row sets: ``unique`` and ``unsorted_segment_sum`` (TF1 semantics).

Together they deduplicate a sparse gradient (``IndexedSlices``): the unique row ids and the sum
of the rows given for each, which is what every sparse optimizer update applies.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import TensorType
from ..tensor import Tensor, convert_to_tensor
from ._samples import rng_from
from .registry import InferError, apply_op, defop


def _infer_unique(types, out_idx):
    (x,) = types
    if x.shape is not None and len(x.shape) != 1:
        raise InferError(f"unique needs a vector, got shape {x.shape}")
    return [TensorType((None,), x.dtype), TensorType(x.shape or (None,), out_idx)]


def _unique_ref(x, out_idx):
    """Unique values in order of first occurrence (TF's order) and each entry's position."""
    values, first, inverse = np.unique(x, return_index=True, return_inverse=True)
    order = np.argsort(first)  # first positions are distinct: no ties to keep stable
    rank = np.argsort(order)  # the inverse permutation (device-safe: no host arange)
    return values[order], rank[inverse.reshape(-1)].astype(out_idx)


def _unique_sample(draw):
    from hypothesis import strategies as st

    size = draw(st.integers(0, 8))
    return [rng_from(draw).integers(0, 4, size=size).astype(np.int64)], {
        "out_idx": np.dtype("int32")}


defop("unique", _infer_unique, _unique_ref, kind="movement", differentiable=False,
      sample=_unique_sample, extra={"value_dependent_shape": True},
      doc="unique entries of a vector, in first-occurrence order")


def _infer_segment_sum(types):
    data, segment_ids, num_segments = types
    if not dtypes.is_integer(segment_ids.dtype) or not dtypes.is_integer(num_segments.dtype):
        raise InferError(f"segment ids and num_segments must be integers, got "
                         f"{segment_ids.dtype} and {num_segments.dtype}")
    if num_segments.shape not in (None, ()):
        raise InferError(f"num_segments must be a scalar, got shape {num_segments.shape}")
    if data.shape is None or segment_ids.shape is None:
        return TensorType(None, data.dtype)
    ids_rank = len(segment_ids.shape)
    lead = data.shape[:ids_rank]
    if len(data.shape) < ids_rank or any(
            a is not None and b is not None and a != b for a, b in zip(lead, segment_ids.shape)):
        raise InferError(f"data shape {data.shape} does not start with the segment ids' shape "
                         f"{segment_ids.shape}")
    return TensorType((None,) + data.shape[ids_rank:], data.dtype)


def _segment_sum_ref(data, segment_ids, num_segments):
    count = int(num_segments)
    bad = (segment_ids < 0) | (segment_ids >= count)
    if bad.any():
        raise ValueError(f"segment id {segment_ids[bad].flat[0]} is out of range "
                         f"[0, {count})")
    out = np.zeros((count,) + data.shape[segment_ids.ndim:], data.dtype)
    np.add.at(out, segment_ids, data)
    return out


def _segment_sum_vjp(node, dys):
    from .indexing import gather

    return [gather(dys[0], node.inputs[1]), None, None]


def _segment_sum_sample(draw):
    from hypothesis import strategies as st

    rng = rng_from(draw)
    count, ids_size, row = draw(st.integers(1, 4)), draw(st.integers(0, 6)), draw(st.integers(0, 3))
    ids = rng.integers(0, count, size=ids_size).astype(np.int64)
    data = rng.standard_normal((ids_size, row))
    return [data, ids, np.array(count, np.int64)], {}


defop("unsorted_segment_sum", _infer_segment_sum, _segment_sum_ref, vjp=_segment_sum_vjp,
      kind="reduction", sample=_segment_sum_sample, grad_inputs=(0,),
      extra={"value_dependent_shape": True},
      doc="sum the rows of data that share a segment id")


def unique(x, out_idx=dtypes.int32, name=None) -> tuple:
    """``(y, idx)``: the distinct entries of vector ``x`` in first-occurrence order, and the
    position in ``y`` of each entry of ``x`` (``x == y[idx]``), as TF's ``unique``."""
    y, idx = apply_op("unique", [convert_to_tensor(x)], {"out_idx": dtypes.as_dtype(out_idx)},
                      name=name)
    return y, idx


def unsorted_segment_sum(data, segment_ids, num_segments, name=None) -> Tensor:
    """``out[k] = sum of data[i] over i with segment_ids[i] == k``, for ``k < num_segments``."""
    num_segments = convert_to_tensor(num_segments)
    return apply_op("unsorted_segment_sum", [convert_to_tensor(data),
                                             convert_to_tensor(segment_ids), num_segments],
                    {}, name=name)


__all__ = ["unique", "unsorted_segment_sum"]
