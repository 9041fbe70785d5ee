"""The execution machinery every backend shares: bind a program to concrete shapes, plan its
memory, and run it as one generated straight-line Python function.

A backend only says which kernel computes each IR node (``kernel_for(node)``, see
``kernel.py``). ``Executable.run(feeds, store)`` binds once per set of fed shapes (shape
propagation, memory plan, code generation) and then calls the generated function: the hot path
is that function alone -- kernel calls on planned buffers, fetch copies, in-place variable
updates and commits -- with no graph work.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np

from ..compiler.memory import plan_memory
from ..compiler.pipeline import run_pipeline
from ..compiler.shapes import bound_attrs, concrete, propagate, specialise, value_types
from ..errors import InvalidArgumentError
from ..feeds import c_contiguous
from ..graph import TensorType, format_shape
from ..ops.registry import get_op
from .kernel import WritingKernel
from .runner import generate_runner

WRAPPED = (ValueError, TypeError, IndexError, ArithmeticError)
"""Kernel errors reported as ``InvalidArgumentError`` naming the node, its site and inputs."""


class BoundProgram:
    """One binding: the memory plan, its buffers, and the generated ``run(feeds, store)``."""

    def __init__(self, program, types: dict, kernel_for: Callable):
        self.program, self.types = program, types
        self.kernels = {node: kernel_for(node) for node in program.nodes
                        if node.op not in ("variable", "constant")}
        self.plan = plan = plan_memory(program, types, self.facts)
        self.buffers = [np.empty(shape, dtype) for shape, dtype in plan.buffers]
        steps = plan.order + plan.commit_kernels + plan.row_writes
        calls = {node: _callable(node, self.kernels[node], types)
                 for node in steps if node in self.kernels}
        self.source, namespace = generate_runner(program, plan, types, calls, self.buffers)
        namespace["FAIL"] = partial(_failure, steps)
        exec(compile(self.source, "<minigraph runner>", "exec"), namespace)
        self.run = namespace["run"]

    def facts(self, node) -> tuple[bool, bool]:
        """(writes planned outputs, elementwise) for the memory planner."""
        kernel = self.kernels.get(node)
        if isinstance(kernel, WritingKernel):
            return True, kernel.elementwise
        return False, False


def _callable(node, kernel, types):
    """What the runner calls for ``node``: a writing kernel's (prepared) ``fn``, or the
    allocating kernel with attrs bound; dynamic-size writers allocate their outputs first."""
    attrs = dict(node.attrs)
    if not isinstance(kernel, WritingKernel):
        return partial(kernel, **attrs) if attrs else kernel
    shapes = tuple(types[v].shape for v in node.inputs)
    if not all(concrete(types[v]) for v in node.outputs):
        return DynamicWriter(node, kernel)
    if kernel.prepare is not None and all(concrete(types[v]) for v in node.inputs):
        return kernel.prepare(shapes)
    return kernel.fn


class DynamicWriter:
    """A writing kernel whose output sizes are known only from the actual inputs (e.g. after a
    ``unique``): for each distinct set of input shapes, the output types (inferred with attrs
    bound to those shapes) and the kernel prepared for them -- as a static binding would
    prepare it -- are worked out once."""

    MAX_SHAPES = 256

    def __init__(self, node, kernel: WritingKernel):
        self.node, self.kernel, self.prepared = node, kernel, {}

    def __call__(self, *arrays):
        arrays = self.convert(arrays)
        key = tuple([a.shape for a in arrays])
        entry = self.prepared.get(key)
        if entry is None:
            if len(self.prepared) >= self.MAX_SHAPES:
                self.prepared.clear()
            entry = self.prepared[key] = self._prepare(arrays, key)
        fn, outputs = entry
        results = [self.empty(shape, dtype) for shape, dtype in outputs]
        fn(*arrays, *results)
        return results

    @staticmethod
    def convert(arrays) -> list:
        """The inputs as the kernel takes them (C-contiguous host arrays here)."""
        return [c_contiguous(a) for a in arrays]

    @staticmethod
    def empty(shape, dtype):
        """A fresh output array (host memory here)."""
        return np.empty(shape, dtype)

    def _prepare(self, arrays, shapes) -> tuple:
        types = [TensorType(a.shape, a.dtype) for a in arrays]
        inferred = get_op(self.node.op).infer(types, **bound_attrs(self.node, types))
        outputs = [(t.shape, t.dtype) for t in
                   ([inferred] if isinstance(inferred, TensorType) else inferred)]
        prepare = self.kernel.prepare
        return (prepare(shapes) if prepare is not None else self.kernel.fn), outputs


def _failure(steps, input_names, position, err, store, frame):
    """The exception to raise for ``err`` at step ``position`` (inputs read from ``frame``)."""
    if position < 0 or getattr(err, "_mg_wrapped", False):
        return err
    node = steps[position]
    if node.op == "variable" and isinstance(err, KeyError):
        try:
            store.read(node.origin)
        except Exception as uninitialized:
            return uninitialized
    if not isinstance(err, WRAPPED):
        return err
    inputs = [frame.get(name) for name in input_names.get(position, ())]
    described = ", ".join(f"{format_shape(np.shape(v))} {np.asarray(v).dtype}" for v in inputs)
    wrapped = InvalidArgumentError(f"{node.describe()}: {err} [inputs: {described}]")
    wrapped._mg_wrapped = True
    wrapped.__cause__ = err
    return wrapped


class Executable:
    """A lowered program; ``run`` computes its fetches and commits its writes atomically."""

    binding = BoundProgram
    """What ``bind`` makes (a backend with its own run path subclasses it)."""

    def __init__(self, program, kernel_for: Callable, bind_passes: tuple = ()):
        self.program, self.kernel_for, self.bind_passes = program, kernel_for, bind_passes
        self._bound: dict = {}

    def run(self, feeds, store) -> list:
        """Fetched values (``None`` for fetched ops); variable writes are committed."""
        key = tuple([feed.shape for feed in feeds]) if feeds else ()
        bound = self._bound.get(key)
        if bound is None:
            bound = self._bound[key] = self.bind(key)
        return bound.run(feeds, store)

    def run_body(self, feeds, store) -> list:
        """``run`` for a loop body or branch inside an outer run with the same store (the
        results stay where the backend computed them)."""
        return self.run(feeds, store)

    def bind(self, fed_shapes) -> "BoundProgram":
        """The program for ``fed_shapes``: concrete types, the backend's bind-time passes
        (e.g. folding what the shapes now answer), kernels, memory plan, generated runner."""
        program = specialise(self.program, propagate(self.program, fed_shapes))
        if self.bind_passes:  # what they settle (a reshape to a folded shape) is re-inferred
            program = run_pipeline(program, self.bind_passes)
            program = specialise(program, propagate(program, fed_shapes))
        return self.binding(program, value_types(program), self.kernel_for)
