"""Graph serialisation: a versioned, JSON-able ``graph_def``, its import, and ``write_graph``.

Format (``format: "minigraph-graph"``, ``version: 1``)::

    {"format": "minigraph-graph", "version": 1,
     "nodes": [{"name": "dense/MatMul", "op": "matmul", "inputs": ["x:0", "w:0"],
                "control_inputs": ["init"], "attrs": {...},
                "out_types": [{"shape": [null, 10], "dtype": "float32"}]}, ...],
     "variables": [{"name": "w", "initial_value": "w/initial_value:0",
                    "initializer": "w/Assign", "trainable": true}, ...],
     "collections": {"losses": ["loss:0"], "variables": ["w:0"], ...}}

Nodes are listed in creation order (a topological order). Attr values are JSON scalars
(``null``, booleans, ints, strings, finite floats) or lists (a tuple attr); anything else is a
tagged object ``{"__type__": ...}``: ``dtype`` (``value``: a NumPy dtype name), ``ndarray``
(``dtype`` as ``np.dtype.str``, ``shape``, ``data``: base64 of the C-order bytes), ``scalar``
(a NumPy scalar: ``dtype``, ``value``), ``float`` (``value``: "nan", "inf" or "-inf"), ``bytes``
(``data``: base64, e.g. a text summary's strings), ``node``
(``name`` of an earlier node, e.g. an assign op's target variable), ``dataclass`` (``class``
and ``fields``; only the fused-kernel description classes of ``kernels.scalar_expr``) and
``body`` (``index`` into the optional top-level ``"bodies"`` list, present when the graph has
loops or branches: ``scan``, ``scan_grad``, ``cond``, ``while_loop``, ``while_grad``). A body's
nodes (its ``scan_step`` leaves included) are ordinary nodes of the list; its entry names them
(``minigraph.graph_io_bodies``), so an imported loop runs, and differentiates, as the original.
Collections keep their tensor (``"x:0"``) and operation (``"x"``) members; other members are
not exported.

Not exportable (``GraphExportError`` names the op): ``custom_gradient`` (its gradient is a
Python function) and Theano shared variables, whose value lives outside the graph.
"""
from __future__ import annotations

import base64
import contextlib
import dataclasses
import gzip
import importlib
import json
import math
import os
import uuid

import numpy as np

from .graph import Graph, Node, get_default_graph
from .graph_io_bodies import BodyDecoder, BodyEncoder, is_body
from .ops.registry import REGISTRY, apply_op
from .tensor import Tensor, convert_to_tensor
from .variables import Variable

FORMAT = "minigraph-graph"
VERSION = 1
NOT_EXPORTABLE = {
    "custom_gradient": "its gradient is a Python function",
}
"""Ops that never export, with the reason the error gives."""
_DATACLASS_MODULES = ("kernels.scalar_expr",)


class GraphExportError(ValueError):
    """A graph holds something the JSON graph format cannot represent."""


# -- export ------------------------------------------------------------------------------------


def as_graph_def(graph: Graph | None = None) -> dict:
    """``graph`` (default: the default graph) as a versioned JSON-able dict (see module doc)."""
    graph = graph or get_default_graph()
    variables = _graph_variables(graph)
    bodies = BodyEncoder(_encode)
    graph_def = {"format": FORMAT, "version": VERSION,
                 "nodes": [_node_def(node, bodies) for node in graph.get_operations()],
                 "variables": [_variable_def(v) for v in variables],
                 "collections": _collections_def(graph)}
    if bodies.table:
        graph_def["bodies"] = bodies.table
    return graph_def


def _node_def(node: Node, bodies: BodyEncoder) -> dict:
    if node.op in NOT_EXPORTABLE:
        raise GraphExportError(f"cannot export {node.describe()}: {NOT_EXPORTABLE[node.op]} "
                               f"(ops that never export: {', '.join(NOT_EXPORTABLE)})")
    return {"name": node.name, "op": node.op,
            "inputs": [t.name for t in node.inputs],
            "control_inputs": [n.name for n in node.control_inputs],
            "attrs": {key: bodies.ref(value, node, key) if is_body(value)
                      else _encode(value, node, key) for key, value in node.attrs.items()},
            "out_types": [{"shape": None if t.shape is None else list(t.shape),
                           "dtype": t.dtype.name} for t in node.out_types]}


