"""Graph-rewrite utilities shared by every pass, written once.

A pass offers each node (its inputs already substituted) to a ``visit`` function that either
keeps it or returns replacement values; nodes a rule builds are offered to ``visit`` too, so
rules compose (``reshape(reshape(x))`` becomes ``reshape(x)``, which may then become ``x``).
IR nodes are never changed in place: a node whose inputs changed is copied.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from ..graph import Node, TensorType, format_shape
from ..ops.registry import get_op
from .ir import IRNode, Program, Value

_MAX_DEPTH = 64  # rules offered the nodes they build; a deeper chain means two rules loop


def make_node(op: str, inputs, attrs: dict, origin: Node | None) -> IRNode:
    """A new IR node whose output types come from the op's registered ``infer``."""
    out = get_op(op).infer([v.type for v in inputs], **attrs)
    types = [out] if isinstance(out, TensorType) else list(out)
    return IRNode(op, inputs, attrs, types, origin)


def constant_array(value: Value) -> np.ndarray | None:
    """The array a value holds when a ``constant`` node produces it, else ``None``."""
    return value.node.attrs["value"] if value.node.op == "constant" else None


def producer(value: Value, op: str) -> IRNode | None:
    """The node computing ``value`` when it is an ``op`` node, else ``None``."""
    return value.node if value.node.op == op else None


def compatible(a: TensorType, b: TensorType) -> bool:
    """Whether two static types can describe the same run-time array."""
    if a.dtype != b.dtype:
        return False
    if a.shape is None or b.shape is None:
        return True
    return len(a.shape) == len(b.shape) and all(
        x is None or y is None or x == y for x, y in zip(a.shape, b.shape))


def keeps_shape(x: TensorType, other_shape: tuple | None) -> bool:
    """Whether broadcasting ``x`` against a static ``other_shape`` always leaves ``x``'s shape."""
    if other_shape is None:
        return False
    if x.shape is None:
        return other_shape == ()
    if len(other_shape) > len(x.shape):
        return False
    tail = x.shape[len(x.shape) - len(other_shape):]
    return all(o == 1 or (d is not None and o == d) for d, o in zip(tail, other_shape))


class Rewriter:
    """Rebuilds a program node by node through ``visit(node, rewriter)``.

    ``visit`` returns ``None`` to keep the node, or ``(rule_name, values)`` with one
    replacement value per output (a single ``Value`` for one output). Replacements must keep
    each output's type (checked). Rules build new nodes with :meth:`emit`.
    """

    def __init__(self, visit: Callable):
        self.visit = visit
        self.fired: list[str] = []
        self._nodes: list[IRNode] = []
        self._values: dict[Value, Value] = {}
        self._origin: Node | None = None
        self._depth = 0

    def run(self, program: Program) -> tuple[Program, list[str]]:
        """The rewritten program and the names of the rules that fired, in firing order."""
        kept = {}
        for node in program.inputs:
            self._values.update(zip(node.outputs, node.outputs))
        for node in program.nodes:
            self._origin = node.origin
            copy = self._with_inputs(node, [self.value(v) for v in node.inputs])
            values = self._place(copy)
            self._values.update(zip(node.outputs, values))
            if values is copy.outputs:
                kept[node] = copy
        writes = {}
        for var, node in program.writes.items():
            if node not in kept:
                raise AssertionError(f"a rule replaced the state op {node.describe()}")
            writes[var] = kept[node]
        outputs = [None if v is None else self.value(v) for v in program.outputs]
        program = replace(program, inputs=list(program.inputs), nodes=self._nodes,
                          outputs=outputs, writes=writes)
        return program, self.fired

    def value(self, value: Value) -> Value:
        """What an original program value has become."""
        return self._values[value]

    def emit(self, op: str, inputs, attrs: dict) -> Value:
        """Add a node computing ``op`` (typed by its ``infer``), itself offered to the rules."""
        node = make_node(op, inputs, attrs, self._origin)
        if len(node.outputs) != 1:
            raise ValueError(f"emit builds single-output nodes, {op} has {len(node.outputs)}")
        return self._place(node)[0]

    def constant(self, array: np.ndarray) -> Value:
        """A ``constant`` node holding ``array`` (made read-only)."""
        array = np.array(array, copy=True)
        array.setflags(write=False)
        return self.emit("constant", [], {"value": array})

    def _place(self, node: IRNode) -> tuple:
        """Offer ``node`` to the rules; append it if kept. Returns the values standing for it."""
        self._depth += 1
        try:
            if self._depth > _MAX_DEPTH:
                raise RecursionError(f"rewrite rules loop on {node.describe()}")
            result = self.visit(node, self)
        finally:
            self._depth -= 1
        if result is None:
            self._nodes.append(node)
            return node.outputs
        name, values = result
        values = (values,) if isinstance(values, Value) else tuple(values)
        _check_replacement(name, node, values)
        self.fired.append(name)
        return values

    @staticmethod
    def _with_inputs(node: IRNode, inputs: list) -> IRNode:
        if tuple(inputs) == node.inputs:
            return node
        return IRNode(node.op, inputs, dict(node.attrs), node.out_types, node.origin)


def _check_replacement(name: str, node: IRNode, values: tuple) -> None:
    """A rule may refine a type but never change it: same count, dtype and compatible shape."""
    if len(values) != len(node.outputs) or not all(
            compatible(v.type, t) for v, t in zip(values, node.out_types)):
        got = ", ".join(f"{format_shape(v.type.shape)} {v.type.dtype}" for v in values)
        want = ", ".join(f"{format_shape(t.shape)} {t.dtype}" for t in node.out_types)
        raise AssertionError(f"rule {name!r} replaced {node.describe()} ({want}) by values "
                             f"of a different type ({got})")


class RuleSet:
    """Named local rules indexed by the op they match; the first that fires wins."""

    def __init__(self):
        self.by_op: dict[str, list] = {}

    def rule(self, name: str, *ops: str):
        """Register ``fn(node, rewriter) -> replacement | None`` for nodes of ``ops``."""
        def decorate(fn):
            for op in ops:
                self.by_op.setdefault(op, []).append((name, fn))
            return fn
        return decorate

    def visit(self, node: IRNode, rewriter: Rewriter):
        for name, fn in self.by_op.get(node.op, ()):
            values = fn(node, rewriter)
            if values is not None:
                return name, values
        return None
