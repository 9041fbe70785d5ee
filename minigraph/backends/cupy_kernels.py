"""What each IR node runs on the GPU: the cupy backend's kernel table.

Lowering only describes kernels: CUDA sources are generated (fused groups by
``kernels.cupy.fusion_source``, hand kernels from ``kernels.cupy.hand``) but nothing is
compiled, allocated or launched before the first run, so ``explain`` works without a GPU.
Kernels are chosen from explicit lists, never by silent fallback:

- ``KERNELS``: fused elementwise groups (generated CUDA), matmul (cuBLAS through
  ``cupy.matmul``, transposes as views), and the hand kernels -- softmax, log-softmax and the
  softmax cross-entropies (one row per warp or block), sum / mean / max / min / argmax /
  argmin over a run of axes, gather and scatter-add (``atomicAdd``) along an axis, one-hot;
  conv2d and its backprops (im2col / col2im kernels + cuBLAS) and max / average pooling with
  their gradients (``cupy_conv``).
  A hand kernel covers float32/float64 (indexing: bool and int32/64 too); other dtypes and
  layouts use the op's array kernel.
- ``ARRAY_OPS``: ops whose NumPy reference runs on the device as written -- CuPy implements
  NumPy's dispatch protocols, so ``np.transpose(x)`` on a CuPy array runs CuPy's transpose
  (movement, shape queries, variable assigns, the reductions the hand kernels leave, scans,
  diagonals, pads, determinants and inverses (cuSOLVER), top-k by CuPy's stable sort, masks,
  ``subtensor_update`` and the last-axis scatter by ``add.at``). Such a reference creates
  arrays only from its inputs (``np.zeros_like(x, shape=...)``, ``ops._like.arange_like``),
  never with ``np.zeros`` / ``np.asarray``, so they land on the inputs' device.
- device random ops (``cupy_random``): ``random_normal``, ``random_uniform``,
  ``truncated_normal`` and ``multinomial`` run their references with a seeded
  ``cupy.random.Generator`` (a seeded op repeats its stream in every new session, as on the
  CPU, but CuPy's numbers are not NumPy's); never captured into a CUDA graph. Ops that read
  device values to size their output (``fill`` / ``linspace`` with a size tensor,
  ``sequence_mask`` without a static ``maxlen``) run on the device but are not captured.
- ``unique`` runs on the device (CuPy's sort-based ``unique``), out of CUDA graphs: its size
  is data-dependent, so CuPy reads it back.
- ``HOST_OPS``: ops that run on the host by design: candidate samplers (the same seeded
  streams as the CPU backends; their outputs are a few ids), ``range`` (its
  bounds are read on the host to size it anyway, and its values are NumPy's),
  summaries (serialized protobufs). Inputs are copied to the host and results back.
- any other op is refused when the program is lowered (``MissingKernelError`` names it),
  unless ``MINIGRAPH_FLAGS=host_ops=True`` opts in to running it like a ``HOST_OPS`` op, with
  a warning (once per op).
- loops and branches (``scan``, ``cond``, ``while_loop`` and their gradients): the shared
  kernels of ``loop.py`` / ``control_flow.py``, their bodies compiled for the GPU; each step
  or branch is one run of a device binding (replayed as a CUDA graph when it can be), and the
  loop's arrays stay on the device.

Out-of-range ids read zeros (gather), are skipped (scatter-add, one-hot) or give a NaN loss
(sparse cross-entropy), as TF's GPU kernels do: a device kernel cannot raise.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from kernels.cupy.fusion_source import generate_cuda
from kernels.cupy.launch import plan_launches

from ..ops.registry import get_op
from . import MissingKernelError
from .cupy_device import (CudaModule, DeviceKernel, array_kernel, device_kernel, host_kernel,
                          xp)
from .cupy_conv import CONV_KERNELS
from .cupy_hand import HAND_KERNELS
from .cupy_random import DEVICE_RANDOM_OPS
from .loop import loop_kernels


# -- generated and library kernels -------------------------------------------------------------


def _fused(node) -> DeviceKernel:
    """A fused group as generated CUDA, launched as ``kernels.cupy.launch`` plans it."""
    dag = node.attrs["dag"]
    cuda = generate_cuda(dag)
    module, n_in = CudaModule.of(cuda.source), len(dag.inputs)

    def prepare(shapes):
        plan = plan_launches(cuda, shapes)
        partials = {f"p{k}": xp().empty(count, dtype) for k, count, dtype in plan.partials}
        launches = [(module.function(launch.kernel), (launch.grid,), (launch.block,),
                     tuple(a if isinstance(a, str) else np.int64(a) for a in launch.args))
                    for launch in plan.launches]

        def run(*arrays):
            named = dict(partials, **{f"x{k}": a for k, a in enumerate(arrays[:n_in])},
                         **{f"o{k}": a for k, a in enumerate(arrays[n_in:])})
            for fn, grid, block, args in launches:
                fn(grid, block, tuple(named[a] if isinstance(a, str) else a for a in args))
        return run
    # an output element depends on its own input elements only, unless something is reduced
    return device_kernel(prepare, node, [(cuda.name, cuda.source)],
                   elementwise=not any(o.reduce for o in dag.outputs))


def _matmul(node) -> DeviceKernel:
    """Batched matrix product by cuBLAS into the planned output; transposes are views, which
    CuPy hands to cuBLAS with its transpose flags."""
    transpose_a, transpose_b = node.attrs["transpose_a"], node.attrs["transpose_b"]

    def run(a, b, out):
        cupy = xp()
        cupy.matmul(cupy.swapaxes(a, -1, -2) if transpose_a else a,
                    cupy.swapaxes(b, -1, -2) if transpose_b else b, out=out)
    return DeviceKernel(run)


# -- plumbing ----------------------------------------------------------------------------------


def _getitem(node) -> Callable:
    """``x[key]`` as the device array's own indexing (the reference converts to NumPy)."""
    from ..ops.indexing import numpy_key

    def run(x, *indices, spec):
        return x[numpy_key(spec, indices)]
    run.capturable = True
    return run


