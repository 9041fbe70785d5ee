"""Bodies of ``scan``, ``cond`` and ``while_loop`` and of their gradients: sub-graphs of the
user's graph that a backend compiles into a program run once per step (or per taken branch).

A body is traced in the user's graph: per-step values are ``scan_step`` leaves, the function
builds ordinary nodes on them. ``split_body`` separates the nodes that depend on a step value
(the body, run every step) from everything else they read (captured outer values, fed to the
body program as loop invariants: computed once per run, before the loop); ``split_traced``
instead keeps in the body every node the function created (control flow: a branch's nodes run
only when it is taken, a ``while_loop`` body's nodes once per iteration). Bodies are immutable,
compared and hashed by identity, and hold their tensors only as node attrs, so the outer
program never schedules a body node.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import dtypes
from ..graph import TensorType, ancestors, get_default_graph
from ..tensor import Tensor, convert_to_tensor
from .registry import apply_op, get_op


def _no_step_ref(*_args, shape, dtype, scan):
    raise RuntimeError(f"this tensor is a per-step value of {scan}: it exists only inside the "
                       "loop; fetch the loop's outputs instead")


def no_body_ref(*_args, **_attrs):
    raise RuntimeError("loops and branches run their bodies through a backend's compiled "
                       "programs (minigraph/backends/loop.py), not through a reference kernel")


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


@dataclass(frozen=True, eq=False)
class Subgraph:
    """A traced function a backend runs as one program (a ``cond`` branch, a ``while_loop``
    condition or body), closed over its outer values: fed its ``inputs`` (per-call leaves, the
    loop values) then ``params`` (one per ``captured`` outer value, which the node passes in),
    it computes ``outputs`` and ``saved`` (its random draws, kept for the gradient). ``nodes``:
    its body, built on those feeds only -- so gradients w.r.t. ``params`` stay inside."""

    inputs: tuple
    params: tuple
    captured: tuple
    outputs: tuple
    nodes: tuple
    saved: tuple

    @property
    def feeds(self) -> tuple:
        return self.inputs + self.params

    @property
    def fetches(self) -> tuple:
        return self.outputs + self.saved

    def __repr__(self):
        return (f"<subgraph: {len(self.inputs)} inputs, {len(self.outputs)} outputs, "
                f"{len(self.captured)} captured>")


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


def _check_control(node, body, owner: str = "scan") -> None:
    outer = [dep for dep in node.control_inputs if dep not in body]
    if outer:
        raise ValueError(f"{owner}: {node.describe()} inside the {owner} has a control dependency "
                         f"on {outer[0].describe()} outside it; {owner} bodies cannot wait on "
                         f"outer ops (compute it before the {owner} and pass the value in)")


def trace_body(fn, args, owner: str, kind: str, what: str, steps=(), bound=(),
               extra=frozenset()):
    """``(returned structure, Subgraph)`` of ``fn(*args)`` traced in the default graph.

    The nodes it creates (and those of ``extra`` it reaches: a forward body a gradient
    recomputes) form the body, copied onto leaves (``rehome``). ``steps``: leaves fed per
    call; ``bound``: ``(inner, outer)`` pairs, inner tensors fed with outer values (a
    gradient's forward values). ``owner`` (``cond 'cond_1'``) and ``kind`` (``cond``) name
    the construct in errors.
    """
    from ._nest import flatten

    graph = get_default_graph()
    first = len(graph.nodes)
    with graph.control_dependencies(None):
        returned = fn(*args)
    if returned is None:
        raise ValueError(f"{owner}: {what} must return a value")
    outputs = tuple(_as_output(v, owner, what) for v in flatten(returned))
    if not outputs:
        raise ValueError(f"{owner}: {what} must return at least one tensor")
    inner = tuple(t for t, _ in bound)
    nodes, captured = split_traced(tuple(steps) + inner, outputs, first, kind, extra)
    check_pure(nodes, kind)
    mapping, params, copies = rehome(nodes, captured, owner)
    return returned, Subgraph(tuple(steps), inner + params,
                              tuple(o for _, o in bound) + captured,
                              tuple(mapping.get(o, o) for o in outputs), copies,
                              random_values(copies))


def rehome(nodes, captured, owner: str) -> tuple[dict, tuple, tuple]:
    """``(tensor map, params, copies)``: copies of the body ``nodes`` reading a new leaf (param)
    per ``captured`` value, so a gradient w.r.t. the params never walks the outer graph (nor
    double counts an outer value that another one depends on)."""
    graph = get_default_graph()
    copies: dict = {}
    with graph.control_dependencies(None):
        params = tuple(step_input(c.type, owner, f"captured_{i}")
                       for i, c in enumerate(captured))
        mapping: dict = dict(zip(captured, params))
        for node in nodes:
            copy = graph.add_node(node.op, [mapping.get(t, t) for t in node.inputs], node.attrs,
                                  node.out_types, name=node.name.rsplit("/", 1)[-1],
                                  site=node.site,
                                  control_inputs=[copies[c] for c in node.control_inputs])
            copies[node] = copy
            mapping.update(zip(node.outputs, copy.outputs))
    return mapping, params, tuple(copies.values())


def _as_output(value, owner: str, what: str) -> Tensor:
    try:
        return convert_to_tensor(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{owner}: {what} returned {value!r}, which is not a tensor "
                        f"({err})") from None


def split_traced(steps, outputs, first_id: int, owner: str, extra=frozenset()) -> tuple:
    """``(body nodes, captured tensors)`` of a traced function: the nodes computing ``outputs``
    that it created (id ``>= first_id``, or listed in ``extra``: nodes of the body a gradient
    recomputes), reached through such nodes and their control inputs; variables and
    placeholders it created are captured like every other value it reads, in graph order."""
    step_set = set(steps)
    body: set = set()
    stack = [o.node for o in outputs if o not in step_set]
    while stack:
        node = stack.pop()
        if node in body or not _created(node, first_id, extra):
            continue
        body.add(node)
        stack.extend(t.node for t in node.inputs if t not in step_set)
        stack.extend(node.control_inputs)
    order = sorted(body, key=lambda n: n.id)
    captured: dict = {}
    for node in order:
        _check_control(node, body, owner)
        for t in node.inputs:
            if t not in step_set and t.node not in body:
                captured.setdefault(t)
    for o in outputs:
        if o not in step_set and o.node not in body:
            captured.setdefault(o)
    return order, tuple(captured)


def _created(node, first_id: int, extra) -> bool:
    kind = get_op(node.op).kind
    return (node.id >= first_id or node in extra) and (kind != "leaf" or node.op == "constant")


def check_pure(nodes, owner: str = "scan") -> None:
    """Loop and branch bodies may not write state: a loop would assign again every step, and a
    run commits its writes together at the end (clear error)."""
    for node in nodes:
        opdef = get_op(node.op)
        if opdef.kind == "state" or (opdef.stateful and not opdef.random):
            raise ValueError(f"{owner}: fn must not change state inside the {owner}, but "
                             f"{node.describe()} does; compute updates outside the {owner}")


def random_values(nodes) -> tuple:
    """Outputs of the random ops among body ``nodes`` (saved so the gradient replays them)."""
    return tuple(t for n in nodes if get_op(n.op).random for t in n.outputs)


def grad_body(body: ScanBody, has_dy, n_inputs_before_captured: int) -> GradBody | None:
    """The backward step of ``body`` for outputs with an incoming gradient (``has_dy[i]``), or
    ``None`` when no gradient flows. Built with ``gradients`` on the body's inner tensors."""
    floats = [dtypes.is_float(o.dtype) for o in body.outputs]
    dy_outputs = tuple(i for i, d in enumerate(has_dy) if d and floats[i])
    if not dy_outputs:
        return None
    g_outputs = tuple(i for i in range(len(body.outputs)) if floats[i] and (
        i in dy_outputs or body.state_taps[i] is not None))
    step = backward_step([body.outputs[i] for i in g_outputs],
                         [f"d_output_{i}" for i in g_outputs], _gradient_targets(body),
                         body.captured, body.step_feeds + body.saved, "scan_grad",
                         "a scan gradient")
    if step is None:
        return None
    g_steps, results, fetches, captured = step
    return GradBody(body, g_outputs, dy_outputs, g_steps, results, fetches, captured,
                    _wrt(body, results, n_inputs_before_captured))


def backward_step(ys, names, targets, stop, fed, scope: str, owner: str) -> tuple | None:
    """``(cotangent leaves, kept keys, fetches, captured)`` of one backward step: the gradients
    of ``ys`` (seeded with one new leaf each, named ``names``) w.r.t. the float tensors of
    ``targets`` (``(key, tensor)`` pairs) that get one, ``stop`` blocking the flow into the
    outer graph; the body depends on ``fed`` or the leaves. ``None``: no gradient flows."""
    from ..autodiff import gradients

    graph = ys[0].graph
    with graph.as_default(), graph.name_scope(scope), graph.control_dependencies(None):
        g_steps = tuple(step_input(y.type, owner, name) for y, name in zip(ys, names))
        grads = gradients(list(ys), [x for _, x in targets], grad_ys=list(g_steps),
                          stop_gradients=list(stop))
    kept = [(key, convert_to_tensor(g)) for (key, x), g in zip(targets, grads)
            if g is not None and dtypes.is_float(x.dtype)]
    if not kept:
        return None
    fetches = tuple(g for _, g in kept)
    _, captured = split_body(tuple(fed) + g_steps, fetches)
    return g_steps, tuple(key for key, _ in kept), fetches, captured


def _gradient_targets(body: ScanBody) -> list:
    """``(result key, tensor)`` for every value a step's gradient is taken with respect to."""
    targets = [(("seq", j, k), leaf) for j, leaves in enumerate(body.seq_steps)
               for k, leaf in enumerate(leaves)]
    targets += [(("state", i, k), leaf) for i, leaves in enumerate(body.state_steps)
                for k, leaf in enumerate(leaves)]
    return targets + [(("captured", c), tensor) for c, tensor in enumerate(body.captured)]


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

