"""The rewrite pipeline: an ordered list of named passes, each ``Program -> Program``.

A backend names the passes it wants (the NumPy reference wants none: it is the oracle).
``DEFAULT_PASSES`` is the order optimising backends use; no priorities, just this list. Under
``MINIGRAPH_FLAGS=debug`` every pass's result is re-verified and the rules it fired are logged.
"""
from __future__ import annotations

import logging
from collections import Counter

from ..config import config
from .verify import verify

log = logging.getLogger("minigraph.compiler")

PASSES: dict = {}
"""Registered passes by name; each takes a Program and returns ``(program, fired_rules)``."""

DEFAULT_PASSES = ("dead_code", "constant_folding", "cse", "algebraic", "stabilise", "dead_code")
"""Prune first (less to fold), fold before merging (equal folded constants then merge), simplify
and stabilise the merged graph, and prune what the rewrites left unused."""


def register_pass(name: str):
    def decorate(fn):
        PASSES[name] = fn
        return fn
    return decorate


def run_pipeline(program, names, record: list | None = None) -> object:
    """Apply the passes ``names`` in order; ``record`` gets ``(name, fired rules)`` per pass."""
    for name in names:
        if name not in PASSES:
            raise ValueError(f"unknown compiler pass {name!r}; registered: {sorted(PASSES)}")
        program, fired = PASSES[name](program)
        if record is not None:
            record.append((name, list(fired)))
        if config.debug:
            verify(program, after=name)
            log.info("pass %s fired: %s", name, summarize(fired))
    return program


def summarize(fired) -> str:
    """``rule xN, ...`` in first-firing order, or ``nothing``."""
    counts = Counter(fired)
    return ", ".join(f"{rule} x{n}" if n > 1 else rule for rule, n in counts.items()) or "nothing"


from . import passes  # noqa: E402,F401  (registers the passes; they import register_pass)
