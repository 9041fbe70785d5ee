"""From fetches to an executable: schedule, translate to IR, rewrite, lower on a backend."""
from __future__ import annotations

from ..backends import get_backend
from .ir import Program, from_schedule
from .pipeline import run_pipeline
from .schedule import Schedule, build_schedule


def compile_plan(fetches, fed, backend: str = "numpy"):
    """An ``Executable`` computing ``fetches`` from ``fed`` tensors on ``backend``."""
    lowering = get_backend(backend)
    program = from_schedule(build_schedule(fetches, fed))
    return lowering.lower(run_pipeline(program, lowering.passes))


__all__ = ["Program", "Schedule", "build_schedule", "compile_plan", "from_schedule"]
