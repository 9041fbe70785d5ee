"""Peer frameworks. Workloads list a peer's rows only if ``has(package)``; the accessors import
the peer when a row is set up, so a process imports only the peers it runs."""
from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import warnings

_threads = os.cpu_count() or 1


def configure(threads: int) -> None:
    """Thread count for peers that take it at import or session time (call before any peer)."""
    global _threads
    _threads = threads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads == 1:
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                           "intra_op_parallelism_threads=1")


def has(package: str) -> bool:
    """Whether ``package`` is installed (without importing it)."""
    return importlib.util.find_spec(package) is not None


@functools.cache
def tf1():
    """``tensorflow.compat.v1`` in graph mode."""
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")  # deprecation notices from tf.compat.v1 internals
    tf.compat.v1.disable_eager_execution()
    return tf.compat.v1


def tf1_session(graph):
    tf = tf1()
    config = tf.ConfigProto(intra_op_parallelism_threads=_threads,
                            inter_op_parallelism_threads=_threads)
    return tf.Session(graph=graph, config=config)


@functools.cache
def pytensor():
    """The ``pytensor`` package (its default mode: the Numba linker in PyTensor 3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not link to a BLAS installation"
        import pytensor
        import pytensor.tensor  # noqa: F401
    return pytensor


@functools.cache
def jax():
    import jax
    return jax


@functools.cache
def torch():
    import torch
    torch.set_num_threads(_threads)
    return torch


def installed() -> list[str]:
    """The installed peers and their versions (from package metadata, without importing them)."""
    dists = importlib.metadata.packages_distributions()
    return [f"{name} {importlib.metadata.version(dists.get(name, [name])[0])}"
            for name in ("tensorflow", "pytensor", "jax", "torch") if has(name)]


def device_synchronizer(backend: str):
    """A callable waiting for a backend's queued device work (GPU steps must be timed to their
    end), or a no-op on the CPU backends."""
    if backend != "cupy":
        return lambda: None
    import cupy

    return cupy.cuda.Device().synchronize
