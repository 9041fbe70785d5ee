"""``stabilise``: replace numerically fragile expressions by the stable primitives.

Guarantees: each rewrite computes the same mathematical value; where the original overflows
or takes ``log(0)`` (e.g. logits of +-1e4) the rewritten form stays finite.

- ``log(softmax(x))`` -> ``log_softmax(x)`` (same axis)
- ``log(sigmoid(x))`` -> ``-softplus(-x)``
- ``log(1 + exp(x))``, ``log(exp(x) + 1)``, ``log1p(exp(x))`` -> ``softplus(x)`` (the ``1``
  must be a constant of ones that cannot change ``exp(x)``'s shape)
- ``-reduce_sum(labels * log_softmax(logits), axis)`` (negations anywhere on the sum, the
  product or either factor, an odd number of them) -> ``softmax_cross_entropy_with_logits``
  when the sum runs over the softmax axis without keepdims and labels and logits have the
  same dtype and the same static shape. Dims unknown in both are taken to be equal at run
  time, as the op's shape rule requires (its NumPy reference also broadcasts them).

Rules see the rewritten inputs, so ``log(softmax)`` inside a cross-entropy becomes
``log_softmax`` before the cross-entropy rule looks at the sum. Gradient graphs built from the
fragile form are not rewritten: build training losses from the stable ops.
"""
from __future__ import annotations

import numpy as np

from ..ir import IRNode, Program, Value
from ..pipeline import register_pass
from ..rewrite import Rewriter, RuleSet, constant_array, keeps_shape, producer

RULES = RuleSet()


@RULES.rule("log_softmax", "log")
def _log_softmax(node, rewriter):
    inner = producer(node.inputs[0], "softmax")
    return None if inner is None else rewriter.emit("log_softmax", [inner.inputs[0]],
                                                    dict(inner.attrs))


@RULES.rule("log_sigmoid", "log")
def _log_sigmoid(node, rewriter):
    inner = producer(node.inputs[0], "sigmoid")
    if inner is None:
        return None
    negated = rewriter.emit("negative", [inner.inputs[0]], {})
    return rewriter.emit("negative", [rewriter.emit("softplus", [negated], {})], {})


def _exp_plus_one(value: Value) -> IRNode | None:
    """The ``exp`` node of ``exp(x) + 1`` or ``1 + exp(x)`` when the ones keep its shape."""
    add = producer(value, "add")
    if add is None:
        return None
    for e, c in ((0, 1), (1, 0)):
        exp, ones = producer(add.inputs[e], "exp"), constant_array(add.inputs[c])
        if (exp is not None and ones is not None and bool(np.all(ones == 1))
                and keeps_shape(exp.out_types[0], ones.shape)):
            return exp
    return None


@RULES.rule("softplus", "log", "log1p")
def _softplus(node, rewriter):
    source = node.inputs[0]
    exp = producer(source, "exp") if node.op == "log1p" else _exp_plus_one(source)
    return None if exp is None else rewriter.emit("softplus", [exp.inputs[0]], {})


def _strip_negations(value: Value) -> tuple[Value, int]:
    """``value`` under any chain of ``negative`` nodes, and the sign (+1/-1) they amount to."""
    sign = 1
    while value.node.op == "negative":
        value, sign = value.node.inputs[0], -sign
    return value, sign


def _cross_entropy_parts(node: IRNode):
    """``(reduce_sum node, labels, log_softmax node)`` when ``node`` negates such a sum."""
    total, sign = _strip_negations(node.outputs[0])
    reduce = producer(total, "reduce_sum")
    if reduce is None:
        return None
    product, s = _strip_negations(reduce.inputs[0])
    multiply = producer(product, "multiply")
    if multiply is None:
        return None
    a, sa = _strip_negations(multiply.inputs[0])
    b, sb = _strip_negations(multiply.inputs[1])
    if sign * s * sa * sb != -1:
        return None
    for labels, log_probs in ((a, b), (b, a)):
        lsm = producer(log_probs, "log_softmax")
        if lsm is not None:
            return reduce, labels, lsm
    return None


@RULES.rule("softmax_cross_entropy", "negative", "reduce_sum")
def _softmax_cross_entropy(node, rewriter):
    parts = _cross_entropy_parts(node)
    if parts is None:
        return None
    reduce, labels, lsm = parts
    logits = lsm.inputs[0]
    shape = logits.type.shape
    if shape is None or not shape or labels.type != logits.type:
        return None
    axis = lsm.attrs["axis"] % len(shape)
    summed = reduce.attrs["axis"]
    summed = tuple(range(len(shape))) if summed is None else tuple(summed)
    if reduce.attrs["keepdims"] or summed != (axis,):
        return None
    return rewriter.emit("softmax_cross_entropy_with_logits", [labels, logits], {"axis": axis})


@register_pass("stabilise")
def stabilise(program: Program) -> tuple[Program, list[str]]:
    """Apply ``RULES`` to every node in order (and to the nodes the rules build)."""
    return Rewriter(RULES.visit).run(program)
