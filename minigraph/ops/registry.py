"""The op registry: one ``OpDef`` per op holds everything about it.

An op is a definition, not an execution: shape/dtype rule (``infer``), NumPy ground truth
(``ref``), symbolic gradient (``vjp``), the scalar expression elementwise fusion will compile,
flags, and a ``sample`` rule the test suite and ``minigraph.testing`` use to fuzz it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .. import graph as graph_mod
from ..graph import TensorType

REGISTRY: dict[str, "OpDef"] = {}


class InferError(ValueError):
    """Raised by an ``infer`` rule; ``apply_op`` adds the op name, inputs and user site."""


@dataclass(frozen=True)
class OpDef:
    """Everything minigraph knows about one op.

    ``infer(types, **attrs) -> TensorType | list[TensorType]`` checks inputs statically.
    ``ref(*arrays, **attrs) -> array | tuple`` is the NumPy reference (the oracle); ops whose
    ``infer`` returns a list of outputs return a tuple, even of one array.
    ``vjp(node, dys) -> list`` returns one gradient (Tensor or None) per input, where ``dys``
    holds one cotangent (Tensor or None) per output. ``None`` vjp with ``differentiable``
    means "not implemented"; ``differentiable=False`` means "gradient is zero/undefined".
    ``scalar`` is an expression over ``x0, x1, ...`` for elementwise fusion.
    ``sample(draw) -> (inputs, attrs)`` draws valid float64 test inputs with hypothesis.
    """

    name: str
    infer: Callable
    ref: Callable
    vjp: Callable | None = None
    kind: str = "other"
    scalar: str | None = None
    differentiable: bool = True
    stateful: bool = False
    random: bool = False
    sample: Callable | None = None
    grad_inputs: tuple | None = None  # indices of inputs the gradient check perturbs
    doc: str = ""
    extra: dict = field(default_factory=dict)


def register(opdef: OpDef) -> OpDef:
    if opdef.name in REGISTRY:
        raise ValueError(f"op {opdef.name!r} is registered twice")
    REGISTRY[opdef.name] = opdef
    return opdef


def get_op(name: str) -> OpDef:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no op named {name!r} is registered") from None


def defop(name: str, infer, ref, **kwargs) -> OpDef:
    """Shorthand: build and register an ``OpDef``."""
    return register(OpDef(name, infer, ref, **kwargs))


def apply_op(op: str, inputs, attrs=None, name=None, control_inputs=()):
    """Create a node for ``op`` on ``inputs`` (Tensors) after checking them with ``infer``.

    Returns the single output Tensor, a tuple of Tensors, or the Node when it has none.
    """
    opdef = get_op(op)
    attrs = dict(attrs or {})
    graph = _graph_of(inputs)
    site = graph_mod.user_site()
    types = [t.type for t in inputs]
    try:
        out = opdef.infer(types, **attrs)
    except InferError as err:
        prospective = graph._scope + (name or graph_mod.op_default_name(op))
        described = ", ".join(t.describe() for t in types)
        raise ValueError(f"{op} '{prospective}' ({site}): {err} [inputs: {described}]") from None
    out_types = [out] if isinstance(out, TensorType) else list(out)
    node = graph.add_node(op, inputs, attrs, out_types, name=name, site=site,
                          control_inputs=control_inputs)
    if not node.outputs:
        return node
    return node.outputs[0] if isinstance(out, TensorType) else node.outputs


def _graph_of(inputs):
    graphs = {t.graph for t in inputs}
    if len(graphs) > 1:
        raise ValueError("inputs come from different graphs: " + ", ".join(t.name for t in inputs))
    return graphs.pop() if graphs else graph_mod.get_default_graph()