def _encode(value, node: Node, key: str):
    """One attr value as JSON data (tagged objects for what JSON lacks)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return {"__type__": "scalar", "dtype": value.dtype.str,
                "value": _encode(value.item(), node, key)}
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"__type__": "float",
                                                           "value": repr(float(value))}
    if isinstance(value, tuple):
        return [_encode(v, node, key) for v in value]
    if isinstance(value, bytes):
        return {"__type__": "bytes", "data": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.dtype):
        return {"__type__": "dtype", "value": value.name}
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        data = base64.b64encode(np.ascontiguousarray(value).tobytes()).decode("ascii")
        return {"__type__": "ndarray", "dtype": value.dtype.str, "shape": list(value.shape),
                "data": data}
    if isinstance(value, Node):
        return {"__type__": "node", "name": value.name}
    if dataclasses.is_dataclass(value) and type(value).__module__ in _DATACLASS_MODULES:
        cls = type(value)
        return {"__type__": "dataclass", "class": f"{cls.__module__}.{cls.__qualname__}",
                "fields": {f.name: _encode(getattr(value, f.name), node, key)
                           for f in dataclasses.fields(value)}}
    what = "a shared variable's value" if key == "container" else f"a {type(value).__name__}"
    raise GraphExportError(f"cannot export {node.describe()}: its attr {key!r} holds {what}, "
                           "which the graph format cannot represent")


def _graph_variables(graph: Graph) -> list[Variable]:
    """Every Variable object of ``graph``'s collections, once each, in node order."""
    found = {v.node: v for items in graph.collections.values() for v in items
             if isinstance(v, Variable)}
    return [found[node] for node in sorted(found, key=lambda n: n.id)]


def _variable_def(var: Variable) -> dict:
    return {"name": var.node.name, "initial_value": var.initial_value.name,
            "initializer": var.initializer.name, "trainable": bool(var.trainable)}


def _collections_def(graph: Graph) -> dict:
    """Each collection's tensor and operation members, by name (other members are skipped)."""
    out = {}
    for key, items in graph.collections.items():
        names = [item.name for item in items if isinstance(item, (Tensor, Node))]
        if names:
            out[key] = names
    return out


# -- import ------------------------------------------------------------------------------------


def import_graph_def(graph_def: dict, input_map: dict | None = None,
                     return_elements=None, name: str | None = "import", op_dict=None,
                     producer_op_list=None):
    """Recreate ``graph_def``'s nodes in the default graph under the ``name/`` scope.

    ``input_map`` maps tensor names of ``graph_def`` (``"x:0"``) to tensors of the default
    graph that replace them as inputs; ``return_elements`` lists names of tensors (``"y:0"``)
    or operations (``"train"``) to return, as a list. Shapes are inferred again, so a mapped
    input of another shape flows through. Variables come back as ``Variable`` objects, in
    their collections, with their initializers. ``op_dict`` and ``producer_op_list`` are
    accepted for TF compatibility and ignored.
    """
    check_graph_def(graph_def)
    graph = get_default_graph()
    mapping = {_tensor_key(k): _mapped(v, graph) for k, v in (input_map or {}).items()}
    used: set[str] = set()
    made: dict[str, Node] = {}
    scope = "import" if name is None else name
    bodies = BodyDecoder(graph_def.get("bodies", []),
                         lambda ref: _input(ref, "a body", made, mapping, used),
                         lambda ref: _lookup(made, ref, "a body"), lambda v: _decode(v, made))
    with graph.control_dependencies(None), graph.name_scope(scope):
        for node_def in graph_def["nodes"]:
            made[node_def["name"]] = _import_node(node_def, made, mapping, used, bodies)
    unused = sorted(set(mapping) - used)
    if unused:
        raise ValueError(f"import_graph_def: input_map keys {unused} are not inputs of any "
                         "node in the graph_def")
    variables = _import_variables(graph_def.get("variables", []), made)
    _import_collections(graph, graph_def.get("collections", {}), made, variables)
    if return_elements is None:
        return None
    return [_element(e, made, variables) for e in return_elements]


def check_graph_def(graph_def) -> None:
    """Raise a clear error unless ``graph_def`` is a graph_def this version can read."""
    if not isinstance(graph_def, dict) or graph_def.get("format") != FORMAT:
        raise ValueError(f"not a minigraph graph_def (expected a dict with format {FORMAT!r})")
    version = graph_def.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(f"graph_def version {version!r} is newer than this minigraph reads "
                         f"(up to {VERSION})")


def _tensor_key(key) -> str:
    if isinstance(key, Tensor):
        key = key.name
    if not isinstance(key, str):
        raise TypeError(f"input_map keys are tensor names like 'x:0', got {key!r}")
    return key if ":" in key else key + ":0"


def _mapped(value, graph: Graph) -> Tensor:
    tensor = convert_to_tensor(value)
    if tensor.graph is not graph:
        raise ValueError(f"import_graph_def: input_map tensor {tensor.name!r} is not in the "
                         "default graph, where the nodes are imported")
    return tensor


def _import_node(node_def: dict, made: dict, mapping: dict, used: set,
                 bodies: BodyDecoder) -> Node:
    name, op = node_def["name"], node_def["op"]
    if op not in REGISTRY:
        raise ValueError(f"import_graph_def: node {name!r} uses op {op!r}, which is not "
                         "registered in this minigraph")
    inputs = [_input(ref, name, made, mapping, used) for ref in node_def["inputs"]]
    attrs = {key: _attr(value, made, bodies) for key, value in node_def["attrs"].items()}
    control = [_lookup(made, n, name) for n in node_def["control_inputs"]]
    out = apply_op(op, inputs, attrs, name=name, control_inputs=control)
    node = out if isinstance(out, Node) else (out.node if isinstance(out, Tensor) else out[0].node)
    declared = [t["dtype"] for t in node_def["out_types"]]
    if [t.dtype.name for t in node.out_types] != declared:
        raise ValueError(f"import_graph_def: {node.describe()} now gives outputs of dtypes "
                         f"{[t.dtype.name for t in node.out_types]}, the graph_def says {declared}")
    return node


def _input(ref: str, consumer: str, made: dict, mapping: dict, used: set) -> Tensor:
    """The tensor an input reference names: mapped through ``input_map`` or already imported."""
    producer, _, index = ref.rpartition(":")
    original = _lookup(made, producer, consumer).outputs[int(index)]
    if ref not in mapping:
        return original
    used.add(ref)
    tensor = mapping[ref]
    if tensor.dtype != original.dtype:
        raise TypeError(f"import_graph_def: input_map gives {ref!r} a {tensor.dtype} tensor "
                        f"({tensor.name!r}); the graph_def's is {original.dtype}")
    return tensor


def _lookup(made: dict, name: str, consumer: str) -> Node:
    try:
        return made[name]
    except KeyError:
        raise ValueError(f"import_graph_def: node {consumer!r} refers to {name!r}, which no "
                         "earlier node of the graph_def defines") from None


def _attr(value, made: dict, bodies: BodyDecoder):
    """An attr value back: a body from the bodies table, anything else through ``_decode``."""
    if isinstance(value, dict) and value.get("__type__") == "body":
        return bodies.get(value.get("index"))
    return _decode(value, made)


