"""``fuse_elementwise``: replace each group of fusible elementwise nodes (grown greedily in
program order) by one ``fused`` node whose ``dag`` attr, a ``kernels.scalar_expr.FusedDag``, a
code generator compiles (and the NumPy reference interprets).

Guarantees: the same outputs and writes are computed. A group may have one member (a lone
elementwise op then still runs as a kernel writing a planned buffer); its elementwise members
share one shape of known rank that each of their inputs broadcasts to; contracting each group
to one node leaves the program acyclic (no path leaves a group and comes back). Every member
value used outside its group, or fetched, is an output of the fused node, in member order; the
fused node's origin is its last member's, so errors name a user op. Members are elementwise ops
with a ``scalar`` expression (attrs substituted by ``str.format``) that the expression language
types; float16 stays unfused (the code generators do not take it); nodes run for their effects
stay unfused too.

Unknown dims (``None``) fuse: an input's broadcast pattern reads an axis in full unless the
input's size there is known to be 1; when the program is bound to concrete shapes, an unknown
dim that turned out to be 1 becomes a broadcast axis of that binding's kernel (the ``fused``
op's ``bind_attrs``), so run-time broadcasting works as in NumPy.

Reduction epilogues fuse too: a ``reduce_sum``/``reduce_max``/``reduce_min`` of an elementwise
member's value joins the group as a reduced output (``Output(reduce=...)``), so the reduced
operand is not stored unless something else reads it; ``keepdims`` is restored by an
``expand_reduced``. Max/min join only over axes of known non-zero size (NumPy refuses an empty
max, the kernels would return the identity).
"""
from __future__ import annotations

from dataclasses import replace

import networkx as nx
import numpy as np

from kernels.scalar_expr import CAST_DTYPES, FusedDag, Input, Node, Output, pattern_of, typed_expr

from ...ops import fused as _fused_op  # noqa: F401  (registers the ``fused`` op the pass emits)
from ...ops.registry import get_op
from ..ir import IRNode, Program, Value
from ..pipeline import register_pass
from ..rewrite import make_node

_DTYPES = frozenset(np.dtype(name) for name in CAST_DTYPES if name != "float16")
_EPILOGUES = {"reduce_sum": "sum", "reduce_max": "max", "reduce_min": "min"}


@register_pass("fuse_elementwise")
def fuse_elementwise(program: Program) -> tuple[Program, list[str]]:
    """Group fusible nodes greedily in program order, add the reductions of their values, then
    rebuild with one fused node per group."""
    expressions = {node: expr for node in program.nodes
                   if (expr := _expression(node, program)) is not None}
    readers = _readers(program)
    groups = _with_epilogues(program, _groups(program, expressions), expressions)
    groups = [g for g in groups if any(readers[m.outputs[0]] - set(g) for m in g)]
    fused = [_fused_node(g, expressions, readers) for g in groups]
    if not fused:
        return program, []
    reductions = sum(m.op in _EPILOGUES for g in groups for m in g)
    return (_rebuild(program, groups, fused),
            ["fuse_elementwise"] * len(groups) + ["fuse_reduction"] * reductions)


# -- which nodes may join a group --------------------------------------------------------------


def _expression(node: IRNode, program: Program) -> str | None:
    """The node's scalar expression when it can be a group member, else ``None``."""
    opdef = get_op(node.op)
    if opdef.kind != "elementwise" or opdef.scalar is None or len(node.out_types) != 1:
        return None
    out = node.out_types[0]
    if node.origin in program.effects or out.shape is None or not all(
            _broadcasts(v.type.shape, out.shape) for v in node.inputs):
        return None
    dtypes = [v.type.dtype for v in node.inputs]
    if any(d not in _DTYPES for d in dtypes + [out.dtype]):
        return None
    expr = opdef.scalar.format(**node.attrs)
    try:
        typed_expr(expr, tuple(d.name for d in dtypes), out.dtype.name)
    except (ValueError, TypeError):
        return None  # e.g. arithmetic on bools, which NumPy allows and the language does not
    return expr


