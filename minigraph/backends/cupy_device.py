"""The cupy backend's access to the GPU -- whether one is usable, CuPy itself (imported lazily)
-- and the kernel primitives its tables build on: ``DeviceKernel``, ``CudaModule`` (a CUDA
source compiled on first use), array kernels (NumPy references on device arrays) and host
kernels (NumPy references on the host).

Nothing here imports CuPy at import time: lowering (and ``explain``) never touches a device;
only running does, and then ``require_device`` raises one ``DeviceUnavailableError`` when CuPy
or an NVIDIA GPU is missing, never a CuPy traceback.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..ops.registry import get_op
from . import DeviceUnavailableError
from .kernel import WritingKernel

_OVERRIDE: list = []
"""A stand-in array module (tests: a strict NumPy-backed fake of CuPy), innermost last."""


@functools.lru_cache(maxsize=1)
def _probe() -> str | None:
    """Why the GPU cannot be used (``None`` when it can): CuPy missing or no CUDA device."""
    try:
        cupy = importlib.import_module("cupy")
    except ImportError as err:
        return f"CuPy is not installed ({err}; pip install cupy-cuda12x)"
    except Exception as err:  # a broken CuPy install (e.g. missing CUDA libraries)
        return f"CuPy cannot be imported ({type(err).__name__}: {err})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDARuntimeError: no driver, or no device
        return f"no CUDA device ({err})"
    return None if count > 0 else "no CUDA device (the driver reports 0 devices)"


def unavailable_reason() -> str | None:
    """Why the ``cupy`` backend cannot run here, or ``None`` when it can."""
    return None if _OVERRIDE else _probe()


def require_device() -> None:
    """Raise ``DeviceUnavailableError`` unless CuPy and a CUDA device are usable."""
    reason = unavailable_reason()
    if reason is not None:
        raise DeviceUnavailableError(
            f"the 'cupy' backend needs CuPy and an NVIDIA GPU: {reason}. Run on the CPU "
            "(backend='numba' or 'numpy'), or set MINIGRAPH_FLAGS=device=cuda,allow_fallback=True "
            "to fall back to the CPU with a warning")


def xp():
    """The device array module: CuPy (after ``require_device``), or a test's stand-in."""
    if _OVERRIDE:
        return _OVERRIDE[-1]
    require_device()
    return importlib.import_module("cupy")


@contextlib.contextmanager
def array_module(module):
    """Use ``module`` as the device array module inside the block (for tests without a GPU)."""
    _OVERRIDE.append(module)
    try:
        yield module
    finally:
        _OVERRIDE.remove(module)


def is_device_array(value) -> bool:
    """Whether ``value`` is an array of the device module (never imports CuPy to answer)."""
    if _OVERRIDE:
        return isinstance(value, _OVERRIDE[-1].ndarray)
    return type(value).__module__.startswith("cupy")


def to_host(value):
    """A device array copied to a NumPy array; anything else as it is."""
    return value.get() if is_device_array(value) else value


def to_device(value):
    """A NumPy array (or scalar) of plain numbers copied to the device, C-contiguous; device
    arrays as they are (made contiguous); anything else (object arrays, bytes) as it is."""
    if is_device_array(value):
        return value if value.flags.c_contiguous else xp().array(value, order="C")
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "biuf":
        return xp().array(value, order="C")
    return value


# -- kernel primitives ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceKernel(WritingKernel):
    """A writing kernel on the device. ``sources``: ``(name, CUDA source)`` of what it runs
    (for ``explain`` and the nvcc tests); ``capturable``: its work may be recorded into a CUDA
    graph (device work only: no host synchronisation or transfer)."""

    sources: tuple = ()
    capturable: bool = True


class CudaModule:
    """One CUDA source, compiled by CuPy (NVRTC) on first use and shared by every kernel
    running it; its functions by entry name."""

    _MODULES: dict = {}

    def __init__(self, source: str):
        self.source, self._module, self._functions = source, None, {}

    @classmethod
    def of(cls, source: str) -> "CudaModule":
        module = cls._MODULES.get(source)
        if module is None:
            module = cls._MODULES[source] = cls(source)
        return module

    def function(self, name: str):
        fn = self._functions.get(name)
        if fn is None:
            if self._module is None:
                self._module = xp().RawModule(code=self.source, options=("-std=c++17",))
            fn = self._functions[name] = self._module.get_function(name)
        return fn


def _shaped(prepare: Callable, n_inputs: int) -> Callable:
    """``fn(*inputs, *outputs)`` preparing once per set of input shapes (used when the
    shapes were not known when the program was bound)."""
    prepared: dict = {}

    def run(*arrays):
        key = tuple(a.shape for a in arrays[:n_inputs])
        fn = prepared.get(key)
        if fn is None:
            fn = prepared[key] = prepare(key)
        fn(*arrays)
    return run


def device_kernel(prepare: Callable, node, sources=(), elementwise: bool = False) -> DeviceKernel:
    """A ``DeviceKernel`` from ``prepare(input_shapes) -> fn(*inputs, *outputs)``."""
    return DeviceKernel(_shaped(prepare, len(node.inputs)), elementwise=elementwise,
                        prepare=prepare, sources=tuple(sources))


SHAPE_VECTOR_OPS = frozenset({"reshape", "split", "tile", "broadcast_to"})
"""Ops reading their inputs after the first as host sequences (``runtime_dims``)."""


def array_kernel(node) -> Callable:
    """The op's NumPy reference run on device arrays (CuPy executes it through NumPy's
    dispatch); the shape vectors of ``SHAPE_VECTOR_OPS`` are passed as their host values when
    they are constants, so reading them needs no transfer."""
    ref = get_op(node.op).ref
    host = {k: v.node.attrs["value"] for k, v in enumerate(node.inputs)
            if k and v.node.op == "constant" and node.op in SHAPE_VECTOR_OPS}

    def run(*arrays, **attrs):
        return ref(*(host.get(k, a) for k, a in enumerate(arrays)), **attrs)
    run.capturable = True
    return run


def host_kernel(node) -> Callable:
    """The op's NumPy reference on the host: inputs copied there, results copied back (by the
    runner); not capturable into a CUDA graph."""
    ref = get_op(node.op).ref

    def run(*arrays, **kwargs):
        return ref(*(to_host(a) for a in arrays), **kwargs)
    run.capturable = False
    return run
