"""TF1's ``tf.losses``: per-example losses weighted, reduced and added to the LOSSES collection."""
from __future__ import annotations

from . import graph as graph_mod
from .graph import format_shape
from .ops import nn
from .ops.elementwise import (cast, not_equal, ones_like_value, square, subtract, where,
                              zeros_like_value)
from .ops.registry import apply_op
from .tensor import Tensor, convert_to_tensor

LOSSES = "losses"  # TF's GraphKeys.LOSSES


class Reduction:
    """How ``compute_weighted_loss`` reduces weighted per-example losses (TF1 names)."""

    NONE = "none"
    SUM = "weighted_sum"
    MEAN = "weighted_mean"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS


def _reduce_sum(x: Tensor) -> Tensor:
    from .ops.reduce import reduce_sum

    return reduce_sum(x)


def _safe_div(total: Tensor, count: Tensor) -> Tensor:
    """``total / count``, or 0 where ``count`` is 0 (TF's ``div_no_nan``)."""
    nonzero = not_equal(count, 0)
    return where(nonzero, total / where(nonzero, count, ones_like_value(count)),
                 zeros_like_value(total))


def compute_weighted_loss(losses, weights=1.0, scope=None, loss_collection=LOSSES,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``losses * weights`` reduced as ``reduction`` says; added to ``loss_collection``."""
    losses = convert_to_tensor(losses)
    with graph_mod.name_scope(scope, "weighted_loss"):
        weights = _cast_like(weights, losses)
        weighted = losses * weights
        if reduction == Reduction.NONE:
            loss = weighted
        elif reduction == Reduction.SUM:
            loss = _reduce_sum(weighted)
        else:
            count = _reduction_count(reduction, losses, weights * ones_like_value(losses))
            loss = _safe_div(_reduce_sum(weighted), count)
    if loss_collection:
        loss.graph.add_to_collection(loss_collection, loss)
    return loss


def _reduction_count(reduction, losses: Tensor, weights: Tensor) -> Tensor:
    """The divisor of a mean-style reduction."""
    if reduction == Reduction.MEAN:
        return _reduce_sum(weights)
    if reduction == Reduction.SUM_OVER_BATCH_SIZE:
        return _reduce_sum(ones_like_value(losses))
    if reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
        return _reduce_sum(cast(not_equal(weights, 0), losses.dtype))
    raise ValueError(f"unknown reduction {reduction!r}")


def _cast_like(value, like: Tensor) -> Tensor:
    """``value`` as a tensor of ``like``'s dtype."""
    if isinstance(value, Tensor):
        return cast(value, like.dtype)
    return convert_to_tensor(value, dtype=like.dtype)


def _check_same_shape(labels: Tensor, predictions: Tensor, what: str) -> None:
    """Reject statically incompatible shapes instead of silently broadcasting them."""
    a, b = labels.type.shape, predictions.type.shape
    if a is not None and b is not None and (len(a) != len(b) or any(
            x is not None and y is not None and x != y for x, y in zip(a, b))):
        raise ValueError(f"{what}: labels {format_shape(a)} and predictions {format_shape(b)} "
                         "must have the same shape")


def mean_squared_error(labels, predictions, weights=1.0, scope=None, loss_collection=LOSSES,
                       reduction=Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weighted mean of ``(predictions - labels) ** 2`` (plain mean for weights of 1)."""
    with graph_mod.name_scope(scope, "mean_squared_error") as opened:
        predictions = convert_to_tensor(predictions)
        labels = _cast_like(labels, predictions)
        _check_same_shape(labels, predictions, "mean_squared_error")
        losses = square(subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, opened, loss_collection, reduction)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=LOSSES,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weighted mean softmax cross-entropy; no gradient flows into the labels."""
    with graph_mod.name_scope(scope, "softmax_cross_entropy_loss") as opened:
        logits = convert_to_tensor(logits)
        labels = _cast_like(onehot_labels, logits)
        if label_smoothing > 0:
            classes = _cast_like(logits.shape[-1], logits)
            labels = labels * (1 - label_smoothing) + label_smoothing / classes
        labels = apply_op("stop_gradient", [labels], {})
        losses = nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
        return compute_weighted_loss(losses, weights, opened, loss_collection, reduction)


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None,
                                 loss_collection=LOSSES,
                                 reduction=Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weighted mean cross-entropy against integer class ``labels``."""
    with graph_mod.name_scope(scope, "sparse_softmax_cross_entropy_loss") as opened:
        losses = nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return compute_weighted_loss(losses, weights, opened, loss_collection, reduction)


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0,
                          scope=None, loss_collection=LOSSES,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weighted mean logistic loss; smoothing pulls labels towards 1/2."""
    with graph_mod.name_scope(scope, "sigmoid_cross_entropy_loss") as opened:
        logits = convert_to_tensor(logits)
        labels = _cast_like(multi_class_labels, logits)
        if label_smoothing > 0:
            labels = labels * (1 - label_smoothing) + 0.5 * label_smoothing
        losses = nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
        return compute_weighted_loss(losses, weights, opened, loss_collection, reduction)


def get_losses(scope=None, loss_collection=LOSSES) -> list:
    """The losses added to ``loss_collection`` (optionally only those under ``scope``)."""
    return graph_mod.get_default_graph().get_collection(loss_collection, scope)


__all__ = ["Reduction", "compute_weighted_loss", "mean_squared_error", "softmax_cross_entropy",
           "sparse_softmax_cross_entropy", "sigmoid_cross_entropy", "get_losses"]
