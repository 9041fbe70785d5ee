"""TF1 ``Variable`` (value held per session) and Theano ``shared`` (value held by itself)."""
from __future__ import annotations

import numpy as np

from . import dtypes
from .graph import get_default_graph
from .ops import state
from .ops.registry import apply_op
from .tensor import Tensor, convert_to_tensor

GLOBAL_VARIABLES = "variables"
TRAINABLE_VARIABLES = "trainable_variables"


class Variable(Tensor):
    """A stateful tensor. Reading it gives its value at the start of the run."""

    __slots__ = ("initial_value", "initializer", "trainable")

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None,
                 collections=None, validate_shape=True):
        if initial_value is None:
            raise ValueError("Variable: initial_value must be given")
        if callable(initial_value):
            initial_value = initial_value()
        init = _initial_tensor(initial_value, dtype)
        shape = init.type.shape if validate_shape else None
        node = apply_op("variable", [], {"shape": shape, "dtype": init.dtype, **self._attrs()},
                        name=name or "Variable").node
        super().__init__(node, 0)
        self.initial_value = init
        self.trainable = trainable
        with node.graph.name_scope(node.name + "/"):
            self.initializer = state.assign(self, init, name="Assign").node
        graph = node.graph
        for key in collections or [GLOBAL_VARIABLES]:
            graph.add_to_collection(key, self)
        if trainable:
            graph.add_to_collection(TRAINABLE_VARIABLES, self)

    def _attrs(self) -> dict:
        return {}

    def _as_tensor(self):
        return self

    def value(self) -> Tensor:
        return self

    read_value = value

    def initialized_value(self) -> Tensor:
        return self.initial_value

    def assign(self, value, name=None):
        return state.assign(self, value, name=name)

    def assign_add(self, delta, name=None):
        return state.assign_add(self, delta, name=name)

    def assign_sub(self, delta, name=None):
        return state.assign_sub(self, delta, name=name)

    def load(self, value, session=None):
        """Write ``value`` directly into the session's storage (TF1 ``Variable.load``)."""
        from .session import resolve_session

        resolve_session(session, self.node).store.write(self.node, value)

    def __repr__(self):
        return f"<minigraph.Variable '{self.name}' shape={self.type.shape} dtype={self.dtype}>"


def _initial_tensor(initial_value, dtype) -> Tensor:
    if isinstance(initial_value, Tensor) or hasattr(initial_value, "_as_tensor"):
        init = convert_to_tensor(initial_value)
        if dtype is not None and dtypes.as_dtype(dtype) != init.dtype:
            from .ops import cast

            init = cast(init, dtype)
        return init
    return state.constant(initial_value, dtype=dtype, name="initial_value")


class _Container:
    """Holds a shared variable's current value outside any session."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class SharedVariable(Variable):
    """Theano's shared variable: the value lives here, visible to every function and session."""

    __slots__ = ("container",)

    def __init__(self, value, name=None, dtype=None, trainable=True):
        array = np.array(value, dtype=dtypes.as_dtype(dtype) if dtype is not None
                         else dtypes.default_dtype_of(value), copy=True, order="C")
        self.container = _Container(array)
        super().__init__(array, trainable=trainable, name=name or "shared")

    def _attrs(self) -> dict:
        return {"container": self.container}

    def get_value(self, borrow=False) -> np.ndarray:
        value = self.container.value
        return value if borrow else value.copy()

    def set_value(self, value, borrow=False) -> None:
        """Replace the value; shape must match and the dtype cast must be lossless."""
        array = np.asarray(value)
        current = self.container.value
        if array.shape != current.shape:
            raise ValueError(f"shared variable {self.name!r} has shape {current.shape}, "
                             f"got a value of shape {array.shape}")
        converted = array.astype(current.dtype, order="C")
        if array.dtype != current.dtype and not np.array_equal(converted, array):
            raise TypeError(f"shared variable {self.name!r} has dtype {current.dtype}; "
                            f"a {array.dtype} value would lose precision")
        self.container.value = converted  # astype copies, so later edits to value don't leak in


def shared(value, name=None, dtype=None, trainable=True) -> SharedVariable:
    """A Theano-style shared variable holding ``value`` (copied)."""
    return SharedVariable(value, name=name, dtype=dtype, trainable=trainable)


def global_variables(scope=None) -> list:
    return get_default_graph().get_collection(GLOBAL_VARIABLES, scope)


def trainable_variables(scope=None) -> list:
    return get_default_graph().get_collection(TRAINABLE_VARIABLES, scope)


def variables_initializer(var_list, name="init"):
    """One op running the initializers of ``var_list`` (shared variables need none)."""
    return state.group([v.initializer for v in var_list if not isinstance(v, SharedVariable)],
                       name=name)


def global_variables_initializer():
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer
