"""The kernels of ``scan``, ``cond``, ``while_loop`` and their gradients, shared by every
backend.

A loop body (``ops/_loop_body.py``) is compiled by the backend that runs the loop -- its own
rewrite passes, kernels, memory plan and generated runner, as for any program -- once per body
and backend, when the outer program is bound; ``Executable`` then binds it once per set of step
shapes. A step is one call of that bound runner on views of the loop's arrays, with the outer
run's variable store and random streams: no graph work per step.

The loop code is array-module generic: it allocates with ``np.*_like`` on the arrays it is
given and combines them through NumPy calls, which CuPy arrays dispatch to CuPy -- so on the
cupy backend a loop's buffers stay on the device and each step is a device binding's run.

The forward loop keeps each fed-back output in one buffer ``[initial taps; step values]``, so
the stacked output is a view of it and tap ``k`` at step ``t`` is row ``lags + t + k``. The
backward loop walks the steps in reverse carrying, per fed-back output, the adjoints of the
``lags`` states the current step may read; gradients of captured values are summed in place.
"""
from __future__ import annotations

import weakref

import numpy as np

from ..compiler import compile_plan
from ..compiler.shapes import propagate
from ..errors import InvalidArgumentError, MinigraphError
from ..feeds import c_contiguous
from ..graph import format_shape
from .executable import WRAPPED

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""body -> {backend name: Executable}; a body lives as long as the graph holding it."""


def compiled_body(body, backend: str):
    """The body's ``Executable`` on ``backend``, compiled on first use."""
    per_backend = _COMPILED.setdefault(body, {})
    executable = per_backend.get(backend)
    if executable is None:
        executable = compile_plan(list(body.fetches), list(body.feeds), backend)
        per_backend[backend] = executable
    return executable


def loop_bodies(node) -> list:
    """The bodies a loop or branch node compiles with ``compiled_body`` (e.g. for listing
    their kernels before any step runs); none for other nodes."""
    attrs = node.attrs
    if node.op == "while_loop":
        return [attrs["loop"].cond, attrs["loop"].body]
    keys = {"scan": ("body",), "scan_grad": ("grad",), "cond": ("true", "false"),
            "while_grad": ("grad",)}.get(node.op, ())
    return [attrs[k] for k in keys if getattr(attrs[k], "fetches", None)]


def loop_kernels(backend: str) -> dict:
    """``op -> make(node)`` for the loop and branch ops, their bodies compiled with
    ``backend`` (``case_index``, which picks a ``case`` branch, runs its NumPy reference)."""
    from .control_flow import control_flow_kernels

    return {"scan": lambda node: _scan_kernel(node, backend),
            "scan_grad": lambda node: _grad_kernel(node, backend),
            **control_flow_kernels(backend)}


def _scan_kernel(node, backend: str):
    body, where = node.attrs["body"], node.describe()
    executable = compiled_body(body, backend)

    def run(*arrays, store, go_backwards, n_steps, **_):
        return _run_scan(executable, body, arrays, go_backwards, n_steps, store, where)
    return run


def _grad_kernel(node, backend: str):
    grad, where = node.attrs["grad"], node.describe()
    executable = compiled_body(grad, backend)

    def run(*arrays, store, go_backwards, truncate_gradient, **_):
        return _run_grad(executable, grad, arrays, go_backwards, truncate_gradient, store, where)
    return run


# -- forward ----------------------------------------------------------------------------------


def _run_scan(executable, body, arrays, go_backwards, n_steps, store, where) -> tuple:
    n_seq, recurrent, n_cap = len(body.seq_taps), body.recurrent, len(body.captured)
    seqs = _iterated(arrays[:n_seq], go_backwards)
    inits = arrays[n_seq:n_seq + len(recurrent)]
    captured = [c_contiguous(a) for a in arrays[n_seq + len(recurrent):][:n_cap]]
    limit = int(arrays[-1]) if body.has_n_steps else n_steps
    n = _count_steps(seqs, body.seq_taps, limit, where)
    states = {i: _state_buffer(init, body.state_taps[i], body.flat[i], n, where, i)
              for i, init in zip(recurrent, inits)}
    sources = _sources(body, seqs, states)
    sinks: list = [states.get(k) for k in range(len(body.fetches))]
    like = next((a for a, _ in sources), captured[0] if captured else None)
    for t in range(n):
        feeds = [a[t + off, ...] for a, off in sources]  # ``...``: a 0-d step stays an array
        results = step(executable, feeds + captured, store, f"{where}, step {t}")
        if t == 0:
            sinks = [s if s is not None else (np.empty_like(r, shape=(n,) + r.shape), 0)
                     for s, r in zip(sinks, results)]
        for k, (r, (target, off)) in enumerate(zip(results, sinks)):
            if r.shape != target.shape[1:]:
                raise _shape_error(where, t, k, r.shape, target.shape[1:], k in states)
            target[t + off] = r
    if n == 0:
        sinks = _empty_sinks(executable, sources, captured, sinks, like)
    return tuple(target[off:] for target, off in sinks)


