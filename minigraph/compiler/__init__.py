"""From fetches to an executable: schedule the needed nodes, then lower them on a backend."""
from __future__ import annotations

from ..backends import get_backend
from .schedule import Schedule, build_schedule


def compile_plan(fetches, fed, backend: str = "numpy"):
    """An ``Executable`` computing ``fetches`` from ``fed`` tensors on ``backend``."""
    schedule = build_schedule(fetches, fed)
    return get_backend(backend).lower(schedule)


__all__ = ["Schedule", "build_schedule", "compile_plan"]
