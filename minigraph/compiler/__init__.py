"""From fetches to an executable: schedule, translate to IR, rewrite, lower on a backend."""
from __future__ import annotations

from ..backends import get_backend
from .ir import Program, from_schedule
from .pipeline import run_pipeline
from .schedule import Schedule, build_schedule


def optimise(fetches, fed, backend: str = "numpy", record: list | None = None):
    """``(program, lowering)``: the program ``backend``'s passes make of ``fetches`` from ``fed``
    tensors, and the backend that lowers it; ``record`` collects each pass's fired rules."""
    lowering = get_backend(backend)
    program = from_schedule(build_schedule(fetches, fed))
    return run_pipeline(program, lowering.passes, record), lowering


def compile_plan(fetches, fed, backend: str = "numpy"):
    """An ``Executable`` computing ``fetches`` from ``fed`` tensors on ``backend``."""
    program, lowering = optimise(fetches, fed, backend)
    return lowering.lower(program)


__all__ = ["Program", "Schedule", "build_schedule", "compile_plan", "from_schedule", "optimise"]