def _decode(value, made: dict):
    """Inverse of ``_encode``."""
    if isinstance(value, list):
        return tuple(_decode(v, made) for v in value)
    if not isinstance(value, dict):
        return value
    kind = value.get("__type__")
    if kind == "dtype":
        return np.dtype(value["value"])
    if kind == "ndarray":
        raw = base64.b64decode(value["data"])
        array = np.frombuffer(raw, dtype=np.dtype(value["dtype"])).reshape(value["shape"]).copy()
        array.setflags(write=False)
        return array
    if kind == "scalar":
        return np.dtype(value["dtype"]).type(_decode(value["value"], made))
    if kind == "float":
        return float(value["value"])
    if kind == "bytes":
        return base64.b64decode(value["data"])
    if kind == "node":
        return _lookup(made, value["name"], "an attr")
    if kind == "dataclass":
        return _decode_dataclass(value, made)
    raise ValueError(f"import_graph_def: unknown attr encoding {kind!r}")


def _decode_dataclass(value: dict, made: dict):
    module, _, qualname = value["class"].rpartition(".")
    if module not in _DATACLASS_MODULES:
        raise ValueError(f"import_graph_def: attr class {value['class']!r} is not one the "
                         "graph format may rebuild")
    cls = getattr(importlib.import_module(module), qualname)
    return cls(**{k: _decode(v, made) for k, v in value["fields"].items()})


def _import_variables(records: list, made: dict) -> dict[Node, Variable]:
    """``Variable`` objects around the imported variable nodes (keyed by node)."""
    out = {}
    for record in records:
        var = Variable.__new__(Variable)
        Tensor.__init__(var, _lookup(made, record["name"], "a variable record"), 0)
        var.initial_value = _tensor_of(made, record["initial_value"])
        var.initializer = _lookup(made, record["initializer"], record["name"])
        var.trainable = record["trainable"]
        out[var.node] = var
    return out


def _import_collections(graph: Graph, collections: dict, made: dict, variables: dict) -> None:
    for key, names in collections.items():
        for item in names:
            graph.add_to_collection(key, _element(item, made, variables))


def _element(element, made: dict, variables: dict):
    """The imported tensor (``"y:0"``; a Variable for a variable) or operation (``"y"``)."""
    if not isinstance(element, str):
        raise TypeError(f"return_elements are names like 'y:0' or 'train', got {element!r}")
    if ":" not in element:
        return _lookup(made, element, "return_elements")
    tensor = _tensor_of(made, element)
    var = variables.get(tensor.node)
    return var if var is not None and tensor.index == 0 else tensor


def _tensor_of(made: dict, name: str) -> Tensor:
    producer, _, index = name.rpartition(":")
    node = _lookup(made, producer, "return_elements")
    if not index.isdigit() or int(index) >= len(node.outputs):
        raise ValueError(f"import_graph_def: {name!r} names no output of {producer!r}")
    return node.outputs[int(index)]


# -- files -------------------------------------------------------------------------------------


def write_graph(graph_or_graph_def, logdir: str, name: str, as_text: bool = True) -> str:
    """Write a graph (or graph_def) to ``logdir/name``: indented JSON text, or with
    ``as_text=False`` gzip-compressed compact JSON. Returns the path written."""
    graph_def = (graph_or_graph_def.as_graph_def() if isinstance(graph_or_graph_def, Graph)
                 else graph_or_graph_def)
    check_graph_def(graph_def)
    os.makedirs(logdir, exist_ok=True)
    path = os.path.join(logdir, name)
    if as_text:
        data = (json.dumps(graph_def, indent=1, allow_nan=False) + "\n").encode()
    else:
        compact = json.dumps(graph_def, separators=(",", ":"), allow_nan=False).encode()
        data = gzip.compress(compact, mtime=0)
    write_atomically(path, lambda f: f.write(data))
    return path


def read_graph_def(path: str) -> dict:
    """A graph_def read back from a file ``write_graph`` wrote (text or gzip)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    graph_def = json.loads(data)
    check_graph_def(graph_def)
    return graph_def


def write_atomically(path: str, write) -> None:
    """Call ``write(binary_file)`` on a temp file beside ``path``, fsync it, then rename it over
    ``path``: readers see the old file or the whole new one, never a partial write."""
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (where the platform allows opening directories)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = ["as_graph_def", "import_graph_def", "write_graph", "read_graph_def",
           "GraphExportError", "NOT_EXPORTABLE"]
