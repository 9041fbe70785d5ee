"""Structural and type checks of a Program, run after every pass in debug mode."""
from __future__ import annotations

from ..graph import TensorType
from ..ops.registry import InferError, get_op
from .ir import IRNode, Program
from .rewrite import compatible


def verify(program: Program, after: str = "") -> None:
    """Raise ``AssertionError`` unless the program is well formed: every node listed once and
    after the nodes it reads, fetched values and writes computed by listed nodes, and every
    node's declared types compatible with what its op infers from its inputs' types."""
    where = f"after pass {after!r}: " if after else ""
    defined = {v for node in program.inputs for v in node.outputs}
    listed: set[IRNode] = set()
    for node in program.nodes:
        if node in listed:
            raise AssertionError(f"{where}{node.describe()} is listed twice")
        listed.add(node)
        for value in node.inputs:
            if value not in defined:
                raise AssertionError(f"{where}{node.describe()} uses a value "
                                     f"that is not computed before it")
        defined.update(node.outputs)
        _check_types(node, where)
    for value in program.outputs:
        if value is not None and value not in defined:
            raise AssertionError(f"{where}a fetched value is never computed")
    for var, node in program.writes.items():
        if node not in listed or node.attrs.get("var") is not var:
            raise AssertionError(f"{where}the write of variable '{var.name}' is not a listed "
                                 "state op assigning it")


def _check_types(node: IRNode, where: str) -> None:
    """Re-infer the node's output types; a rewrite may refine them but not contradict them."""
    try:
        inferred = get_op(node.op).infer([v.type for v in node.inputs], **node.attrs)
    except InferError as err:
        raise AssertionError(f"{where}{node.describe()} no longer type-checks: {err}") from None
    inferred = [inferred] if isinstance(inferred, TensorType) else list(inferred)
    if len(inferred) != len(node.out_types) or not all(
            compatible(a, b) for a, b in zip(inferred, node.out_types)):
        got = ", ".join(t.describe() for t in inferred)
        declared = ", ".join(t.describe() for t in node.out_types)
        raise AssertionError(f"{where}{node.describe()} declares {declared} but its inputs "
                             f"give {got}")

