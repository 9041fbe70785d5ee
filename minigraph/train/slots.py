"""Optimizer state variables: per-variable slots and per-graph extras (Adam's beta powers).

A slot follows its primary variable's kind: a Theano ``shared`` variable gets shared slots (its
state lives outside sessions, so ``mg.function`` works without an initializer); a TF
``Variable`` gets non-trainable ``Variable`` slots initialised by the global initializer.
"""
from __future__ import annotations

import numpy as np

from ..ops.elementwise import zeros_like_value
from ..ops.state import constant
from ..tensor import Tensor
from ..variables import SharedVariable, Variable


def create_slot(primary: Tensor, fill: float, name: str) -> Variable:
    """A non-trainable variable shaped like ``primary``, filled with ``fill``, named
    ``<primary>/<name>`` outside any user name scope or control dependencies (as TF1 does)."""
    graph = primary.graph
    with graph.as_default(), graph.name_scope(primary.node.name + "/"), \
            graph.control_dependencies(None):
        return state_variable(primary, _filled_like(primary, fill), name)


def state_variable(like: Tensor, initial, name: str) -> Variable:
    """A non-trainable variable of ``like``'s kind (shared or TF) holding ``initial``; a tensor
    ``initial`` always gives a TF ``Variable`` (shared values must be concrete)."""
    graph = like.graph
    with graph.as_default(), graph.control_dependencies(None):
        if isinstance(like, SharedVariable) and isinstance(initial, np.ndarray):
            return SharedVariable(initial, name=name, trainable=False)
        return Variable(initial, trainable=False, name=name)


def _filled_like(primary: Tensor, fill: float):
    """``fill`` in ``primary``'s shape: an array when static, else a tensor of its initial value."""
    shape = primary.type.shape
    if shape is not None and None not in shape:
        return np.full(shape, fill, dtype=primary.dtype)
    initial = getattr(primary, "initial_value", None)
    if initial is None:
        raise ValueError(f"cannot create an optimizer slot for {primary.name!r}: its shape "
                         "is not static and it has no initial value")
    return zeros_like_value(initial) + constant(fill, dtype=primary.dtype)
