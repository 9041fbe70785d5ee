"""The step machinery every backend shares: a flat list of closures over numbered value slots.

A backend only says which kernel computes each IR node (``kernel_for(node)``); kernels take the
arrays and attrs an op's NumPy ``ref`` takes and return what it returns. Running, variable reads
and writes, random streams, dtype/shape conformance and error wrapping are written once here.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import InvalidArgumentError
from ..graph import TensorType, format_shape
from ..ops.registry import get_op
from .kernel import WritingKernel


class Executable:
    """A flat list of steps over numbered value slots; ``run`` returns fetches and writes."""

    def __init__(self, program, kernel_for: Callable):
        self.program = program
        slots: dict = {}
        for node in program.inputs + program.nodes:
            for value in node.outputs:
                slots[value] = len(slots)
        self.n_slots = len(slots)
        self.fed_slots = [slots[node.outputs[0]] for node in program.inputs]
        self.steps = [_make_step(node, slots, kernel_for) for node in program.nodes]
        self.fetch_slots = [None if v is None else slots[v] for v in program.outputs]

    def run(self, feeds, store):
        """Compute the fetches; returns ``(values, writes)`` and changes no variable itself."""
        env = [None] * self.n_slots
        for slot, value in zip(self.fed_slots, feeds):
            env[slot] = value
        writes = {}
        for step in self.steps:
            step(env, store, writes)
        return [None if s is None else env[s] for s in self.fetch_slots], writes


def _make_step(node, slots, kernel_for):
    """A closure running one IR node; variables and random streams are keyed by the user node
    the IR node came from (``origin``)."""
    ins = [slots[v] for v in node.inputs]
    outs = [slots[v] for v in node.outputs]
    if node.op == "variable":
        def step(env, store, writes):
            env[outs[0]] = store.read(node.origin)
        return step
    compute = _compute(node, ins, kernel_for(node))
    types = node.out_types

    def step(env, store, writes):
        try:
            result = compute(env, store, writes)
        except (ValueError, TypeError, IndexError, ArithmeticError) as err:
            if getattr(err, "_mg_wrapped", False):
                raise
            raise _run_error(node, [env[i] for i in ins], err) from err
        values = result if isinstance(result, tuple) else (result,)
        for slot, value, t in zip(outs, values, types):
            env[slot] = _conform(node, value, t)
    return step


def _compute(node, ins, kernel):
    """``compute(env, store, writes)`` calling ``kernel`` as the op's ``ref`` is called: state
    ops also get the variable's old value when they read it, random ops their stream."""
    opdef = get_op(node.op)
    attrs = dict(node.attrs)
    if opdef.kind == "state":
        var = attrs["var"]
        reads_old = opdef.extra.get("reads_old", False)

        def compute(env, store, writes):
            old = (store.read(var),) if reads_old else ()
            value = store.check(var, kernel(*old, *(env[i] for i in ins), **attrs))
            writes[var] = value
            return value
    elif opdef.random:
        def compute(env, store, writes):
            return kernel(*(env[i] for i in ins), rng=store.rng(node.origin), **attrs)
    elif isinstance(kernel, WritingKernel):
        def compute(env, store, writes):
            arrays = [env[i] for i in ins]
            outputs = [np.empty(t.shape, t.dtype) for t in _concrete_types(opdef, arrays, attrs)]
            kernel.fn(*arrays, *outputs)
            return tuple(outputs) if len(outputs) > 1 else outputs[0]
    else:
        def compute(env, store, writes):
            return kernel(*(env[i] for i in ins), **attrs)
    return compute


def _concrete_types(opdef, arrays, attrs) -> list:
    """The node's output types for these concrete inputs (its ``infer`` on their shapes)."""
    types = opdef.infer([TensorType(a.shape, a.dtype) for a in arrays], **attrs)
    return list(types) if isinstance(types, (list, tuple)) else [types]


def _conform(node, value, t):
    """``value`` as an array of the node's declared dtype, checked against its static shape."""
    array = np.asarray(value)
    if array.dtype != t.dtype:
        array = array.astype(t.dtype)
    if t.shape is not None and (array.ndim != len(t.shape) or any(
            d is not None and d != a for d, a in zip(t.shape, array.shape))):
        err = InvalidArgumentError(
            f"{node.describe()}: produced shape {format_shape(array.shape)}, but the graph "
            f"expects {format_shape(t.shape)}")
        err._mg_wrapped = True
        raise err
    return array


def _run_error(node, inputs, err):
    described = ", ".join(f"{format_shape(np.shape(v))} {np.asarray(v).dtype}" for v in inputs)
    wrapped = InvalidArgumentError(f"{node.describe()}: {err} [inputs: {described}]")
    wrapped._mg_wrapped = True
    return wrapped
