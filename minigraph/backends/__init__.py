"""Pluggable backends: each lowers a ``Program`` to an ``Executable``.

Built-in backends are imported on first use, so an optional dependency (numba) is loaded only
when its backend is asked for. The ``cupy`` backend is always registered (lowering and
``explain`` need no GPU) but listed by ``available_backends`` only where it can run.
"""
from __future__ import annotations

import importlib
import warnings

from ..errors import MinigraphError

_BACKENDS = {}
_BUILTIN = {"numpy": ("numpy_ref", None), "numba": ("numba_cpu", "numba"),
            "cupy": ("cupy_gpu", None)}
"""Lazily imported backends: name -> (module, the optional package it needs)."""


class BackendUnavailableError(ImportError):
    """A known backend whose optional dependency is not installed."""


class DeviceUnavailableError(MinigraphError, RuntimeError):
    """The GPU was asked for, but CuPy or an NVIDIA GPU is missing on this machine."""


class MissingKernelError(MinigraphError, NotImplementedError):
    """A backend has no kernel for an op of the program (raised when it is lowered)."""


def register_backend(name: str, factory) -> None:
    _BACKENDS[name] = factory


def get_backend(name: str):
    """The backend named ``name`` (``'numpy'`` is the always-complete reference)."""
    if name not in _BACKENDS and name in _BUILTIN:
        _load(name)
    try:
        return _BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; available: {available_backends()}") from None


def _load(name: str) -> None:
    """Import a built-in backend's module (it registers itself)."""
    module, package = _BUILTIN[name]
    try:
        importlib.import_module(f".{module}", __name__)
    except ModuleNotFoundError as err:
        if package is None or (err.name or "").split(".")[0] != package:
            raise
        raise BackendUnavailableError(
            f"backend {name!r} needs the {package!r} package, which is not installed "
            f"(pip install {package}); registered: {sorted(_BACKENDS)}") from err


def available_backends() -> list[str]:
    """Registered backends that can run here (a backend may say it cannot with an ``available``
    check, as ``cupy`` does without CuPy or a GPU), plus the built-in ones whose dependencies
    are installed."""
    for name in _BUILTIN:
        if name not in _BACKENDS:
            try:
                _load(name)
            except BackendUnavailableError:
                pass
    return sorted(name for name, factory in _BACKENDS.items()
                  if getattr(factory, "available", lambda: True)())


def default_backend() -> str:
    """The backend sessions and functions use unless told otherwise: numba, or the one named by
    ``MINIGRAPH_FLAGS=backend=...`` (``numpy`` selects the reference). ``device=cuda`` selects
    ``cupy``; without a usable GPU that raises ``DeviceUnavailableError``, unless
    ``allow_fallback=True`` is set too: then a warning (once) and the CPU backend."""
    from ..config import config

    cpu = getattr(config, "backend", "numba")
    if getattr(config, "device", "cpu") != "cuda":
        return cpu
    from .cupy_device import require_device

    try:
        require_device()
    except DeviceUnavailableError as err:
        if not getattr(config, "allow_fallback", False):
            raise
        _warn_fallback(f"{err} -- allow_fallback=True: running on the CPU backend {cpu!r}")
        return cpu
    return "cupy"


_WARNED: set = set()


def _warn_fallback(message: str) -> None:
    """Warn once per process and message that the GPU was asked for but the CPU runs."""
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
