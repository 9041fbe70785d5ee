"""Run-time state owned by a session (or by functions): variable values and random streams."""
from __future__ import annotations

import numpy as np

from .errors import FailedPreconditionError
from .graph import Node, format_shape


class VariableStore:
    """Values of TF Variables for one session; shared variables keep their own container."""

    def __init__(self):
        self.values: dict[Node, np.ndarray] = {}
        self._rngs: dict[Node, np.random.Generator] = {}

    def read(self, node: Node) -> np.ndarray:
        container = node.attrs.get("container")
        if container is not None:
            return container.value
        try:
            return self.values[node]
        except KeyError:
            raise FailedPreconditionError(
                f"attempting to use uninitialized variable '{node.name}' "
                f"(created at {node.site}); run its initializer or "
                "mg.global_variables_initializer() first") from None

    def check(self, node: Node, value: np.ndarray) -> np.ndarray:
        """``value`` converted for variable ``node``; raises if its shape does not fit."""
        value = np.asarray(value)
        shape = node.attrs["shape"]
        if shape is not None and (len(shape) != value.ndim or any(
                d is not None and d != v for d, v in zip(shape, value.shape))):
            raise ValueError(f"variable '{node.name}' (created at {node.site}) has shape "
                             f"{format_shape(shape)}, cannot hold a value of shape "
                             f"{format_shape(value.shape)}")
        return value.astype(node.attrs["dtype"], copy=False)

    def commit(self, writes: dict) -> None:
        """Write every pending assignment; callers validate all of them first."""
        for node, value in writes.items():
            container = node.attrs.get("container")
            if container is not None:
                container.value = value
            else:
                self.values[node] = value

    def write(self, node: Node, value) -> None:
        self.commit({node: self.check(node, value)})

    def rng(self, node: Node) -> np.random.Generator:
        """The random stream of a random op: seeded ones restart in every new session (TF1)."""
        generator = self._rngs.get(node)
        if generator is None:
            seed = node.attrs.get("seed")
            generator = np.random.default_rng(list(seed) if seed is not None else None)
            self._rngs[node] = generator
        return generator


FUNCTION_STORE = VariableStore()
"""Storage for TF Variables read by ``mg.function`` outside any session."""
