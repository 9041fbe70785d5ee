"""``IndexedSlices``: a sparse set of rows of a dense tensor, TF1's sparse gradient.

The gradient of a gather along axis 0 (e.g. ``embedding_lookup``) touches only the rows it
read, so it is kept as (values, indices, dense_shape): optimizers apply it as a row update and
only an op that needs a dense tensor turns it into one (``convert_to_tensor`` densifies).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .tensor import Tensor, convert_to_tensor


class IndexedSlicesValue(NamedTuple):
    """A fetched ``IndexedSlices``: NumPy values, indices and dense shape."""

    values: np.ndarray
    indices: np.ndarray
    dense_shape: np.ndarray


class IndexedSlices:
    """Rows ``values[i]`` at positions ``indices[i]`` of a ``dense_shape`` tensor; repeated
    indices add up. ``like``, when known, is a tensor of the dense shape (used to densify)."""

    def __init__(self, values, indices, dense_shape=None, like: Tensor | None = None):
        from .ops.shape import shape

        self.values = convert_to_tensor(values)
        self.indices = convert_to_tensor(indices)
        if dense_shape is None and like is None:
            raise ValueError("IndexedSlices needs a dense_shape")
        self.dense_shape = shape(like) if dense_shape is None else convert_to_tensor(dense_shape)
        self._like = like

    dtype = property(lambda self: self.values.dtype)
    graph = property(lambda self: self.values.graph)
    name = property(lambda self: self.values.name)
    op = property(lambda self: self.values.op)

    def __repr__(self) -> str:
        return (f"IndexedSlices(values={self.values.name!r}, indices={self.indices.name!r}, "
                f"dtype={self.dtype})")

    def _as_tensor(self) -> Tensor:
        """The dense tensor: each row of ``values`` added into zeros at its index."""
        from .ops.creation import zeros
        from .ops.indexing import scatter_rows_into

        like = self._like if self._like is not None else zeros(self.dense_shape, self.dtype)
        return scatter_rows_into(self.values, like, self.indices)

    def _fetch_parts(self):
        return IndexedSlicesValue(self.values, self.indices, self.dense_shape)

    def with_values(self, values) -> "IndexedSlices":
        """The same rows with new ``values`` (e.g. scaled by a clipping factor)."""
        return IndexedSlices(values, self.indices, self.dense_shape, self._like)


def concat_slices(parts: list) -> IndexedSlices:
    """The sum of several IndexedSlices of one tensor, as one (rows and indices concatenated)."""
    from .ops.shape import concat

    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    return IndexedSlices(concat([p.values for p in parts], 0),
                         concat([p.indices for p in parts], 0), first.dense_shape, first._like)


def deduplicate(grad: IndexedSlices) -> tuple[Tensor, Tensor]:
    """``(unique_indices, summed_rows)``: each touched row once, with its rows added up."""
    from .ops.shape import shape
    from .ops.sparse import unique, unsorted_segment_sum

    ids, positions = unique(grad.indices)
    return ids, unsorted_segment_sum(grad.values, positions, shape(ids)[0])


def dense(value):
    """``value`` as a dense tensor (``IndexedSlices`` densified), ``None`` kept."""
    if isinstance(value, IndexedSlices):
        return convert_to_tensor(value)
    return value
