"""Loop and branch bodies in the JSON graph format (``graph_io``): the ``bodies`` table.

A body (``ScanBody``, ``GradBody``, ``Subgraph``, ``WhileLoop``, ``WhileGrad``) is traced in
the graph that holds its node, so its nodes are exported with every other node; the body object
itself only names them. An attr holding a body is ``{"__type__": "body", "index": k}``, entry
``k`` of the graph_def's ``bodies`` list: ``{"class": "ScanBody", "fields": {...}}``. A field
value is encoded like an attr, plus tags for what only bodies hold: ``tensor`` (``name``:
``"node:index"``), ``tensor_type`` (``shape``, ``dtype``) and ``body`` (another entry: a
gradient's forward body). A body shared by several nodes (a loop and its gradient) is one
entry, and decodes to one object, so a backend compiles it once.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .graph import Node, TensorType
from .ops._loop_body import GradBody, ScanBody, Subgraph
from .ops._while_loop import WhileGrad, WhileLoop
from .tensor import Tensor

BODY_CLASSES = {cls.__name__: cls for cls in (ScanBody, GradBody, Subgraph, WhileLoop, WhileGrad)}
"""The body classes the graph format encodes, by the name it records."""


def is_body(value) -> bool:
    """Whether ``value`` is a loop or branch body (encoded in the ``bodies`` table)."""
    return type(value) in BODY_CLASSES.values()


class BodyEncoder:
    """Builds one export's ``bodies`` table; ``encode_leaf(value, node, key)`` encodes the
    plain values of the fields (``graph_io``'s attr encoder)."""

    def __init__(self, encode_leaf):
        self.table: list[dict] = []
        self._index: dict = {}
        self._encode_leaf = encode_leaf

    def ref(self, body, node: Node, key: str) -> dict:
        """The attr value naming ``body``, which gets a table entry on first use."""
        index = self._index.get(body)
        if index is None:
            fields = {f.name: self._field(getattr(body, f.name), node, key)
                      for f in dataclasses.fields(body)}
            index = self._index[body] = len(self.table)
            self.table.append({"class": type(body).__name__, "fields": fields})
        return {"__type__": "body", "index": index}

    def _field(self, value, node: Node, key: str):
        if isinstance(value, Tensor):
            return {"__type__": "tensor", "name": value.name}
        if isinstance(value, TensorType):  # before tuple: a TensorType is a NamedTuple
            return {"__type__": "tensor_type", "dtype": value.dtype.name,
                    "shape": None if value.shape is None else list(value.shape)}
        if is_body(value):
            return self.ref(value, node, key)
        if isinstance(value, tuple):
            return [self._field(v, node, key) for v in value]
        return self._encode_leaf(value, node, key)


class BodyDecoder:
    """Rebuilds an import's bodies on first use (their nodes are imported by then: a body's
    tensors all exist before the node holding it). ``tensor(name)`` and ``node(name)`` resolve
    imported names; ``decode_leaf`` is ``graph_io``'s attr decoder."""

    def __init__(self, table: list, tensor, node, decode_leaf):
        self._table = table
        self._made: dict[int, object] = {}
        self._tensor, self._node, self._decode_leaf = tensor, node, decode_leaf

    def get(self, index) -> object:
        """The body of table entry ``index``."""
        if index in self._made:
            return self._made[index]
        if not isinstance(index, int) or not 0 <= index < len(self._table):
            raise ValueError(f"import_graph_def: body {index!r} is not an entry of the "
                             f"graph_def's bodies table ({len(self._table)} entries)")
        entry = self._table[index]
        cls = BODY_CLASSES.get(entry.get("class"))
        if cls is None:
            raise ValueError(f"import_graph_def: body class {entry.get('class')!r} is not one "
                             f"of {sorted(BODY_CLASSES)}")
        fields = {name: self._field(value) for name, value in entry["fields"].items()}
        body = self._made[index] = cls(**fields)
        return body

    def _field(self, value):
        if isinstance(value, list):
            return tuple(self._field(v) for v in value)
        kind = value.get("__type__") if isinstance(value, dict) else None
        if kind == "tensor":
            return self._tensor(value["name"])
        if kind == "node":
            return self._node(value["name"])
        if kind == "tensor_type":
            shape = value["shape"]
            return TensorType(None if shape is None else tuple(shape), np.dtype(value["dtype"]))
        if kind == "body":
            return self.get(value["index"])
        return self._decode_leaf(value)


__all__ = ["BODY_CLASSES", "BodyDecoder", "BodyEncoder", "is_body"]
