"""Pluggable backends: each lowers a ``Schedule`` to an ``Executable``."""
from __future__ import annotations

_BACKENDS = {}


def register_backend(name: str, factory) -> None:
    _BACKENDS[name] = factory


def get_backend(name: str):
    """The backend named ``name`` (``'numpy'`` is the always-complete reference)."""
    if name not in _BACKENDS and name == "numpy":
        from . import numpy_ref  # noqa: F401  (registers itself)
    try:
        return _BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; available: {sorted(_BACKENDS)}") from None


def available_backends() -> list[str]:
    get_backend("numpy")
    return sorted(_BACKENDS)


def default_backend() -> str:
    """The backend sessions and functions use unless told otherwise (``MINIGRAPH_FLAGS``)."""
    from ..config import config

    return getattr(config, "backend", "numpy")
