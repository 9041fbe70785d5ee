"""The NumPy reference backend: runs each node's ``ref`` in schedule order. The oracle."""
from __future__ import annotations

from ..ops.registry import get_op
from . import register_backend
from .executable import Executable
from .loop import loop_kernels

LOOP_KERNELS = loop_kernels("numpy")


def reference_kernel(node):
    """The op's NumPy ``ref``: the ground truth every other backend is compared with (loops
    run their body compiled by this backend)."""
    loop = LOOP_KERNELS.get(node.op)
    return loop(node) if loop is not None else get_op(node.op).ref


class NumpyBackend:
    """Reference backend: no rewriting, every op through its NumPy ``ref``."""

    name = "numpy"
    passes: tuple = ()

    def lower(self, program) -> Executable:
        return Executable(program, reference_kernel)


register_backend("numpy", NumpyBackend)
