"""The compiler's own IR: a ``Program`` of mutable-free ``IRNode``s that passes rewrite.

The user's graph is never changed: a program is built from the scheduled nodes, each IR node
remembering the user ``Node`` it came from (``origin``) so errors still point at user code.
Fed tensors become ``input`` nodes; everything a run must do is reachable from ``outputs``
(fetched values) and ``writes`` (the state ops that assign variables).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from ..graph import Node, TensorType
from ..tensor import Tensor


@dataclass(frozen=True)
class Value:
    """Output ``index`` of IR node ``node``."""

    node: "IRNode"
    index: int = 0

    @property
    def type(self) -> TensorType:
        return self.node.out_types[self.index]


@dataclass(eq=False)
class IRNode:
    """One operation of a program; compared by identity."""

    op: str
    inputs: tuple
    attrs: dict
    out_types: tuple
    origin: Node | None = None
    outputs: tuple = field(init=False, repr=False)

    def __post_init__(self):
        self.inputs = tuple(self.inputs)
        self.out_types = tuple(self.out_types)
        self.outputs = tuple(Value(self, i) for i in range(len(self.out_types)))

    def describe(self) -> str:
        """The user-facing description used in errors (the originating node's)."""
        return self.origin.describe() if self.origin is not None else f"{self.op} (compiler)"


@dataclass
class Program:
    """Inputs (one per fed tensor, in feed order), nodes in topological order, fetched values
    (``None`` for fetched ops) and the state nodes that write each variable."""

    inputs: list
    nodes: list
    outputs: list
    writes: dict
    effects: frozenset = frozenset()
    """User nodes that must run although no value of theirs is used (inputs of fetched ops
    such as ``group``, and control dependencies): a failing check there still fails the run."""

    def roots(self) -> list[IRNode]:
        """Nodes that must run: producers of outputs, every write and every effect."""
        return ([v.node for v in self.outputs if v is not None] + list(self.writes.values())
                + [node for node in self.nodes if node.origin in self.effects])

    def to_networkx(self) -> nx.DiGraph:
        """A DiGraph over IR nodes with an edge per data dependency (attr ``index``)."""
        graph = nx.DiGraph()
        for node in self.inputs + self.nodes:
            graph.add_node(node, op=node.op)
            for position, value in enumerate(node.inputs):
                graph.add_edge(value.node, node, position=position)
        return graph


def from_schedule(schedule) -> Program:
    """Translate scheduled user nodes to IR, fed tensors becoming ``input`` nodes."""
    values: dict[Tensor, Value] = {}
    inputs = []
    for tensor in schedule.fed:
        node = IRNode("input", (), {"tensor": tensor}, (tensor.type,), tensor.node)
        inputs.append(node)
        values[tensor] = node.outputs[0]
    nodes, writes = [], {}
    writers = set(schedule.writes.values())
    for user_node in schedule.nodes:
        if user_node.op == "placeholder" or not user_node.outputs:
            continue  # fed, or a group: its effects are the writes and outputs it reaches
        ir = IRNode(user_node.op, [values[t] for t in user_node.inputs], dict(user_node.attrs),
                    user_node.out_types, user_node)
        nodes.append(ir)
        for tensor, value in zip(user_node.outputs, ir.outputs):
            values.setdefault(tensor, value)
        if user_node in writers:
            writes[user_node.attrs["var"]] = ir
    outputs = [values[f] if isinstance(f, Tensor) else None for f in schedule.fetches]
    effects = frozenset(dep for node in schedule.nodes for dep in node.control_inputs) | \
        frozenset(t.node for node in schedule.nodes if not node.outputs for t in node.inputs)
    return Program(inputs, nodes, outputs, writes, effects)


def topological(program: Program) -> list[IRNode]:
    """Program nodes in a topological order (networkx; ties keep program order), no inputs."""
    position = {node: i for i, node in enumerate(program.inputs + program.nodes)}
    order = nx.lexicographical_topological_sort(program.to_networkx(), key=position.__getitem__)
    return [n for n in order if n.op != "input"]
