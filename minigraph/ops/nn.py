"""Neural-network ops: softmax, log-softmax and the cross-entropies, kept primitive for stability
(``sequence_mask``, ``top_k`` and ``in_top_k`` live in ``selection`` and are re-exported here).

References use overflow-free forms (max-shifted softmax, TF's logistic-loss formula), so logits
of +-1e4 give finite losses and gradients. Gradients are built from public ops (second order
works).
"""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..graph import TensorType
from ..tensor import Tensor, convert_to_tensor
from . import _samples
from ._infer import require_float
from .elementwise import exp, multiply, sigmoid, square
from .registry import InferError, apply_op, defop
from .selection import in_top_k, sequence_mask, top_k

# -- NumPy references ----------------------------------------------------------------------------


def _log_softmax_ref(x: np.ndarray, axis: int) -> np.ndarray:
    """``x - logsumexp(x)`` along ``axis``, shifted by the maximum so nothing overflows."""
    if x.shape[axis] == 0:
        return x.copy()
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _softmax_ref(x: np.ndarray, axis: int) -> np.ndarray:
    if x.shape[axis] == 0:
        return x.copy()
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _xent_ref(labels, logits, axis):
    return -np.sum(labels * _log_softmax_ref(logits, axis), axis=axis)


def _check_labels(labels: np.ndarray, num_classes: int) -> None:
    """Raise a clear run-time error for class indices outside ``[0, num_classes)``."""
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.size:
        raise InvalidArgumentError(f"received a label value of {bad.flat[0]} which is outside "
                                   f"the valid range of [0, {num_classes})")


def _sparse_xent_ref(labels, logits):
    _check_labels(labels, logits.shape[-1])
    index = labels[..., None].astype(np.intp)
    return -np.take_along_axis(_log_softmax_ref(logits, -1), index, axis=-1)[..., 0]


def _one_hot_like_ref(labels, logits):
    _check_labels(labels, logits.shape[-1])
    classes = np.arange(logits.shape[-1])
    return (labels[..., None] == classes).astype(logits.dtype)


def _sigmoid_xent_ref(labels, logits):
    """TF's overflow-free form ``max(x, 0) - x * z + log1p(exp(-|x|))``."""
    return np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))


# -- shape/dtype rules ---------------------------------------------------------------------------


def _check_axis(shape, axis):
    if shape is None:
        return
    if not shape:
        raise InferError("logits must have rank >= 1")
    if not -len(shape) <= axis < len(shape):
        raise InferError(f"axis {axis} is out of range for a tensor of rank {len(shape)}")


def _infer_softmax(types, axis):
    require_float(types, "logits")
    _check_axis(types[0].shape, axis)
    return types[0]


def _merge_shapes(a, b, what):
    """The more specific of two compatible static shapes; ``InferError`` if they clash."""
    if a is None or b is None:
        return a if b is None else b
    if len(a) != len(b) or any(x is not None and y is not None and x != y for x, y in zip(a, b)):
        raise InferError(f"{what} must have the same shape")
    return tuple(x if x is not None else y for x, y in zip(a, b))


def _same_float(types):
    require_float(types[1:], "logits")
    if types[0].dtype != types[1].dtype:
        raise InferError(f"labels ({types[0].dtype}) and logits ({types[1].dtype}) must have "
                         "the same dtype")


def _infer_xent(types, axis):
    _same_float(types)
    shape = _merge_shapes(types[0].shape, types[1].shape, "labels and logits")
    _check_axis(shape, axis)
    out = None if shape is None else shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    return TensorType(out, types[1].dtype)


def _infer_sparse_labels(types):
    labels, logits = types
    require_float([logits], "logits")
    if labels.dtype.kind not in "iu":
        raise InferError(f"labels must be int32 or int64 class indices, got {labels.dtype}")
    if logits.shape is not None and not logits.shape:
        raise InferError("logits must have rank >= 1 (classes on the last axis)")
    batch = None if logits.shape is None else logits.shape[:-1]
    return _merge_shapes(labels.shape, batch, "labels and logits[:-1]")


def _infer_sparse_xent(types):
    return TensorType(_infer_sparse_labels(types), types[1].dtype)


