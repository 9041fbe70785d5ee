"""The graph IR: ``Graph``, immutable ``Node`` (a TF ``Operation``), names, scopes, collections.

Building a graph never compiles or touches a device; every node remembers the user's creation
site (file:line) so errors can point at the user's own code.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

_PACKAGE_DIRS = tuple(
    os.path.dirname(os.path.abspath(p)) + os.sep
    for p in (__file__, os.path.join(os.path.dirname(__file__), "..", "kernels", "x"))
)


class TensorType(NamedTuple):
    """Static type of a tensor: shape with ``None`` for unknown dims, and a NumPy dtype."""

    shape: tuple | None
    dtype: np.dtype

    def describe(self) -> str:
        return f"{format_shape(self.shape)} {self.dtype}"


def fits_static(shape: tuple, static) -> bool:
    """Whether a concrete ``shape`` matches a static one (``None``: unknown rank or dim)."""
    return static is None or (len(shape) == len(static) and all(
        d is None or d == s for d, s in zip(static, shape)))


def format_shape(shape) -> str:
    """Render a static shape TF-style: ``(?, 784)``; ``<unknown>`` when even the rank is."""
    if shape is None:
        return "<unknown>"
    inner = ", ".join("?" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def user_site() -> str:
    """file:line of the innermost stack frame outside minigraph and kernels."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIRS):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


class Node:
    """One operation in the graph. Immutable once built; ``outputs`` are its ``Tensor`` handles."""

    __slots__ = ("graph", "id", "op", "inputs", "attrs", "out_types", "name", "site",
                 "outputs", "control_inputs", "device", "__weakref__")

    def __init__(self, graph, node_id, op, inputs, attrs, out_types, name, site, control_inputs,
                 device=""):
        from .tensor import Tensor

        setter = object.__setattr__
        setter(self, "graph", graph)
        setter(self, "id", node_id)
        setter(self, "op", op)
        setter(self, "inputs", tuple(inputs))
        setter(self, "attrs", MappingProxyType(dict(attrs)))
        setter(self, "out_types", tuple(out_types))
        setter(self, "name", name)
        setter(self, "site", site)
        setter(self, "control_inputs", tuple(control_inputs))
        setter(self, "device", device)  # a placement hint (``mg.device``), '' when none
        setter(self, "outputs", tuple(Tensor(self, i) for i in range(len(out_types))))

    def __setattr__(self, key, value):
        raise AttributeError(f"node {self.name!r} is immutable; build a new node instead")

    @property
    def type(self) -> str:
        """The op's registered name (TF's ``Operation.type``)."""
        return self.op

    def get_attr(self, key):
        return self.attrs[key]

    def describe(self) -> str:
        """``op 'name' (file:line)`` as used in every error message."""
        return f"{self.op} '{self.name}' ({self.site})"

    def run(self, feed_dict=None, session=None):
        """Run this op in ``session`` or the default session (TF's ``Operation.run``)."""
        from .session import resolve_session

        resolve_session(session, self).run(self, feed_dict=feed_dict)

    def __repr__(self):
        return f"<minigraph.Node {self.describe()}>"


