"""Looking at graphs and compiled programs: a networkx view, DOT text and a readable listing.

``to_networkx`` and ``to_dot`` show the user's graph (what ``fetches`` need), or a compiled
``Program`` when given one (``to_dot`` opens each fused node into a box of its members);
``debugprint`` lists the program the rewrite passes make of the fetches, one line per IR node,
with the user site each node comes from. DOT is plain text (no graphviz dependency); render it
with ``dot -Tsvg``.
"""
from __future__ import annotations

import itertools
import sys

import networkx as nx
import numpy as np

from kernels.scalar_expr import FusedDag

from ..graph import Node, ancestors, format_shape
from ..tensor import Tensor, as_node
from . import optimise
from .ir import IRNode, Program, Value, from_schedule
from .pipeline import DEFAULT_PASSES, run_pipeline
from .schedule import build_schedule


def fetch_list(fetches) -> list:
    """``fetches`` as a list: one fetch, or a list or tuple of them."""
    return list(fetches) if isinstance(fetches, (list, tuple)) else [fetches]


def _scope(name: str) -> str:
    return name.rpartition("/")[0]


def to_networkx(fetches) -> nx.DiGraph:
    """A DiGraph over the user nodes ``fetches`` need, or over a ``Program``'s IR nodes.

    Node attributes: ``op``, ``name``, ``site``, ``scope`` (name scope, ``""`` at top level),
    ``shape`` and ``dtype`` (of the first output; ``None`` for ops without outputs) and
    ``out_types``. Data edges carry ``index`` (output read) and ``positions`` (input slots);
    control edges carry ``control=True``.
    """
    if isinstance(fetches, Program):
        return _program_graph(fetches)
    graph = nx.DiGraph()
    for node in ancestors([as_node(f) for f in fetch_list(fetches)]):
        graph.add_node(node, **_node_attrs(node.op, node, node.out_types))
        for position, tensor in enumerate(node.inputs):
            _add_data_edge(graph, tensor.node, node, tensor.index, position)
        for dep in node.control_inputs:
            graph.add_edge(dep, node, control=True)
    return graph


def _program_graph(program: Program) -> nx.DiGraph:
    graph = nx.DiGraph()
    for node in program.inputs + program.nodes:
        graph.add_node(node, **_node_attrs(node.op, node.origin, node.out_types))
        for position, value in enumerate(node.inputs):
            _add_data_edge(graph, value.node, node, value.index, position)
    return graph


def _node_attrs(op: str, origin: Node | None, out_types) -> dict:
    first = out_types[0] if out_types else None
    return {"op": op, "name": origin.name if origin else op, "site": origin.site if origin else "",
            "scope": _scope(origin.name) if origin else "", "out_types": tuple(out_types),
            "shape": None if first is None else first.shape,
            "dtype": None if first is None else first.dtype}


def _add_data_edge(graph: nx.DiGraph, src, dst, index: int, position: int) -> None:
    if graph.has_edge(src, dst):
        graph.edges[src, dst]["positions"] += (position,)
    else:
        graph.add_edge(src, dst, index=index, positions=(position,))


# -- DOT -----------------------------------------------------------------------------------------


def to_dot(fetches, path=None, backend: str | None = None) -> str:
    """DOT text for ``to_networkx(fetches)``: name scopes are nested cluster boxes, and each
    ``fused`` node of a program is a ``cluster_fused_N`` box of its member expressions.

    With ``backend``, draws the program that backend compiles from ``fetches`` (every needed
    placeholder fed) instead of the user's graph. Writes the text to ``path`` when one is given.
    """
    if backend is not None and not isinstance(fetches, Program):
        fetches = optimise(fetch_list(fetches), needed_placeholders(fetches), backend)[0]
    drawing = _Drawing(to_networkx(fetches))
    lines = ["digraph minigraph {", "  node [shape=box, fontname=Helvetica];"]
    lines += drawing.clusters.render(indent="  ")
    lines += [f"  {edge};" for edge in drawing.edges]
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    return text


