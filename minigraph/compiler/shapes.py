"""Concrete types of a program's values for one set of fed shapes (the memory plan needs sizes).

Each op's ``infer`` runs again on the concrete input types; a dim an op cannot know before it
runs (a value-dependent size) stays ``None`` and its value is allocated when computed. A shape
conflict only visible now (e.g. a fed batch that does not match a variable) is reported here,
before anything runs, naming the op, its creation site and the concrete input shapes.
"""
from __future__ import annotations

from ..errors import InvalidArgumentError
from ..graph import TensorType
from ..ops.registry import InferError, get_op
from .ir import IRNode, Program


def concrete(t: TensorType) -> bool:
    """Whether every dim of ``t`` is known."""
    return t.shape is not None and None not in t.shape


def propagate(program, fed_shapes) -> dict:
    """``{Value: TensorType}`` for every value of ``program`` given the inputs' ``fed_shapes``."""
    types = {}
    for node, shape in zip(program.inputs, fed_shapes):
        types[node.outputs[0]] = TensorType(tuple(shape), node.out_types[0].dtype)
    for node in program.nodes:
        for value, t in zip(node.outputs, _node_types(node, types)):
            types[value] = t
    return types


def _node_types(node, types) -> list:
    """The node's output types from its inputs' concrete types (its static types otherwise)."""
    inputs = [types[v] for v in node.inputs]
    if not node.inputs or not all(concrete(t) for t in inputs):
        return list(node.out_types)
    try:
        inferred = get_op(node.op).infer(inputs, **bound_attrs(node, inputs))
    except InferError as err:
        described = ", ".join(t.describe() for t in inputs)
        raise InvalidArgumentError(f"{node.describe()}: {err} [inputs: {described}]") from None
    inferred = [inferred] if isinstance(inferred, TensorType) else list(inferred)
    return [_more_precise(new, old) for new, old in zip(inferred, node.out_types)]


def bound_attrs(node, input_types) -> dict:
    """The node's attrs for concrete input types: an op may specialise them (registered as
    ``extra["bind_attrs"]``, e.g. a fused kernel's broadcast patterns)."""
    if not input_types or not all(concrete(t) for t in input_types):
        return node.attrs
    hook = get_op(node.op).extra.get("bind_attrs")
    return node.attrs if hook is None else hook(input_types, **node.attrs)


def _more_precise(new: TensorType, old: TensorType) -> TensorType:
    """``new`` with the dims only ``old`` knows filled in (rewrites may know more statically)."""
    if new.shape is None or old.shape is None or len(new.shape) != len(old.shape):
        return new if new.shape is not None else old
    return TensorType(tuple(n if n is not None else o for n, o in zip(new.shape, old.shape)),
                      old.dtype)


def value_types(program) -> dict:
    """``{Value: TensorType}`` as a specialised program's nodes carry them (rewrites keep them)."""
    return {v: v.type for node in program.inputs + program.nodes for v in node.outputs}


def specialise(program, types: dict):
    """A copy of ``program`` whose values carry their bound ``types`` and whose nodes their
    bound attrs (so passes such as constant folding answer shape queries for this binding)."""
    new: dict = {}

    def copy(node):
        twin = IRNode(node.op, [new[v] for v in node.inputs],
                      bound_attrs(node, [types[v] for v in node.inputs]),
                      [types[v] for v in node.outputs], node.origin)
        new.update(zip(node.outputs, twin.outputs))
        return twin

    inputs = [copy(node) for node in program.inputs]
    nodes = [copy(node) for node in program.nodes]
    writes = {var: new[w.outputs[0]].node for var, w in program.writes.items()}
    outputs = [None if v is None else new[v] for v in program.outputs]
    return Program(inputs, nodes, outputs, writes, program.effects)
