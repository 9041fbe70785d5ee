"""Hypothesis strategies for fuzzing ops and gradients: shapes, arrays, op inputs, graphs.

Shapes come from ``hypothesis.extra.numpy``; element strategies are domain-aware so values stay
where an op is defined and differentiable (positive for log/sqrt, away from kinks).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .domains import REAL, Domain
from .graphs import DEFAULT_OPS, RandomGraph, graphs

__all__ = ["DEFAULT_OPS", "RandomGraph", "arrays", "broadcastable_shapes", "dtypes",
           "elements", "graphs", "op_inputs", "shapes"]


def shapes(min_dims=0, max_dims=3, min_side=0, max_side=4):
    """Static shapes, including size-0 and size-1 dimensions."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(shape=(), n=2, min_dims=0, max_dims=3, min_side=0, max_side=4):
    """``n`` shapes that broadcast together and with ``shape`` (a list of tuples)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, base_shape=tuple(shape), min_dims=min_dims, max_dims=max_dims,
        min_side=min_side, max_side=max_side).map(lambda drawn: list(drawn.input_shapes))


def elements(domain: Domain = REAL, dtype="float64"):
    """Floats in ``domain``, moved out of the ``gap`` around each of its kinks."""
    def away_from_kinks(x):
        for kink in domain.kinks:
            if abs(x - kink) < domain.gap:
                return kink + (2 if x >= kink else -2) * domain.gap
        return x
    width = 32 if np.dtype(dtype) == np.float32 else 64
    return st.floats(domain.low, domain.high, width=width).map(away_from_kinks)


def arrays(dtype="float64", shape=(), elements=None):
    """Arrays of ``shape``; ``elements`` is a ``Domain``, a hypothesis strategy or None (REAL)."""
    dtype = np.dtype(dtype)
    if elements is None or isinstance(elements, Domain):
        domain = elements or REAL
        if dtype.kind in "iu":
            elements = st.integers(int(domain.low), int(domain.high))
        else:
            elements = globals()["elements"](domain, dtype)
    return hnp.arrays(dtype, shape, elements=elements)


def dtypes(floats_only=True):
    """minigraph dtypes: float32/float64, plus int32/int64 unless ``floats_only``."""
    choices = ["float32", "float64"] if floats_only else ["float32", "float64", "int32", "int64"]
    return st.sampled_from(choices).map(np.dtype)


def sampled_ops() -> list[str]:
    """Every registered op that can be fuzzed alone from its sample rule: all but the leaves,
    variable writes, control ops (``group``, ``scan`` and its gradient: their meaning is a
    graph run by a backend) and ``custom_gradient``, which the runtime or a graph context gives
    meaning (session, variable, scan and autodiff tests cover them), and ops whose
    ``extra["no_sample_reason"]`` says why no sample can feed them alone."""
    from ..ops.registry import REGISTRY

    return sorted(name for name, opdef in REGISTRY.items()
                  if opdef.kind not in ("leaf", "state", "control")
                  and name != "custom_gradient" and not opdef.extra.get("no_sample_reason"))


@st.composite
def op_inputs(draw, op_name: str):
    """``(inputs, attrs)`` valid for the registered op ``op_name``, from its own sample rule."""
    from ..ops.registry import get_op

    opdef = get_op(op_name)
    if opdef.sample is None:
        raise ValueError(f"op {op_name!r} declares no sample rule, so it cannot be fuzzed")
    return opdef.sample(draw)
