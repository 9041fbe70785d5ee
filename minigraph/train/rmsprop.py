"""RMSProp (plain or centered, with optional momentum), TF1 ``ApplyRMSProp`` formulas."""
from __future__ import annotations

from ..ops.elementwise import sqrt
from .optimizer import Optimizer


class RMSPropOptimizer(Optimizer):
    """``ms = decay*ms + (1-decay)*g**2``; ``mom = momentum*mom + lr*g/sqrt(ms + eps)``;
    ``var -= mom``. Centered: ``mg = decay*mg + (1-decay)*g`` and ``sqrt(ms - mg**2 + eps)``.

    Slots ``rms`` (starts at ONES, as in TF1), ``momentum`` and, when centered, ``mg``.
    """

    _sparse_rows = True

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10,
                 use_locking=False, centered=False, name="RMSProp"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._decay = decay
        self._momentum = momentum
        self._epsilon = epsilon
        self._centered = centered

    def _create_slots(self, var_list) -> None:
        for var in var_list:
            self._get_or_make_slot(var, 1.0, "rms", self._name)
            if self._centered:
                self._zeros_slot(var, "mg", self._name)
            self._zeros_slot(var, "momentum", self._name)

    def _apply_dense(self, grad, var) -> list:
        lr, decay, momentum, epsilon = (self._hyper(h, var.dtype) for h in
                                        ("learning_rate", "decay", "momentum", "epsilon"))
        ms_slot, mom_slot = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        ms = self._read(ms_slot)
        new_ms = ms + (grad * grad - ms) * (1 - decay)
        updates = [self._write(ms_slot, new_ms)]
        denominator = new_ms + epsilon
        if self._centered:
            mg_slot = self.get_slot(var, "mg")
            mg = self._read(mg_slot)
            new_mg = mg + (grad - mg) * (1 - decay)
            updates.append(self._write(mg_slot, new_mg))
            denominator = new_ms - new_mg * new_mg + epsilon
        new_mom = self._read(mom_slot) * momentum + lr * grad / sqrt(denominator)
        return updates + [self._write(mom_slot, new_mom),
                          self._write(var, self._read(var) - new_mom)]
