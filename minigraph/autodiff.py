"""Reverse-mode differentiation: walks nodes backwards, calling each op's ``vjp``.

Gradients are ordinary graph nodes, so differentiating them again gives higher orders.
Broadcasting is undone here, in ``unbroadcast``, for every op that broadcasts. A vjp may return
an ``IndexedSlices`` (gather's rows): sparse contributions stay sparse while they add up, and are
densified only when they flow into another op's vjp; ``gradients`` returns them as they are.
"""
from __future__ import annotations

import warnings

from . import dtypes
from .errors import DisconnectedInputError
from .graph import Node, ancestors
from .indexed_slices import IndexedSlices, concat_slices, dense
from .ops.registry import apply_op, get_op
from .tensor import Tensor, convert_to_tensor


def gradients(ys, xs, grad_ys=None, stop_gradients=None):
    """TF's ``tf.gradients``: d(sum of ys)/dx for each x; ``None`` where x does not reach ys."""
    from . import ops

    ys, xs = _as_list(ys), _as_list(xs)
    ys = [convert_to_tensor(y) for y in ys]
    xs = [convert_to_tensor(x) for x in xs]
    grad_ys = _as_list(grad_ys) if grad_ys is not None else [None] * len(ys)
    blocked = {convert_to_tensor(t).node for t in _as_list(stop_gradients or [])}
    contributions: dict[Tensor, list[Tensor]] = {}
    for y, gy in zip(ys, grad_ys):
        seed = ops.ones_like_value(y) if gy is None else ops.cast(convert_to_tensor(gy), y.dtype)
        contributions.setdefault(y, []).append(seed)
    for node in _nodes_between(ys, xs, blocked):
        dys = [dense(_total(contributions.get(t))) for t in node.outputs]
        if all(d is None for d in dys):
            continue
        for inp, grad in zip(node.inputs, _input_grads(node, dys)):
            if grad is not None and dtypes.is_float(inp.dtype):
                contributions.setdefault(inp, []).append(unbroadcast(grad, inp, node))
    return [_total(contributions.get(x)) for x in xs]


def _input_grads(node: Node, dys):
    opdef = get_op(node.op)
    if not opdef.differentiable or not node.inputs:
        return [None] * len(node.inputs)
    if opdef.vjp is None:
        raise LookupError(f"{node.describe()}: no gradient is defined for op {node.op!r}")
    grads = opdef.vjp(node, dys)
    if len(grads) != len(node.inputs):
        raise AssertionError(f"vjp of {node.op} returned {len(grads)} grads "
                             f"for {len(node.inputs)} inputs")
    return grads


def _nodes_between(ys, xs, blocked):
    """Nodes on some path x -> y, newest first (node ids are a topological order)."""
    targets = {x.node for x in xs}
    on_path: dict[Node, bool] = {}
    order = [n for n in ancestors(y.node for y in ys) if n not in blocked]
    for node in order:
        # a blocked target is skipped as a node but still receives its own gradient (TF)
        on_path[node] = node in targets or any(on_path.get(t.node, t.node in targets)
                                               for t in node.inputs)
    return [n for n in reversed(order) if on_path[n]]


def _total(parts):
    """The sum of a value's gradient contributions: sparse ones concatenated while all are
    sparse, everything densified as soon as one is dense."""
    if not parts:
        return None
    if all(isinstance(p, IndexedSlices) for p in parts):
        return concat_slices(parts)
    parts = [dense(p) for p in parts]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def unbroadcast(grad: Tensor, x: Tensor, node: Node) -> Tensor:
    """Sum ``grad`` down to ``x``'s shape (undoing broadcasting) and match its dtype."""
    from . import ops

    if isinstance(grad, IndexedSlices):
        return grad if grad.dtype == x.dtype else grad.with_values(ops.cast(grad.values, x.dtype))
    if grad.dtype != x.dtype:
        grad = ops.cast(grad, x.dtype)
    gshape, xshape = grad.type.shape, x.type.shape
    if gshape is not None and xshape is not None and gshape == xshape and None not in xshape:
        return grad
    if not get_op(node.op).extra.get("broadcasts") and gshape == xshape:
        return grad
    return ops.sum_to(grad, x)


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """Theano's ``grad``: ``cost`` must be a scalar; returns one gradient per ``wrt`` entry."""
    from . import ops

    cost = convert_to_tensor(cost)
    if cost.ndim != 0:
        raise TypeError(f"grad: cost {cost.name!r} must be a scalar, got shape {cost.type.shape}")
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    results = gradients(cost, wrt_list, stop_gradients=consider_constant)
    out = []
    for variable, g in zip(wrt_list, results):
        if g is None:
            message = (f"grad: cost {cost.name!r} does not depend on {variable.name!r} "
                       f"(created at {convert_to_tensor(variable).node.site})")
            if disconnected_inputs == "raise":
                raise DisconnectedInputError(message)
            if disconnected_inputs == "warn":
                warnings.warn(message, stacklevel=2)
            g = ops.zeros_like_value(convert_to_tensor(variable))
        out.append(dense(g))
    return out[0] if single else out


def stop_gradient(x, name=None) -> Tensor:
    """Identity in the forward pass; blocks gradients."""
    return apply_op("stop_gradient", [convert_to_tensor(x)], {}, name=name)


def custom_gradient(fn):
    """TF-style decorator: ``fn(*xs)`` returns ``(y, grad_fn)`` with ``grad_fn(dy) -> dxs``."""

    def wrapper(*args):
        inputs = [convert_to_tensor(a) for a in args]
        y, grad_fn = fn(*inputs)
        return apply_op("custom_gradient", [convert_to_tensor(y), *inputs], {"grad_fn": grad_fn})

    wrapper.__name__ = getattr(fn, "__name__", "custom_gradient")
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]
