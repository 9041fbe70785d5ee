"""TF1's global step: an int64 scalar variable named ``global_step`` in its own collection."""
from __future__ import annotations

import warnings

import numpy as np

from .. import dtypes
from ..graph import Graph, get_default_graph
from ..tensor import Tensor
from ..variables import GLOBAL_VARIABLES, Variable

GLOBAL_STEP = "global_step"


def get_global_step(graph: Graph | None = None):
    """The graph's global step (its collection, else a tensor named ``global_step:0``) or None."""
    graph = graph or get_default_graph()
    found = graph.get_collection(GLOBAL_STEP)
    if len(found) > 1:
        warnings.warn("Multiple tensors in global_step collection.", stacklevel=2)
        return None
    if found:
        step = found[0]
    else:
        try:
            step = graph.get_tensor_by_name("global_step:0")
        except KeyError:
            return None
        step = next((v for v in graph.get_collection(GLOBAL_VARIABLES) if v == step), step)
    assert_global_step(step)
    return step


def assert_global_step(step) -> None:
    """Raise TypeError unless ``step`` is an integer scalar tensor or variable."""
    if not isinstance(step, Tensor):
        raise TypeError(f'Existing "global_step" must be a Variable or Tensor: {step}.')
    if not dtypes.is_integer(step.dtype):
        raise TypeError(f'Existing "global_step" does not have integer type: {step.dtype}')
    if step.type.shape != ():
        raise TypeError(f'Existing "global_step" is not scalar: {step.type.shape}')


def create_global_step(graph: Graph | None = None) -> Variable:
    """A new int64 scalar ``global_step`` variable starting at 0 (not trainable)."""
    graph = graph or get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    with graph.as_default(), graph.name_scope(None), graph.control_dependencies(None):
        return Variable(np.int64(0), trainable=False, name="global_step",
                        collections=[GLOBAL_VARIABLES, GLOBAL_STEP])


def get_or_create_global_step(graph: Graph | None = None):
    """The graph's global step, created first if it has none."""
    step = get_global_step(graph)
    return create_global_step(graph) if step is None else step