def _iterated(seqs, go_backwards: bool) -> list:
    """Sequences as contiguous arrays, viewed in iteration order."""
    seqs = [c_contiguous(a) for a in seqs]
    return [s[::-1] for s in seqs] if go_backwards else seqs


def _count_steps(seqs, seq_taps, limit, where) -> int:
    counts = [len(s) - (taps[-1] - taps[0]) for s, taps in zip(seqs, seq_taps)]
    if limit is not None:
        if limit < 0:
            raise error(where, f"n_steps must be non-negative, got {limit}")
        counts.append(limit)
    n = min(counts)
    if n < 0:
        j = counts.index(n)
        raise error(where, f"sequence {j} has {len(seqs[j])} entries, fewer than its taps "
                           f"{list(seq_taps[j])} span")
    return n


def _state_buffer(init, taps, flat, n, where, i) -> tuple:
    """``(buffer, lags)``: the initial taps followed by room for ``n`` step values."""
    block = as_array(init)[None] if flat else as_array(init)
    lags = -taps[0]
    if block.shape[0] != lags:
        raise error(where, f"the initial value of output {i} (taps {list(taps)}) needs a "
                           f"leading dimension of {lags}, got shape {format_shape(block.shape)}")
    buffer = np.empty_like(block, shape=(lags + n,) + block.shape[1:])
    buffer[:lags] = block
    return buffer, lags


def _sources(body, seqs, states) -> list:
    """``(array, offset)`` per fed step leaf: step ``t`` reads ``array[t + offset]``."""
    sources = [(seq, k - taps[0]) for seq, taps in zip(seqs, body.seq_taps) for k in taps]
    for i, (buffer, lags) in states.items():
        sources += [(buffer, lags + k) for k in body.state_taps[i]]
    return sources


def step(executable, feeds, store, where: str) -> list:
    """One call of a bound body; errors from inside name ``where`` (node and step)."""
    try:
        return executable.run_body(feeds, store)
    except Exception as err:
        raise _step_error(where, err) from err


def as_array(value):
    """``value`` as an array of its own module (host scalars become NumPy arrays)."""
    return value if hasattr(value, "__array_function__") else np.asarray(value)


def empty_like(like, shape, dtype):
    """An empty array in the module of ``like`` (NumPy when there is none)."""
    return np.empty(shape, dtype) if like is None else np.empty_like(like, dtype, shape=shape)


def _empty_sinks(executable, sources, captured, sinks, like) -> list:
    """Zero-step outputs, their step shapes from the body's shape inference."""
    shapes = [a.shape[1:] for a, _ in sources] + [a.shape for a in captured]
    types = propagate(executable.program, shapes)
    out = []
    for sink, value in zip(sinks, executable.program.outputs):
        if sink is None:
            t = types[value]
            shape = (0,) if t.shape is None else (0,) + tuple(d or 0 for d in t.shape)
            sink = (empty_like(like, shape, t.dtype), 0)
        out.append(sink)
    return out


# -- backward ---------------------------------------------------------------------------------


def _run_grad(executable, grad, arrays, go_backwards, truncate, store, where) -> tuple:
    body = grad.forward
    n_seq, recurrent, n_cap = len(body.seq_taps), body.recurrent, len(body.captured)
    n_in = n_seq + len(recurrent) + n_cap + int(body.has_n_steps)
    n_out, n_dy = len(body.fetches), len(grad.dy_outputs)
    seqs = _iterated(arrays[:n_seq], go_backwards)
    inits = dict(zip(recurrent, arrays[n_seq:n_seq + len(recurrent)]))
    outs = [c_contiguous(a) for a in arrays[n_in:n_in + n_out]]
    dys = {i: c_contiguous(a)
           for i, a in zip(grad.dy_outputs, arrays[n_in + n_out:n_in + n_out + n_dy])}
    captured = [c_contiguous(a) for a in arrays[n_in + n_out + n_dy:]]
    n = outs[0].shape[0]
    states = {i: _replayed_states(inits[i], outs[i], body.state_taps[i], body.flat[i])
              for i in recurrent}
    sources = _sources(body, seqs, states) + [(a, 0) for a in outs[len(body.outputs):]]
    adjoints = {i: np.zeros_like(states[i][0][:states[i][1]]) for i in grad.g_outputs
                if i in states}
    sums = _gradient_sums(grad, seqs, arrays[n_seq + len(recurrent):][:n_cap])
    first = n - (n if truncate <= 0 else min(n, truncate))
    for t in range(n - 1, first - 1, -1):
        feeds = [a[t + off, ...] for a, off in sources] + _cotangents(grad, adjoints, dys, t)
        results = step(executable, feeds + captured, store, f"{where}, step {t}")
        for adjoint in adjoints.values():
            adjoint[1:] = adjoint[:-1].copy()
            adjoint[0] = 0
        _accumulate(grad, results, t, sums, adjoints, states)
    return _gradients(grad, sums, adjoints, inits, first == 0, go_backwards)


