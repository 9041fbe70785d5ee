"""The CuPy GPU backend: the same rewrite pipeline as numba, lowered to CUDA.

How a user gets it: ``mg.Session(backend='cupy')``, ``with mg.device('/gpu:0'):`` (soft
placement: the CPU when no GPU is usable), or ``MINIGRAPH_FLAGS=device=cuda`` (an error
without a GPU, unless ``allow_fallback=True``: then a warning and the CPU).

- Lowering (``cupy_kernels``) needs no GPU and no CuPy: fused groups become generated CUDA,
  hand kernels are instantiated as CUDA text, matmul goes to cuBLAS. So
  ``sess.explain(fetches, backend='cupy')`` / ``mg.explain`` work anywhere, and the report's
  ``kernels`` maps each kernel's name to its full CUDA source.
- Running (``cupy_runtime``) needs CuPy and an NVIDIA GPU; without them the first run raises
  one ``DeviceUnavailableError`` saying which is missing. Variables stay on the device for
  the session; fetches come back as NumPy arrays, or as CuPy arrays with
  ``sess.run(fetches, feed_dict, fetch_to='device')``; steady-state steps are replayed as
  CUDA graphs.
- ``available_backends()`` lists ``cupy`` only where it can run.
"""
from __future__ import annotations

from functools import partial

from ..compiler.pipeline import DEFAULT_PASSES
from . import DeviceUnavailableError, register_backend
from .cupy_device import unavailable_reason
from .cupy_kernels import MissingKernelError, cupy_kernel
from .cupy_runtime import DeviceExecutable, DeviceVariableStore, convert_feed

BIND_PASSES = ("constant_folding", "algebraic", "dead_code")
"""As numba: shape queries fold once the fed shapes are known."""


class CupyBackend:
    """GPU backend: numba's passes (fusion included), CUDA kernels, device-resident state."""

    name = "cupy"
    passes: tuple = DEFAULT_PASSES + ("fuse_xent_backward", "fuse_elementwise", "dead_code")

    @staticmethod
    def available() -> bool:
        """Whether CuPy imports and a CUDA device is present."""
        return unavailable_reason() is None

    def lower(self, program) -> DeviceExecutable:
        from ..config import config

        kernel_for = partial(cupy_kernel, host_ops=bool(getattr(config, "host_ops", False)))
        return DeviceExecutable(program, kernel_for, bind_passes=BIND_PASSES)

    @staticmethod
    def new_store() -> DeviceVariableStore:
        """A session's variable store: values on the device (allocated on first write)."""
        return DeviceVariableStore()

    @staticmethod
    def convert_feed(tensor, value):
        """A fed value, host or device (CuPy arrays are used without a copy)."""
        return convert_feed(tensor, value)


register_backend("cupy", CupyBackend)

__all__ = ["CupyBackend", "DeviceUnavailableError", "MissingKernelError"]