def _broadcasts(shape, to) -> bool:
    """Whether ``shape`` broadcasts to ``to`` (right-aligned, as NumPy; an unknown dim on either
    side counts as equal to the other, as the ops' shape rules assume)."""
    if shape is None or len(shape) > len(to):
        return False
    return all(d in (1, t) or None in (d, t) for d, t in zip(shape, to[len(to) - len(shape):]))


# -- grouping ----------------------------------------------------------------------------------


def _groups(program: Program, expressions: dict) -> list[list[IRNode]]:
    """Groups (members in program order) grown by merging each fusible node with the groups of
    its fusible producers of the same shape, whenever the merge keeps the program acyclic."""
    graph = program.to_networkx()
    position = {node: i for i, node in enumerate(program.nodes)}
    group_of: dict[IRNode, frozenset] = {}
    for node in program.nodes:
        if node not in expressions:
            continue
        members = frozenset([node])
        for value in node.inputs:
            group = group_of.get(value.node)
            if group is None or group <= members or \
                    value.type.shape != node.out_types[0].shape:
                continue
            if not _returns(graph, members | group, group_of, position, position[node]):
                members |= group
        for member in members:
            group_of[member] = members
    unique = {id(g): g for g in group_of.values()}.values()
    return [sorted(g, key=position.__getitem__) for g in unique]


def _returns(graph: nx.DiGraph, members: frozenset, group_of: dict, position: dict,
             last: int) -> bool:
    """Whether a path leaves ``members`` and comes back once every existing group is one node.

    Only nodes up to ``last`` (the newest member) can lead back: later ones are not grouped yet,
    so their paths only go further forward.
    """
    frontier = [s for m in members for s in graph.successors(m) if s not in members]
    seen = set(frontier)
    while frontier:
        node = frontier.pop()
        if position[node] > last:
            continue
        for member in group_of.get(node, (node,)):
            seen.add(member)
            for successor in graph.successors(member):
                if successor in members:
                    return True
                if successor not in seen:
                    seen.add(successor)
                    frontier.append(successor)
    return False


def _with_epilogues(program: Program, groups: list, expressions: dict) -> list[list[IRNode]]:
    """``groups`` with each fusible reduction of an elementwise member's value added to that
    member's group (when that keeps the program acyclic), members in program order."""
    position = {node: i for i, node in enumerate(program.nodes)}
    group_of: dict[IRNode, set] = {}
    for g in groups:
        group_of.update(dict.fromkeys(g, set(g)))
    graph = program.to_networkx()
    for node in program.nodes:
        if not _epilogue(node, program) or node.inputs[0].node not in expressions:
            continue
        members = group_of[node.inputs[0].node]
        if not _returns(graph, frozenset(members | {node}), group_of, position, len(position)):
            members.add(node)
            group_of[node] = members
    unique = {id(g): g for g in group_of.values()}.values()
    return [sorted(g, key=position.__getitem__) for g in unique]


def _epilogue(node: IRNode, program: Program) -> bool:
    """Whether ``node`` is a reduction a fused kernel can compute as one of its outputs."""
    if node.op not in _EPILOGUES or node.origin in program.effects:
        return False
    x = node.inputs[0].type
    if x.shape is None or x.dtype not in _DTYPES or x.dtype != node.out_types[0].dtype:
        return False  # a bool sum counts in int64; the kernels sum in the value's own dtype
    axes = _reduced_axes(node)
    if not axes and x.shape:
        return False  # reduces nothing: a copy
    return node.op == "reduce_sum" or all((x.shape[a] or 0) > 0 for a in axes)  # no empty max


