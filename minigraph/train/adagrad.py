"""Adagrad, TF1 ``ApplyAdagrad`` formulas."""
from __future__ import annotations

from ..ops.elementwise import rsqrt
from .optimizer import Optimizer


class AdagradOptimizer(Optimizer):
    """``accum += grad**2``; ``var -= lr * grad / sqrt(accum)``. Slot ``accumulator``."""

    _sparse_rows = True

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False,
                 name="Adagrad"):
        if initial_accumulator_value <= 0.0:
            raise ValueError("initial_accumulator_value must be positive: "
                             f"{initial_accumulator_value}")
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial_accumulator_value = initial_accumulator_value

    def _create_slots(self, var_list) -> None:
        for var in var_list:
            self._get_or_make_slot(var, self._initial_accumulator_value, "accumulator",
                                   self._name)

    def _apply_dense(self, grad, var) -> list:
        lr = self._hyper("learning_rate", var.dtype)
        accum = self.get_slot(var, "accumulator")
        new_accum = self._read(accum) + grad * grad
        return [self._write(accum, new_accum),
                self._write(var, self._read(var) - lr * grad * rsqrt(new_accum))]
