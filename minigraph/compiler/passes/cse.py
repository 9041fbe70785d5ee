"""``cse``: merge nodes that compute the same thing (common subexpression elimination).

Guarantees: two nodes merge only when they run the same op on the same (already merged) input
values with equal attrs: arrays compare by dtype, shape and bytes, floats by bit pattern (so
``0.0`` and ``-0.0`` differ, and NaN equals itself), dtypes by name, bools apart from ints,
user nodes and any other object by identity. Equal constants merge. Random and stateful ops
never merge: each random op is its own stream and each state op its own write.
"""
from __future__ import annotations

import numpy as np

from ...ops.registry import get_op
from ..ir import IRNode, Program
from ..pipeline import register_pass
from ..rewrite import Rewriter

_NEVER_MERGED = frozenset({"state", "leaf", "control", "random"})


def attr_key(value) -> tuple:
    """A hashable key equal for attr values that mean the same thing."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, value.tobytes())
    if isinstance(value, np.dtype):
        return ("dtype", value.str)
    if isinstance(value, float):
        return ("float", value.hex())
    if value is None or isinstance(value, (bool, int, str)):
        return (type(value).__name__, value)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(attr_key(v) for v in value))
    return ("object", id(value))  # user nodes, functions: the attrs keep them alive


def attrs_key(attrs: dict) -> tuple:
    return tuple(sorted((name, attr_key(v)) for name, v in attrs.items()))


def _mergeable(node: IRNode) -> bool:
    if node.op == "constant":
        return True
    opdef = get_op(node.op)
    return not (opdef.stateful or opdef.random or opdef.kind in _NEVER_MERGED)


@register_pass("cse")
def merge_common_subexpressions(program: Program) -> tuple[Program, list[str]]:
    """Keep the first of each group of equal nodes; later ones read its outputs."""
    first: dict[tuple, IRNode] = {}

    def visit(node: IRNode, rewriter: Rewriter):
        if not _mergeable(node):
            return None
        kept = first.setdefault((node.op, node.inputs, attrs_key(node.attrs)), node)
        if kept is node:
            return None
        return ("merge_constants" if node.op == "constant" else "merge_equal_nodes"), kept.outputs

    return Rewriter(visit).run(program)
