"""Public testing tools: gradient checkers and hypothesis strategies for fuzzing graphs."""
from .gradcheck import check_grads, numeric_grad, verify_grad

__all__ = ["check_grads", "numeric_grad", "verify_grad"]
