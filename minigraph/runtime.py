"""Run-time state owned by a session (or by functions): variable values and random streams."""
from __future__ import annotations

import numpy as np

from .errors import FailedPreconditionError
from .graph import Node, fits_static, format_shape


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
        if not fits_static(value.shape, shape):
            raise ValueError(f"variable '{node.name}' (created at {node.site}) has shape "
                             f"{format_shape(shape)}, cannot hold a value of shape "
                             f"{format_shape(value.shape)}")
        return value.astype(node.attrs["dtype"], copy=False)

    def commit_value(self, node: Node, value: np.ndarray) -> None:
        """Store a checked value. The store owns its arrays: it copies into the current storage
        when shape and dtype allow (kernels may then keep updating that array in place) and
        otherwise keeps a private contiguous copy, never the caller's array."""
        container = node.attrs.get("container")
        current = container.value if container is not None else self.values.get(node)
        if current is not None and current.shape == value.shape and current.dtype == value.dtype:
            np.copyto(current, value)
            return
        owned = np.array(value, order="C", copy=True)
        if container is not None:
            container.value = owned
        else:
            self.values[node] = owned

    def write(self, node: Node, value) -> None:
        self.commit_value(node, self.check(node, value))

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