def _assign(node) -> Callable:
    def run(value, var):
        return value
    run.capturable = True
    return run


def _uncaptured(node) -> Callable:
    """The op's array kernel, kept out of CUDA graphs: a random draw (a replay would have to
    advance the generator, which capture does not promise) or a read of device values on the
    host (a synchronisation, which capture forbids)."""
    run = array_kernel(node)
    run.capturable = False
    return run


SIZE_INPUTS = {"fill": 1, "linspace": 2, "sequence_mask": 1}
"""Position of an op's first input read on the host to size its output (when present)."""


def _sized(node) -> Callable:
    """An array kernel, captured unless the output size is read from a device input (or, for
    ``sequence_mask`` without ``maxlen``, from the lengths)."""
    reads = len(node.inputs) > SIZE_INPUTS[node.op] or (
        node.op == "sequence_mask" and node.attrs["maxlen"] is None)
    return _uncaptured(node) if reads else array_kernel(node)


KERNELS: dict[str, Callable] = {
    "fused": _fused,
    "matmul": _matmul,
    "getitem": _getitem,
    "assign": _assign,
    **{name: _uncaptured for name in DEVICE_RANDOM_OPS},
    **{name: _sized for name in SIZE_INPUTS},
    "unique": _uncaptured,
    **HAND_KERNELS,
    **CONV_KERNELS,
    **loop_kernels("cupy"),
}
"""Op name -> ``make(node)`` returning the node's kernel (see ``kernel.py``)."""

ARRAY_OPS = frozenset({
    # movement and shape queries
    "reshape", "transpose", "expand_dims", "squeeze", "concat", "stack", "unstack", "split",
    "expand_reduced", "broadcast_to", "tile", "placeholder_with_default", "dim", "shape",
    "size", "rank", "reduction_count",
    # elementwise ops left unfused (fusion takes them all when it can)
    "abs", "add", "broadcast_like", "cast", "ceil", "cos", "divide", "elu", "equal", "exp",
    "expm1", "floor", "floordiv", "greater", "greater_equal", "identity", "leaky_relu", "less",
    "less_equal", "log", "log1p", "logical_and", "logical_not", "logical_or", "maximum",
    "minimum", "mod", "multiply", "negative", "not_equal", "ones_like_value", "pow",
    "reciprocal", "relu", "relu6", "round", "rsqrt", "sigmoid",
    "sigmoid_cross_entropy_with_logits", "sign", "sin", "softplus", "sqrt", "square",
    "stop_gradient", "subtract", "tanh", "where", "zeros_like_value", "clip_by_value",
    # reductions and row ops in layouts or dtypes the hand kernels do not take
    "reduce_logsumexp", "reduce_prod", "take_along_last_axis",
    # scans, diagonals, pads, linear algebra, rankings and scatters (device-safe references)
    "cumsum", "cumprod", "prod_grad", "diag", "diag_part", "matrix_diag", "matrix_diag_part",
    "matrix_set_diag", "matrix_determinant", "matrix_inverse", "pad", "pad_grad", "top_k",
    "in_top_k", "scatter_along_last_axis", "subtensor_update",
    # state and plumbing
    "assign_add", "assign_sub", "group", "custom_gradient", "scan_step",
})
"""Ops whose NumPy reference CuPy runs on the device (checked by the tests against a strict
stand-in for CuPy that refuses implicit host conversion)."""

HOST_OPS = frozenset({
    "range", "log_uniform_candidate_sampler", "uniform_candidate_sampler",
    "fixed_unigram_candidate_sampler", "compute_accidental_hits",
    "scalar_summary", "histogram_summary", "image_summary", "text_summary", "merge_summary",
    "scatter_add", "scatter_sub", "scatter_update",
})
"""Ops run on the host by design (see the module docstring); a scatter op runs here only when
its value is read -- otherwise the runner updates the variable's rows on the device."""

_WARNED: set = set()


def cupy_kernel(node, host_ops: bool = False) -> Callable:
    """The kernel running ``node`` (see the module docstring for the order of choice); with
    ``host_ops``, an op without one runs its NumPy reference on the host, with a warning."""
    try:
        return _device_kernel(node)
    except MissingKernelError:
        if not host_ops:
            raise
    if node.op not in _WARNED:
        _WARNED.add(node.op)
        dtypes = ", ".join(sorted({str(v.type.dtype) for v in node.inputs}))
        warnings.warn(f"the cupy backend has no kernel for op {node.op!r} on {dtypes} inputs: "
                      "running its NumPy reference on the host (host_ops=True), copying its "
                      "inputs and results through host memory", RuntimeWarning, stacklevel=2)
    return host_kernel(node)


def _device_kernel(node) -> Callable:
    """The device (or by-design host) kernel of ``node``; ``MissingKernelError`` if none."""
    make = KERNELS.get(node.op)
    if make is not None:
        return make(node)
    if node.op in ARRAY_OPS:
        return array_kernel(node)
    if node.op in HOST_OPS:
        return host_kernel(node)
    opdef = get_op(node.op)
    raise MissingKernelError(
        f"the cupy backend has no kernel for op {node.op!r} (kind {opdef.kind!r}), needed by "
        f"{node.describe()}; set MINIGRAPH_FLAGS=host_ops=True to "
        "run its NumPy reference on the host (slow: through host memory), run on a CPU "
        "backend, or add a kernel to minigraph.backends.cupy_kernels")
