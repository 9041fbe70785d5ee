"""Structural checks of a Program, run after every pass in debug mode."""
from __future__ import annotations

from .ir import Program


def verify(program: Program, after: str = "") -> None:
    """Raise ``AssertionError`` unless every node's inputs are defined before it is used."""
    defined = {v for node in program.inputs for v in node.outputs}
    for node in program.nodes:
        for value in node.inputs:
            if value not in defined:
                raise AssertionError(f"after pass {after!r}: {node.describe()} uses a value "
                                     f"that is not computed before it")
        defined.update(node.outputs)
    for value in program.outputs:
        if value is not None and value not in defined:
            raise AssertionError(f"after pass {after!r}: a fetched value is never computed")
