"""The Numba CPU backend (opt-in): fused elementwise groups run as generated Numba kernels.

Kernels are chosen from an explicit table, never by silent fallback:
- ``fused`` nodes (from the ``fuse_elementwise`` pass) run ``kernels.numba.fusion`` kernels,
  compiled once per DAG and process (and cached on disk);
- ``matmul`` goes to BLAS through ``np.matmul``;
- the ops of ``REFERENCE_KINDS`` and ``REFERENCE_OPS`` run their NumPy ``ref``: these are
  *reference kernels*, listed on purpose, each awaiting a hand-written Numba kernel;
- any other op is refused when the program is lowered (``MissingKernelError`` names it).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from numba.core.registry import cpu_target

from kernels.numba.fusion import compile_fused

from ..compiler.pipeline import DEFAULT_PASSES
from ..ops.registry import get_op
from . import MissingKernelError, register_backend
from .executable import Executable
from .kernel import WritingKernel
from .loop import loop_kernels
from .numba_kernels import HAND_KERNELS

REFERENCE_KINDS = frozenset({"elementwise", "reduction", "movement", "nn", "random", "state",
                             "leaf"})
"""Op kinds whose every op runs its NumPy reference here (unfused elementwise ops included:
NumPy's ufuncs are already vectorised loops)."""

REFERENCE_OPS = frozenset({"reduction_count", "prod_grad", "custom_gradient",
                           # LAPACK through NumPy already; scans are NumPy's sequential loops
                           "matrix_determinant", "matrix_inverse", "cumsum", "cumprod",
                           # summaries serialize protobufs: host-side Python by nature
                           "scalar_summary", "histogram_summary", "image_summary",
                           "text_summary", "merge_summary"})
"""Ops of other kinds allowed to run their NumPy reference (kinds like ``linalg`` and ``other``
are not allowed whole, so a new op there needs a kernel or an entry here)."""


cpu_target.target_context.refresh()
"""numba loads its typing and lowering registries once per process, ~0.1 s; do it when the
backend loads rather than inside the first training step."""


def _fused(node) -> WritingKernel:
    """The compiled kernel of a ``fused`` node, writing its outputs (elementwise ones may be
    written over a dying input: the kernel reads each element before writing it)."""
    dag = node.attrs["dag"]
    kernel = compile_fused(dag)
    n_inputs = len(dag.inputs)

    def run(*arrays):
        kernel.run(arrays[:n_inputs], arrays[n_inputs:])
    # a reduced output might be accumulated while an input of its shape is still being read
    return WritingKernel(run, elementwise=not any(o.reduce for o in dag.outputs),
                         prepare=kernel.prepare)


def _matmul(node) -> WritingKernel:
    """Batched matrix product through BLAS into the planned output; transposes are strided
    views that BLAS reads with its transpose flags, not copies."""
    transpose_a, transpose_b = node.attrs["transpose_a"], node.attrs["transpose_b"]

    def run(a, b, out):
        np.matmul(np.swapaxes(a, -1, -2) if transpose_a else a,
                  np.swapaxes(b, -1, -2) if transpose_b else b, out=out)
    return WritingKernel(run)


KERNELS: dict[str, Callable] = {"fused": _fused, "matmul": _matmul, **loop_kernels("numba")}
"""Op name -> ``make(node)`` returning the node's kernel (see ``kernel.py``)."""


def numba_kernel(node) -> Callable:
    """The kernel running ``node``: from ``KERNELS``, or an allowed reference kernel."""
    make = KERNELS.get(node.op) or HAND_KERNELS.get(node.op)
    if make is not None:
        return make(node)
    opdef = get_op(node.op)
    if opdef.kind in REFERENCE_KINDS or node.op in REFERENCE_OPS:
        return opdef.ref
    raise MissingKernelError(
        f"the numba backend has no kernel for op {node.op!r} (kind {opdef.kind!r}), needed by "
        f"{node.describe()}; add one to numba_cpu.KERNELS or allow its NumPy reference in "
        "REFERENCE_OPS")


BIND_PASSES = ("constant_folding", "algebraic", "dead_code")
"""Run again once the fed shapes are known: shape queries fold, and ``sum_to`` /
``broadcast_like`` between shapes now known equal disappear (a batch dim was ``None``)."""


class NumbaBackend:
    """Optimising CPU backend: the default passes, then elementwise fusion."""

    name = "numba"
    passes: tuple = DEFAULT_PASSES + ("fuse_xent_backward", "fuse_elementwise", "dead_code")
    """Cross-entropy pairs merge after CSE/stabilise made them and before fusion, so the
    gradient's ``dy * (probs - labels)`` fuses on the merged op's softmax."""

    def lower(self, program) -> Executable:
        return Executable(program, numba_kernel, bind_passes=BIND_PASSES)


register_backend("numba", NumbaBackend)
