"""CuPy GPU kernels: the CUDA code generator for fused elementwise DAGs (``fusion_source``),
their launch plans (``launch``), and the no-GPU checks -- nvcc compilation (``nvcc``) and a
host harness running the generated code on the CPU (``harness``).

Nothing here imports cupy: the backend (``minigraph/backends/cupy_gpu.py``) compiles the
generated source with ``cupy.RawModule`` and launches what ``launch.plan_launches`` says.
"""
from .fusion_source import CudaSource, KernelSpec, generate_cuda
from .launch import Launch, LaunchPlan, plan_launches

__all__ = ["CudaSource", "KernelSpec", "Launch", "LaunchPlan", "generate_cuda",
           "plan_launches"]