class Graph:
    """A container of nodes with unique names, name scopes, collections and a random seed."""

    def __init__(self):
        self.nodes: list[Node] = []
        self.seed: int | None = None
        self.collections: dict[str, list] = {}
        self._name_counts: dict[str, int] = {}
        self._scope = ""
        self._by_name: dict[str, Node] = {}
        self._control_stack: list[tuple] = []
        self.current_device = ""
        self._lock = threading.Lock()

    # -- node creation -------------------------------------------------------------------
    def add_node(self, op, inputs, attrs, out_types, name=None, site=None,
                 control_inputs=()) -> Node:
        """Create a node named uniquely within the current name scope."""
        with self._lock:
            base = name if name else op_default_name(op)
            full = self.unique_name(self._scope + base)
            control = tuple(n for deps in self._control_stack for n in deps) + tuple(control_inputs)
            node = Node(self, len(self.nodes), op, inputs, attrs, out_types, full,
                        site or user_site(), control, self.current_device)
            self.nodes.append(node)
            self._by_name[full] = node
            return node

    def unique_name(self, name: str) -> str:
        """``name`` if unused, else ``name_1``, ``name_2``... (TF's uniquifying rule)."""
        count = self._name_counts.get(name, 0)
        self._name_counts[name] = count + 1
        if count == 0 and name not in self._by_name:
            return name
        while True:
            candidate = f"{name}_{count}"
            if candidate not in self._name_counts and candidate not in self._by_name:
                self._name_counts[candidate] = 1
                return candidate
            count += 1

    # -- lookup ----------------------------------------------------------------------------
    def get_operation_by_name(self, name: str) -> Node:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"the graph has no operation named {name!r}") from None

    def get_tensor_by_name(self, name: str):
        op_name, sep, index = name.rpartition(":")
        if not sep or not index.isdigit():
            raise ValueError(f"tensor names look like 'op_name:0', got {name!r}")
        node = self.get_operation_by_name(op_name)
        if int(index) >= len(node.outputs):
            raise ValueError(f"operation {op_name!r} has only {len(node.outputs)} outputs")
        return node.outputs[int(index)]

    def get_operations(self) -> list[Node]:
        return list(self.nodes)

    # -- scopes and collections --------------------------------------------------------------
    @contextlib.contextmanager
    def name_scope(self, name):
        """Open a name scope; reopening an existing scope name gives ``name_1``."""
        saved = self._scope
        if name is None or name == "":
            self._scope = ""
        elif name.endswith("/"):
            self._scope = name
        else:
            self._scope = self.unique_name(saved + name) + "/"
        try:
            yield self._scope
        finally:
            self._scope = saved

    def get_name_scope(self) -> str:
        """The current name scope without its trailing slash (``''`` at the root)."""
        return self._scope[:-1]

    @contextlib.contextmanager
    def control_dependencies(self, deps):
        """Nodes built inside run only after ``deps`` (``None`` clears the outer ones)."""
        from .tensor import as_node

        saved = self._control_stack
        if deps is None:
            self._control_stack = []
        else:
            self._control_stack = saved + [tuple(as_node(d) for d in deps)]
        try:
            yield
        finally:
            self._control_stack = saved

    @contextlib.contextmanager
    def device(self, spec):
        """Nodes built inside record ``spec`` as their device (``None`` clears it)."""
        from .device import merge_device

        saved = self.current_device
        self.current_device = merge_device(saved, spec)
        try:
            yield
        finally:
            self.current_device = saved

    def add_to_collection(self, key, value):
        self.collections.setdefault(key, []).append(value)

    def get_collection(self, key, scope=None) -> list:
        items = list(self.collections.get(key, []))
        if scope is not None:
            items = [v for v in items if getattr(v, "name", "").startswith(scope)]
        return items

    @contextlib.contextmanager
    def as_default(self):
        """Make this graph the default inside ``with``."""
        _graph_stack.append(self)
        try:
            yield self
        finally:
            _graph_stack.remove(self)

    def as_graph_def(self, from_version=None, add_shapes=False) -> dict:
        """This graph as a versioned JSON-able graph_def (format: ``minigraph.graph_io``; TF's
        arguments are accepted and ignored)."""
        from .graph_io import as_graph_def

        return as_graph_def(self)

    def finalize(self):
        """Accepted for TF compatibility; graphs stay append-only anyway."""

    def __repr__(self):
        return f"<minigraph.Graph with {len(self.nodes)} nodes>"


def ancestors(roots, stop=frozenset()) -> list[Node]:
    """``roots`` and every node they depend on (through data and control inputs), in id order
    (a topological order); inputs in ``stop`` (tensors) are not followed."""
    seen: set[Node] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(t.node for t in node.inputs if t not in stop)
        stack.extend(node.control_inputs)
    return sorted(seen, key=lambda n: n.id)


def op_default_name(op: str) -> str:
    """TF-style default node name from an op name: ``matmul`` -> ``MatMul``."""
    special = {"matmul": "MatMul", "batch_matmul": "BatchMatMul"}
    return special.get(op, "".join(part.capitalize() for part in op.split("_")))


_default_graph = Graph()
_graph_stack: list[Graph] = []


def get_default_graph() -> Graph:
    return _graph_stack[-1] if _graph_stack else _default_graph


def reset_default_graph() -> None:
    """Replace the global default graph with a fresh one (outside any ``as_default`` block)."""
    global _default_graph
    if _graph_stack:
        raise AssertionError("reset_default_graph() called inside a graph's as_default() block")
    _default_graph = Graph()


def name_scope(name, default_name=None, values=None):
    """``with mg.name_scope('dense'):`` prefixes node names in the default graph."""
    return get_default_graph().name_scope(name if name is not None else default_name)


def control_dependencies(deps):
    return get_default_graph().control_dependencies(deps)


def set_random_seed(seed: int) -> None:
    """Graph-level seed: with it, every random op is reproducible across sessions (TF1)."""
    get_default_graph().seed = int(seed)
