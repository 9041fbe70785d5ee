"""``fused``: a group of elementwise ops run as one kernel, built by the fusion compiler pass.

Its only attr is ``dag``, a ``kernels.scalar_expr.FusedDag`` describing the group (inputs with
their broadcast patterns, one scalar expression per member, the outputs). The NumPy reference
is the DAG interpreter, so every backend can run fused programs; code generators (Numba, CUDA)
compile the same DAG. It is created after autodiff, so it has no gradient.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from kernels.scalar_expr import FusedDag, Input, Node, Output, evaluate, pattern_of

from ..graph import TensorType, format_shape
from . import _samples
from .registry import InferError, defop


def _infer_fused(types, dag: FusedDag):
    """One type per DAG output: the broadcast shape (reduced axes dropped), the value's dtype."""
    if len(types) != len(dag.inputs):
        raise InferError(f"the fused kernel takes {len(dag.inputs)} inputs, got {len(types)}")
    for k, (t, spec) in enumerate(zip(types, dag.inputs)):
        if t.dtype != np.dtype(spec.dtype):
            raise InferError(f"fused input {k} must be {spec.dtype}, got {t.dtype}")
    dims = [_axis_size(types, dag, axis) for axis in range(dag.ndim)]
    return [TensorType(tuple(dims[a] for a in range(dag.ndim) if a not in dag.reduced_axes(out)),
                       dag.value_dtype(out.value)) for out in dag.outputs]


def _axis_size(types, dag: FusedDag, axis: int):
    """Size of ``axis``: the inputs varying along it agree on it; the others must have 1 there."""
    sizes = set()
    for k, (t, spec) in enumerate(zip(types, dag.inputs)):
        if t.shape is None:
            if spec.pattern[axis]:
                sizes.add(None)
            continue
        if len(t.shape) > dag.ndim:
            raise InferError(f"fused input {k} has rank {len(t.shape)} > the kernel's {dag.ndim}")
        offset = axis - (dag.ndim - len(t.shape))
        dim = t.shape[offset] if offset >= 0 else 1
        if spec.pattern[axis]:
            sizes.add(dim)
        elif dim not in (1, None):
            raise InferError(f"fused input {k} of shape {format_shape(t.shape)} must have size 1 "
                             f"on axis {axis} (it is broadcast there)")
    known = sizes - {None}
    if len(known) > 1:
        raise InferError(f"fused inputs disagree on the size of axis {axis}: {sorted(known)}")
    return known.pop() if known else (None if sizes else 1)


def _bind_fused(types, dag: FusedDag) -> dict:
    """Attrs for inputs of these concrete types: an input's pattern stops reading an axis in
    full where its size turned out to be 1 (a dim unknown when fusing), as NumPy broadcasts."""
    patterns = [pattern_of(t.shape, dag.ndim) for t in types]
    inputs = tuple(replace(spec, pattern=tuple(a and b for a, b in zip(spec.pattern, p)))
                   for spec, p in zip(dag.inputs, patterns))
    return {"dag": dag if inputs == dag.inputs else replace(dag, inputs=inputs)}


def _ref_fused(*arrays, dag: FusedDag):
    return tuple(evaluate(dag, arrays))


SAMPLE_DAG = FusedDag(
    inputs=(Input("float64", (True, True)), Input("float64", (False, True))),
    nodes=(Node("tanh(x0 * x1)", (0, 1), "float64"),
           Node("where(x0 > 0, x0, 0.5 * x0)", (2,), "float64"),
           Node("x0 < x1", (3, 1), "bool")),
    outputs=(Output(2), Output(4), Output(3, "sum", (1,))))
"""A small multi-output DAG: a row-broadcast input, a bool output and a row-sum epilogue."""


def _sample_fused(draw):
    """Inputs of ``SAMPLE_DAG``: a matrix and a row vector (shapes drawn, size 0 and 1 included)."""
    from hypothesis import strategies as st

    rows, cols = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    rng = _samples.rng_from(draw)
    row_shape = draw(st.sampled_from([(cols,), (1, cols)]))
    return [rng.uniform(-2, 2, (rows, cols)), rng.uniform(-2, 2, row_shape)], {"dag": SAMPLE_DAG}


defop("fused", _infer_fused, _ref_fused, kind="fused", differentiable=False,
      sample=_sample_fused, extra={"bind_attrs": _bind_fused},
      doc="elementwise ops fused into one kernel (see compiler pass fuse_elementwise); ref "
      "interprets the DAG")

__all__: list[str] = []
