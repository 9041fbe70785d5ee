"""Host harness: runs generated CUDA on the CPU, so its numerics are checked without a GPU.

``HostKernels(cuda)`` compiles the generated source -- the same text, by nvcc, for the host --
plus a few ``extern "C"`` host functions into a shared library loaded with ctypes:

* ``host_eval_<name>``: every output's ``__host__ __device__`` scalar function over flat,
  pre-broadcast arrays (``HostKernels.scalar``);
* ``host_<kernel>(grid, block, args)`` per kernel: the launch emulated block by block and
  thread by thread, calling the kernel's own ``__host__ __device__`` thread bodies, folds and
  tree-combine steps in the order the device runs them (``HostKernels.run`` executes the
  launch plan of ``kernels.cupy.launch`` with these). Only the kernels' thin shells -- thread
  indices, ``__shared__`` arrays, ``__syncthreads`` -- are mirrored rather than shared.

The host build links the host's libm, not CUDA's device math library: CUDA documents its
float32 functions within 1-4 ulp of the correctly rounded result, which tests allow for.
"""
from __future__ import annotations

import ctypes
from typing import Sequence

import numpy as np

from .cuda_expr import ctype
from .fusion_source import CudaSource, KernelSpec, reduction_groups
from .launch import LaunchPlan, plan_launches
from .nvcc import build_host_library


def _unpack(spec: KernelSpec) -> list[str]:
    return [f"  {c} {name} = *({c}*)args[{i}];" for i, (c, name) in enumerate(spec.params)]


def _call_names(spec: KernelSpec) -> list[str]:
    return [name for _, name in spec.params]


def _eval_loop(cuda: CudaSource) -> list[str]:
    dag = cuda.dag
    lines = [f'extern "C" void host_eval_{cuda.name}(long long n, void** ins, void** outs) {{']
    lines += [f"  const {ctype(i.dtype)}* x{k} = (const {ctype(i.dtype)}*)ins[{k}];"
              for k, i in enumerate(dag.inputs)]
    for k, out in enumerate(dag.outputs):
        c = ctype(dag.value_dtype(out.value))
        lines.append(f"  {c}* o{k} = ({c}*)outs[{k}];")
    reads = ", ".join(f"x{k}[i]" for k in range(len(dag.inputs)))
    lines += ["  for (long long i = 0; i < n; ++i) {"]
    lines += [f"    o{k}[i] = {fn}({reads});" for k, fn in enumerate(cuda.scalar_functions)]
    return lines + ["  }", "}", ""]


def _elementwise(cuda: CudaSource, spec: KernelSpec) -> list[str]:
    names = ", ".join(_call_names(spec))
    return ["  for (long long b = 0; b < grid; ++b)",
            "    for (long long t = 0; t < block; ++t)",
            f"      {cuda.name}_ew_thread(b * block + t, grid * block, {names});"]


def _reduce(cuda: CudaSource, spec: KernelSpec, axes: tuple[int, ...]) -> list[str]:
    ks, name = spec.outputs, spec.name
    kept = " * ".join(f"d{a}" for a in range(cuda.dag.ndim) if a not in axes)
    kept = "1LL" if cuda.flat or not kept else kept
    acc = {k: next(c for c, n in spec.params if n == f"p{k}").rstrip("*") for k in ks}
    accs = [f"a{k}" for k in ks]
    thread_args = accs + ["item", "lane", "lanes", "splits"] + \
        [n for _, n in spec.params if n[0] in "xd" or n == "n"]
    return [
        *[f"  static {acc[k]} s{k}[MG_BLOCK];" for k in ks],
        f"  const long long items = {kept} * splits, per_block = block / lanes;",
        "  for (long long b = 0; b < grid; ++b)",
        "    for (long long base = b * per_block; base < items; base += grid * per_block) {",
        "      for (int t = 0; t < block; ++t) {",
        "        const long long item = base + t / lanes, lane = t % lanes;",
        f"        {' '.join(f'{acc[k]} a{k};' for k in ks)}",
        f"        {name}_init({', '.join(accs)});",
        f"        if (item < items) {name}_thread({', '.join(thread_args)});",
        *[f"        s{k}[t] = a{k};" for k in ks],
        "      }",
        "      for (long long w = lanes / 2; w > 0; w /= 2)",
        "        for (int t = 0; t < block; ++t)",
        f"          if (t % lanes < w) {name}_combine({', '.join(f's{k}' for k in ks)}, t, "
        "t + (int)w);",
        "      for (int t = 0; t < block; ++t)",
        "        if (t % lanes == 0 && base + t / lanes < items) {",
        *[f"          p{k}[base + t / lanes] = s{k}[t];" for k in ks],
        "        }",
        "    }"]