def _infer_one_hot_like(types):
    _infer_sparse_labels(types)
    return types[1]


def _infer_sigmoid_xent(types):
    _same_float(types)
    return TensorType(_merge_shapes(types[0].shape, types[1].shape, "labels and logits"),
                      types[1].dtype)


# -- gradients -----------------------------------------------------------------------------------


def _reduce_sum(x, axis):
    from .reduce import reduce_sum

    return reduce_sum(x, axis, True)


def _expand_dims(x, axis):
    from .shape import expand_dims

    return expand_dims(x, axis)


def _softmax_vjp(node, dys):
    y, dy, axis = node.outputs[0], dys[0], node.attrs["axis"]
    return [y * (dy - _reduce_sum(dy * y, axis))]


def _log_softmax_vjp(node, dys):
    y, dy, axis = node.outputs[0], dys[0], node.attrs["axis"]
    return [dy - exp(y) * _reduce_sum(dy, axis)]


def _xent_vjp(node, dys):
    labels, logits = node.inputs
    axis = node.attrs["axis"]
    dy = _expand_dims(dys[0], axis)
    return [-dy * log_softmax(logits, axis), dy * (softmax(logits, axis) - labels)]


def _sparse_xent_vjp(node, dys):
    labels, logits = node.inputs
    dy = _expand_dims(dys[0], -1)
    return [None, dy * (softmax(logits) - apply_op("one_hot_like", [labels, logits], {}))]


def _sigmoid_xent_vjp(node, dys):
    labels, logits = node.inputs
    return [-dys[0] * logits, dys[0] * (sigmoid(logits) - labels)]


# -- sample rules --------------------------------------------------------------------------------


def _axis_sample(with_labels):
    """Logits of rank >= 1 with an axis; optionally a probability distribution as labels."""
    def sample(draw):
        from hypothesis import strategies as st

        from ..testing import domains, strategies

        shape = draw(strategies.shapes(min_dims=1))
        axis = draw(st.integers(-len(shape), len(shape) - 1))
        rng = _samples.rng_from(draw)
        logits = domains.sample_values(rng, shape)
        if not with_labels:
            return [logits], {"axis": axis}
        weights = rng.uniform(0.1, 1.0, size=shape)
        labels = weights / np.sum(weights, axis=axis, keepdims=True)
        return [labels, logits], {"axis": axis}
    return sample


def _sparse_sample(draw):
    from hypothesis import strategies as st

    from ..testing import domains, strategies

    batch = draw(strategies.shapes(max_dims=2))
    classes = draw(st.integers(1, 4))
    rng = _samples.rng_from(draw)
    dtype = draw(st.sampled_from(["int32", "int64"]))
    labels = rng.integers(0, classes, size=batch).astype(dtype)
    return [labels, domains.sample_values(rng, batch + (classes,))], {}


def _sigmoid_sample(draw):
    from ..testing import domains, strategies

    shape = draw(strategies.shapes())
    rng = _samples.rng_from(draw)
    return [rng.uniform(0.0, 1.0, size=shape), domains.sample_values(rng, shape)], {}


# -- registration --------------------------------------------------------------------------------

defop("softmax", _infer_softmax, _softmax_ref, vjp=_softmax_vjp, kind="nn",
      sample=_axis_sample(False), doc="exp(x) / sum(exp(x)) along an axis, max-shifted")
defop("log_softmax", _infer_softmax, _log_softmax_ref, vjp=_log_softmax_vjp, kind="nn",
      sample=_axis_sample(False), doc="x - logsumexp(x) along an axis, max-shifted")
defop("softmax_cross_entropy_with_logits", _infer_xent, _xent_ref, vjp=_xent_vjp, kind="nn",
      sample=_axis_sample(True), doc="-sum(labels * log_softmax(logits)) along an axis")
defop("sparse_softmax_cross_entropy_with_logits", _infer_sparse_xent, _sparse_xent_ref,
      vjp=_sparse_xent_vjp, kind="nn", sample=_sparse_sample, grad_inputs=(1,),
      doc="-log_softmax(logits)[label] with integer class labels on the last axis")
defop("one_hot_like", _infer_one_hot_like, _one_hot_like_ref, kind="nn", differentiable=False,
      sample=_sparse_sample, doc="one-hot rows of int labels, shaped and typed like the logits")
