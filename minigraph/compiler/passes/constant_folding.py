"""``constant_folding``: compute once, at compile time, what depends on constants only.

Guarantees: a folded value is exactly what the op's NumPy ``ref`` gives at run time, in the
node's declared dtype, held by a read-only ``constant`` that keeps the node's ``origin``.
Ops whose result depends on their input's shape only (registered with ``shape_only``:
``shape``, ``size``, ``rank``, ``dim``, ``reduction_count``, ``ones_like_value``...) fold whenever
the static shape answers them, whatever computes their input, if the result is small
(``SHAPE_FOLD_LIMIT``: a larger ``ones_like`` costs nothing inside a fused kernel).
Never folded: random and stateful ops, state and leaf
ops, nodes whose ``ref`` raises (the error stays a run-time error with the user's site, raised
only if the node runs), and results of more than ``FOLD_LIMIT`` elements (a cached plan would
pin them in memory, while recomputing them from small inputs, e.g. ``zeros(shape)``, is cheap).
"""
from __future__ import annotations

import math

import numpy as np

from ...graph import fits_static
from ...ops.registry import get_op
from ..ir import IRNode, Program
from ..pipeline import register_pass
from ..rewrite import Rewriter, constant_array

FOLD_LIMIT = 1_000_000
"""Largest number of elements a folded result may have."""

SHAPE_FOLD_LIMIT = 64
"""Largest number of elements a folded shape-only result may have."""

_NEVER_FOLDED = frozenset({"state", "leaf", "control", "random"})


def _foldable(node: IRNode) -> bool:
    opdef = get_op(node.op)
    if opdef.stateful or opdef.random or opdef.kind in _NEVER_FOLDED:
        return False
    return all(constant_array(v) is not None for v in node.inputs)


def _too_big(shape, limit: int) -> bool:
    return shape is not None and None not in shape and math.prod(shape) > limit


def _evaluate(node: IRNode, args: list, limit: int | None = None) -> list | None:
    """The node's outputs from its ``ref`` on ``args``, or ``None`` when they must not fold
    (more than ``limit`` elements, by default ``FOLD_LIMIT``)."""
    limit = FOLD_LIMIT if limit is None else limit
    if any(_too_big(t.shape, limit) for t in node.out_types):
        return None
    try:
        with np.errstate(all="ignore"):
            result = get_op(node.op).ref(*args, **node.attrs)
    except Exception:  # any failure is left for the run, where it is reported with its site
        return None
    values = result if isinstance(result, tuple) else (result,)
    arrays = [np.asarray(v) for v in values]
    arrays = [a if a.dtype == t.dtype else a.astype(t.dtype)
              for a, t in zip(arrays, node.out_types)]
    if len(arrays) != len(node.out_types) or not all(
            a.size <= limit and fits_static(a.shape, t.shape)
            for a, t in zip(arrays, node.out_types)):
        return None
    return arrays


def _stand_in(node: IRNode) -> np.ndarray | None:
    """A zero-stride array with the input's static shape when that shape answers the query."""
    t = node.inputs[0].type
    if t.shape is None:
        return None
    if node.op == "rank":
        needed = ()
    elif node.op == "dim":
        needed = (t.shape[node.attrs["axis"]],)
    else:
        needed = t.shape
    if None in needed:
        return None
    shape = tuple(0 if d is None else d for d in t.shape)
    return np.broadcast_to(np.zeros((), t.dtype), shape)


def _fold(node: IRNode, rewriter: Rewriter):
    if get_op(node.op).extra.get("shape_only") and constant_array(node.inputs[0]) is None:
        stand_in = _stand_in(node)
        arrays = None if stand_in is None else _evaluate(node, [stand_in], SHAPE_FOLD_LIMIT)
        name = "fold_static_shape"
    elif _foldable(node):
        arrays = _evaluate(node, [constant_array(v) for v in node.inputs])
        name = "fold_constants"
    else:
        return None
    if arrays is None:
        return None
    return name, tuple(rewriter.constant(a) for a in arrays)


@register_pass("constant_folding")
def fold_constants(program: Program) -> tuple[Program, list[str]]:
    """Replace constant-only nodes and statically answered shape queries by constants."""
    return Rewriter(_fold).run(program)
