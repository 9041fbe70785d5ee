"""minigraph's kernel library: Numba CPU and CuPy GPU kernels and their code generators.

It never imports minigraph: kernels take arrays and neutral descriptions (such as scalar
expression DAGs), so they can be used and tested on their own. numba and cupy are imported
lazily by the submodules that need them.
"""
