"""Looking at graphs and compiled programs: a networkx view, DOT text and a readable listing.

``to_networkx`` and ``to_dot`` show the user's graph (what ``fetches`` need), or a compiled
``Program`` when given one; ``debugprint`` lists the program the rewrite passes make of the
fetches, one line per IR node, with the user site each node comes from. DOT is plain text
(no graphviz dependency); render it with ``dot -Tsvg``.
"""
from __future__ import annotations

import itertools
import sys

import networkx as nx
import numpy as np

from ..graph import Node, ancestors, format_shape
from ..tensor import Tensor, as_node
from .ir import IRNode, Program, Value, from_schedule
from .pipeline import DEFAULT_PASSES, run_pipeline
from .schedule import build_schedule


def _fetch_list(fetches) -> list:
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
    for node in ancestors([as_node(f) for f in _fetch_list(fetches)]):
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


def to_dot(fetches, path=None) -> str:
    """DOT text for ``to_networkx(fetches)``; name scopes are drawn as nested cluster boxes.

    Writes the text to ``path`` as well when one is given.
    """
    graph = to_networkx(fetches)
    ids = {node: f"n{i}" for i, node in enumerate(graph.nodes)}
    clusters = _ClusterTree()
    for node, attrs in graph.nodes(data=True):
        clusters.add(_cluster_path(attrs), f'{ids[node]} [label="{_escape(_label(attrs))}"];')
    lines = ["digraph minigraph {", "  node [shape=box, fontname=Helvetica];"]
    lines += clusters.render(indent="  ")
    for src, dst, attrs in graph.edges(data=True):
        style = " [style=dashed]" if attrs.get("control") else ""
        lines.append(f"  {ids[src]} -> {ids[dst]}{style};")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    return text


def _cluster_path(attrs: dict) -> tuple:
    """The clusters a node is drawn in, outermost first: each enclosing name scope.

    Grouping by something else (e.g. fusion groups) means returning more path entries here.
    """
    parts = attrs["scope"].split("/") if attrs["scope"] else []
    return tuple("/".join(parts[:i + 1]) for i in range(len(parts)))


def _label(attrs: dict) -> str:
    shape = "" if attrs["dtype"] is None else (
        f"\n{format_shape(attrs['shape'])} {attrs['dtype']}")
    return f"{attrs['name'].rpartition('/')[2]}\n{attrs['op']}{shape}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _ClusterTree:
    """Statements grouped into nested ``subgraph cluster_*`` blocks by path."""

    def __init__(self, label: str = ""):
        self.label = label
        self.statements: list[str] = []
        self.children: dict[str, _ClusterTree] = {}

    def add(self, path: tuple, statement: str) -> None:
        tree = self
        for label in path:
            tree = tree.children.setdefault(label, _ClusterTree(label))
        tree.statements.append(statement)

    def render(self, indent: str, counter=None) -> list[str]:
        counter = counter if counter is not None else itertools.count()
        lines = [indent + s for s in self.statements]
        for child in self.children.values():
            lines.append(f"{indent}subgraph cluster_{next(counter)} {{")
            lines.append(f'{indent}  label="{_escape(child.label)}";')
            lines += child.render(indent + "  ", counter)
            lines.append(indent + "}")
        return lines


# -- listing -------------------------------------------------------------------------------------


def program_for(fetches, passes=DEFAULT_PASSES) -> Program:
    """The program the ``passes`` make of ``fetches``, every placeholder they need fed."""
    fetches = _fetch_list(fetches)
    needed = ancestors([as_node(f) for f in fetches])
    fed = [node.outputs[0] for node in needed if node.op == "placeholder"]
    return run_pipeline(from_schedule(build_schedule(fetches, fed)), passes)


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
    names: dict[Value, str] = {}
    lines = []
    for number, node in enumerate(program.inputs + program.nodes):
        single = len(node.outputs) == 1
        for value in node.outputs:
            names[value] = f"%{number}" if single else f"%{number}:{value.index}"
        lines.append(_format_node(node, names))
    outputs = ", ".join("(op)" if v is None else names[v] for v in program.outputs)
    lines.append(f"outputs: {outputs or '(none)'}")
    for var, node in program.writes.items():
        lines.append(f"write: '{var.name}' <- {names[node.outputs[0]]}")
    return "\n".join(lines) + "\n"


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
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_format_attr, value)) + ("," if len(value) == 1 else "") + ")"
    if callable(value):
        return getattr(value, "__name__", repr(value))
    return repr(value)
