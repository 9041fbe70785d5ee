"""Generate the straight-line Python function that runs one bound program.

Every value is a local; planned buffers, constants and kernels are globals of the generated
module. The body runs the steps in plan order (a step counter ``s`` says which one failed),
takes the fetch snapshots, then -- outside the ``try``, since nothing there can fail -- runs the
in-place update kernels, commits the remaining writes and applies the (pre-checked) row updates.
"""
from __future__ import annotations

import math
from sys import getrefcount
from typing import Callable

import numpy as np

from ..compiler.shapes import concrete
from ..errors import InvalidArgumentError
from ..feeds import c_contiguous
from ..graph import TensorType, fits_static, format_shape
from ..ops.registry import get_op


class _Source:
    """Lines of the generated module and the globals they refer to."""

    def __init__(self):
        self.lines: list[str] = []
        self.namespace: dict = {"empty": np.empty, "c_contiguous": c_contiguous,
                                "take_unshared": take_unshared}

    def bind(self, prefix: str, value) -> str:
        """A fresh global name holding ``value``."""
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def emit(self, line: str, indent: int = 2) -> None:
        self.lines.append("    " * indent + line)


def generate_runner(program, plan, types, calls, buffers) -> tuple[str, dict]:
    """Source of ``run(feeds, store)`` and its globals (see the module docstring)."""
    src = _Source()
    names = {v: f"v{i}" for i, v in enumerate(types)}
    input_names = {}
    src.emit("def run(feeds, store):", 0)
    if any(n.op == "variable" and "container" not in n.origin.attrs for n in plan.order):
        src.emit("values = store.values", 1)
    for value, where in plan.placement.items():
        if where.kind == "buffer":
            src.emit(f"{names[value]} = {src.bind('B', buffers[where.buffer])}", 1)
    src.emit("s = -1", 1)
    src.emit("try:", 1)
    for i, node in enumerate(program.inputs):
        src.emit(f"{names[node.outputs[0]]} = feeds[{i}]")
    for position, node in enumerate(plan.order):
        input_names[position] = tuple(names[v] for v in node.inputs)
        _emit_step(src, position, node, plan, types, calls.get(node), names)
    for k, node in enumerate(plan.row_writes):
        position = len(plan.order) + len(plan.commit_kernels) + k
        input_names[position] = tuple(names[v] for v in node.inputs)
        src.emit(f"s = {position}")
        check = src.bind("CHECK", get_op(node.op).extra["check_rows"])
        storage = f"store.read({src.bind('VAR', node.attrs['var'])})"
        src.emit(f"{check}({', '.join([storage] + [names[v] for v in node.inputs])})")
    snapshots = {v: f"r{i}" for i, v in enumerate(plan.snapshots)}
    for value, snap in snapshots.items():
        src.emit(f"{snap} = {names[value]}.copy()")
    src.emit("pass")
    src.emit("except Exception as err:", 1)
    src.emit("raise FAIL(INPUT_NAMES, s, err, store, locals())")
    for node in plan.commit_kernels:
        outs = [_storage_name(node, value, plan, names) for value in node.outputs]
        args = _arguments(node, plan, names, contiguous=True) + outs
        src.emit(f"{src.bind('K', calls[node])}({', '.join(args)})", 1)
    for var, writer in program.writes.items():
        if writer not in plan.absorbed and writer not in plan.row_writes:
            value = writer.outputs[0]
            written = snapshots.get(value, names[value])
            src.emit(f"store.commit_value({src.bind('VAR', var)}, {written})", 1)
    for node in plan.row_writes:
        apply = src.bind("ROWS", get_op(node.op).extra["apply_rows"])
        storage = f"store.read({src.bind('VAR', node.attrs['var'])})"
        args = [storage] + [snapshots.get(v, names[v]) for v in node.inputs]
        src.emit(f"{apply}({', '.join(args)})", 1)
    outputs = ", ".join("None" if v is None else _fetched(snapshots.get(v, names[v]), types[v])
                        for v in program.outputs)
    src.emit(f"return [{outputs}]", 1)
    src.namespace["INPUT_NAMES"] = input_names
    return "\n".join(src.lines) + "\n", src.namespace


def _fetched(name: str, t: TensorType) -> str:
    """How a fetched value is returned: a 0-d object tensor (a summary's serialized bytes) as
    its item, so callers get ``bytes`` as from TF."""
    return f"{name}[()]" if t.dtype == object and t.shape == () else name


