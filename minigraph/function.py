"""Theano-style ``function``: compiled callables with updates applied atomically after each call."""
from __future__ import annotations

import numpy as np

from .backends import default_backend
from .clone import clone_replace
from .compiler import compile_plan
from .feeds import c_contiguous, check_shape
from .ops import state
from .runtime import FUNCTION_STORE
from .session import _session_stack
from .tensor import Tensor, convert_to_tensor


class UnusedInputError(ValueError):
    """An input of ``function`` is not needed by any output or update (Theano's default check)."""


class Function:
    """Callable returned by ``mg.function``. Outputs and updates see the pre-call values."""

    def __init__(self, inputs, outputs=None, updates=None, givens=None,
                 allow_input_downcast=None, on_unused_input="raise", backend=None):
        self.inputs = [convert_to_tensor(i) for i in inputs]
        self.single = outputs is not None and not isinstance(outputs, (list, tuple))
        outs = [] if outputs is None else [outputs] if self.single else list(outputs)
        pairs = _update_pairs(updates)
        exprs = [convert_to_tensor(o) for o in outs] + [_update_value(v, e) for v, e in pairs]
        if givens:
            exprs = clone_replace(exprs, dict(givens.items() if hasattr(givens, "items")
                                              else givens))
        self.n_outputs = len(outs)
        assigns = [state.assign(v, e).node for (v, _), e in zip(pairs, exprs[len(outs):])]
        targets = exprs[:len(outs)] + assigns
        self.allow_input_downcast = allow_input_downcast
        self.plan = compile_plan(targets, self.inputs, backend or default_backend())
        _check_unused(self.inputs, self.plan.program, on_unused_input)

    def __call__(self, *args):
        if args:
            if len(args) != len(self.inputs):
                raise TypeError(f"function takes {len(self.inputs)} arguments, got {len(args)}")
            args = [self._convert(t, v) for t, v in zip(self.inputs, args)]
        elif self.inputs:
            raise TypeError(f"function takes {len(self.inputs)} arguments, got 0")
        outs = self.plan.run(args, _session_stack[-1].store if _session_stack else FUNCTION_STORE)
        return outs[0] if self.single else outs[:self.n_outputs]

    def _convert(self, tensor: Tensor, value) -> np.ndarray:
        """Theano's rule: lossless casts only, unless ``allow_input_downcast``."""
        array = np.asarray(value)
        target = tensor.dtype
        if array.dtype != target:
            converted = array.astype(target)
            python_float = isinstance(value, float) and self.allow_input_downcast is None
            lossless = not isinstance(value, np.ndarray) and np.array_equal(converted, array)
            safe = np.can_cast(array.dtype, target, "safe")
            if not (self.allow_input_downcast or safe or lossless or python_float):
                raise TypeError(
                    f"input '{tensor.node.name}' of dtype {target} got a {array.dtype} value: "
                    f"the conversion may lose precision; cast the data to {target} or pass "
                    "allow_input_downcast=True")
            array = converted
        check_shape(tensor, array.shape)
        return c_contiguous(array)


def _update_pairs(updates):
    if updates is None:
        return []
    pairs = list(updates.items()) if hasattr(updates, "items") else list(updates)
    seen = set()
    for variable, _ in pairs:
        if getattr(variable, "node", None) is None or variable.node.op != "variable":
            raise TypeError(f"updates: {variable!r} is not a shared variable")
        if variable.node in seen:
            raise ValueError(f"updates: shared variable {variable.name!r} is updated twice")
        seen.add(variable.node)
    return pairs


def _update_value(variable, expression) -> Tensor:
    value = convert_to_tensor(expression) if isinstance(expression, Tensor) else \
        state.constant(expression, dtype=variable.dtype)
    if value.dtype != variable.dtype:
        raise TypeError(f"update for shared variable {variable.name!r} has dtype {value.dtype}, "
                        f"but the variable is {variable.dtype}; cast the expression "
                        f"(e.g. expr.astype('{variable.dtype}'))")
    return value


def _check_unused(inputs, program, policy):
    used = {v for node in program.nodes for v in node.inputs} | set(program.outputs)
    unused = [t.node.name for t, node in zip(inputs, program.inputs)
              if node.outputs[0] not in used]
    if unused and policy == "raise":
        raise UnusedInputError(f"function inputs {unused} are not used to compute any output or "
                               "update; pass on_unused_input='ignore' to allow this")


def function(inputs, outputs=None, updates=None, givens=None, allow_input_downcast=None,
             on_unused_input="raise", mode=None, name=None, backend=None) -> Function:
    """Theano's ``theano.function``: a callable from ``inputs`` to ``outputs`` with ``updates``."""
    return Function(inputs, outputs, updates, givens, allow_input_downcast, on_unused_input,
                    backend)
