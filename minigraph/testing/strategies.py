"""Hypothesis strategies for shapes and arrays used to fuzz ops and gradients."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .domains import REAL, Domain, sample_values


def shapes(min_dims=0, max_dims=3, min_side=0, max_side=4):
    """Static shapes, including size-0 and size-1 dimensions."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims,
                    max_size=max_dims).map(tuple)


@st.composite
def broadcastable_shapes(draw, n=2, min_dims=0, max_dims=3, min_side=0, max_side=4):
    """``n`` shapes that broadcast together: each drops leading dims or sets dims to 1."""
    base = draw(shapes(min_dims, max_dims, min_side, max_side))
    result = []
    for _ in range(n):
        drop = draw(st.integers(0, len(base)))
        shape = list(base[drop:])
        ones = draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
        result.append(tuple(1 if one else d for one, d in zip(ones, shape)))
    return result


def arrays(dtype="float64", shape=(), domain: Domain = REAL):
    """Arrays of ``shape`` with values from ``domain`` (kept away from its kinks)."""
    seeds = st.integers(0, 2**32 - 1)
    if np.dtype(dtype).kind in "iu":
        return seeds.map(lambda s: np.random.default_rng(s).integers(
            int(domain.low), int(domain.high) + 1, size=shape).astype(dtype))
    return seeds.map(lambda s: sample_values(np.random.default_rng(s), shape, domain, dtype))


def dtypes(floats_only=True):
    choices = ["float32", "float64"] if floats_only else ["float32", "float64", "int32", "int64"]
    return st.sampled_from(choices).map(np.dtype)