class _Drawing:
    """The DOT node statements of a graph, in their clusters, and its edges (in order, once)."""

    def __init__(self, graph: nx.DiGraph):
        self.ids = {node: f"n{i}" for i, node in enumerate(graph.nodes)}
        self.clusters = _ClusterTree()
        self.edges: dict[str, None] = {}
        self.fused = 0
        for node, attrs in graph.nodes(data=True):
            if node.op == "fused":
                self._add_fused(node, attrs)
                continue
            self.clusters.add(_cluster_path(attrs),
                              f'{self.ids[node]} [label="{_escape(_label(attrs))}"];')
            for value in node.inputs:
                self.edges[f"{self._port(value.node, value.index)} -> {self.ids[node]}"] = None
        for src, dst, attrs in graph.edges(data=True):
            if attrs.get("control"):
                self.edges[f"{self.ids[src]} -> {self.ids[dst]} [style=dashed]"] = None

    def _add_fused(self, node, attrs: dict) -> None:
        """A cluster holding one box per DAG node and per reduced output, with their edges."""
        dag, base = node.attrs["dag"], self.ids[node]
        label = f"fused {self.fused}: {attrs['name']}"
        path = _cluster_path(attrs) + ((f"fused_{self.fused}", label),)
        self.fused += 1
        for j, member in enumerate(dag.nodes):
            text = f"{' '.join(member.expr.split())}\n{member.dtype}"
            self.clusters.add(path, f'{base}_{j} [label="{_escape(text)}"];')
            for value in member.operands:
                self.edges[f"{self._value_port(node, value)} -> {base}_{j}"] = None
        for k, out in enumerate(dag.outputs):
            if out.reduce:
                text = f"{out.reduce} over axes {out.axes or 'all'}"
                self.clusters.add(path, f'{base}_o{k} [label="{_escape(text)}", shape=ellipse];')
                self.edges[f"{self._value_port(node, out.value)} -> {base}_o{k}"] = None

    def _port(self, node, index: int) -> str:
        """The DOT node drawing output ``index`` of ``node`` (for a fused node, a box inside)."""
        if node.op != "fused":
            return self.ids[node]
        out = node.attrs["dag"].outputs[index]
        return f"{self.ids[node]}_o{index}" if out.reduce else self._value_port(node, out.value)

    def _value_port(self, node, value: int) -> str:
        """The DOT node drawing DAG value ``value`` of fused ``node`` (inputs are drawn outside)."""
        inputs = len(node.attrs["dag"].inputs)
        if value < inputs:
            return self._port(node.inputs[value].node, node.inputs[value].index)
        return f"{self.ids[node]}_{value - inputs}"


def _cluster_path(attrs: dict) -> tuple:
    """The clusters a node is drawn in, outermost first, as ``(name, label)``: each enclosing
    name scope (numbered clusters)."""
    parts = attrs["scope"].split("/") if attrs["scope"] else []
    return tuple((None, "/".join(parts[:i + 1])) for i in range(len(parts)))


def _label(attrs: dict) -> str:
    shape = "" if attrs["dtype"] is None else (
        f"\n{format_shape(attrs['shape'])} {attrs['dtype']}")
    return f"{attrs['name'].rpartition('/')[2]}\n{attrs['op']}{shape}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _ClusterTree:
    """Statements grouped into nested ``subgraph cluster_*`` blocks by path; a cluster is named
    ``cluster_<name>``, or numbered when its name is ``None``."""

    def __init__(self, name: str | None = None, label: str = ""):
        self.name, self.label = name, label
        self.statements: list[str] = []
        self.children: dict[tuple, _ClusterTree] = {}

    def add(self, path: tuple, statement: str) -> None:
        tree = self
        for key in path:
            tree = tree.children.setdefault(key, _ClusterTree(*key))
        tree.statements.append(statement)

    def render(self, indent: str, counter=None) -> list[str]:
        counter = counter if counter is not None else itertools.count()
        lines = [indent + s for s in self.statements]
        for child in self.children.values():
            name = child.name if child.name is not None else next(counter)
            lines.append(f"{indent}subgraph cluster_{name} {{")
            lines.append(f'{indent}  label="{_escape(child.label)}";')
            lines += child.render(indent + "  ", counter)
            lines.append(indent + "}")
        return lines


