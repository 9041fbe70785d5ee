"""Numba CPU kernels: ``vecmath`` (branch-free, vectorisable exp/log/tanh/... for fused loops).

Nothing here is imported eagerly: numba is loaded only by the submodules that need it.
"""
