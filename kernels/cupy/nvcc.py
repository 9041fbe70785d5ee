"""nvcc helpers for checking generated CUDA without a GPU: ``compile_ptx`` (device code for an
architecture) and ``build_host_library`` (the same text compiled for the CPU as a shared
library, with the device code's PTX kept as a by-product). Results are cached on disk under
``$MINIGRAPH_CACHE_DIR/cuda`` (default ``~/.cache/minigraph/kernels/cuda``), keyed by the source,
the flags and nvcc's version, so a test suite compiles each kernel once.
"""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

STD = "-std=c++17"


class NvccError(RuntimeError):
    """nvcc rejected a source; the message holds the numbered source and nvcc's output."""


def nvcc_path() -> str | None:
    """The nvcc executable (``$NVCC`` or on PATH), or None."""
    return os.environ.get("NVCC") or shutil.which("nvcc")


@functools.lru_cache(maxsize=None)
def _nvcc_version(path: str) -> str:
    return subprocess.run([path, "--version"], capture_output=True, text=True).stdout


def cache_dir() -> Path:
    env = os.environ.get("MINIGRAPH_CACHE_DIR")
    base = Path(env) if env else Path.home() / ".cache" / "minigraph" / "kernels"
    return base / "cuda"


def numbered(source: str) -> str:
    """``source`` with 1-based line numbers, as nvcc's messages cite them."""
    return "\n".join(f"{i:4d}  {line}" for i, line in enumerate(source.split("\n"), 1))


def _run(args: list[str], source: str, workdir: Path):
    nvcc = nvcc_path()
    if nvcc is None:
        raise NvccError("nvcc was not found (set $NVCC or put it on PATH)")
    proc = subprocess.run([nvcc, *args], cwd=workdir, capture_output=True, text=True)
    if proc.returncode != 0:
        raise NvccError(f"nvcc {' '.join(args)} failed:\n{proc.stderr.strip()}\n"
                        f"{proc.stdout.strip()}\n--- source ---\n{numbered(source)}")


def _key(kind: str, source: str, flags: list[str]) -> str:
    nvcc = nvcc_path() or ""
    text = "\0".join([kind, _nvcc_version(nvcc) if nvcc else "", *flags, source])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _store(path: Path, data: bytes):
    """Write ``data`` to ``path`` atomically (best effort: the cache is optional)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass


def compile_ptx(source: str, arch: str = "sm_90") -> str:
    """PTX of ``source`` compiled by ``nvcc -ptx -arch=<arch> -std=c++17``; NvccError (with the
    numbered source and nvcc's message) when it does not compile."""
    flags = ["-ptx", f"-arch={arch}", STD]
    cached = cache_dir() / f"{_key('ptx', source, flags)}.ptx"
    if cached.exists():
        return cached.read_text()
    with tempfile.TemporaryDirectory(prefix="mg-nvcc-") as tmp:
        work = Path(tmp)
        (work / "kernel.cu").write_text(source)
        _run([*flags, "kernel.cu", "-o", "kernel.ptx"], source, work)
        ptx = (work / "kernel.ptx").read_text()
    _store(cached, ptx.encode())
    return ptx


def build_host_library(source: str, arch: str = "sm_90") -> tuple[Path, str]:
    """(shared library, PTX) of ``source`` built by one nvcc call: host code for the CPU (to be
    loaded with ctypes) and device code for ``arch`` -- PTX, kept and returned, and assembled
    by ptxas, which checks registers and shared memory too."""
    compute = arch.replace("sm_", "compute_")
    flags = ["-x", "cu", "--shared", "-Xcompiler", "-fPIC", "-O2", STD,
             f"-gencode=arch={compute},code=[{arch},{compute}]", "-keep"]
    key = _key("host", source, flags)
    library, ptx_file = cache_dir() / f"{key}.so", cache_dir() / f"{key}.ptx"
    if library.exists() and ptx_file.exists():
        return library, ptx_file.read_text()
    with tempfile.TemporaryDirectory(prefix="mg-nvcc-") as tmp:
        work = Path(tmp)
        (work / "host.cu").write_text(source)
        _run([*flags, "host.cu", "-o", "host.so"], source, work)
        ptx = next(work.glob("host*.ptx")).read_text()
        data = (work / "host.so").read_bytes()
    _store(ptx_file, ptx.encode())
    _store(library, data)
    if not library.exists():  # no writable cache: keep a private copy alive for ctypes
        library = Path(tempfile.mkdtemp(prefix="mg-host-")) / "host.so"
        library.write_bytes(data)
    return library, ptx
