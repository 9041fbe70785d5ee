"""Host harness of the conv/pool kernels: their CUDA text built for the CPU and run there.

``HostWindowKernel(kernel)`` compiles a ``kernels.cupy.conv`` source -- the same text, by nvcc,
for the host -- plus, per entry, ``host_<entry>(grid, block, args)``: the launch emulated block
by block and thread by thread, each thread calling the entry's own ``__host__ __device__``
``<entry>_range(first, stride, ...)`` as the device shell does. ``host_launch`` runs an entry
by name for the CuPy stand-in of the tests (arguments as ``cuLaunchKernel`` takes them).
"""
from __future__ import annotations

import ctypes
from typing import Sequence

import numpy as np

from .conv import WindowKernel, all_kernels, launch
from .harness import _pointer_array
from .nvcc import build_host_library


def host_code(kernel: WindowKernel) -> str:
    """The harness's host functions for ``kernel`` (appended to its source)."""
    lines = ["", "// ---- host harness ----"]
    for entry in kernel.entries:
        unpack = [f"  {c} {n} = *({c}*)args[{k}];" for k, (c, n) in enumerate(entry.params)]
        names = ", ".join(n for _, n in entry.params)
        lines += [f'extern "C" void host_{entry.name}(long long grid, long long block, '
                  "void** args) {", *unpack,
                  "  for (long long b = 0; b < grid; ++b)",
                  "    for (long long t = 0; t < block; ++t)",
                  f"      {entry.name}_range(b * block + t, grid * block, {names});", "}", ""]
    return "\n".join(lines)


class HostWindowKernel:
    """One conv/pool source built for, and run on, the CPU."""

    def __init__(self, kernel: WindowKernel, arch: str = "sm_90"):
        self.kernel = kernel
        self.library_path, self.ptx = build_host_library(kernel.source + host_code(kernel), arch)
        self.library = ctypes.CDLL(str(self.library_path))

    def launch(self, name: str, grid: int, block: int, args: Sequence) -> None:
        """Entry ``name`` over a ``grid`` x ``block`` launch: ``args`` are C-contiguous NumPy
        arrays (or views) and integers, in the entry's parameter order."""
        entry = next(e for e in self.kernel.entries if e.name == name)
        if len(args) != len(entry.params):
            raise TypeError(f"{name} takes {len(entry.params)} arguments, got {len(args)}")
        for (ctype, param), value in zip(entry.params, args):
            if ctype.endswith("*") and not (isinstance(value, np.ndarray)
                                            and value.flags.c_contiguous):
                raise TypeError(f"{name}: {param} must be a C-contiguous array")
        argv, keep = _pointer_array(list(args))
        getattr(self.library, f"host_{name}")(ctypes.c_longlong(grid), ctypes.c_longlong(block),
                                              argv)

    def run(self, role: str, geo, *arrays, grid: int | None = None,
            block: int | None = None) -> None:
        """Entry ``role`` over ``arrays`` for ``geo``, launched as the backend launches it
        (or with the given ``grid`` / ``block``, to exercise the grid-stride loops)."""
        planned = launch(role, geo)
        if planned is None:
            return
        self.launch(self.kernel.entry(role).name, grid or planned.grid[0],
                    block or planned.block[0], list(arrays) + list(geo.args()))


_HOSTS: dict = {}


def host_kernel(source: str) -> HostWindowKernel:
    """The host build of the conv/pool source ``source`` (built once per process)."""
    host = _HOSTS.get(source)
    if host is None:
        kernel = next((k for k in all_kernels() if k.source == source), None)
        if kernel is None:
            raise ValueError("not a kernels.cupy.conv source")
        host = _HOSTS[source] = HostWindowKernel(kernel)
    return host


def host_launch(source: str, name: str, grid, block, args: Sequence) -> None:
    """A device launch of entry ``name`` of ``source`` run on the host (1-D grids only)."""
    if tuple(grid[1:]) != (1, 1) or tuple(block[1:]) != (1, 1):
        raise ValueError(f"{name}: conv/pool kernels launch 1-D grids, got {grid} x {block}")
    host_kernel(source).launch(name, int(grid[0]), int(block[0]), args)
