"""Compiled fused elementwise kernels: ``compile_fused(dag)`` generates (``fusion_source``),
writes (``cache``) and imports a DAG's module once per process; ``FusedKernel.prepare(shapes)``
takes every per-call decision once and returns the bare compiled call.
"""
from __future__ import annotations

import functools
import math as _math
from typing import Callable, Sequence

import numba
import numpy as np

from ..scalar_expr import FusedDag
from .cache import load_module
from .fusion_source import TILE, generate_source, loop_layout, partial_dtype

__all__ = ["PARALLEL_MIN_SIZE", "TILE", "FusedKernel", "compile_fused", "generate_source"]

PARALLEL_MIN_SIZE = 100_000


class FusedKernel:
    """A compiled fused DAG. ``prepare(shapes)`` returns the bare call for inputs of those
    shapes; ``run`` (into caller buffers) and calling the kernel (fresh outputs) check their
    arguments, take any layout and use it.
    """

    def __init__(self, dag: FusedDag, source: str, module):
        self.dag, self.source, self.module = dag, source, module
        self.output_dtypes = tuple(dag.value_dtype(o.value) for o in dag.outputs)
        self._kept = tuple(tuple(a for a in range(dag.ndim) if a not in dag.reduced_axes(o))
                           for o in dag.outputs)
        self._prepared: dict = {}

    def broadcast_shape(self, input_shapes: Sequence[Sequence[int]]) -> tuple[int, ...]:
        """The loop shape for inputs of these shapes; ValueError unless every input has the DAG's
        broadcast pattern (size 1 where it is broadcast, the loop's size where it is read)."""
        nd, specs = self.dag.ndim, self.dag.inputs
        shapes = [tuple(s) for s in input_shapes]
        if len(shapes) != len(specs) or any(len(s) > nd for s in shapes):
            raise ValueError(f"the fused kernel takes {len(specs)} arrays of rank <= {nd}, got "
                             f"shapes {shapes}")
        for k, (s, spec) in enumerate(zip(shapes, specs)):
            if len(s) < _reach(spec.pattern):
                raise ValueError(f"fused kernel input {k} has shape {s}, but the kernel reads it "
                                 f"along axis {nd - _reach(spec.pattern)} of {nd}")
        padded = [(1,) * (nd - len(s)) + s for s in shapes]
        shape = tuple(max((dims[a] for dims, spec in zip(padded, specs) if spec.pattern[a]),
                          default=1) for a in range(nd))
        for k, (dims, spec) in enumerate(zip(padded, specs)):
            if dims != tuple(n if full else 1 for n, full in zip(shape, spec.pattern)):
                raise ValueError(
                    f"fused kernel input {k} has shape {shapes[k]}, but the kernel reads it with "
                    f"broadcast pattern {spec.pattern} in a loop of shape {shape} (input shapes "
                    f"{shapes}): size 1 is allowed only where the pattern is False")
        return shape

    def output_shapes(self, input_shapes) -> tuple[tuple[int, ...], ...]:
        """Shapes of the outputs for inputs of these shapes."""
        shape = self.broadcast_shape(input_shapes)
        return tuple(tuple(shape[a] for a in kept) for kept in self._kept)

    def prepare(self, input_shapes, parallel: bool | None = None) -> Callable:
        """``call(*inputs, *outputs)`` for C-contiguous inputs of exactly these shapes and the
        DAG's dtypes, writing C-contiguous outputs of ``output_shapes``; an elementwise output
        may be a full-shape input's own array. Nothing is checked at call time. ``parallel=None``
        goes parallel from ``PARALLEL_MIN_SIZE`` elements. The call owns scratch buffers: do not
        run it from two threads at once."""
        shape = self.broadcast_shape(input_shapes)
        total = _math.prod(shape)
        if parallel is None:
            parallel = total >= PARALLEL_MIN_SIZE
        nchunk = numba.get_num_threads() if parallel else 1
        plan = loop_layout(self.dag)
        partials = tuple(np.empty(nchunk * _math.prod(shape[a] for a in self._kept[k]),
                                  partial_dtype(plan, k, o.reduce, self.output_dtypes[k]))
                         for k, o in enumerate(self.dag.outputs) if o.reduce)
        bound = ((nchunk,) if nchunk > 1 else ()) + partials
        fn = self.module.parallel if nchunk > 1 else self.module.serial
        return functools.partial(fn, *bound) if bound else fn

    def __call__(self, *inputs, parallel: bool | None = None) -> list[np.ndarray]:
        """Outputs of the DAG on ``inputs``, in fresh arrays."""
        inputs = [np.asarray(x) for x in inputs]
        outputs = [np.empty(shape, dtype) for shape, dtype in
                   zip(self.output_shapes([x.shape for x in inputs]), self.output_dtypes)]
        self.run(inputs, outputs, parallel)
        return outputs

    def run(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
            parallel: bool | None = None) -> None:
        """Write the DAG's outputs into ``outputs`` (any layout; copies make them contiguous)."""
        inputs = [np.asarray(x) for x in inputs]
        self._check(inputs, outputs)
        inputs = [x.reshape((1,) * (_reach(spec.pattern) - x.ndim) + x.shape)
                  if x.ndim < _reach(spec.pattern) else x
                  for x, spec in zip(inputs, self.dag.inputs)]
        inputs = [x if x.flags.c_contiguous else np.ascontiguousarray(x) for x in inputs]
        targets = [o if o.flags.c_contiguous else np.empty(o.shape, o.dtype) for o in outputs]
        key = (tuple(x.shape for x in inputs), parallel)
        call = self._prepared.get(key)
        if call is None:
            call = self._prepared[key] = self.prepare(key[0], parallel)
        call(*inputs, *targets)
        for out, target in zip(outputs, targets):
            if target is not out:
                np.copyto(out, target)

    def _check(self, inputs, outputs):
        for k, (x, spec) in enumerate(zip(inputs, self.dag.inputs)):
            if x.dtype != spec.dtype:
                raise ValueError(f"fused kernel input {k} is {x.dtype}{list(x.shape)}; the "
                                 f"kernel wants {spec.dtype}")
        shapes = self.output_shapes([x.shape for x in inputs])
        for k, (out, shape) in enumerate(zip(outputs, shapes, strict=True)):
            if out.shape != shape or out.dtype != self.output_dtypes[k]:
                raise ValueError(f"fused kernel output {k} must be {self.output_dtypes[k]}"
                                 f"{list(shape)}, got {out.dtype}{list(out.shape)}")


def _reach(pattern: Sequence[bool]) -> int:
    """Least rank of an input read with ``pattern``: it must reach its first full axis."""
    return next((len(pattern) - a for a, full in enumerate(pattern) if full), 0)


_KERNELS: dict[tuple[FusedDag, str], FusedKernel] = {}


def compile_fused(dag: FusedDag, math: str = "auto") -> FusedKernel:
    """The kernel for ``dag`` (generated, written and imported once per process)."""
    kernel = _KERNELS.get((dag, math))
    if kernel is None:
        source = generate_source(dag, math)
        kernel = _KERNELS[dag, math] = FusedKernel(dag, source, load_module(source))
    return kernel
