"""TF1's sampled losses (``nce_loss``, ``sampled_softmax_loss``) and candidate samplers.

Both losses score the true classes and ``num_sampled`` negatives drawn by a candidate sampler,
built exactly as TF1's ``_compute_sampled_logits``: logits ``x . w_k + b_k - log Q(k)`` with
``Q`` the sampler's expected count, accidental hits (a negative equal to a true class of the
row) pushed to ``-FLT_MAX``, and targets ``1 / num_true`` on the true columns, 0 elsewhere.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autodiff import stop_gradient
from ..graph import name_scope
from ..tensor import Tensor, convert_to_tensor
from ..ops.creation import ones_like, zeros_like
from ..ops.elementwise import cast, equal, log, logical_and, logical_not, where
from ..ops.indexing import gather
from ..ops.linalg import matmul
from ..ops.nn import sigmoid_cross_entropy_with_logits, softmax_cross_entropy_with_logits_v2
from ..ops.reduce import reduce_any, reduce_sum
from ..ops.sampling import (FLT_MAX, compute_accidental_hits, fixed_unigram_candidate_sampler,
                            log_uniform_candidate_sampler, uniform_candidate_sampler)
from ..ops.shape import concat, dim, expand_dims, reshape
from ..ops.state import constant

# -- embedding rows, possibly from a partitioned matrix ------------------------------------------


def partitioned_rows(sizes: list, partition_strategy: str) -> np.ndarray:
    """Row of ``concat(shards)`` holding each id, under TF's ``mod`` or ``div`` partitioning."""
    n, total = len(sizes), sum(sizes)
    ids = np.arange(total)
    if partition_strategy == "mod":
        shard, local = ids % n, ids // n
    elif partition_strategy == "div":
        per, extras = divmod(total, n)
        if per == 0:
            raise ValueError(f"'div' partitioning needs at least {n} ids, got {total}")
        shard = np.maximum(ids // (per + 1), (ids - extras) // per)
        local = np.where(shard < extras, ids % (per + 1), (ids - extras) % per)
    else:
        raise ValueError(f"partition_strategy must be 'mod' or 'div', got {partition_strategy!r}")
    if np.any(local >= np.asarray(sizes)[shard]):
        raise ValueError(f"shard sizes {list(sizes)} do not follow the {partition_strategy!r} "
                         f"partitioning of {total} ids")
    return (np.cumsum([0] + list(sizes[:-1]))[shard] + local).astype(np.int64)


def _lookup(params, ids: Tensor, partition_strategy: str) -> Tensor:
    """``embedding_lookup``: rows ``ids`` of one matrix or of a list of shards."""
    if not isinstance(params, (list, tuple)):
        return gather(params, ids)
    shards = [convert_to_tensor(p) for p in params]
    if len(shards) == 1:
        return gather(shards[0], ids)
    sizes = [s.type.shape[0] if s.type.shape else None for s in shards]
    if None in sizes:
        raise ValueError(f"sharded weights need static first dimensions, got {sizes}")
    rows = constant(partitioned_rows(sizes, partition_strategy))
    return gather(concat(shards, 0), gather(rows, ids))


# -- the shared logits ---------------------------------------------------------------------------


def _int64(t: Tensor, what: str) -> Tensor:
    if not dtypes.is_integer(t.dtype):
        raise TypeError(f"{what} must be integer class ids, got {t.dtype}")
    return t if t.dtype == dtypes.int64 else cast(t, dtypes.int64)


def _hit_mask(labels: Tensor, sampled: Tensor, num_true: int, num_sampled: int) -> Tensor:
    """[batch, num_sampled]: sampled id j equals a true class of the row and is the last
    occurrence of its value (TF's compute_accidental_hits keeps the last position only)."""
    row_classes = expand_dims(reshape(labels, [-1, num_true]), 2)
    hit = reduce_any(equal(row_classes, reshape(sampled, [1, 1, num_sampled])), axis=1)
    later = constant(np.triu(np.ones((num_sampled, num_sampled), bool), 1))
    repeated = reduce_any(logical_and(equal(expand_dims(sampled, 1), expand_dims(sampled, 0)),
                                      later), axis=1)
    return logical_and(hit, logical_not(repeated))


def _sampled_values(labels, num_true, num_sampled, num_classes, sampled_values, seed):
    if sampled_values is None:
        sampled_values = log_uniform_candidate_sampler(labels, num_true, num_sampled, True,
                                                       num_classes, seed=seed)
    sampled, true_count, sampled_count = (stop_gradient(convert_to_tensor(s))
                                          for s in sampled_values)
    return _int64(sampled, "sampled_candidates"), true_count, sampled_count


def _count_rows(t: Tensor):
    """The static length of a vector, else its ``dim`` tensor."""
    known = t.type.shape[0] if t.type.shape is not None else None
    return known if known is not None else dim(t, 0)


def _compute_sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes, num_true,
                            sampled_values, remove_accidental_hits, partition_strategy, seed):
    """``(logits, labels)`` of shape [batch, num_true + num_sampled], true columns first."""
    inputs = convert_to_tensor(inputs)
    labels = _int64(convert_to_tensor(labels), "labels")
    labels_flat = reshape(labels, [-1])
    sampled, true_count, sampled_count = _sampled_values(labels, num_true, num_sampled,
                                                         num_classes, sampled_values, seed)
    all_ids = concat([labels_flat, sampled], 0)
    n_true = _count_rows(labels_flat)
    all_w = cast(_lookup(weights, all_ids, partition_strategy), inputs.dtype)
    all_b = cast(_lookup(biases, all_ids, partition_strategy), inputs.dtype)
    true_w, sampled_w = all_w[:n_true], all_w[n_true:]
    true_b, sampled_b = all_b[:n_true], all_b[n_true:]
    rows = reshape(true_w, [-1, num_true, dim(true_w, 1)])
    true_logits = reduce_sum(expand_dims(inputs, 1) * rows, axis=2)
    true_logits = true_logits + reshape(true_b, [-1, num_true])
    sampled_logits = matmul(inputs, sampled_w, transpose_b=True) + sampled_b
    if remove_accidental_hits:
        mask = _hit_mask(labels, sampled, num_true, num_sampled)
        sampled_logits = sampled_logits + where(mask, constant(-FLT_MAX, inputs.dtype),
                                                constant(0.0, inputs.dtype))
    true_logits = true_logits - log(cast(true_count, inputs.dtype))
    sampled_logits = sampled_logits - log(cast(sampled_count, inputs.dtype))
    logits = concat([true_logits, sampled_logits], 1)
    targets = concat([ones_like(true_logits) / num_true, zeros_like(sampled_logits)], 1)
    return logits, targets


