"""The two ways a backend kernel is called: allocating its results, or writing planned buffers.

A backend's ``kernel_for(node)`` returns either
- a plain callable, called like the op's NumPy ``ref`` (``fn(*arrays, **attrs)``) and returning
  fresh arrays (or a tuple for several outputs): used where the result's size is only known
  after the call, or the kernel is a reference kernel; or
- a ``WritingKernel``: ``fn(*arrays, *outputs)`` writes every output into arrays of the node's
  declared shapes and dtypes that the memory planner supplies (attrs are bound at lowering).
  That is what lets a steady-state step allocate nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class WritingKernel:
    """``fn(*inputs, *outputs)`` fills ``outputs`` (shapes/dtypes checked by the caller).

    ``elementwise``: output element ``i`` depends only on input elements at ``i`` (after
    broadcasting), so an output may be written over a dead input of the same shape and dtype.
    ``prepare(input_shapes)``, when given, returns an ``fn`` specialised to those shapes (all
    per-call decisions taken once), for C-contiguous arrays.
    """

    fn: Callable
    elementwise: bool = False
    prepare: Callable | None = None
