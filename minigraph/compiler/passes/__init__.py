"""The rewrite passes; importing this package registers each one under its name.

``pipeline.DEFAULT_PASSES`` lists the order backends run them in.
"""
from . import (algebraic, constant_folding, cse, dead_code, fusion,  # noqa: F401
               stabilise, xent_backward)
