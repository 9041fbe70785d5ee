"""Momentum (heavy ball or Nesterov), TF1 ``ApplyMomentum`` formulas."""
from __future__ import annotations

from .optimizer import Optimizer


class MomentumOptimizer(Optimizer):
    """``accum = accum * momentum + grad``; ``var -= lr * accum``, or with Nesterov
    ``var -= lr * grad + lr * momentum * accum`` (new accum). Slot ``momentum``."""

    _sparse_rows = True

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum",
                 use_nesterov=False):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list) -> None:
        for var in var_list:
            self._zeros_slot(var, "momentum", self._name)

    def _apply_dense(self, grad, var) -> list:
        lr = self._hyper("learning_rate", var.dtype)
        momentum = self._hyper("momentum", var.dtype)
        accum = self.get_slot(var, "momentum")
        new_accum = self._read(accum) * momentum + grad
        if self._use_nesterov:
            step = grad * lr + new_accum * momentum * lr
        else:
            step = lr * new_accum
        return [self._write(accum, new_accum), self._write(var, self._read(var) - step)]
