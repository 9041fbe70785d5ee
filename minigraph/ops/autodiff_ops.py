"""Ops that exist for differentiation: stop_gradient, custom_gradient, sum_to, broadcast_like."""
from __future__ import annotations

import numpy as np

from ..graph import TensorType
from . import _samples
from .registry import InferError, apply_op, defop


def _broadcast_pair(big_first: bool):
    """Sample rule: a shape and the shape it broadcasts to, as (big, small) or (small, big)."""
    def sample(draw):
        from ..testing.domains import sample_values
        from ..testing.strategies import broadcastable_shapes

        one, small = draw(broadcastable_shapes((), 2))
        big = np.broadcast_shapes(one, small)
        rng = _samples.rng_from(draw)
        shapes = (big, small) if big_first else (small, big)
        return [sample_values(rng, s) for s in shapes], {}
    return sample


def _identity_type(types, **_):
    return types[0]


defop("stop_gradient", _identity_type, lambda x: x, kind="elementwise", scalar="x0",
      differentiable=False, sample=_samples.unary(), doc="identity whose gradient is zero")

defop("custom_gradient", _identity_type, lambda y, *xs, grad_fn: y, kind="other",
      vjp=lambda node, dys: [None, *_custom_grads(node, dys[0])],
      doc="forward passes its first input; the gradient comes from the user's grad_fn")


def _custom_grads(node, dy):
    grads = node.attrs["grad_fn"](dy)
    grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
    n_inputs = len(node.inputs) - 1
    if len(grads) != n_inputs:
        raise ValueError(f"{node.describe()}: custom gradient function returned {len(grads)} "
                         f"gradients for {n_inputs} inputs")
    from ..tensor import convert_to_tensor

    return [None if g is None else convert_to_tensor(g) for g in grads]


def sum_to_array(value: np.ndarray, shape) -> np.ndarray:
    """Sum ``value`` over the axes that broadcasting from ``shape`` added or stretched."""
    lead = value.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"cannot sum shape {value.shape} down to {tuple(shape)}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and value.shape[lead + i] != 1)
    out = value.sum(axis=axes, keepdims=True) if axes else value
    return out.reshape(shape)


def _infer_sum_to(types, **_):
    grad, like = types
    return TensorType(like.shape, grad.dtype)


def _infer_broadcast_like(types, **_):
    value, like = types
    if value.shape is not None and like.shape is not None and len(value.shape) > len(like.shape):
        raise InferError("cannot broadcast to a lower rank")
    return TensorType(like.shape, value.dtype)


defop("sum_to", _infer_sum_to, lambda g, like: sum_to_array(g, like.shape), kind="reduction",
      vjp=lambda node, dys: [broadcast_like(dys[0], node.inputs[0]), None],
      grad_inputs=(0,), sample=_broadcast_pair(big_first=True),
      doc="sum the first input down to the second input's shape")

defop("broadcast_like", _infer_broadcast_like,
      lambda x, like: np.broadcast_to(x, like.shape).copy(), kind="elementwise", scalar="x0",
      vjp=lambda node, dys: [sum_to(dys[0], node.inputs[0]), None],
      grad_inputs=(0,), sample=_broadcast_pair(big_first=False),
      doc="broadcast the first input to the second input's shape")


def sum_to(grad, like):
    """``grad`` summed down to the shape of ``like`` (the inverse of broadcasting)."""
    return apply_op("sum_to", [grad, like], {})


def broadcast_like(x, like):
    """``x`` broadcast to the shape of ``like``."""
    return apply_op("broadcast_like", [x, like], {})