def _replayed_states(init, outputs, taps, flat) -> tuple:
    """``(buffer, lags)`` of a fed-back output as the forward loop had it."""
    block = as_array(init)[None] if flat else as_array(init)
    return np.concatenate([block, outputs]), -taps[0]


def _gradient_sums(grad, seqs, captured) -> dict:
    """Zeroed accumulators for the sequence and captured-value gradients the body yields."""
    sums = {}
    for key in grad.results:
        if key[0] == "seq":
            sums.setdefault(("seq", key[1]), np.zeros_like(seqs[key[1]]))
        elif key[0] == "captured":
            sums.setdefault(key, np.zeros_like(as_array(captured[key[1]])))
    return sums


def _cotangents(grad, adjoints, dys, t) -> list:
    """The total cotangent of each output at step ``t``: carried adjoint plus incoming dy."""
    values = []
    for i in grad.g_outputs:
        carried = adjoints[i][-1, ...] if i in adjoints else None
        incoming = dys[i][t, ...] if i in dys else None
        values.append(incoming if carried is None else carried if incoming is None
                      else np.add(carried, incoming, out=np.empty_like(carried)))
    return values


def _accumulate(grad, results, t, sums, adjoints, states) -> None:
    """Add step ``t``'s gradients into the sums and the (already shifted) adjoints."""
    body = grad.forward
    for key, r in zip(grad.results, results):
        if key[0] == "seq":
            seq_taps = body.seq_taps[key[1]]
            sums["seq", key[1]][t + seq_taps[key[2]] - seq_taps[0]] += r
        elif key[0] == "state":
            i = key[1]
            adjoints[i][states[i][1] + body.state_taps[i][key[2]]] += r
        else:
            sums[key] += r


def _gradients(grad, sums, adjoints, inits, complete, go_backwards) -> tuple:
    """One gradient per ``grad.wrt`` position; initial states get one only if every step was
    backpropagated through (``truncate_gradient`` stops earlier)."""
    body = grad.forward
    n_seq, recurrent = len(body.seq_taps), body.recurrent
    out = []
    for position in grad.wrt:
        if position < n_seq:
            g = sums["seq", position]
            out.append(c_contiguous(g[::-1]) if go_backwards else g)
        elif position < n_seq + len(recurrent):
            i = recurrent[position - n_seq]
            init = as_array(inits[i])
            adjoint = adjoints[i] if complete else np.zeros_like(adjoints[i])
            out.append(adjoint[0] if body.flat[i] else adjoint.reshape(init.shape))
        else:
            out.append(sums["captured", position - n_seq - len(recurrent)])
    return tuple(out)


# -- errors -----------------------------------------------------------------------------------


def error(where: str, message: str) -> InvalidArgumentError:
    err = InvalidArgumentError(f"{where}: {message}")
    err._mg_wrapped = True
    return err


def _shape_error(where, t, k, got, want, recurrent) -> InvalidArgumentError:
    what = "its state" if recurrent else "step 0 gave"
    return error(where, f"step {t}: output {k} has shape {format_shape(got)}, but {what} "
                        f"has shape {format_shape(want)}")


def _step_error(where: str, err: Exception) -> Exception:
    """``err`` from inside the body, re-raised naming the node and the step."""
    if isinstance(err, MinigraphError):
        cls = type(err)
    else:
        cls = InvalidArgumentError if isinstance(err, WRAPPED) else RuntimeError
    try:
        wrapped = cls(f"{where}: {err}")
    except TypeError:
        wrapped = RuntimeError(f"{where}: {err}")
    wrapped._mg_wrapped = True
    return wrapped
