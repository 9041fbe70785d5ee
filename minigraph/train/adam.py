"""Adam, TF1 ``ApplyAdam`` formulas with per-graph ``beta1_power``/``beta2_power``."""
from __future__ import annotations

import numpy as np

from ..ops.elementwise import cast, sqrt
from ..ops.state import assign
from ..tensor import Tensor
from .optimizer import Optimizer


class AdamOptimizer(Optimizer):
    """``lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``; ``m = b1*m + (1-b1)*g``;
    ``v = b2*v + (1-b2)*g**2``; ``var -= lr_t * m / (sqrt(v) + epsilon)``.

    Slots ``m`` and ``v``; float32 ``beta1_power``/``beta2_power`` start at beta1/beta2,
    are read with their pre-step values by every variable's update and multiplied once per step.
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08,
                 use_locking=False, name="Adam"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._beta1 = beta1
        self._beta2 = beta2
        self._epsilon = epsilon

    def _create_slots(self, var_list) -> None:
        first = min(var_list, key=lambda v: v.name)
        for name, beta in (("beta1_power", self._beta1), ("beta2_power", self._beta2)):
            # TF1 keeps the powers in float32 whatever the variables' dtype (numbers -> float32).
            initial = beta if isinstance(beta, Tensor) else np.asarray(beta, dtype=np.float32)
            self._get_or_make_non_slot(first, initial, name)
        for var in var_list:
            self._zeros_slot(var, "m", self._name)
            self._zeros_slot(var, "v", self._name)

    def _beta_powers(self, graph) -> tuple:
        return self._get_non_slot("beta1_power", graph), self._get_non_slot("beta2_power", graph)

    def _apply_dense(self, grad, var) -> list:
        lr, beta1, beta2, epsilon = (self._hyper(h, var.dtype) for h in
                                     ("learning_rate", "beta1", "beta2", "epsilon"))
        beta1_power, beta2_power = (cast(p, var.dtype) for p in self._beta_powers(var.graph))
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
        new_m = m + (grad - m) * (1 - beta1)
        new_v = v + (grad * grad - v) * (1 - beta2)
        new_var = var - lr_t * new_m / (sqrt(new_v) + epsilon)
        return [assign(m, new_m), assign(v, new_v), assign(var, new_var)]

    def _finish(self, var_list) -> list:
        beta1_power, beta2_power = self._beta_powers(var_list[0].graph)
        return [assign(beta1_power, beta1_power * self._hyper("beta1", beta1_power.dtype)),
                assign(beta2_power, beta2_power * self._hyper("beta2", beta2_power.dtype))]
