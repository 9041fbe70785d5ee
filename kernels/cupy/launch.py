"""Launch plans for generated fused kernels: from input shapes to the kernel launches (grid,
block, arguments) and the scratch partials a DAG needs -- pure Python, no CUDA, so the GPU
backend and the host harness (``kernels.cupy.harness``) run exactly the same plan.

A plan's arguments are names -- ``x<k>`` input ``k``, ``o<k>`` output ``k``, ``p<k>`` the
partials of reduction output ``k`` (``LaunchPlan.partials``) -- or Python ints, to be passed as
``numpy.int64`` (every scalar kernel parameter is a ``long long``). Launches with no work are
left out (CUDA rejects an empty grid). The lane/split choice depends only on the shapes, so
results are deterministic for given shapes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .fusion_source import CudaSource, reduction_groups

BLOCK = 256  # threads per block of every launch (the reduce kernels' MG_BLOCK)
MAX_GRID = 1 << 16  # grid-stride loops cover the rest
TARGET_THREADS = 1 << 17  # reductions split their items until about this many threads run
MIN_PER_THREAD = 16  # ... as long as each thread still folds this many elements


@dataclass(frozen=True)
class Launch:
    """One kernel launch: ``kernel(grid, block, args)`` with names resolved to arrays."""

    kernel: str
    grid: int
    block: int
    args: tuple[str | int, ...]


@dataclass(frozen=True)
class LaunchPlan:
    """The launches for one set of input shapes, the loop shape, the output shapes, and the
    scratch partials (output index, element count, dtype) to allocate."""

    shape: tuple[int, ...]
    output_shapes: tuple[tuple[int, ...], ...]
    launches: tuple[Launch, ...]
    partials: tuple[tuple[int, int, np.dtype], ...]


def loop_shape(cuda: CudaSource, input_shapes: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The loop shape for inputs of these shapes (right-aligned); ValueError unless each input
    has its pattern's extents: the loop's where it is True, 1 where it is False."""
    dag = cuda.dag
    nd, shapes = dag.ndim, [tuple(s) for s in input_shapes]
    if len(shapes) != len(dag.inputs) or any(len(s) > nd for s in shapes):
        raise ValueError(f"kernel {cuda.name} takes {len(dag.inputs)} arrays of rank <= {nd}, "
                         f"got shapes {shapes}")
    padded = [(1,) * (nd - len(s)) + s for s in shapes]
    shape = tuple(max((p[a] for p, i in zip(padded, dag.inputs) if i.pattern[a]), default=1)
                  for a in range(nd))
    for k, (p, spec) in enumerate(zip(padded, dag.inputs)):
        if p != tuple(n if full else 1 for n, full in zip(shape, spec.pattern)):
            raise ValueError(f"kernel {cuda.name}: input {k} has shape {shapes[k]}, but its "
                             f"broadcast pattern {spec.pattern} in a loop of shape {shape} "
                             "allows size 1 only where the pattern is False")
    return shape


def _grid(work: int, per_block: int = BLOCK) -> int:
    return min(-(-work // per_block), MAX_GRID)


def reduce_config(kept: int, size: int, columns: bool = False) -> tuple[int, int]:
    """(lanes, splits) for ``kept`` elements each folding ``size`` values. Lanes of one item
    read consecutive reduced elements: many when the reduction runs along rows (contiguous);
    one for ``columns`` (the last axis kept), where neighbouring threads then fold neighbouring
    kept elements -- items are numbered split-major -- and their reads coalesce."""
    lanes = 1
    while not columns and lanes < BLOCK and lanes * MIN_PER_THREAD < size:
        lanes *= 2
    splits = 1
    while (kept * lanes * splits < TARGET_THREADS
           and size // (lanes * splits * 2) >= MIN_PER_THREAD and splits < 1024):
        splits *= 2
    return lanes, splits


def plan_launches(cuda: CudaSource, input_shapes: Sequence[Sequence[int]],
                  config: tuple[int, int] | None = None) -> LaunchPlan:
    """The launches that compute ``cuda``'s DAG on inputs of these shapes. ``config`` forces
    the reductions' (lanes, splits) (tests; lanes a power of two <= ``BLOCK``)."""
    dag, shape = cuda.dag, loop_shape(cuda, input_shapes)
    total = math.prod(shape)
    dims = [total] if cuda.flat else list(shape)
    outputs = tuple(tuple(n for a, n in enumerate(shape) if a not in dag.reduced_axes(o))
                    for o in dag.outputs)
    xs = [f"x{k}" for k in range(len(dag.inputs))]
    launches, partials = [], []
    groups = iter(reduction_groups(dag))
    for spec in cuda.kernels:
        ks = list(spec.outputs)
        if spec.kind == "elementwise":
            if total:
                launches.append(Launch(spec.name, _grid(total), BLOCK,
                                       tuple(xs + [f"o{k}" for k in ks] + dims)))
            continue
        if spec.kind == "reduce":
            axes, _ = next(groups)
            kept = math.prod(n for a, n in enumerate(shape) if a not in axes)
            columns = not cuda.flat and dag.ndim - 1 not in axes
            lanes, splits = config or reduce_config(kept, total // kept if kept else 0, columns)
            if not (0 < lanes <= BLOCK and lanes & (lanes - 1) == 0 and splits > 0):
                raise ValueError(f"bad reduction config lanes={lanes}, splits={splits}")
            partials += [(k, kept * splits, cuda.partial_dtypes[k]) for k in ks]
            work = kept * splits * lanes
            args = xs + [f"p{k}" for k in ks] + dims + [splits, lanes]
        else:
            work = kept
            args = [f"p{k}" for k in ks] + [f"o{k}" for k in ks] + [kept, splits]
        if work:
            launches.append(Launch(spec.name, _grid(work), BLOCK, tuple(args)))
    return LaunchPlan(shape, outputs, tuple(launches), tuple(partials))
