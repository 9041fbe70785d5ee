"""tensorboardX's protobufs and writers, imported on first use: summaries are an optional
feature (``pip install minigraph[summary]``), so importing minigraph never needs them."""
from __future__ import annotations

import importlib

import numpy as np

_DATA_TYPES = {"float16": "DT_HALF", "float32": "DT_FLOAT", "float64": "DT_DOUBLE",
               "int8": "DT_INT8", "int16": "DT_INT16", "int32": "DT_INT32", "int64": "DT_INT64",
               "uint8": "DT_UINT8", "uint16": "DT_UINT16", "bool": "DT_BOOL",
               "object": "DT_STRING", "complex64": "DT_COMPLEX64",
               "complex128": "DT_COMPLEX128"}
"""NumPy dtype name -> TensorFlow ``DataType`` name (a summary's bytes are TF's DT_STRING)."""


def tbx(module: str):
    """``tensorboardX.<module>``, with an install hint when tensorboardX is missing."""
    try:
        return importlib.import_module(f"tensorboardX.{module}")
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] != "tensorboardX":
            raise
        raise ImportError("minigraph.summary needs the tensorboardX package to build summaries "
                          "and event files: pip install tensorboardX") from err


def pillow_image():
    """Pillow's ``PIL.Image`` (image summaries are PNG-encoded with it)."""
    try:
        from PIL import Image
    except ModuleNotFoundError as err:
        raise ImportError("image summaries need the Pillow package to encode PNG: "
                          "pip install pillow") from err
    return Image


def data_type(dtype) -> int:
    """The TensorFlow ``DataType`` enum value of a NumPy dtype (``DT_INVALID`` if it has none)."""
    types = tbx("proto.types_pb2")
    return types.DataType.Value(_DATA_TYPES.get(np.dtype(dtype).name, "DT_INVALID"))


def shape_proto(shape):
    """A ``TensorShapeProto``: ``None`` is an unknown rank, a ``None`` dim has size -1."""
    shapes = tbx("proto.tensor_shape_pb2")
    if shape is None:
        return shapes.TensorShapeProto(unknown_rank=True)
    return shapes.TensorShapeProto(dim=[shapes.TensorShapeProto.Dim(size=-1 if d is None else d)
                                        for d in shape])
