"""A strict NumPy-backed stand-in for CuPy: the cupy backend's run path, tested without a GPU.

- ``FakeArray`` refuses implicit conversion to NumPy as CuPy arrays do (``np.asarray`` raises
  ``TypeError``); NumPy functions and ufuncs reach it only through ``__array_function__`` /
  ``__array_ufunc__``, and mixing a NumPy array into device work is an error.
- Kernels compiled from CUDA sources run as follows: fused kernels through the host harness
  (the generated code itself, compiled for the CPU), hand kernels through NumPy emulations of
  their entry points, which check the launch geometry and read the backend's arguments.
- Stream capture records device work and undoes its effects (CUDA captures without running),
  host synchronisation during capture is an error, and a graph launch replays the record.
"""
from __future__ import annotations

import contextlib
import re
import weakref
from types import SimpleNamespace

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

_LIVE: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_CAPTURE: list = []
FUSED: dict = {}
"""CUDA source -> its ``CudaSource`` (the test records what the backend generates)."""
LAUNCHES = {"graphs": 0, "kernels": 0}


def _sync(what: str) -> None:
    if _CAPTURE:
        raise RuntimeError(f"cudaErrorStreamCaptureUnsupported: {what} while capturing")


_HOST_SEQUENCES = {np.split, np.array_split, np.tile, np.pad, np.reshape, np.broadcast_to,
                   np.transpose}
"""NumPy functions whose CuPy versions read their index arguments (split points, shapes,
repeats, paddings) as host sequences, so a NumPy array is fine there."""


CUPY_FUNCTIONS = frozenset({
    # creation from arrays, copies, layout
    "copy", "copyto", "empty_like", "zeros_like", "ones_like", "full_like", "ix_", "indices",
    "diag", "diagonal", "tril", "triu",
    # shape manipulation and joining
    "reshape", "ravel", "transpose", "swapaxes", "moveaxis", "rollaxis", "expand_dims", "squeeze",
    "broadcast_to", "broadcast_arrays", "atleast_1d", "atleast_2d", "concatenate", "stack",
    "vstack", "hstack", "split", "array_split", "tile", "repeat", "flip", "roll", "pad",
    # indexing, selection, sorting
    "take", "take_along_axis", "where", "nonzero", "argwhere", "searchsorted", "argsort", "sort",
    "unique", "clip",
    # reductions and scans
    "sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "all",
    "any", "count_nonzero", "cumsum", "cumprod", "diff", "around", "round", "isclose",
    # linear algebra
    "dot", "matmul", "tensordot", "einsum", "linalg.det", "linalg.inv", "linalg.solve",
    "linalg.norm",
})
"""NumPy functions ``cupy`` implements under the same name, with NumPy's arguments (those the
device references use were checked against CuPy 13's API reference): ``FakeArray``'s
``__array_function__`` refuses every other one. ``np.asarray`` / ``np.array`` /
``np.ascontiguousarray`` never dispatch: on a device array they convert to the host, which
``FakeArray`` refuses as CuPy does."""

CUPY_UFUNCS = frozenset({
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "negative",
    "positive", "power", "float_power", "remainder", "mod", "fmod", "divmod", "absolute", "fabs",
    "rint", "sign", "heaviside", "exp", "exp2", "log", "log2", "log10", "expm1", "log1p",
    "logaddexp", "logaddexp2", "sqrt", "square", "cbrt", "reciprocal", "sin", "cos", "tan",
    "arcsin", "arccos", "arctan", "arctan2", "hypot", "sinh", "cosh", "tanh", "arcsinh",
    "arccosh", "arctanh", "deg2rad", "rad2deg", "degrees", "radians", "bitwise_and",
    "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift", "greater",
    "greater_equal", "less", "less_equal", "not_equal", "equal", "logical_and", "logical_or",
    "logical_xor", "logical_not", "maximum", "minimum", "fmax", "fmin", "isfinite", "isinf",
    "isnan", "signbit", "copysign", "nextafter", "modf", "ldexp", "frexp", "floor", "ceil",
    "trunc", "conjugate", "gcd", "lcm", "matmul",
})
"""NumPy ufuncs with a CuPy ufunc of the same name (``__call__``)."""

