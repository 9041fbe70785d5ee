"""Plain gradient descent: ``var -= learning_rate * grad``."""
from __future__ import annotations

from ..ops.state import assign
from .optimizer import Optimizer


class GradientDescentOptimizer(Optimizer):
    """TF1's ``GradientDescentOptimizer``; no slots."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _apply_dense(self, grad, var) -> list:
        lr = self._hyper("learning_rate", var.dtype)
        return [assign(var, var - lr * grad)]
