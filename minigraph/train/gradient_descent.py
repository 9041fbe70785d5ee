"""Plain gradient descent: ``var -= learning_rate * grad``."""
from __future__ import annotations

from .optimizer import Optimizer


class GradientDescentOptimizer(Optimizer):
    """TF1's ``GradientDescentOptimizer``; no slots."""

    _sparse_rows = True

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _apply_dense(self, grad, var) -> list:
        lr = self._hyper("learning_rate", var.dtype)
        return [self._write(var, self._read(var) - lr * grad)]
