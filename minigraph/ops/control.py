"""Theano's ``scan``: a loop whose step is a graph, run as ONE node of the outer program.

``fn`` is traced once, when the graph is built, on per-step leaves (``scan_step``) in the
user's default graph, so variables it creates land there like any other. The nodes that depend
on a step value form the body; everything else the body reads (weights, placeholders, hoisted
loop-invariant expressions -- random ops that do not depend on a step value included, so they
draw once per run, not once per step) is captured and becomes an input of the ``scan`` node.
The node refers to the body only through its ``body`` attr, so the outer program never runs a
body node; each backend compiles the body with itself and calls it once per step
(``minigraph/backends/loop.py``). The gradient is backpropagation through time: a
``scan_grad`` node running the body's vjp over the steps in reverse, recomputing each step's
intermediates from the stacked outputs. Random ops that do depend on a step value draw anew
every step; the node also stacks their draws (hidden outputs) so the gradient replays them.
Higher-order gradients through a scan are not supported (a clear error).
"""
from __future__ import annotations

from collections import OrderedDict

from .. import dtypes
from ..graph import TensorType, format_shape, get_default_graph
from ..tensor import Tensor, convert_to_tensor
from ._loop_body import (ScanBody, _no_step_ref, check_pure, grad_body, random_values,
                         split_body, step_input)
from .registry import InferError, apply_op, defop


def _no_ref(*_args, **_attrs):
    raise RuntimeError("scan runs its body through a backend's compiled loop "
                       "(minigraph/backends/loop.py), not through a reference kernel")


def _stacked(n, t: TensorType) -> TensorType:
    return TensorType(None if t.shape is None else (n,) + tuple(t.shape), t.dtype)


def _static_steps(seq_types, seq_taps, n_steps, has_n_steps):
    """The number of steps when the static shapes (and ``n_steps``) tell it, else ``None``."""
    counts = [None] if has_n_steps else [] if n_steps is None else [n_steps]
    for j, (t, taps) in enumerate(zip(seq_types, seq_taps)):
        length = None if t.shape is None else t.shape[0]
        span = max(taps) - min(taps)
        if length is not None and length < span:
            raise InferError(f"sequence {j} has {length} entries, fewer than its taps "
                             f"{list(taps)} span")
        counts.append(None if length is None else length - span)
    return None if None in counts else min(counts)


def _state_type(i, returned: TensorType, init: TensorType, taps, flat) -> TensorType:
    """The per-step type of recurrent output ``i``, checked against its initial value."""
    per_step = init
    if not flat:
        lags = -min(taps)
        if init.shape is not None and init.shape[0] not in (None, lags):
            raise InferError(f"the initial value of output {i} (taps {list(taps)}) needs a "
                             f"leading dimension of {lags}, got {init.describe()}")
        per_step = TensorType(None if init.shape is None else init.shape[1:], init.dtype)
    merged = _merge(returned.shape, per_step.shape)
    if returned.dtype != per_step.dtype or merged is False:
        raise InferError(
            f"recurrent output {i}: fn returns {returned.describe()} per step, but its initial "
            f"value {init.describe()} gives {per_step.describe()}; they must have the same "
            "shape and dtype (cast or reshape the returned value or the initial value)")
    return TensorType(merged, per_step.dtype)


def _merge(a, b):
    """The more precise of two compatible static shapes, or ``False`` if they conflict."""
    if a is None or b is None:
        return b if a is None else a
    if len(a) != len(b) or any(x is not None and y is not None and x != y for x, y in zip(a, b)):
        return False
    return tuple(x if x is not None else y for x, y in zip(a, b))


def _infer_scan(types, body, go_backwards, truncate_gradient, n_steps):
    n_seq, recurrent = len(body.seq_taps), body.recurrent
    n = _static_steps(types[:n_seq], body.seq_taps, n_steps, body.has_n_steps)
    inits = dict(zip(recurrent, types[n_seq:n_seq + len(recurrent)]))
    out = []
    for i, t in enumerate(body.outputs):
        step = t.type
        if i in inits:
            step = _state_type(i, step, inits[i], body.state_taps[i], body.flat[i])
        out.append(_stacked(n, step))
    return out + [_stacked(n, t.type) for t in body.saved]


def _infer_scan_grad(types, grad, go_backwards, truncate_gradient):
    return [types[p] for p in grad.wrt]