UFUNC_METHODS = {
    "at": frozenset({"add", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor"}),
    "reduce": frozenset({"add", "multiply"}),
    "accumulate": frozenset({"add", "multiply"}),
    "outer": frozenset({"add", "multiply"}),
}
"""Ufunc methods CuPy has "for selected ufuncs" (``ufunc.at``: those with an atomic scatter;
NumPy dispatches ``np.add.at`` on CuPy arrays to ``cupy.add.at`` since CuPy 12.1)."""


def _qualified(func) -> str:
    """``linalg.det`` for ``numpy.linalg.det``, ``transpose`` for ``numpy.transpose``."""
    return ".".join(func.__module__.split(".")[1:] + [func.__name__])


def _unwrap(x, index: bool = False):
    if isinstance(x, FakeArray):
        return x._data
    if isinstance(x, np.ndarray) and not index:
        raise TypeError(f"Unsupported type {type(x)} (a host array in device work)")
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(i, index) for i in x)
    if isinstance(x, dict):
        return {k: _unwrap(v, index) for k, v in x.items()}
    return x


def _wrap(x):
    if isinstance(x, np.ndarray):
        return FakeArray(x)
    if isinstance(x, np.generic):
        return FakeArray(np.asarray(x))
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(_wrap(i) for i in x)
    return x


def _assign(target, value) -> None:
    if isinstance(target, FakeArray) and target._data is not value:
        target._data[...] = value
    elif isinstance(target, (list, tuple)):
        for t, v in zip(target, value):
            _assign(t, v)


def _device(fn, args=(), kwargs=None, index: bool = False):
    """Device work: run now; while capturing, also record it (into the same result arrays)."""
    kwargs = kwargs or {}
    result = _wrap(fn(*_unwrap(args, index), **_unwrap(kwargs)))
    if _CAPTURE:
        def replay():
            _assign(result, fn(*_unwrap(args, index), **_unwrap(kwargs)))
        _CAPTURE[-1].append(replay)
    return result


class FakeArray(NDArrayOperatorsMixin):
    """A device array: NumPy data that only device work may touch."""

    __array_priority__ = 100

    def __init__(self, data: np.ndarray):
        self._data = data
        _LIVE[id(self)] = self

    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    flags = property(lambda self: self._data.flags)
    T = property(lambda self: _device(np.transpose, (self,)))

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        name = ufunc.__name__
        if name not in CUPY_UFUNCS or (method != "__call__"
                                       and name not in UFUNC_METHODS.get(method, ())):
            raise TypeError(f"CuPy has no numpy.{name}" + (
                "" if method == "__call__" else f".{method}"))
        return _device(getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if _qualified(func) not in CUPY_FUNCTIONS:
            raise TypeError(f"CuPy has no numpy.{_qualified(func)} (the stand-in refuses "
                            "NumPy functions CuPy does not implement)")
        return _device(func, args, kwargs, index=func in _HOST_SEQUENCES)

    def get(self, stream=None) -> np.ndarray:
        _sync("device-to-host copy")
        return self._data.copy()

    def set(self, array, stream=None) -> None:
        _sync("host-to-device copy")
        if not isinstance(array, np.ndarray) or array.shape != self.shape:
            raise ValueError("set: a host array of the same shape is needed")
        self._data[...] = array

    def copy(self, order="C"):
        return _device(np.copy, (self,))

    def astype(self, dtype, copy=True):
        return _device(lambda d: d.astype(dtype, copy=copy), (self,))

    def reshape(self, *shape, order="C"):
        return _device(lambda d: d.reshape(*shape, order=order), (self,))

    def fill(self, value) -> None:
        _device(lambda d: d.fill(value), (self,))

    def __getitem__(self, key):
        return _device(lambda d, k: d[k], (self, key), index=True)

    def __setitem__(self, key, value) -> None:
        if isinstance(value, np.ndarray):
            raise TypeError("setitem with a host array")
        _device(lambda d, k, v: d.__setitem__(k, v), (self, key, value), index=True)

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def _scalar(self):
        _sync("reading a device scalar")
        return self._data.item()

    def __bool__(self):
        return bool(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __float__(self):
        return float(self._scalar())

    __index__ = __int__

    def item(self):
        return self._scalar()

    @property
    def flat(self):
        return _Flat(self)

    def __getattr__(self, name):
        if name.startswith("__"):  # e.g. __array_interface__: NumPy would read the host data
            raise AttributeError(f"FakeArray has no attribute {name!r} (a CuPy array neither)")
        attribute = getattr(self._data, name)
        if not callable(attribute):
            return _wrap(attribute)
        return lambda *a, **k: _device(lambda d, *a2, **k2: getattr(d, name)(*a2, **k2),
                                       (self, *a), k)

    def __repr__(self) -> str:
        return f"FakeArray({self._data!r})"


class _Flat:
    def __init__(self, array: FakeArray):
        self.array = array

    def __getitem__(self, i):
        return _device(lambda d: d.flat[i], (self.array,))


# -- module functions -------------------------------------------------------------------------


def empty(shape, dtype=float, order="C"):
    return FakeArray(np.empty(shape, dtype))


def zeros(shape, dtype=float):
    return _device(lambda: np.zeros(shape, dtype))


def array(obj, dtype=None, copy=True, order="C"):
    if isinstance(obj, FakeArray):
        return _device(lambda d: np.array(d, dtype=dtype, order="C"), (obj,))
    _sync("host-to-device copy")
    return FakeArray(np.array(obj, dtype=dtype, order="C"))


def asarray(obj, dtype=None):
    if isinstance(obj, FakeArray):
        return obj if dtype is None or obj.dtype == dtype else obj.astype(dtype)
    return array(obj, dtype)


def ascontiguousarray(a, dtype=None):
    return a if a.flags.c_contiguous and dtype in (None, a.dtype) else array(a, dtype)


def asnumpy(a, stream=None):
    return a.get() if isinstance(a, FakeArray) else np.asarray(a)


def copyto(dst, src, casting="same_kind"):
    _device(lambda d, s: np.copyto(d, s, casting=casting), (dst, src))


def matmul(a, b, out=None):
    return _device(lambda a, b, out: np.matmul(a, b, out=out), (a, b, out))


def swapaxes(a, i, j):
    return _device(np.swapaxes, (a, i, j))


def broadcast_to(a, shape):
    return _device(np.broadcast_to, (a, shape))


class _Ufunc:
    def __init__(self, ufunc):
        self.ufunc = ufunc

    def at(self, a, indices, b):
        _device(self.ufunc.at, (a, indices, b), index=True)


add, subtract = _Ufunc(np.add), _Ufunc(np.subtract)
ndarray = FakeArray


# -- random numbers ---------------------------------------------------------------------------


class Generator:
    """``cupy.random.Generator`` on NumPy's generator: CuPy's methods and arguments, results
    as device arrays (0-d for one value, as CuPy). A draw while capturing is refused: whether
    a CUDA-graph replay draws fresh numbers is not something the stand-in can vouch for."""

    def __init__(self, seed=None):
        self._numpy = np.random.default_rng(seed)

    def _draw(self, method: str, *args, dtype=None, **kwargs) -> FakeArray:
        _sync(f"random.Generator.{method} (the stand-in does not record random draws)")
        values = np.asarray(getattr(self._numpy, method)(*args, **kwargs))
        return FakeArray(values if dtype is None else values.astype(dtype, copy=False))

    def random(self, size=None, dtype=np.float64, out=None) -> FakeArray:
        assert out is None, "the stand-in does not draw into out="
        return self._draw("random", size, dtype=np.dtype(dtype))

    def standard_normal(self, size=None, dtype=np.float64, out=None) -> FakeArray:
        assert out is None, "the stand-in does not draw into out="
        return self._draw("standard_normal", size, dtype=np.dtype(dtype))

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False) -> FakeArray:
        return self._draw("integers", low, high, size, dtype=np.dtype(dtype), endpoint=endpoint)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64) -> FakeArray:
        return self._draw("uniform", low, high, size).astype(dtype)


def default_rng(seed=None) -> Generator:
    return Generator(seed)


random = SimpleNamespace(default_rng=default_rng, Generator=Generator)


# -- kernels ----------------------------------------------------------------------------------


class RawModule:
    def __init__(self, code=None, options=()):
        self.code = code

    def get_function(self, name: str):
        return RawKernel(self.code, name)


class RawKernel:
    def __init__(self, code: str, name: str):
        self.code, self.name = code, name

    def __call__(self, grid, block, args, shared_mem=0):
        if any(int(g) <= 0 for g in grid) or any(int(b) <= 0 for b in block):
            raise ValueError(f"{self.name}: invalid launch grid {grid} block {block}")
        for a in args:
            if not isinstance(a, (FakeArray, np.generic)):
                raise TypeError(f"{self.name}: kernel argument {a!r} must be a device array "
                                "or a NumPy scalar")
        LAUNCHES["kernels"] += 1
        _device(lambda *data: self._emulate(tuple(grid), tuple(block), data), args)

    def _emulate(self, grid, block, data) -> None:
        if self.name.startswith(("mg_conv_", "mg_pool_")):  # their CUDA, built for the host
            from kernels.cupy.conv_harness import host_launch

            host_launch(self.code, self.name, grid, block, data)
        elif self.name.startswith("mg_"):
            _hand(self.name, block, data)
        else:
            _fused(self.code, self.name, grid, block, data)


_HOSTS: dict = {}
MODE = {"fused": "harness"}
"""How fused kernels run: ``harness`` (the generated code on the CPU) or ``reference`` (the
DAG interpreter, argument for argument: fast, for sweeps over many DAGs)."""


def _fused(code, name, grid, block, data) -> None:
    """A generated kernel run by the host harness (its own code compiled for the CPU)."""
    from kernels.cupy.harness import HostKernels, _pointer_array

    if MODE["fused"] == "reference":
        _fused_reference(FUSED[code], name, data)
        return
    host = _HOSTS.get(code)
    if host is None:
        host = _HOSTS[code] = HostKernels(FUSED[code])
    argv, keep = _pointer_array([np.int64(d) if isinstance(d, np.generic) else d
                                 for d in data])
    getattr(host.library, f"host_{name}")(int(grid[0]), int(block[0]), argv)


def _fused_reference(cuda, name: str, data) -> None:
    """A generated kernel's launch emulated with ``kernels.scalar_expr.evaluate``: elementwise
    outputs written, reductions' partials filled (the result in split 0, identities in the
    rest) and folded by the finishing kernel."""
    from kernels.scalar_expr import evaluate, reduction_identity

    spec, dag = cuda.kernel(name), cuda.dag
    args = {param: value for (_, param), value in zip(spec.params, data)}
    if spec.kind == "finish":
        for k in spec.outputs:
            parts = args[f"p{k}"].reshape(int(args["kept"]), int(args["splits"]))
            fold = {"sum": np.sum, "max": np.max, "min": np.min}[dag.outputs[k].reduce]
            args[f"o{k}"].reshape(-1)[...] = fold(parts, axis=1)
        return
    if "n" in args:
        shape = (1,) * (dag.ndim - 1) + (int(args["n"]),)
    else:
        shape = tuple(int(args[f"d{a}"]) for a in range(dag.ndim))
    inputs = [args[f"x{k}"].reshape(tuple(n if full else 1 for n, full in zip(shape, i.pattern)))
              for k, i in enumerate(dag.inputs)]
    results = evaluate(dag, inputs)
    for k in spec.outputs:
        if spec.kind == "elementwise":
            args[f"o{k}"].reshape(-1)[...] = results[k].reshape(-1)
            continue
        out = dag.outputs[k]
        parts = args[f"p{k}"].reshape(results[k].size, int(args["splits"]))
        parts[...] = reduction_identity(out.reduce, dag.value_dtype(out.value))
        parts[:, 0] = results[k].reshape(-1)


def _softmax_rows(x):
    if not x.size:
        return x
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _hand(name: str, block, data) -> None:
    """NumPy emulations of ``kernels.cupy.hand`` entry points, argument for argument."""
    family = re.match(r"mg_([a-z_]+?)_(warp|block|rows|cols|i32|i64|f32|f64|bool)", name)[1]
    if "_warp_" in name or "_rows_" in name:
        assert block == (32, 8, 1), (name, block)
    if family in ("softmax", "log_softmax"):
        x, y, rows, n = data
        p = _softmax_rows(x.reshape(rows, n))
        y.reshape(rows, n)[...] = np.log(p) if family == "log_softmax" else p
    elif family in ("xent", "sparse_xent"):
        labels, x, loss, probs, rows, n = data
        p = _softmax_rows(x.reshape(rows, n))
        if family == "xent":
            loss.reshape(rows)[...] = -(labels.reshape(rows, n) * np.log(p)).sum(axis=1)
        else:
            loss.reshape(rows)[...] = -np.log(p[np.arange(rows), labels.reshape(rows)])
        if isinstance(probs, np.ndarray):
            probs.reshape(rows, n)[...] = p
    elif family in ("sum", "max", "min", "argmax", "argmin"):
        _reduce(family, "_rows_" in name, data)
    elif family == "gather":
        params, ids, out, outer, rows, n_ids, inner = data
        out.reshape(outer, n_ids, inner)[...] = params.reshape(outer, rows, inner)[:, ids.ravel()]
    elif family == "scatter_add":
        updates, ids, out, outer, rows, n_ids, inner, negate, wrap = data
        target = out.reshape(outer, rows, inner)
        sign = -1 if negate else 1
        np.add.at(target, (slice(None), ids.ravel() % rows if wrap else ids.ravel()),
                  sign * updates.reshape(outer, n_ids, inner))
    else:
        ids, out, outer, depth, inner, on, off = data
        hot = ids.reshape(outer, 1, inner) == np.arange(depth).reshape(1, depth, 1)
        out.reshape(outer, depth, inner)[...] = np.where(hot, on, off)


def _reduce(op: str, rows_layout: bool, data) -> None:
    if rows_layout:
        x, out, outer, n, *rest = data
        inner = 1
    else:
        x, out, outer, n, inner, *rest = data
    blocks = x.reshape(outer, n, inner)
    result = getattr(np, op)(blocks, axis=1)
    if rest:
        result = result / rest[0]
    out.reshape(outer, inner)[...] = result


# -- streams and graphs -----------------------------------------------------------------------


class Stream:
    def __init__(self, non_blocking=False):
        self.record = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def begin_capture(self, mode=None) -> None:
        self.record, self.saved = [], [(a, a._data.copy()) for a in list(_LIVE.values())]
        _CAPTURE.append(self.record)

    def end_capture(self):
        _CAPTURE.remove(self.record)
        for a, data in self.saved:  # capturing runs nothing
            a._data[...] = data
        return Graph(self.record)


class Graph:
    def __init__(self, record):
        self.record = record

    def launch(self, stream=None) -> None:
        LAUNCHES["graphs"] += 1
        for replay in self.record:
            replay()


class MemoryPool:
    def malloc(self, size):
        raise AssertionError("the fake allocates through empty()")


@contextlib.contextmanager
def using_allocator(allocator=None):
    yield


cuda = SimpleNamespace(runtime=SimpleNamespace(getDeviceCount=lambda: 1), Stream=Stream,
                       Graph=Graph, MemoryPool=MemoryPool, using_allocator=using_allocator)
