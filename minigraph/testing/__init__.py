"""Public testing tools: gradient checkers, hypothesis strategies and backend agreement.

Use them in your own pytest suite to fuzz custom ops and gradients (see the README and
``examples/fuzz_custom_op.py``). ``strategies`` needs hypothesis (the ``test`` extra), so it is
imported on first use.
"""
import importlib

from .agreement import assert_backends_agree
from .domains import Domain
from .gradcheck import check_grads, numeric_grad, verify_grad

__all__ = ["Domain", "assert_backends_agree", "check_grads", "numeric_grad", "strategies",
           "verify_grad"]


def __getattr__(name):
    if name == "strategies":
        return importlib.import_module(".strategies", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
