"""TF1's ``tf.nn.embedding_lookup``: rows of an embedding matrix, with a sparse gradient."""
from __future__ import annotations

from ..clip import clip_by_norm
from ..graph import name_scope
from ..ops.indexing import gather
from ..tensor import Tensor, convert_to_tensor


def embedding_lookup(params, ids, partition_strategy="mod", name=None, validate_indices=True,
                     max_norm=None) -> Tensor:
    """``params[ids]``: one row per id, shaped ``ids.shape + params.shape[1:]``. Its gradient
    for ``params`` is an ``IndexedSlices`` of the looked-up rows, which optimizers apply as a
    row update. ``max_norm`` clips each looked-up row to that L2 norm. ``params`` may be a
    one-element list; sharded embeddings (longer lists) are not supported."""
    if isinstance(params, (list, tuple)):
        if len(params) != 1:
            raise NotImplementedError(
                f"embedding_lookup: sharded params ({len(params)} tensors) are not supported; "
                "pass one embedding matrix")
        params = params[0]
    if partition_strategy not in ("mod", "div"):
        raise ValueError(f"embedding_lookup: unknown partition_strategy {partition_strategy!r}")
    with name_scope(name, "embedding_lookup"):
        rows = gather(convert_to_tensor(params), ids)
        if max_norm is not None:
            rows = clip_by_norm(rows, max_norm, axes=[rows.ndim - 1])
        return rows


__all__ = ["embedding_lookup"]
