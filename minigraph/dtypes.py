"""dtypes are plain NumPy dtypes; this module names them and holds the promotion policy.

Policy (TF-like, documented in the README): Python numbers and NumPy arrays mixed with a tensor
adopt the tensor's dtype when that keeps their kind (so ``x32 * 2.0`` stays float32); a float
value meeting an int/bool tensor gives ``floatX``. Two tensors promote to the wider dtype of the
higher kind (bool < unsigned < signed < float).
"""
import numpy as np

from .config import config

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

_KIND_RANK = {"b": 0, "u": 1, "i": 2, "f": 3}


_TF_NAMES = {"float": float32, "double": float64, "half": float16, float: float32}
"""Names whose TF meaning differs from NumPy's (``tf.placeholder("float")`` is float32)."""


def as_dtype(value) -> np.dtype:
    """Normalise a minigraph/NumPy dtype, type or name to a NumPy dtype (TF's ``'float'`` and
    Python ``float`` mean float32, as in TF)."""
    if value is None:
        raise TypeError("dtype must not be None")
    if isinstance(value, str) and value == "floatX":
        return np.dtype(config.floatX)
    if isinstance(value, (str, type)) and value in _TF_NAMES:
        return _TF_NAMES[value]
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"cannot interpret {value!r} as a dtype") from None
    if dtype.kind not in _KIND_RANK:
        raise TypeError(f"unsupported dtype {dtype} (minigraph supports bool, ints and floats)")
    return dtype


def floatx() -> np.dtype:
    """The default float dtype (``config.floatX``)."""
    return np.dtype(config.floatX)


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def is_integer(dtype) -> bool:
    return np.dtype(dtype).kind in "iu"


def promote(*dtypes) -> np.dtype:
    """Result dtype of combining tensors: highest kind wins, then the widest size."""
    dtypes = [np.dtype(d) for d in dtypes]
    top = max(_KIND_RANK[d.kind] for d in dtypes)
    candidates = [d for d in dtypes if _KIND_RANK[d.kind] == top]
    return max(candidates, key=lambda d: d.itemsize)


def value_dtype_for(value: np.ndarray, tensor_dtype: np.dtype) -> np.dtype:
    """The dtype a non-tensor operand takes next to a tensor of ``tensor_dtype``."""
    value_kind, tensor_kind = _KIND_RANK[value.dtype.kind], _KIND_RANK[tensor_dtype.kind]
    if value_kind <= tensor_kind:
        return tensor_dtype
    if value.dtype.kind == "f":
        return floatx()
    return value.dtype


def default_dtype_of(data) -> np.dtype:
    """dtype of a constant built from data with no dtype given: NumPy data keeps its dtype,
    Python floats give ``floatX`` and Python ints ``int32`` (``int64`` if too large), as TF does."""
    if isinstance(data, (np.ndarray, np.generic)):
        return as_dtype(data.dtype)
    array = np.asarray(data)
    if array.dtype.kind == "f":
        return floatx()
    if array.dtype.kind in "iu":
        fits = array.size == 0 or (array.min() >= -(2**31) and array.max() < 2**31)
        return int32 if fits else int64
    return as_dtype(array.dtype)