# -- the losses ----------------------------------------------------------------------------------


def nce_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
             sampled_values=None, remove_accidental_hits=False, partition_strategy="mod",
             name="nce_loss") -> Tensor:
    """Noise-contrastive estimation loss per example: sigmoid cross-entropy of the true and
    sampled logits, summed over the ``num_true + num_sampled`` columns ([batch])."""
    with name_scope(name):
        logits, targets = _compute_sampled_logits(
            weights, biases, labels, inputs, int(num_sampled), num_classes, int(num_true),
            sampled_values, remove_accidental_hits, partition_strategy, seed=None)
        losses = sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
        return reduce_sum(losses, axis=1)


def sampled_softmax_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
                         sampled_values=None, remove_accidental_hits=True,
                         partition_strategy="mod", name="sampled_softmax_loss",
                         seed=None) -> Tensor:
    """Softmax cross-entropy over the true and sampled classes only, per example ([batch])."""
    with name_scope(name):
        logits, targets = _compute_sampled_logits(
            weights, biases, labels, inputs, int(num_sampled), num_classes, int(num_true),
            sampled_values, remove_accidental_hits, partition_strategy, seed=seed)
        return softmax_cross_entropy_with_logits_v2(labels=stop_gradient(targets), logits=logits)


__all__ = ["nce_loss", "sampled_softmax_loss", "log_uniform_candidate_sampler",
           "uniform_candidate_sampler", "fixed_unigram_candidate_sampler",
           "compute_accidental_hits"]
