"""Rebuild part of a graph with some tensors replaced (Theano ``givens``, ``clone_replace``)."""
from __future__ import annotations

from .graph import TensorType, ancestors
from .ops.registry import get_op
from .tensor import Tensor, convert_to_tensor


def clone_replace(outputs, replace: dict) -> list[Tensor]:
    """``outputs`` recomputed with each key of ``replace`` standing for its value.

    Nodes whose inputs do not change are reused; new nodes keep the original creation site.
    """
    memo: dict[Tensor, Tensor] = {}
    for old, new in replace.items():
        old, new = convert_to_tensor(old), convert_to_tensor(new, dtype=None)
        if new.dtype != old.dtype:
            raise TypeError(f"givens: replacement for {old.name!r} has dtype {new.dtype}, "
                            f"expected {old.dtype}")
        memo[old] = new
    return [_clone(convert_to_tensor(t), memo) for t in outputs]


def _clone(tensor: Tensor, memo: dict) -> Tensor:
    if tensor in memo:
        return memo[tensor]
    for node in ancestors([tensor.node], memo):
        new_inputs = [memo.get(t, t) for t in node.inputs]
        if all(a is b or a == b for a, b in zip(new_inputs, node.inputs)):
            for t in node.outputs:
                memo.setdefault(t, t)
            continue
        types = get_op(node.op).infer([t.type for t in new_inputs], **node.attrs)
        types = [types] if isinstance(types, TensorType) else list(types)
        clone = node.graph.add_node(node.op, new_inputs, node.attrs, types,
                                    name=node.name.rsplit("/", 1)[-1], site=node.site,
                                    control_inputs=node.control_inputs)
        for old, new in zip(node.outputs, clone.outputs):
            memo[old] = new
    return memo[tensor]
