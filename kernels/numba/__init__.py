"""Numba CPU kernels: fused elementwise code generation (``fusion``), vectorisable math
(``vecmath``), hand-written softmax / cross-entropy / reduction / indexing kernels.

numba is loaded only by the submodules that need it. Importing this package asks OpenMP
worker threads to sleep rather than spin between parallel regions (unless the user set
``OMP_WAIT_POLICY``): a training step alternates our parallel loops with BLAS's own threads,
and spinning OpenMP workers on a 2-core machine made every BLAS call wait for a core (W2 step
8.8 ms spinning, 1.35 ms passive, against a 1.05 ms BLAS floor).
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