defop("sigmoid_cross_entropy_with_logits", _infer_sigmoid_xent, _sigmoid_xent_ref,
      vjp=_sigmoid_xent_vjp, kind="elementwise",
      scalar="maximum(x1, 0) - x1 * x0 + log1p(exp(-abs(x1)))", sample=_sigmoid_sample,
      doc="elementwise logistic loss of logits x1 against probabilities x0")

# -- public functions ----------------------------------------------------------------------------


def _axis_attr(x: Tensor, axis, dim) -> int:
    """TF1's ``axis``/``dim`` (default -1), made non-negative when the rank is known."""
    axis = -1 if axis is None and dim is None else int(axis if axis is not None else dim)
    rank = x.ndim
    return axis % rank if rank and -rank <= axis < rank else axis


def softmax(logits, axis=None, name=None, dim=None) -> Tensor:
    """``exp(logits) / sum(exp(logits))`` along ``axis`` (default: the last)."""
    x = convert_to_tensor(logits)
    return apply_op("softmax", [x], {"axis": _axis_attr(x, axis, dim)}, name=name)


def log_softmax(logits, axis=None, name=None, dim=None) -> Tensor:
    """``logits - log(sum(exp(logits)))`` along ``axis``, computed without overflow."""
    x = convert_to_tensor(logits)
    return apply_op("log_softmax", [x], {"axis": _axis_attr(x, axis, dim)}, name=name)


def _labels_like(labels, logits: Tensor) -> Tensor:
    """Labels as a tensor; plain data takes the logits' dtype."""
    if isinstance(labels, Tensor) or hasattr(labels, "_as_tensor"):
        return convert_to_tensor(labels)
    return convert_to_tensor(np.asarray(labels), dtype=logits.dtype)


def softmax_cross_entropy_with_logits_v2(*, labels, logits, axis=None, name=None,
                                         dim=None) -> Tensor:
    """Per-example ``-sum(labels * log_softmax(logits))``; gradients reach labels too."""
    x = convert_to_tensor(logits)
    attrs = {"axis": _axis_attr(x, axis, dim)}
    return apply_op("softmax_cross_entropy_with_logits", [_labels_like(labels, x), x], attrs,
                    name=name)


def softmax_cross_entropy_with_logits(*, labels, logits, axis=None, name=None,
                                      dim=None) -> Tensor:
    """TF1's v1 cross-entropy: like ``_v2`` but no gradient flows into ``labels``."""
    x = convert_to_tensor(logits)
    held = apply_op("stop_gradient", [_labels_like(labels, x)], {})
    return softmax_cross_entropy_with_logits_v2(labels=held, logits=x, axis=axis, name=name,
                                                dim=dim)


def sparse_softmax_cross_entropy_with_logits(*, labels, logits, name=None) -> Tensor:
    """Per-example ``-log_softmax(logits)[label]``; ``labels`` are int class indices."""
    x = convert_to_tensor(logits)
    y = convert_to_tensor(labels if isinstance(labels, Tensor) or hasattr(labels, "_as_tensor")
                          else np.asarray(labels))
    return apply_op("sparse_softmax_cross_entropy_with_logits", [y, x], {}, name=name)


def sigmoid_cross_entropy_with_logits(*, labels, logits, name=None) -> Tensor:
    """Elementwise logistic loss of ``logits`` against probabilities ``labels``."""
    x = convert_to_tensor(logits)
    return apply_op("sigmoid_cross_entropy_with_logits", [_labels_like(labels, x), x], {},
                    name=name)


def l2_loss(t, name=None) -> Tensor:
    """``sum(t ** 2) / 2``, a scalar (TF's weight-decay term)."""
    from .reduce import reduce_sum

    return multiply(reduce_sum(square(convert_to_tensor(t))), 0.5, name=name)


__all__ = ["sequence_mask", "top_k", "in_top_k",
           "softmax", "log_softmax", "softmax_cross_entropy_with_logits",
           "softmax_cross_entropy_with_logits_v2", "sparse_softmax_cross_entropy_with_logits",
           "sigmoid_cross_entropy_with_logits", "l2_loss"]
