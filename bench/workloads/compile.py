"""Compile latency of the W2 training step (B128, SGD): seconds from setup to the end of the first
step (graph build, compile, initialisation, first run) in a fresh process, imports not counted.
Cold: empty cache directories; warm: a second process reusing the first one's caches.

Run as ``python -m bench.workloads.compile NAME THREADS`` it is the probe: it prints the seconds.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import peers

ROOT = Path(__file__).resolve().parents[2]
PEER_ROWS = [("tensorflow", "tf1 session.run", peers.tf1),
             ("pytensor", "pytensor function", peers.pytensor),
             ("jax", "jax jit", lambda: peers.jax().devices())]


def names(quick: bool, backends: list[str]) -> list[str]:
    """Rows to measure: minigraph per backend, and the peers that compile (not in --quick)."""
    rows = [f"minigraph[{b}] Session.run" for b in backends]
    return rows if quick else rows + [name for package, name, _ in PEER_ROWS if peers.has(package)]


def measure(name: str, threads: int) -> tuple[float, float]:
    """(cold, warm) seconds for one row, each in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as root:
        env = dict(os.environ, MINIGRAPH_CACHE_DIR=f"{root}/minigraph",
                   NUMBA_CACHE_DIR=f"{root}/numba", PYTENSOR_FLAGS=f"base_compiledir={root}/pt",
                   JAX_COMPILATION_CACHE_DIR=f"{root}/jax",
                   JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
        cold = _probe(name, threads, env)
        return cold, _probe(name, threads, env)


def _probe(name: str, threads: int, env: dict) -> float:
    cmd = [sys.executable, "-m", "bench.workloads.compile", name, str(threads)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode:
        raise RuntimeError(f"probe failed:\n{proc.stderr.strip()}")
    return float(proc.stdout.split()[-1])


def probe(name: str, threads: int) -> float:
    from minigraph.backends import available_backends

    from . import mlp

    peers.configure(threads)
    for _, row, load in PEER_ROWS:
        if row == name:
            load()
    case = mlp.make_case(128, mlp.SGD, available_backends())
    impl = next(i for i in case.impls if i.name == name)
    start = time.perf_counter()
    step, _ = impl.setup()
    step()
    return time.perf_counter() - start


if __name__ == "__main__":
    print(probe(sys.argv[1], int(sys.argv[2])))
