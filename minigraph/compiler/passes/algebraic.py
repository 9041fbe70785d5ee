"""``algebraic``: remove operations that provably do nothing and merge movement pairs.

Guarantees: every rule keeps each value's dtype and run-time shape. Neutral operands
(``x*1``, ``1*x``, ``x+0``, ``0+x``, ``x-0``, ``x/1``) are dropped only when they are
constants filled with the neutral element whose broadcasting cannot change ``x``'s shape and
the result has ``x``'s dtype; values are unchanged except that ``-0.0 + 0`` gives ``-0.0``
instead of ``0.0``. ``0*x`` is kept (NaN and inf times zero are not zero). Transposes compose
and reshapes collapse (reshape keeps row-major order, so ``reshape(reshape(x, a), b)`` equals
``reshape(x, b)``); a matmul absorbs a transpose of its operand's last two axes into its BLAS
transpose flag. ``sum_to``/``broadcast_like`` between equal static shapes, and a ``sum_to``
repeated onto the same target, are dropped. ``identity`` and ``stop_gradient`` are dropped:
gradients are built before compilation, so at run time both only pass their input through.
"""
from __future__ import annotations

import numpy as np

from ..ir import IRNode, Program, Value
from ..pipeline import register_pass
from ..rewrite import Rewriter, RuleSet, constant_array, keeps_shape, producer

RULES = RuleSet()


def _neutral_operand(node: IRNode, neutral, orders) -> Value | None:
    """``x`` of ``x op c`` when ``c`` is a constant of ``neutral``s that cannot reshape ``x``."""
    for keep, other in orders:
        x, array = node.inputs[keep], constant_array(node.inputs[other])
        if (array is not None and x.type.dtype == node.out_types[0].dtype
                and keeps_shape(x.type, array.shape) and bool(np.all(array == neutral))):
            return x
    return None


_EITHER, _LEFT = ((0, 1), (1, 0)), ((0, 1),)


@RULES.rule("multiply_by_one", "multiply")
def _multiply_by_one(node, rewriter):
    return _neutral_operand(node, 1, _EITHER)


@RULES.rule("add_zero", "add")
def _add_zero(node, rewriter):
    return _neutral_operand(node, 0, _EITHER)


@RULES.rule("subtract_zero", "subtract")
def _subtract_zero(node, rewriter):
    return _neutral_operand(node, 0, _LEFT)


@RULES.rule("divide_by_one", "divide")
def _divide_by_one(node, rewriter):
    return _neutral_operand(node, 1, _LEFT)


@RULES.rule("double_negation", "negative")
def _double_negation(node, rewriter):
    inner = producer(node.inputs[0], "negative")
    return None if inner is None else inner.inputs[0]


@RULES.rule("identity", "identity", "stop_gradient")
def _identity(node, rewriter):
    return node.inputs[0]


@RULES.rule("cast_to_same_dtype", "cast")
def _cast_to_same_dtype(node, rewriter):
    x = node.inputs[0]
    return x if x.type.dtype == node.attrs["dtype"] else None


def permutation(node: IRNode) -> tuple | None:
    """A transpose node's permutation (``perm=None`` reverses the axes), if the rank is known."""
    perm = node.attrs["perm"]
    if perm is not None:
        return tuple(perm)
    shape = node.inputs[0].type.shape
    return None if shape is None else tuple(reversed(range(len(shape))))


@RULES.rule("transpose_identity", "transpose")
def _transpose_identity(node, rewriter):
    perm = permutation(node)
    return node.inputs[0] if perm is not None and perm == tuple(range(len(perm))) else None


@RULES.rule("transpose_of_transpose", "transpose")
def _transpose_of_transpose(node, rewriter):
    inner = producer(node.inputs[0], "transpose")
    if inner is None:
        return None
    outer_perm, inner_perm = permutation(node), permutation(inner)
    if outer_perm is None or inner_perm is None:
        return None
    composed = tuple(inner_perm[p] for p in outer_perm)
    return rewriter.emit("transpose", [inner.inputs[0]], {"perm": composed})


@RULES.rule("reshape_to_same_shape", "reshape")
def _reshape_to_same_shape(node, rewriter):
    x, shape = node.inputs[0], node.out_types[0].shape
    return x if shape is not None and None not in shape and x.type.shape == shape else None


@RULES.rule("reshape_of_reshape", "reshape")
def _reshape_of_reshape(node, rewriter):
    inner = producer(node.inputs[0], "reshape")
    target = node.attrs["shape"]
    if inner is None or (target is not None and any(isinstance(d, tuple) for d in target)):
        return None  # ("dim", j) hints name dims of the inner result, not of its input
    return rewriter.emit("reshape", [inner.inputs[0], *node.inputs[1:]], dict(node.attrs))


@RULES.rule("reshape_to_constant_shape", "reshape")
def _reshape_to_constant_shape(node, rewriter):
    """A shape vector known at compile time (``shape(x)`` folded once the fed shapes are
    bound) becomes the static attr, so the result's shape is known and planned statically."""
    vector = constant_array(node.inputs[1]) if len(node.inputs) > 1 else None
    if vector is None:
        return None
    return rewriter.emit("reshape", [node.inputs[0]], {"shape": tuple(int(d) for d in vector)})


def _static(t) -> bool:
    return t.shape is not None and None not in t.shape


@RULES.rule("sum_to_same_shape", "sum_to")
@RULES.rule("broadcast_to_same_shape", "broadcast_like")
def _to_same_shape(node, rewriter):
    x, like = node.inputs
    return x if _static(x.type) and x.type.shape == like.type.shape else None


@RULES.rule("repeated_sum_to", "sum_to")
def _repeated_sum_to(node, rewriter):
    inner = producer(node.inputs[0], "sum_to")
    return inner.outputs[0] if inner is not None and inner.inputs[1] == node.inputs[1] else None


def _swaps_last_two(node: IRNode) -> bool:
    perm = permutation(node)
    if perm is None or len(perm) < 2:
        return False
    rank = len(perm)
    return perm == tuple(range(rank - 2)) + (rank - 1, rank - 2)


@RULES.rule("matmul_transpose_flag", "matmul")
def _matmul_transpose_flag(node, rewriter):
    inputs, attrs, changed = list(node.inputs), dict(node.attrs), False
    for i, flag in enumerate(("transpose_a", "transpose_b")):
        inner = producer(inputs[i], "transpose")
        if inner is not None and _swaps_last_two(inner):
            inputs[i], attrs[flag], changed = inner.inputs[0], not attrs[flag], True
    return rewriter.emit("matmul", inputs, attrs) if changed else None


@register_pass("algebraic")
def simplify_algebraically(program: Program) -> tuple[Program, list[str]]:
    """Apply ``RULES`` to every node in order (and to the nodes the rules build)."""
    return Rewriter(RULES.visit).run(program)