def _finish(cuda: CudaSource, spec: KernelSpec) -> list[str]:
    arrays = ", ".join(n for _, n in spec.params if n[0] in "po")
    return ["  for (long long b = 0; b < grid; ++b)",
            "    for (long long t = 0; t < block; ++t)",
            "      for (long long j = b * block + t; j < kept; j += grid * block)",
            f"        {spec.name}_one(j, {arrays}, kept, splits);"]


def host_code(cuda: CudaSource) -> str:
    """The harness's host functions for ``cuda`` (appended to its source)."""
    lines = ["", "// ---- host harness ----", *_eval_loop(cuda)]
    groups = iter(reduction_groups(cuda.dag))
    for spec in cuda.kernels:
        lines += [f'extern "C" void host_{spec.name}(long long grid, long long block, '
                  'void** args) {', *_unpack(spec)]
        if spec.kind == "elementwise":
            lines += _elementwise(cuda, spec)
        elif spec.kind == "reduce":
            lines += _reduce(cuda, spec, next(groups)[0])
        else:
            lines += _finish(cuda, spec)
        lines += ["}", ""]
    return "\n".join(lines)


def _data_pointers(arrays: Sequence[np.ndarray]) -> ctypes.Array:
    """A ``void*[]`` of the arrays' data pointers."""
    return (ctypes.c_void_p * max(len(arrays), 1))(*[a.ctypes.data for a in arrays])


def _pointer_array(values: Sequence) -> tuple[ctypes.Array, list]:
    """A ``void*[]`` pointing at each value (as cuLaunchKernel's kernelParams), and the holders
    that keep them alive."""
    holders = [ctypes.c_void_p(v.ctypes.data) if isinstance(v, np.ndarray) else
               ctypes.c_longlong(int(v)) for v in values]
    argv = (ctypes.c_void_p * max(len(holders), 1))(*[ctypes.addressof(h) for h in holders])
    return argv, holders


def _filled(shape, dtype) -> np.ndarray:
    """A fresh array whose every byte is 0xA5, so elements a kernel never writes show up."""
    return np.full(int(np.prod(shape)) * np.dtype(dtype).itemsize, 0xA5,
                   np.uint8).view(dtype).reshape(shape)


class HostKernels:
    """The generated kernels of one ``CudaSource`` built for, and run on, the CPU."""

    def __init__(self, cuda: CudaSource, arch: str = "sm_90"):
        self.cuda = cuda
        self.library_path, self.ptx = build_host_library(cuda.source + host_code(cuda), arch)
        self.library = ctypes.CDLL(str(self.library_path))
        self.output_dtypes = tuple(cuda.dag.value_dtype(o.value) for o in cuda.dag.outputs)

    def _inputs(self, arrays) -> list[np.ndarray]:
        specs = self.cuda.dag.inputs
        return [np.asarray(a, dtype=s.dtype, order="C") for a, s in zip(arrays, specs)]

    def scalar(self, *arrays) -> list[np.ndarray]:
        """Each output's scalar function applied elementwise (no reduction) to the inputs
        broadcast together to the loop shape."""
        inputs = self._inputs(arrays)
        shape = np.broadcast_shapes(*(a.shape for a in inputs), (1,) * self.cuda.dag.ndim)
        flat = [np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1) for a in inputs]
        outs = [np.empty(shape, d) for d in self.output_dtypes]
        getattr(self.library, f"host_eval_{self.cuda.name}")(
            ctypes.c_longlong(int(np.prod(shape))), _data_pointers(flat), _data_pointers(outs))
        return outs

    def plan(self, *arrays, config: tuple[int, int] | None = None) -> LaunchPlan:
        return plan_launches(self.cuda, [np.shape(a) for a in arrays], config)

    def run(self, *arrays, config: tuple[int, int] | None = None,
            out: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
        """The DAG's outputs computed by emulating every launch of the plan for these inputs
        (``config``: forced reduction (lanes, splits); ``out``: C-contiguous output buffers,
        which may be inputs' own)."""
        inputs = self._inputs(arrays)
        plan = plan_launches(self.cuda, [a.shape for a in inputs], config)
        buffers = {f"x{k}": a for k, a in enumerate(inputs)}
        for k, (shape, dtype) in enumerate(zip(plan.output_shapes, self.output_dtypes)):
            buffers[f"o{k}"] = _filled(shape, dtype) if out is None else out[k]
            if buffers[f"o{k}"].shape != shape or not buffers[f"o{k}"].flags.c_contiguous:
                raise ValueError(f"output {k} must be a C-contiguous {dtype}{list(shape)}")
        for k, size, dtype in plan.partials:
            buffers[f"p{k}"] = _filled((size,), dtype)
        for launch in plan.launches:
            argv, keep = _pointer_array([buffers[a] if isinstance(a, str) else a
                                         for a in launch.args])
            getattr(self.library, f"host_{launch.kernel}")(
                ctypes.c_longlong(launch.grid), ctypes.c_longlong(launch.block), argv)
        return [buffers[f"o{k}"] for k in range(len(self.output_dtypes))]
