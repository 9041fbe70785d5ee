"""Value domains for test inputs: a range plus points (kinks) the values must keep away from."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Domain(NamedTuple):
    """Values in ``[low, high]`` at least ``gap`` from every kink (non-differentiable point)."""

    low: float = -2.0
    high: float = 2.0
    kinks: tuple = ()
    gap: float = 0.1


REAL = Domain()
NONZERO = Domain(kinks=(0.0,))
POSITIVE = Domain(0.2, 2.0)
ABOVE_MINUS_ONE = Domain(-0.8, 2.0)
UNIT_OPEN = Domain(-0.9, 0.9)


def sample_values(rng: np.random.Generator, shape, domain: Domain = REAL,
                  dtype="float64") -> np.ndarray:
    """Uniform values in the domain, nudged away from its kinks."""
    values = rng.uniform(domain.low, domain.high, size=shape)
    for kink in domain.kinks:
        near = np.abs(values - kink) < domain.gap
        values = np.where(near, kink + np.where(values >= kink, 2, -2) * domain.gap, values)
    return values.astype(dtype)


def interleaved_pair(rng: np.random.Generator, shape_a, shape_b, dtype="float64"):
    """Two arrays with no ties anywhere under broadcasting (for max/min style kinks)."""
    a = rng.integers(-4, 4, size=shape_a) * 0.5 + 0.25
    b = rng.integers(-4, 4, size=shape_b) * 0.5
    return a.astype(dtype), b.astype(dtype)
