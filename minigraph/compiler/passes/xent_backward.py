"""``fuse_xent_backward``: a cross-entropy and the softmax of its logits become one op.

The gradient of (sparse) softmax cross-entropy recomputes ``softmax(logits)``; this pass replaces
the pair by ``fused_softmax_cross_entropy`` / ``fused_sparse_softmax_cross_entropy``, whose
outputs are ``(loss, softmax)``, so a kernel reads the logits once for both.

Guarantees: the same values are computed (the fused op's reference is the two ops' references);
only softmaxes over the last axis of the very same logits value are fused (the cross-entropy's
axis must be the last too), each with at most one cross-entropy. The fused node takes the
earlier of the two positions, and only when the labels are computed before it, so the program
stays in topological order.
"""
from __future__ import annotations

from dataclasses import replace

from ...ops.fused_xent import FUSED, XENT
from ..ir import IRNode, Program, Value
from ..pipeline import register_pass
from ..rewrite import make_node


def _last_axis(value: Value, axis: int) -> bool:
    """Whether ``axis`` of ``value`` is its last axis."""
    shape = value.type.shape
    return axis == -1 or (shape is not None and axis == len(shape) - 1)


def _fusable(xent: IRNode) -> bool:
    return xent.op != XENT or _last_axis(xent.inputs[1], xent.attrs["axis"])


def _pairs(program: Program) -> dict:
    """``{first node: (cross-entropy, softmax)}`` for each pair to fuse."""
    order = {node: k for k, node in enumerate(program.nodes)}
    softmaxes: dict = {}
    for node in program.nodes:
        if node.op == "softmax" and _last_axis(node.inputs[0], node.attrs["axis"]):
            softmaxes.setdefault(node.inputs[0], node)
    pairs = {}
    for xent in program.nodes:
        softmax = softmaxes.get(xent.inputs[-1]) if xent.op in FUSED else None
        if softmax is None or not _fusable(xent):
            continue
        first = min(xent, softmax, key=order.__getitem__)
        labels = xent.inputs[0].node
        if labels.op == "input" or order[labels] < order[first]:
            pairs[first] = (xent, softmax)
            del softmaxes[xent.inputs[-1]]
    return pairs


@register_pass("fuse_xent_backward")
def fuse_xent_backward(program: Program) -> tuple[Program, list[str]]:
    """Replace each fusable (cross-entropy, softmax) pair by its two-output fused op."""
    pairs = _pairs(program)
    if not pairs:
        return program, []
    values: dict[Value, Value] = {}
    fused_away = {softmax for _, softmax in pairs.values()} | {x for x, _ in pairs.values()}
    nodes, copies = [], {}
    for node in program.nodes:
        if node in pairs:
            xent, softmax = pairs[node]
            fused = make_node(FUSED[xent.op], [values.get(v, v) for v in xent.inputs],
                              dict(xent.attrs), xent.origin)
            values[xent.outputs[0]], values[softmax.outputs[0]] = fused.outputs
            nodes.append(fused)
        elif node not in fused_away:
            copies[node] = _with_inputs(node, [values.get(v, v) for v in node.inputs])
            values.update(zip(node.outputs, copies[node].outputs))
            nodes.append(copies[node])
    program = replace(program, inputs=list(program.inputs), nodes=nodes,
                      outputs=[None if v is None else values.get(v, v) for v in program.outputs],
                      writes={var: copies[node] for var, node in program.writes.items()})
    return program, ["fuse_xent_softmax"] * len(pairs)


def _with_inputs(node: IRNode, inputs: list) -> IRNode:
    """``node`` itself when its inputs are unchanged, else a copy reading ``inputs``."""
    if tuple(inputs) == node.inputs:
        return node
    return IRNode(node.op, inputs, dict(node.attrs), node.out_types, node.origin)
