"""Disk-backed modules for generated kernel source, so Numba's ``cache=True`` works across runs.

Each source text is written once to ``<cache dir>/fused_<hash>.py`` and imported from there;
Numba keys its on-disk cache on that file, so a second process loads the machine code instead
of compiling. The directory is ``$MINIGRAPH_CACHE_DIR`` or ``~/.cache/minigraph/kernels``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

_MODULES: dict[str, ModuleType] = {}


def cache_dir() -> Path:
    """Directory holding generated kernel modules (and Numba's ``__pycache__`` beside them)."""
    env = os.environ.get("MINIGRAPH_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "minigraph" / "kernels"


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:20]


def load_module(source: str) -> ModuleType:
    """The module holding ``source``: from this process's table, else written and imported."""
    key = source_hash(source)
    module = _MODULES.get(key)
    if module is None:
        module = _MODULES[key] = _import(_write(source, key), f"_minigraph_fused_{key}")
    return module


def _write(source: str, key: str) -> Path:
    """Path of the module file, written atomically unless an identical one exists."""
    for directory in (cache_dir(), Path(tempfile.gettempdir()) / "minigraph-kernels"):
        path = directory / f"fused_{key}.py"
        try:
            if not (path.exists() and path.read_text() == source):
                directory.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(source)
                os.replace(tmp, path)
            return path
        except OSError:
            continue
    raise OSError(f"cannot write generated kernels to {cache_dir()} or the temp directory")


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
