"""Theano's typed symbolic inputs: ``scalar``, ``vector``, ``matrix``... (placeholders)."""
from __future__ import annotations

from . import dtypes
from .ops.state import placeholder


def _symbol(rank, default_dtype=None):
    def make(name=None, dtype=None):
        dtype = dtype or default_dtype or dtypes.floatx()
        return placeholder(dtype, (None,) * rank, name=name or "input")
    return make


scalar, vector, matrix, tensor3, tensor4 = (_symbol(r) for r in range(5))
iscalar, ivector, imatrix = (_symbol(r, dtypes.int32) for r in range(3))
lscalar, lvector, lmatrix = (_symbol(r, dtypes.int64) for r in range(3))
fscalar, fvector, fmatrix = (_symbol(r, dtypes.float32) for r in range(3))
dscalar, dvector, dmatrix = (_symbol(r, dtypes.float64) for r in range(3))

__all__ = ["scalar", "vector", "matrix", "tensor3", "tensor4", "iscalar", "ivector", "imatrix",
           "lscalar", "lvector", "lmatrix", "fscalar", "fvector", "fmatrix", "dscalar",
           "dvector", "dmatrix"]
