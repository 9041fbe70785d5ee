"""Convert and check fed values against the tensor they feed (TF1 casting rules)."""
from __future__ import annotations

import numpy as np

from .graph import fits_static, format_shape


def convert_feed(tensor, value) -> np.ndarray:
    """``value`` as an array of ``tensor``'s dtype: casts within a kind (and int -> float), and
    raises ``TypeError``/``ValueError`` naming the placeholder otherwise."""
    array = _as_array(tensor, value)
    dtype = tensor.dtype
    if array.dtype.kind not in "biuf" or (array.dtype.kind == "f" and dtype.kind != "f") or (
            dtype.kind == "b" and array.dtype.kind != "b"):
        raise TypeError(f"{_describe(tensor)} expects {dtype}, cannot feed a value of "
                        f"dtype {array.dtype}{_site(tensor)}")
    check_shape(tensor, array.shape)
    return c_contiguous(array.astype(dtype, copy=False))


def c_contiguous(array: np.ndarray) -> np.ndarray:
    """``array`` itself if C-contiguous, else a C-contiguous copy (kernels index feeds so);
    unlike ``np.ascontiguousarray`` it keeps 0-d arrays 0-d and device arrays on their device."""
    return array if array.flags.c_contiguous else array.copy(order="C")


def check_shape(tensor, shape) -> None:
    static = tensor.type.shape
    if not fits_static(shape, static):
        raise ValueError(f"{_describe(tensor)} expects {format_shape(static)}, "
                         f"got {format_shape(shape)}{_site(tensor)}")


def _as_array(tensor, value) -> np.ndarray:
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as err:
        raise TypeError(f"{_describe(tensor)} expects {tensor.dtype}: cannot feed "
                        f"{type(value).__name__} value ({err}){_site(tensor)}") from None


def _describe(tensor) -> str:
    kind = "placeholder" if tensor.node.op == "placeholder" else "tensor"
    return f"{kind} '{tensor.node.name}'"


def _site(tensor) -> str:
    return f" ({tensor.node.op} created at {tensor.node.site})"
