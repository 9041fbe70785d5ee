"""Running the cupy backend on ``fake_cupy``, the strict NumPy-backed stand-in for CuPy: for
the backend's own tests, and for ``pytest --backend cupy-standin``, which runs whole test files
(the loop and branch suites, say) through the cupy backend's run path without a GPU."""
import contextlib

from kernels.cupy.fusion_source import generate_cuda
from minigraph.backends import cupy_device, cupy_kernels

from . import fake_cupy


@contextlib.contextmanager
def fake_device(fused: str):
    """Run the cupy backend on ``fake_cupy``, fused kernels by ``fused`` (see ``MODE``);
    kernel modules are compiled afresh inside and after."""
    saved, real = fake_cupy.MODE["fused"], cupy_kernels.generate_cuda
    fake_cupy.MODE["fused"], cupy_kernels.generate_cuda = fused, _recording
    cupy_kernels.CudaModule._MODULES.clear()
    try:
        with cupy_device.array_module(fake_cupy):
            yield fake_cupy
    finally:
        fake_cupy.MODE["fused"], cupy_kernels.generate_cuda = saved, real
        cupy_kernels.CudaModule._MODULES.clear()


def _recording(dag, name=None):
    """``generate_cuda``, remembering each source's ``CudaSource`` for the stand-in."""
    cuda = generate_cuda(dag, name)
    fake_cupy.FUSED[cuda.source] = cuda
    return cuda


def active() -> bool:
    """Whether the cupy backend runs on the stand-in (``pytest --backend cupy-standin``)."""
    return bool(cupy_device._OVERRIDE)


if __name__ == "__main__":  # python -m tests.backends.standin SCRIPT ARGS: SCRIPT on the stand-in
    import os
    import runpy
    import sys

    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))  # as python SCRIPT does
    with fake_device(fused="reference"):
        runpy.run_path(sys.argv[0], run_name="__main__")