def _emit_step(src: _Source, position: int, node, plan, types, call, names) -> None:
    out = [names[v] for v in node.outputs]
    if node.op == "constant":
        src.emit(f"{out[0]} = {src.bind('C', c_contiguous(np.asarray(node.attrs['value'])))}")
        return
    src.emit(f"s = {position}")
    if node.op == "variable":
        container = node.origin.attrs.get("container")
        if container is not None:
            src.emit(f"{out[0]} = {src.bind('SHARED', container)}.value")
        else:
            src.emit(f"{out[0]} = values[{src.bind('VAR', node.origin)}]")
        return
    kernel = src.bind("K", call)
    kinds = {plan.placement[v].kind for v in node.outputs}
    args = _arguments(node, plan, names, contiguous=kinds <= {"buffer", "fresh"})
    if kinds <= {"buffer", "fresh"}:
        for value in node.outputs:
            if plan.placement[value].kind == "fresh":
                _emit_fetch_buffer(src, names[value], types[value])
        src.emit(f"{kernel}({', '.join(args + out)})")
        return
    if kinds == {"dynamic"}:  # a writing kernel allocating its outputs once sizes are known
        src.emit(f"{', '.join(out)}, = {kernel}({', '.join(args)})")
        return
    opdef = get_op(node.op)
    if opdef.kind == "state":
        var = src.bind("VAR", node.attrs["var"])
        old = [f"store.read({var})"] if opdef.extra.get("reads_old") else []
        src.emit(f"{out[0]} = store.check({var}, {kernel}({', '.join(old + args)}))")
        return
    if opdef.random:
        args.append(f"rng=store.rng({src.bind('ORIGIN', node.origin)})")
    if opdef.extra.get("takes_store"):  # e.g. scan: its body runs with this run's store
        args.append("store=store")
    single = len(out) == 1 and isinstance(
        opdef.infer([v.type for v in node.inputs], **node.attrs), TensorType)
    result = out[0] if single else "t"
    src.emit(f"{result} = {kernel}({', '.join(args)})")
    if kinds == {"returned"}:
        for k, value in enumerate(node.outputs):
            conform = src.bind("F", conformer(node, types[value]))
            src.emit(f"{names[value]} = {conform}({result if single else f't[{k}]'})")
    elif not single:
        src.emit(f"{', '.join(out)}, = t")


def _emit_fetch_buffer(src: _Source, name: str, t) -> None:
    """A fetched result's array: fresh if small, else one of the last two results of this step
    that the caller has let go of (only the slot references it, so no one can see it change):
    a loop that keeps its latest result then allocates and page-faults nothing per call."""
    dtype = src.bind("DT", t.dtype)
    if math.prod(t.shape) * t.dtype.itemsize < REUSE_MIN_BYTES:
        src.emit(f"{name} = empty({t.shape!r}, {dtype})")
    else:
        src.emit(f"{name} = take_unshared({src.bind('OUT', [])}, {t.shape!r}, {dtype})")


def take_unshared(slot: list, shape, dtype) -> np.ndarray:
    """An array of ``slot`` nothing else references, or a new one (the slot keeps two)."""
    for k in range(len(slot)):
        if getrefcount(slot[k]) <= UNSHARED:
            return slot[k]
    slot.insert(0, np.empty(shape, dtype))
    del slot[2:]
    return slot[0]


def _unshared_refcount() -> int:
    """What ``take_unshared`` reads for an array only its slot holds (interpreters differ in
    the references a call holds)."""
    slot = [np.empty(0)]
    return getrefcount(slot[0])


def _arguments(node, plan, names, contiguous: bool = False) -> list[str]:
    """Input names; for writing kernels, results of allocating kernels are made C-contiguous
    (every other value is: feeds, storage, constants and planned buffers are)."""
    return [f"c_contiguous({names[v]})" if contiguous and plan.placement[v].kind ==
            "returned" else names[v] for v in node.inputs]


def conformer(node, t: TensorType) -> Callable:
    """``conform(value)``: an allocating kernel's result as an array of the node's dtype,
    checked against its (bound) shape. ``conform.conform_target`` is ``(node, t)``, for
    backends that conform results of their own array type."""
    dtype, shape, full = t.dtype, t.shape, concrete(t)

    def conform(value):
        if value.__class__ is not np.ndarray or value.dtype != dtype:
            value = np.asarray(value)
            if value.dtype != dtype:
                value = value.astype(dtype)
        if full and value.shape == shape:
            return value
        if not fits_static(value.shape, shape):
            raise shape_mismatch(node, value.shape, shape)
        return value
    conform.conform_target = (node, t)
    return conform


def shape_mismatch(node, produced, expected) -> InvalidArgumentError:
    """The error for a kernel result whose shape does not fit the graph's (already naming the
    node, so the runner does not wrap it again)."""
    err = InvalidArgumentError(f"{node.describe()}: produced shape {format_shape(produced)}, "
                               f"but the graph expects {format_shape(expected)}")
    err._mg_wrapped = True
    return err


def _storage_name(node, value, plan, names) -> str:
    """The local holding the storage of the variable that ``value`` is written over."""
    var = plan.placement[value].var
    read = next(v for v in node.inputs if v.node.op == "variable" and v.node.origin is var)
    return names[read]


UNSHARED = _unshared_refcount()
REUSE_MIN_BYTES = 1 << 16
"""Smaller fetched results are simply allocated (cheap, and usually kept by the caller)."""