# -- listing -------------------------------------------------------------------------------------


def needed_placeholders(fetches) -> list[Tensor]:
    """The outputs of every placeholder ``fetches`` need, so that all of them can be fed."""
    needed = ancestors([as_node(f) for f in fetch_list(fetches)])
    return [node.outputs[0] for node in needed if node.op == "placeholder"]


def program_for(fetches, passes=DEFAULT_PASSES) -> Program:
    """The program the ``passes`` make of ``fetches``, every placeholder they need fed."""
    schedule = build_schedule(fetch_list(fetches), needed_placeholders(fetches))
    return run_pipeline(from_schedule(schedule), passes)


def debugprint(fetches, passes=DEFAULT_PASSES, file=None) -> str | None:
    """Print the optimised program for ``fetches`` (a ``Program`` prints as is), one line per
    IR node: ``result = op(inputs) attrs : shape dtype  # user op 'name' (file:line)``.

    ``file="str"`` returns the text instead of printing it (Theano's convention); any other
    ``file`` is written to (default ``sys.stdout``).
    """
    program = fetches if isinstance(fetches, Program) else program_for(fetches, passes)
    text = format_program(program)
    if file == "str":
        return text
    (file or sys.stdout).write(text)
    return None


def format_program(program: Program) -> str:
    """The program as text: inputs, nodes in order, then fetched values and variable writes."""
    names = value_names(program)
    lines = [_format_node(node, names) for node in program.inputs + program.nodes]
    outputs = ", ".join("(op)" if v is None else names[v] for v in program.outputs)
    lines.append(f"outputs: {outputs or '(none)'}")
    for var, node in program.writes.items():
        lines.append(f"write: '{var.name}' <- {names[node.outputs[0]]}")
    return "\n".join(lines) + "\n"


def value_names(program: Program) -> dict[Value, str]:
    """``%N`` for the output of the N-th node (inputs first), ``%N:i`` when it has several."""
    names = {}
    for number, node in enumerate(program.inputs + program.nodes):
        single = len(node.outputs) == 1
        for value in node.outputs:
            names[value] = f"%{number}" if single else f"%{number}:{value.index}"
    return names


def _format_node(node: IRNode, names: dict) -> str:
    results = ", ".join(names[v] for v in node.outputs)
    types = ", ".join(t.describe() for t in node.out_types)
    if node.op == "input":
        call = f"input '{node.attrs['tensor'].name}'"
    else:
        args = ", ".join(names[v] for v in node.inputs)
        attrs = ", ".join(f"{k}={_format_attr(v)}" for k, v in node.attrs.items())
        call = f"{node.op}({args})" + (f" {{{attrs}}}" if attrs else "")
    origin = f"  # {node.origin.describe()}" if node.origin is not None else ""
    return f"{results} = {call} : {types}{origin}"


def _format_attr(value) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return np.array2string(value, separator=", ").replace("\n", "")
        return f"<array {format_shape(value.shape)} {value.dtype}>"
    if isinstance(value, np.dtype):
        return str(value)
    if isinstance(value, (Node, Tensor)):
        return repr(value.name)
    if isinstance(value, FusedDag):
        return f"<{len(value.nodes)} ops, {len(value.outputs)} outputs>"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_format_attr, value)) + ("," if len(value) == 1 else "") + ")"
    if callable(value):
        return getattr(value, "__name__", repr(value))
    return repr(value)
