"""Looking at graphs and compiled programs: a networkx view, DOT text and a readable listing.

``to_networkx`` and ``to_dot`` show the user's graph (what ``fetches`` need), or a compiled
``Program`` when given one (``to_dot`` opens each fused node into a box of its members);
``debugprint`` lists the program the rewrite passes make of the fetches, one line per IR node,
with the user site each node comes from. DOT is plain text (no graphviz dependency);
``render_dot`` (or ``to_dot`` with a ``.png``/``.svg``/``.pdf`` path) draws it with Graphviz's
``dot`` when that optional system package is installed.
"""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
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


def to_dot(fetches, path=None, backend: str | None = None,
           collapse_scopes: bool | int = False) -> str:
    """DOT text for ``to_networkx(fetches)``: name scopes are nested cluster boxes, and each
    ``fused`` node of a program is a ``cluster_fused_N`` box of its member expressions.

    With ``backend``, draws the program that backend compiles from ``fetches`` (every needed
    placeholder fed) instead of the user's graph. ``collapse_scopes=True`` draws one box per
    top-level name scope instead (``collapse_scopes=N``: per scope N levels deep), listing its
    variables and op count, with the edges between boxes. Writes the text to ``path`` when one
    is given, or renders it with Graphviz when ``path`` ends in ``.png``, ``.svg`` or ``.pdf``
    (see ``render_dot``).
    """
    if backend is not None and not isinstance(fetches, Program):
        fetches = optimise(fetch_list(fetches), needed_placeholders(fetches), backend)[0]
    graph = to_networkx(fetches)
    if collapse_scopes:
        body = _collapsed_statements(graph, int(collapse_scopes))
    else:
        drawing = _Drawing(graph)
        body = drawing.clusters.render(indent="  ") + [f"  {edge};" for edge in drawing.edges]
    lines = ["digraph minigraph {", "  node [shape=box, fontname=Helvetica];"]
    text = "\n".join(lines + body + ["}"]) + "\n"
    if path is not None and _render_format(path, None, strict=False):
        render_dot(text, path)
    elif path is not None:
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


def _collapsed_statements(graph: nx.DiGraph, depth: int) -> list[str]:
    """DOT statements drawing every name scope ``depth`` levels deep as one box (its variables
    and op count in the label), the other nodes as usual, and the edges between them once.
    A node named like a collapsed scope (the ``Adam`` op of the ``Adam/`` scope) joins its box."""
    scopes = {n: "/".join(a["scope"].split("/")[:depth]) for n, a in graph.nodes(data=True)
              if a["scope"]}
    keys = set(scopes.values())
    groups = {n: scopes.get(n) or (a["name"] if a["name"] in keys else n)
              for n, a in graph.nodes(data=True)}
    ids = {key: f"n{i}" for i, key in enumerate(dict.fromkeys(groups.values()))}
    lines = []
    for key, ident in ids.items():
        if isinstance(key, str):
            members = [n for n in graph if groups[n] == key]
            lines.append(f'  {ident} [label="{_escape(_scope_label(key, members, graph))}", '
                         'style="rounded,filled", fillcolor="#e8eef7"];')
        else:
            lines.append(f'  {ident} [label="{_escape(_label(graph.nodes[key]))}"];')
    edges: dict[str, None] = {}
    for src, dst, attrs in graph.edges(data=True):
        a, b = ids[groups[src]], ids[groups[dst]]
        if a != b:
            edges[f"  {a} -> {b}" + (" [style=dashed]" if attrs.get("control") else "") + ";"] \
                = None
    return lines + list(edges)


def _scope_label(scope: str, members: list, graph: nx.DiGraph) -> str:
    """A collapsed scope's label: its name, its trainable variables with their shapes, how
    many other variables (optimizer slots...) and how many ops it holds."""
    variables = [n for n in members if n.op == "variable"]
    shown = [f"{graph.nodes[v]['name'][len(scope) + 1:]} {format_shape(graph.nodes[v]['shape'])}"
             for v in variables if _is_trainable(v)]
    lines = [scope, *shown]
    if len(variables) > len(shown):
        lines.append(f"+{len(variables) - len(shown)} other variables")
    return "\n".join(lines + [f"{len(members) - len(variables)} ops"])


def _is_trainable(node) -> bool:
    """Whether a user node (or the user node an IR node comes from) is a trainable variable."""
    user = node.origin if isinstance(node, IRNode) else node
    return user is not None and any(
        v.node is user for v in user.graph.get_collection("trainable_variables"))


# -- rendering with Graphviz ---------------------------------------------------------------------

RENDER_FORMATS = ("png", "svg", "pdf")


class GraphvizNotFoundError(RuntimeError):
    """Rendering was asked for, but Graphviz's ``dot`` program is not on ``PATH``."""


def render_dot(source, path, format: str | None = None, collapse_scopes: bool | int = False,
               backend: str | None = None) -> str:
    """Render a picture of a graph to ``path`` with Graphviz's ``dot`` and return the path.

    ``source`` is DOT text (as ``to_dot`` returns) or anything ``to_dot`` draws (fetches or a
    ``Program``; ``collapse_scopes`` and ``backend`` are passed on). ``format`` is ``png``,
    ``svg`` or ``pdf`` (default: from ``path``'s suffix, else ``png``). Graphviz is an optional
    system package (``apt-get install graphviz``, ``brew install graphviz``); without it this
    raises ``GraphvizNotFoundError``.
    """
    fmt = _render_format(path, format, strict=True)
    if not (isinstance(source, str) and source.lstrip().startswith(("digraph", "graph",
                                                                     "strict"))):
        source = to_dot(source, collapse_scopes=collapse_scopes, backend=backend)
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(
            "rendering a graph needs Graphviz's `dot` program, which is not on PATH: install "
            "the system package `graphviz` (apt-get install graphviz, brew install graphviz or "
            "conda install graphviz), or write DOT text with to_dot(fetches, 'graph.dot')")
    done = subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=source.encode(),
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"Graphviz `dot -T{fmt}` failed for {str(path)!r}: "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return str(path)


def _render_format(path, format: str | None, strict: bool) -> str | None:
    """The image format to render ``path`` in: ``format``, else ``path``'s suffix; ``None``
    when not strict and the suffix names no image format (then DOT text is written)."""
    if format is None:
        suffix = os.path.splitext(str(path))[1].lstrip(".").lower()
        if suffix not in RENDER_FORMATS:
            return "png" if strict else None
        format = suffix
    if format not in RENDER_FORMATS:
        raise ValueError(f"render_dot: format must be one of {', '.join(RENDER_FORMATS)}, "
                         f"got {format!r}")
    return format


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