def _scan_vjp(node, dys):
    """Backpropagation through time: one ``scan_grad`` node (the body's vjp, steps reversed)."""
    body = node.attrs["body"]
    has_dy = [d is not None for d in dys[:len(body.outputs)]]
    grad = grad_body(body, has_dy, len(body.seq_taps) + len(body.recurrent))
    if grad is None:
        return [None] * len(node.inputs)
    inputs = (list(node.inputs) + list(node.outputs) + [dys[i] for i in grad.dy_outputs]
              + list(grad.captured))
    attrs = {"grad": grad, "go_backwards": node.attrs["go_backwards"],
             "truncate_gradient": node.attrs["truncate_gradient"]}
    with node.graph.as_default():
        results = apply_op("scan_grad", inputs, attrs, name=node.name.rsplit("/", 1)[-1] + "Grad")
    grads = [None] * len(node.inputs)
    for position, g in zip(grad.wrt, results):
        grads[position] = g
    return grads


def _no_second_order(node, dys):
    raise NotImplementedError(f"{node.describe()}: second-order gradients through scan (the "
                              "gradient of a scan's gradient) are not supported")


_LOOP = {"takes_store": True}  # the runner passes the run's variable store and random streams
defop("scan_step", lambda types, shape, dtype, scan: TensorType(shape, dtype), _no_step_ref,
      kind="leaf", differentiable=False)
defop("scan", _infer_scan, _no_ref, vjp=_scan_vjp, kind="control", extra=_LOOP)
defop("scan_grad", _infer_scan_grad, _no_ref, vjp=_no_second_order, kind="control",
      extra=_LOOP)


# -- the public function -----------------------------------------------------------------------


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         truncate_gradient=-1, go_backwards=False, name=None, mode=None, profile=False,
         strict=False, return_list=False):
    """Theano's ``scan``: ``(outputs, updates)`` of a loop calling ``fn`` once per step.

    ``fn`` receives, in order, one slice per sequence tap, the previous values of each fed-back
    output (one per tap), then the ``non_sequences``; it returns one tensor per
    ``outputs_info`` entry. ``outputs`` stacks each output's per-step values on a new leading
    axis (a single tensor when there is one, unless ``return_list``); ``updates`` is always an
    empty ``OrderedDict``. ``truncate_gradient=k > 0`` backpropagates through the last ``k``
    steps only (earlier steps and the initial states then get zero gradient). ``mode``,
    ``profile`` and ``strict`` are accepted for Theano compatibility and have no effect.
    """
    graph = get_default_graph()
    seqs = [_sequence(entry, j) for j, entry in enumerate(_as_list(sequences))]
    infos = None if outputs_info is None else [
        _output_info(entry, i) for i, entry in enumerate(_as_list(outputs_info))]
    extra = [x if isinstance(x, Tensor) or hasattr(x, "_as_tensor") else convert_to_tensor(x)
             for x in _as_list(non_sequences)]
    steps_attr, steps_input = _n_steps(n_steps, seqs)
    if int(truncate_gradient) == 0:
        raise ValueError("scan: truncate_gradient must be -1 (full backpropagation) or a "
                         f"positive number of steps, got {truncate_gradient}")
    with graph.name_scope(name or "scan") as scope:
        owner = f"scan '{scope.rstrip('/')}'"
        seq_steps = tuple(tuple(step_input(_slice_type(x), owner, f"sequence_{j}_tap_{k}")
                                for k in taps) for j, (x, taps) in enumerate(seqs))
        state_steps = tuple(() if info is None or info[1] is None else tuple(
            step_input(_state_step_type(info), owner, f"output_{i}_tap_{-k}")
            for k in info[1]) for i, info in enumerate(infos or []))
    args = [t for group in seq_steps + state_steps for t in group] + extra
    with graph.control_dependencies(None):
        returned = fn(*args)
    outputs = _returned_outputs(returned, None if infos is None else len(infos))
    infos = infos or [None] * len(outputs)
    recurrent = [i for i, info in enumerate(infos) if info is not None and info[1] is not None]
    nodes, captured = split_body(tuple(t for g in seq_steps + state_steps for t in g), outputs)
    check_pure(nodes)
    body = ScanBody(tuple(taps for _, taps in seqs), seq_steps,
                    tuple(None if i not in recurrent else infos[i][1] for i in range(len(infos))),
                    state_steps + ((),) * (len(infos) - len(state_steps)),
                    tuple(i in recurrent and infos[i][2] for i in range(len(infos))),
                    tuple(outputs), random_values(nodes), captured, steps_input is not None)
    inputs = ([x for x, _ in seqs] + [infos[i][0] for i in recurrent] + list(captured)
              + ([steps_input] if steps_input is not None else []))
    attrs = {"body": body, "go_backwards": bool(go_backwards),
             "truncate_gradient": int(truncate_gradient), "n_steps": steps_attr}
    with graph.name_scope(scope):
        results = apply_op("scan", inputs, attrs, name="Scan")
    results = list(results[:len(outputs)])
    single = len(results) == 1 and not return_list
    return (results[0] if single else results), OrderedDict()


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _sequence(entry, j) -> tuple[Tensor, tuple]:
    """``(tensor, taps)`` of a ``sequences`` entry (a tensor or ``dict(input=, taps=)``)."""
    taps = (0,)
    if isinstance(entry, dict):
        if "input" not in entry:
            raise ValueError(f"scan: sequence {j} is a dict without an 'input' entry")
        taps = _taps(entry.get("taps", [0]), f"sequence {j}")
        entry = entry["input"]
    x = convert_to_tensor(entry)
    if x.ndim == 0:
        raise ValueError(f"scan: sequence {j} ({x.name!r}) is a scalar; sequences are iterated "
                         "over their first axis")
    return x, taps


