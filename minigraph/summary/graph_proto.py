"""A minigraph ``Graph`` as a TensorBoard ``GraphDef``, so the Graphs tab draws it with its name
scopes: one ``NodeDef`` per node, named with its scope path, with its op, inputs, output dtypes
and shapes (``_output_shapes``, as TF's ``as_graph_def(add_shapes=True)``) and plain attrs."""
from __future__ import annotations

import numpy as np

from ._proto import data_type, shape_proto, tbx

MAX_ATTR_BYTES = 1024
"""Array attrs larger than this keep only their dtype and shape (event files stay small)."""


def graph_def(graph):
    """The ``GraphDef`` (tensorboardX protobuf) of every node of ``graph``."""
    graph_pb2, versions_pb2 = tbx("proto.graph_pb2"), tbx("proto.versions_pb2")
    return graph_pb2.GraphDef(node=[node_def(n) for n in graph.get_operations()],
                              versions=versions_pb2.VersionDef(producer=22))


def node_def(node):
    """One node: inputs are ``name`` (output 0), ``name:k`` and ``^name`` (control inputs)."""
    attr_value = tbx("proto.attr_value_pb2").AttrValue
    inputs = [t.node.name if t.index == 0 else f"{t.node.name}:{t.index}" for t in node.inputs]
    inputs += [f"^{c.name}" for c in node.control_inputs]
    attrs = {key: _attr_value(value) for key, value in node.attrs.items()}
    types = [t.dtype for t in node.out_types]
    if len(types) == 1:
        attrs.setdefault("dtype", attr_value(type=data_type(types[0])))
    elif types:
        attrs["_output_types"] = attr_value(
            list=attr_value.ListValue(type=[data_type(d) for d in types]))
    if types:
        attrs["_output_shapes"] = attr_value(
            list=attr_value.ListValue(shape=[shape_proto(t.shape) for t in node.out_types]))
    return tbx("proto.node_def_pb2").NodeDef(name=node.name, op=node.op, input=inputs,
                                             device=getattr(node, "device", ""), attr=attrs)


def _attr_value(value):
    """An ``AttrValue`` showing a node attr: numbers, strings, dtypes, shapes, lists and arrays
    as themselves, anything else (a variable, a subgraph) by its name or repr."""
    attr_value = tbx("proto.attr_value_pb2").AttrValue
    if isinstance(value, (bool, np.bool_)):
        return attr_value(b=bool(value))
    if isinstance(value, (int, np.integer)):
        return attr_value(i=int(value))
    if isinstance(value, (float, np.floating)):
        return attr_value(f=float(value))
    if isinstance(value, (str, bytes)):
        return attr_value(s=value.encode() if isinstance(value, str) else value)
    if isinstance(value, np.dtype):
        return attr_value(type=data_type(value))
    if isinstance(value, np.ndarray):
        return attr_value(tensor=_tensor_proto(value))
    if isinstance(value, tuple) and value:
        listed = _list_value(value, attr_value.ListValue)
        if listed is not None:
            return attr_value(list=listed)
        if all(v is None or isinstance(v, (int, np.integer)) for v in value):
            return attr_value(shape=shape_proto(value))
    name = getattr(value, "name", None)
    return attr_value(s=(name if isinstance(name, str) else repr(value))[:200].encode())


def _list_value(values: tuple, list_value):
    """A ``ListValue`` of ints, floats or strings, or ``None`` when the items are mixed."""
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return list_value(i=[int(v) for v in values])
    if all(isinstance(v, (float, int, np.number)) for v in values):
        return list_value(f=[float(v) for v in values])
    if all(isinstance(v, (str, bytes)) for v in values):
        return list_value(s=[v.encode() if isinstance(v, str) else v for v in values])
    return None


def _tensor_proto(array: np.ndarray):
    """A ``TensorProto`` of an array attr (its bytes only when it is small and numeric)."""
    proto = tbx("proto.tensor_pb2").TensorProto(dtype=data_type(array.dtype),
                                                tensor_shape=shape_proto(array.shape))
    if array.dtype != object and array.nbytes <= MAX_ATTR_BYTES:
        proto.tensor_content = np.ascontiguousarray(array).tobytes()
    return proto
