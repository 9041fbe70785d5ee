"""The rewrite pipeline: an ordered list of named passes, each ``Program -> Program``.

A backend names the passes it wants (the NumPy reference wants none: it is the oracle). Under
``MINIGRAPH_FLAGS=debug`` every pass's result is re-verified and what fired is logged.
"""
from __future__ import annotations

import logging

from ..config import config
from .verify import verify

log = logging.getLogger("minigraph.compiler")

PASSES: dict = {}
"""Registered passes by name; each takes a Program and returns ``(program, fired_rules)``."""


def register_pass(name: str):
    def decorate(fn):
        PASSES[name] = fn
        return fn
    return decorate


def run_pipeline(program, names) -> object:
    """Apply the passes ``names`` in order."""
    for name in names:
        program, fired = PASSES[name](program)
        if config.debug:
            verify(program, after=name)
            log.info("pass %s fired: %s", name, ", ".join(fired) or "nothing")
    return program