def _reduced_axes(node: IRNode) -> tuple[int, ...]:
    ndim = len(node.inputs[0].type.shape)
    axis = node.attrs["axis"]
    axes = range(ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    return tuple(sorted(a % ndim for a in axes))


# -- building the fused nodes ------------------------------------------------------------------


def _fused_node(members: list[IRNode], expressions: dict, readers: dict):
    """``(node, exports, expansions)``: the ``fused`` node computing ``members`` (its inputs
    still the original values), for each member value used outside the group the value standing
    for it, and the ``expand_reduced`` nodes restoring ``keepdims`` of reductions."""
    inside = set(members)
    external = list(dict.fromkeys(v for m in members for v in m.inputs if v.node not in inside))
    ids = {v: k for k, v in enumerate(external)}
    nodes = []
    for member in members:
        if member in expressions:
            ids[member.outputs[0]] = len(ids)
            nodes.append(Node(expressions[member], tuple(ids[v] for v in member.inputs),
                              member.out_types[0].dtype.name))
    exported = [m for m in members if readers[m.outputs[0]] - inside]
    ndim = len(members[0].out_types[0].shape)
    dag = FusedDag(tuple(Input(v.type.dtype.name, pattern_of(v.type.shape, ndim))
                         for v in external), tuple(nodes),
                   tuple(_output(m, ids) for m in exported))
    node = make_node("fused", external, {"dag": dag}, members[-1].origin)
    exports, expansions = {}, []
    for member, value in zip(exported, node.outputs):
        if member.op in _EPILOGUES and member.attrs["keepdims"]:
            expansions.append(make_node("expand_reduced", [value],
                                        {"axis": _reduced_axes(member)}, member.origin))
            value = expansions[-1].outputs[0]
        exports[member.outputs[0]] = value
    return node, exports, expansions


def _output(member: IRNode, ids: dict) -> Output:
    """The DAG output for an exported member: its value, or the reduction it computes."""
    if member.op in _EPILOGUES:
        return Output(ids[member.inputs[0]], _EPILOGUES[member.op], _reduced_axes(member))
    return Output(ids[member.outputs[0]])


def _readers(program: Program) -> dict:
    """For every value, the nodes reading it, plus ``None`` when it is fetched."""
    readers: dict[Value, set] = {v: set() for node in program.nodes for v in node.outputs}
    for node in program.nodes:
        for value in node.inputs:
            readers.setdefault(value, set()).add(node)
    for value in program.outputs:
        if value is not None:
            readers.setdefault(value, set()).add(None)
    return readers


# -- rebuilding the program --------------------------------------------------------------------


def _rebuild(program: Program, groups: list, fused: list) -> Program:
    """The program with each group replaced by its fused node, in a topological order that keeps
    the original order where it can (a fused node sits where its group's last member was)."""
    alias: dict[Value, Value] = {}  # member value -> the fused value standing for it
    last = {}
    for members, (node, exports, expansions) in zip(groups, fused):
        alias.update(exports)
        last[members[-1]] = [node] + expansions
    inside = {m for members in groups for m in members}
    units = [unit for n in program.nodes if n not in inside or n in last
             for unit in last.get(n, [n])]
    position = {unit: i for i, unit in enumerate(units)}
    graph = nx.DiGraph()
    graph.add_nodes_from(units)
    for unit in units:
        for value in unit.inputs:
            producer = alias.get(value, value).node
            if producer in position:
                graph.add_edge(producer, unit)
    values = {v: v for node in program.inputs for v in node.outputs}
    copies = {}
    for unit in nx.lexicographical_topological_sort(graph, key=position.__getitem__):
        copies[unit] = copy = _with_inputs(unit, [values[alias.get(v, v)] for v in unit.inputs])
        values.update(zip(unit.outputs, copy.outputs))
    return replace(program, inputs=list(program.inputs), nodes=list(copies.values()),
                   outputs=[None if v is None else values[alias.get(v, v)]
                            for v in program.outputs],
                   writes={var: copies[node] for var, node in program.writes.items()})


def _with_inputs(node: IRNode, inputs: list) -> IRNode:
    """``node``, or a copy of it reading ``inputs`` when they differ."""
    if tuple(inputs) == node.inputs:
        return node
    return IRNode(node.op, inputs, dict(node.attrs), node.out_types, node.origin)
