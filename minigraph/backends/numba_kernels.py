"""Hand-written Numba kernels of the numba backend, by op name (from ``kernels.numba``).

Each entry is ``make(node)`` returning the node's kernel: a ``WritingKernel`` (writes planned
output buffers) or a plain callable called like the op's ``ref``.
"""
from __future__ import annotations

from typing import Callable

HAND_KERNELS: dict[str, Callable] = {}
