"""Array creation in the array module of a given array, for references that must also run on
device arrays: NumPy's creation functions build host arrays, while the ``*_like`` functions and
reductions dispatch to the module of their argument (CuPy's, on the GPU backend)."""
from __future__ import annotations

import numpy as np


def arange_like(like, n: int, dtype=np.int64):
    """``np.arange(n, dtype=dtype)`` in the array module of ``like`` (exact: integer counts)."""
    counts = np.cumsum(np.ones_like(like, dtype=np.int64, shape=(n,)))
    return (counts - 1).astype(dtype, copy=False)

