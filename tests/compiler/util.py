"""Helpers for compiler tests: programs from fetches, passes applied by name, NumPy runs."""
from __future__ import annotations

import numpy as np

from minigraph.backends.numpy_ref import NumpyBackend
from minigraph.compiler import build_schedule, from_schedule
from minigraph.compiler.pipeline import DEFAULT_PASSES, run_pipeline
from minigraph.runtime import VariableStore


def program_of(fetches, fed=()):
    """The unoptimised program computing ``fetches`` with ``fed`` tensors as inputs."""
    return from_schedule(build_schedule(list(fetches), list(fed)))


def optimised(program, *names):
    """``program`` after the passes ``names`` (all default passes when none are given)."""
    return run_pipeline(program, names or DEFAULT_PASSES)


def run(program, feeds=(), store=None):
    """The fetched values of one NumPy run (writes land in ``store``, a fresh one by default)."""
    return NumpyBackend().lower(program).run(list(feeds), store or VariableStore())


def ops(program) -> list[str]:
    return [node.op for node in program.nodes]


def assert_same_results(fetches, fed=(), feeds=(), passes=DEFAULT_PASSES, rtol=1e-9):
    """Run ``fetches`` unoptimised and after ``passes``; assert equal values; return both."""
    program = program_of(fetches, fed)
    before = run(program, feeds)
    after = run(run_pipeline(program, passes), feeds)
    for want, got in zip(before, after):
        assert np.asarray(got).dtype == np.asarray(want).dtype
        if np.asarray(want).dtype.kind not in "biufc":  # e.g. a summary's serialized bytes
            assert got == want
            continue
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)
    return before, after
