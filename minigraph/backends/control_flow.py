"""The kernels of ``cond``, ``while_loop`` and ``while_grad``, shared by every backend.

Every branch, loop condition and body is compiled by the backend running the node
(``loop.compiled_body``) and bound once per set of fed shapes; a branch or an iteration is one
call of that bound program with the run's variable store and random streams.

A ``cond`` runs only its taken branch. A ``while_loop`` with ``records`` keeps the loop values
entering every iteration (the arrays themselves: the body returns new ones) and returns them
raveled end to end, with their shapes, for ``while_grad``, which walks the iterations in
reverse carrying the loop variables' adjoints and summing the captured values' gradients.
"""
from __future__ import annotations

import math

import numpy as np

from ..feeds import c_contiguous
from ..graph import fits_static, format_shape
from ..ops.registry import get_op
from .loop import as_array, compiled_body, empty_like, error, step


def control_flow_kernels(backend: str) -> dict:
    """``op -> make(node)`` for the control-flow ops, their bodies compiled with ``backend``."""
    return {"cond": lambda node: _cond_kernel(node, backend),
            "while_loop": lambda node: _while_kernel(node, backend),
            "while_grad": lambda node: _while_grad_kernel(node, backend),
            "case_index": lambda node: get_op("case_index").ref}


# -- cond -------------------------------------------------------------------------------------


def _cond_kernel(node, backend: str):
    true, false, where = node.attrs["true"], node.attrs["false"], node.describe()
    split = 1 + len(true.captured)
    branches = ((compiled_body(false, backend), slice(split, None), "false"),
                (compiled_body(true, backend), slice(1, split), "true"))
    unused: dict = {}  # (branch, array type) -> the untaken branch's empty saved values

    def run(*arrays, store, **_):
        pred, like = as_array(arrays[0]), arrays[1] if len(arrays) > 1 else None
        if pred.ndim != 0:
            raise error(where, f"pred must be a scalar, got shape {format_shape(pred.shape)}")
        executable, part, label = branches[bool(pred)]
        feeds = [c_contiguous(a) for a in arrays[part]]
        results = step(executable, feeds, store, f"{where}, {label} branch")
        n = len(true.outputs)
        saved, key = list(results[n:]), (label, type(like))
        empty = unused.get(key)
        if empty is None:  # size 0: nothing ever writes them, so one set serves every run
            empty = unused[key] = [empty_like(like, (0,), t.dtype)
                                   for t in (false.saved if label == "true" else true.saved)]
        return tuple(results[:n]) + tuple(saved + empty if label == "true" else empty + saved)
    return run


# -- while_loop -------------------------------------------------------------------------------


def _while_kernel(node, backend: str):
    loop, where = node.attrs["loop"], node.describe()
    cond, body = compiled_body(loop.cond, backend), compiled_body(loop.body, backend)

    def run(*arrays, store, maximum_iterations, **_):
        return _run_while(cond, body, loop, arrays, maximum_iterations, store, where)
    return run


def _run_while(cond, body, loop, arrays, maximum_iterations, store, where) -> tuple:
    n, n_cond = len(loop.leaves), len(loop.cond.captured)
    values = [c_contiguous(a) for a in arrays[:n]]
    cond_captured = [c_contiguous(a) for a in arrays[n:n + n_cond]]
    body_captured = [c_contiguous(a) for a in arrays[n + n_cond:][:len(loop.body.captured)]]
    limit = int(arrays[-1]) if loop.has_max else maximum_iterations
    invariants = loop.invariants
    _check_shapes(values, invariants, where, "enters the loop with")
    record, t = [], 0
    while limit is None or t < limit:
        (pred,) = step(cond, values + cond_captured, store, f"{where}, iteration {t} (cond)")
        if not pred:
            break
        results = step(body, values + body_captured, store, f"{where}, iteration {t}")
        if loop.records:
            record.append(values + list(results[n:]))
        values = list(results[:n])
        _check_shapes(values, invariants, where, f"after iteration {t} has")
        t += 1
    if not loop.records:
        return tuple(values)
    return tuple(values) + _history(record, loop.recorded, values[0] if values else None)


def _check_shapes(values, invariants, where, when) -> None:
    for k, (value, t) in enumerate(zip(values, invariants)):
        if not fits_static(value.shape, t.shape):
            raise error(where, f"loop variable {k} {when} shape {format_shape(value.shape)}, "
                               f"outside its shape invariant {format_shape(t.shape)}")


def _history(record, types, like) -> tuple:
    """Per recorded slot, its per-iteration values raveled end to end; then the ``layout``:
    ``ndim, *dims`` of every value, iteration by iteration (host metadata)."""
    flats = tuple(np.concatenate([np.ravel(values[j]) for values in record]) if record
                  else empty_like(like, (0,), t.dtype) for j, t in enumerate(types))
    layout = [x for values in record for v in values for x in (v.ndim, *v.shape)]
    return flats + (np.array(layout, np.int64),)


def _replay(flats, layout) -> list:
    """The recorded values, iteration by iteration (views of ``flats``)."""
    layout = [int(x) for x in layout.tolist()]  # one transfer from the device, if there
    iterations, offsets, pos = [], [0] * len(flats), 0
    while pos < len(layout):
        values = []
        for j, flat in enumerate(flats):
            ndim = layout[pos]
            shape = tuple(layout[pos + 1:pos + 1 + ndim])
            size = math.prod(shape)
            values.append(flat[offsets[j]:offsets[j] + size].reshape(shape))
            offsets[j] += size
            pos += 1 + ndim
        iterations.append(values)
    return iterations


# -- while_grad -------------------------------------------------------------------------------


def _while_grad_kernel(node, backend: str):
    grad, where = node.attrs["grad"], node.describe()
    executable = compiled_body(grad, backend) if grad.fetches else None

    def run(*arrays, store, **_):
        return _run_while_grad(executable, grad, arrays, store, where)
    return run


def _run_while_grad(executable, grad, arrays, store, where) -> tuple:
    loop = grad.forward
    n, n_rec = len(loop.leaves), len(loop.recorded)
    finals = arrays[:n]
    iterations = _replay(arrays[n:n + n_rec], arrays[n + n_rec])
    pos = n + n_rec + 1
    dys = dict(zip(grad.dy_vars, arrays[pos:pos + len(grad.dy_vars)]))
    pos += len(grad.dy_vars)
    body_captured = [c_contiguous(a) for a in arrays[pos:pos + len(loop.body.captured)]]
    captured = [c_contiguous(a) for a in arrays[pos + len(loop.body.captured):]]
    adjoints = {k: c_contiguous(dys[k]) if k in dys else np.zeros_like(finals[k])
                for k in grad.g_vars}
    sums = {key: np.zeros_like(body_captured[key[1]]) for key in grad.results
            if key[0] == "captured"}
    for t in range(len(iterations) - 1, -1, -1):
        entering = iterations[t]
        carried = {}
        if executable is not None:
            feeds = entering + body_captured + [adjoints[k] for k in grad.g_vars] + captured
            results = step(executable, feeds, store, f"{where}, iteration {t}")
            for key, r in zip(grad.results, results):
                if key[0] == "var":
                    carried[key[1]] = r
                else:
                    sums[key] += r
        adjoints = {k: carried[k] if k in carried else np.zeros_like(entering[k])
                    for k in grad.g_vars}
    return (tuple(adjoints[k] for k in grad.g_vars)
            + tuple(sums[key] for key in grad.results if key[0] == "captured"))
