"""Loop bodies of ``scan`` and of its gradient: sub-graphs of the user's graph that a backend
compiles into a program run once per step.

A body is traced in the user's graph: per-step values are ``scan_step`` leaves, the function
builds ordinary nodes on them, and ``split_body`` separates the nodes that depend on a step
value (the body, run every step) from everything else they read (captured outer values, fed to
the body program as loop invariants: computed once per run, before the loop). Bodies are
immutable, compared and hashed by identity, and hold their tensors only as node attrs, so the
outer program never schedules a body node.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import dtypes
from ..graph import TensorType, ancestors
from ..tensor import Tensor, convert_to_tensor
from .registry import apply_op, get_op


def _no_step_ref(*_args, shape, dtype, scan):
    raise RuntimeError(f"this tensor is a per-step value of {scan}: it exists only inside the "
                       "loop; fetch the scan's outputs instead")


def step_input(t: TensorType, scan: str, name: str) -> Tensor:
    """A leaf standing for one per-step value inside a loop body."""
    return apply_op("scan_step", [], {"shape": t.shape, "dtype": t.dtype, "scan": scan},
                    name=name)


@dataclass(frozen=True, eq=False)
class ScanBody:
    """The traced step function of one ``scan``.

    ``seq_taps[j]``/``seq_steps[j]``: taps of sequence ``j`` and the leaf of each tap;
    ``state_taps[i]``: negative taps of output ``i`` (``None``: not fed back), ``state_steps[i]``
    their leaves and ``flat[i]`` whether its initial value has no leading tap axis; ``outputs``:
    the per-step results; ``saved``: values of the body's random ops, stacked by the loop so
    the gradient replays the same draws; ``captured``: outer values the body reads.
    """

    seq_taps: tuple
    seq_steps: tuple
    state_taps: tuple
    state_steps: tuple
    flat: tuple
    outputs: tuple
    saved: tuple
    captured: tuple
    has_n_steps: bool

    @property
    def step_feeds(self) -> tuple:
        """The leaves fed each step: sequence taps, then state taps."""
        return tuple(t for taps in self.seq_steps + self.state_steps for t in taps)

    @property
    def feeds(self) -> tuple:
        return self.step_feeds + self.captured

    @property
    def fetches(self) -> tuple:
        return self.outputs + self.saved

    @property
    def recurrent(self) -> list[int]:
        """Indices of the outputs that are fed back."""
        return [i for i, taps in enumerate(self.state_taps) if taps is not None]

    def __repr__(self):
        return (f"<scan body: {len(self.seq_taps)} sequences, {len(self.outputs)} outputs, "
                f"{len(self.captured)} captured>")


@dataclass(frozen=True, eq=False)
class GradBody:
    """One backward step of a ``scan`` (backpropagation through time).

    Fed: the forward step's leaves and saved random values, then ``g_steps`` (the total
    cotangent of each output in ``g_outputs``: its carried adjoint plus its incoming gradient,
    given for the outputs in ``dy_outputs``), then ``captured``. ``fetches[r]`` is the step's
    gradient for ``results[r]``: ``("seq", j, k)`` tap ``k`` of sequence ``j``, ``("state", i,
    k)`` tap ``k`` of output ``i``, ``("captured", c)`` forward captured value ``c``. ``wrt``:
    the forward node's input positions that get a gradient, in output order.
    """

    forward: ScanBody
    g_outputs: tuple
    dy_outputs: tuple
    g_steps: tuple
    results: tuple
    fetches: tuple
    captured: tuple
    wrt: tuple

    @property
    def feeds(self) -> tuple:
        return self.forward.step_feeds + self.forward.saved + self.g_steps + self.captured

    def __repr__(self):
        return f"<scan gradient body: {len(self.fetches)} gradients, {len(self.captured)} captured>"


def split_body(steps, outputs) -> tuple[list, tuple]:
    """``(body nodes, captured tensors)``: the nodes computing ``outputs`` that depend on a tensor
    of ``steps``, and the other tensors they (or ``outputs`` directly) read, in graph order."""
    step_set = set(steps)
    order = ancestors([o.node for o in outputs if o not in step_set], step_set)
    body: set = set()
    for node in order:
        if any(t in step_set or t.node in body for t in node.inputs):
            body.add(node)
    captured: dict = {}
    for node in order:
        if node in body:
            _check_control(node, body)
            for t in node.inputs:
                if t not in step_set and t.node not in body:
                    captured.setdefault(t)
    for o in outputs:
        if o not in step_set and o.node not in body:
            captured.setdefault(o)
    return [n for n in order if n in body], tuple(captured)


def _check_control(node, body) -> None:
    outer = [dep for dep in node.control_inputs if dep not in body]
    if outer:
        raise ValueError(f"scan: {node.describe()} inside the loop has a control dependency on "
                         f"{outer[0].describe()} outside it; scan bodies cannot wait on outer "
                         "ops (compute it before the scan and pass the value in)")


def check_pure(nodes) -> None:
    """Loop bodies may not write state: every step would assign again (clear error)."""
    for node in nodes:
        opdef = get_op(node.op)
        if opdef.kind == "state" or (opdef.stateful and not opdef.random):
            raise ValueError(f"scan: fn must not change state inside the loop, but "
                             f"{node.describe()} does; compute updates outside the scan")


def random_values(nodes) -> tuple:
    """Outputs of the random ops among body ``nodes`` (saved so the gradient replays them)."""
    return tuple(t for n in nodes if get_op(n.op).random for t in n.outputs)


def grad_body(body: ScanBody, has_dy, n_inputs_before_captured: int) -> GradBody | None:
    """The backward step of ``body`` for outputs with an incoming gradient (``has_dy[i]``), or
    ``None`` when no gradient flows. Built with ``gradients`` on the body's inner tensors."""
    from ..autodiff import gradients

    floats = [dtypes.is_float(o.dtype) for o in body.outputs]
    dy_outputs = tuple(i for i, d in enumerate(has_dy) if d and floats[i])
    if not dy_outputs:
        return None
    g_outputs = tuple(i for i in range(len(body.outputs)) if floats[i] and (
        i in dy_outputs or body.state_taps[i] is not None))
    graph = body.outputs[0].graph
    with graph.as_default(), graph.name_scope("scan_grad"), graph.control_dependencies(None):
        g_steps = tuple(step_input(body.outputs[i].type, "a scan gradient", f"d_output_{i}")
                        for i in g_outputs)
        keys, xs = _gradient_targets(body)
        grads = gradients([body.outputs[i] for i in g_outputs], xs, grad_ys=list(g_steps),
                          stop_gradients=list(body.captured))
    kept = [(k, convert_to_tensor(g)) for k, x, g in zip(keys, xs, grads)
            if g is not None and dtypes.is_float(x.dtype)]
    if not kept:
        return None
    fetches = tuple(g for _, g in kept)
    _, captured = split_body(body.step_feeds + body.saved + g_steps, fetches)
    results = tuple(k for k, _ in kept)
    return GradBody(body, g_outputs, dy_outputs, g_steps, results, fetches, captured,
                    _wrt(body, results, n_inputs_before_captured))


def _gradient_targets(body: ScanBody) -> tuple[list, list]:
    """(result key, tensor) for every value a step's gradient is taken with respect to."""
    keys, xs = [], []
    for j, leaves in enumerate(body.seq_steps):
        for k, leaf in enumerate(leaves):
            keys.append(("seq", j, k))
            xs.append(leaf)
    for i, leaves in enumerate(body.state_steps):
        for k, leaf in enumerate(leaves):
            keys.append(("state", i, k))
            xs.append(leaf)
    for c, tensor in enumerate(body.captured):
        keys.append(("captured", c))
        xs.append(tensor)
    return keys, xs


def _wrt(body: ScanBody, results, n_before_captured: int) -> tuple:
    """The forward scan's input positions that receive a gradient, in input order."""
    recurrent = body.recurrent
    positions = set()
    for key in results:
        if key[0] == "seq":
            positions.add(key[1])
        elif key[0] == "state":
            positions.add(len(body.seq_taps) + recurrent.index(key[1]))
        else:
            positions.add(n_before_captured + key[1])
    return tuple(sorted(positions))