def _output_info(entry, i):
    """``None`` (not fed back) or ``(initial, taps, flat)`` for an ``outputs_info`` entry."""
    if entry is None:
        return None
    if isinstance(entry, dict):
        if entry.get("initial") is None:
            return None
        taps = _taps(entry.get("taps", [-1]), f"output {i}")
        if not taps:
            return None
        if max(taps) >= 0:
            raise ValueError(f"scan: output {i} taps must be negative (previous steps), got "
                             f"{list(taps)}")
        init = convert_to_tensor(entry["initial"])
        if taps != (-1,) and init.ndim == 0:
            raise ValueError(f"scan: the initial value of output {i} (taps {list(taps)}) needs "
                             f"a leading axis of {-min(taps)} past values, got a scalar")
        return init, taps, taps == (-1,)
    return convert_to_tensor(entry), (-1,), True


def _taps(taps, what) -> tuple:
    taps = _as_list(taps)
    if not all(isinstance(k, int) for k in taps) or len(set(taps)) != len(taps):
        raise ValueError(f"scan: {what} taps must be distinct ints, got {taps}")
    return tuple(sorted(taps))


def _slice_type(x: Tensor) -> TensorType:
    return TensorType(None if x.type.shape is None else x.type.shape[1:], x.dtype)


def _state_step_type(info) -> TensorType:
    init, _, flat = info
    return init.type if flat else _slice_type(init)


def _n_steps(n_steps, seqs):
    """``(static count or None, scalar int tensor input or None)``."""
    if n_steps is None:
        if not seqs:
            raise ValueError("scan: without sequences, n_steps must be given")
        return None, None
    if isinstance(n_steps, Tensor):
        if n_steps.ndim not in (0, None) or not dtypes.is_integer(n_steps.dtype):
            raise TypeError(f"scan: n_steps must be an int or an integer scalar tensor, got "
                            f"{format_shape(n_steps.type.shape)} {n_steps.dtype}")
        return None, n_steps
    if int(n_steps) != n_steps or int(n_steps) < 0:
        raise ValueError(f"scan: n_steps must be a non-negative int, got {n_steps!r}")
    return int(n_steps), None


def _returned_outputs(returned, expected) -> list[Tensor]:
    """``fn``'s result as a list of tensors, one per ``outputs_info`` entry."""
    if isinstance(returned, dict) or (isinstance(returned, (list, tuple)) and any(
            isinstance(r, dict) for r in returned)):
        raise TypeError("scan: fn returned a dict (updates); returning updates from the step "
                        "function is not supported: return only the step's outputs")
    values = list(returned) if isinstance(returned, (list, tuple)) else [returned]
    if not values:
        raise ValueError("scan: fn must return at least one output")
    if expected is not None and len(values) != expected:
        raise ValueError(f"scan: fn returned {len(values)} outputs, but outputs_info has "
                         f"{expected} entries (use None for outputs that are not fed back)")
    return [convert_to_tensor(v) for v in values]


__all__ = ["scan"]
