"""Pluggable backends: each lowers a ``Program`` to an ``Executable``.

Built-in backends are imported on first use, so an optional dependency (numba) is loaded only
when its backend is asked for.
"""
from __future__ import annotations

import importlib

_BACKENDS = {}
_BUILTIN = {"numpy": ("numpy_ref", None), "numba": ("numba_cpu", "numba")}
"""Lazily imported backends: name -> (module, the optional package it needs)."""


class BackendUnavailableError(ImportError):
    """A known backend whose optional dependency is not installed."""


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
    """Registered backends plus the built-in ones whose dependencies are installed."""
    for name in _BUILTIN:
        if name not in _BACKENDS:
            try:
                _load(name)
            except BackendUnavailableError:
                pass
    return sorted(_BACKENDS)


def default_backend() -> str:
    """The backend sessions and functions use unless told otherwise: numba, or the one named by
    ``MINIGRAPH_FLAGS=backend=...`` (``numpy`` selects the reference)."""
    from ..config import config

    return getattr(config, "backend", "numba")
