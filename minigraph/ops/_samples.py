"""Sample-input rules for op tests, built from hypothesis-drawn shapes and seeds.

Each rule has the ``OpDef.sample`` signature: ``sample(draw) -> (inputs, attrs)``; hypothesis is
imported only when a rule is called, so it stays a test-time dependency.
"""
from __future__ import annotations

import numpy as np

from ..testing.domains import REAL, Domain, interleaved_pair, sample_values


def _strategies():
    from ..testing import strategies

    return strategies


def rng_from(draw) -> np.random.Generator:
    from hypothesis import strategies as st

    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def unary(domain: Domain = REAL, **attrs):
    def sample(draw):
        shape = draw(_strategies().shapes())
        return [sample_values(rng_from(draw), shape, domain)], dict(attrs)
    return sample


def nary(n: int, domains=None, **attrs):
    """``n`` inputs with mutually broadcastable shapes."""
    def sample(draw):
        shapes = draw(_strategies().broadcastable_shapes((), n))
        rng = rng_from(draw)
        doms = domains or [REAL] * n
        return [sample_values(rng, s, d) for s, d in zip(shapes, doms)], dict(attrs)
    return sample


def untied_pair(**attrs):
    """Two broadcastable inputs that are never equal (max/min/compare kinks)."""
    def sample(draw):
        shape_a, shape_b = draw(_strategies().broadcastable_shapes((), 2))
        return list(interleaved_pair(rng_from(draw), shape_a, shape_b)), dict(attrs)
    return sample


def bools(n: int):
    def sample(draw):
        shapes = draw(_strategies().broadcastable_shapes((), n))
        rng = rng_from(draw)
        return [rng.random(s) < 0.5 for s in shapes], {}
    return sample


def where_inputs():
    def sample(draw):
        cond_shape, x_shape, y_shape = draw(_strategies().broadcastable_shapes((), 3))
        rng = rng_from(draw)
        return [rng.random(cond_shape) < 0.5, sample_values(rng, x_shape),
                sample_values(rng, y_shape)], {}
    return sample


def clip_inputs():
    """t on a grid offset from the bounds' grid, so t never equals a bound."""
    def sample(draw):
        t_shape, lo_shape, hi_shape = draw(_strategies().broadcastable_shapes((), 3))
        rng = rng_from(draw)
        t = rng.integers(-4, 4, size=t_shape) * 0.5 + 0.25
        lo = rng.choice([-1.0, -0.5], size=lo_shape)
        hi = rng.choice([0.5, 1.0], size=hi_shape)
        return [t.astype("float64"), lo, hi], {}
    return sample
