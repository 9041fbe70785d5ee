"""TF1's ``tf.while_loop`` as ONE ``while_loop`` node (re-exported by ``control_flow``).

``cond`` and ``body`` are traced once on per-iteration leaves (one per loop variable, of its
shape-invariant type); the backend calls the compiled condition and body once per iteration.
With ``back_prop`` (and a float loop variable), the node also returns, as hidden outputs, the
loop values entering every iteration and the body's random draws, each raveled end to end,
plus their shapes (``layout``: ``ndim, *dims`` per value) -- loop variables may change shape
under a shape invariant. The gradient is a ``while_grad`` node running the body's vjp over the
recorded iterations in reverse. Higher-order gradients through a loop are not supported.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import dtypes
from ..graph import TensorType, format_shape, get_default_graph
from ..tensor import Tensor, convert_to_tensor
from ._loop_body import Subgraph, backward_step, no_body_ref, step_input, trace_body
from ._nest import flatten, mismatch, pack
from .registry import apply_op, defop


@dataclass(frozen=True, eq=False)
class WhileLoop:
    """A traced loop: ``cond`` and ``body`` are both fed ``leaves`` (the loop values entering an
    iteration); ``records``: the node returns the iteration history for the gradient;
    ``has_max``: its last input is a ``maximum_iterations`` tensor."""

    leaves: tuple
    cond: Subgraph
    body: Subgraph
    records: bool
    has_max: bool

    @property
    def invariants(self) -> tuple:
        return tuple(t.type for t in self.leaves)

    @property
    def recorded(self) -> tuple:
        """Types of the values recorded per iteration: loop values, then random draws."""
        return self.invariants + tuple(t.type for t in self.body.saved)

    def __repr__(self):
        return f"<while_loop: {len(self.leaves)} loop vars, {len(self.body.captured)} captured>"


@dataclass(frozen=True, eq=False)
class WhileGrad:
    """One reverse iteration of a ``while_loop``: fed the iteration's loop values and random
    draws, the body's params (its captured values), then ``g_steps`` (the cotangents of the
    body's results for the float loop variables ``g_vars``), then ``captured``; ``fetches[r]``
    is the gradient for ``results[r]``: ``("var", k)`` loop variable ``k`` entering the
    iteration, ``("captured", c)`` the body's param ``c``. ``dy_vars``: loop variables given an
    incoming gradient; ``types``: the node's output types (``g_vars``, then captured results)."""

    forward: WhileLoop
    g_vars: tuple
    dy_vars: tuple
    g_steps: tuple
    results: tuple
    fetches: tuple
    captured: tuple
    types: tuple

    @property
    def feeds(self) -> tuple:
        body = self.forward.body
        return body.inputs + body.saved + body.params + self.g_steps + self.captured

    def __repr__(self):
        return f"<while_loop gradient body: {len(self.fetches)} gradients>"


def _infer_while(types, loop, maximum_iterations):
    out = list(loop.invariants)
    if loop.records:
        out += [TensorType((None,), t.dtype) for t in loop.recorded]
        out.append(TensorType((None,), dtypes.int64))
    return out


def _while_vjp(node, dys):
    """Backpropagation through the recorded iterations: one ``while_grad`` node."""
    loop = node.attrs["loop"]
    n, grads = len(loop.leaves), [None] * len(node.inputs)
    g_vars = tuple(k for k, t in enumerate(loop.leaves) if dtypes.is_float(t.dtype))
    dy_vars = tuple(k for k in g_vars if dys[k] is not None)
    if not loop.records or not dy_vars:
        return grads
    start = n + len(loop.cond.captured)
    grad = _grad_body(loop, g_vars, dy_vars, node, start)
    inputs = (list(node.outputs) + [dys[k] for k in dy_vars] + list(loop.body.captured)
              + list(grad.captured))
    with node.graph.as_default():
        results = apply_op("while_grad", inputs, {"grad": grad},
                           name=node.name.rsplit("/", 1)[-1] + "Grad")
    positions = list(g_vars) + [start + key[1] for key in grad.results if key[0] == "captured"]
    for p, g in zip(positions, results):
        grads[p] = g
    return grads


def _grad_body(loop, g_vars, dy_vars, node, start) -> WhileGrad:
    body = loop.body
    targets = [(("var", k), loop.leaves[k]) for k in g_vars]
    targets += [(("captured", c), t) for c, t in enumerate(body.params)]
    step = backward_step([body.outputs[k] for k in g_vars], [f"d_loop_var_{k}" for k in g_vars],
                         targets, (), body.inputs + body.saved + body.params, "while_grad",
                         "a while_loop gradient")
    g_steps, results, fetches, captured = step or ((), (), (), ())
    types = [node.inputs[k].type for k in g_vars]
    types += [node.inputs[start + key[1]].type for key in results if key[0] == "captured"]
    return WhileGrad(loop, g_vars, dy_vars, g_steps, results, fetches, captured, tuple(types))


def _no_second_order(node, dys):
    raise NotImplementedError(f"{node.describe()}: second-order gradients through while_loop "
                              "(the gradient of a loop's gradient) are not supported")


_LOOP = {"takes_store": True}  # the runner passes the run's variable store and random streams
defop("while_loop", _infer_while, no_body_ref, vjp=_while_vjp, kind="control", extra=_LOOP)
defop("while_grad", lambda types, grad: list(grad.types), no_body_ref, vjp=_no_second_order,
      kind="control", extra=_LOOP)


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10,
               back_prop=True, swap_memory=False, name=None, maximum_iterations=None,
               return_same_structure=False):
    """TF1's ``tf.while_loop``: repeat ``loop_vars = body(*loop_vars)`` while
    ``cond(*loop_vars)``, at most ``maximum_iterations`` times.

    ``loop_vars``: a (nested) list or tuple of tensors; ``body`` returns the same structure
    with the same dtypes. A loop variable whose shape changes needs a less specific
    ``shape_invariants`` entry (a shape with ``None`` dims, or ``None`` for an unknown rank).
    Returns the final values in ``body``'s structure (a single tensor for one loop variable
    unless ``return_same_structure``). ``parallel_iterations`` and ``swap_memory`` are accepted
    for compatibility and have no effect; ``back_prop=False`` gives no gradient.
    """
    if not callable(cond) or not callable(body):
        raise TypeError(f"while_loop: cond and body must be callable, got {cond!r}, {body!r}")
    if int(parallel_iterations) < 1:
        raise TypeError("while_loop: parallel_iterations must be a positive integer")
    loop_vars = list(loop_vars) if isinstance(loop_vars, (list, tuple)) else [loop_vars]
    if not loop_vars:
        raise ValueError("while_loop: loop_vars must be provided")
    init = [convert_to_tensor(v) for v in flatten(loop_vars)]
    limit, limit_input = _maximum_iterations(maximum_iterations)
    graph = get_default_graph()
    with graph.name_scope(name or "while") as scope:
        owner = f"while_loop '{scope.rstrip('/')}'"
        invariants = _invariants(shape_invariants, loop_vars, init, owner)
        with graph.control_dependencies(None):
            leaves = tuple(step_input(t, owner, f"loop_var_{k}")
                           for k, t in enumerate(invariants))
        args = pack(loop_vars, leaves)
        _, cond_body = trace_body(lambda *a: _predicate(cond(*a), owner), args, owner,
                                  "while_loop", "cond", leaves)
        returned, step = trace_body(lambda *a: _next_values(body(*a), loop_vars, init, owner),
                                    args, owner, "while_loop", "body", leaves)
        _check_body(owner, step, init, invariants, shape_invariants is not None)
        records = bool(back_prop) and any(dtypes.is_float(t.dtype) for t in invariants)
        loop = WhileLoop(leaves, cond_body, step, records, limit_input is not None)
        inputs = init + list(cond_body.captured) + list(step.captured) + (
            [limit_input] if limit_input is not None else [])
        results = apply_op("while_loop", inputs, {"loop": loop, "maximum_iterations": limit},
                           name="While")
    finals = list(results[:len(init)])
    if len(finals) == 1 and not return_same_structure:
        return finals[0]
    return pack(returned, finals)


def _maximum_iterations(value):
    """``(static count or None, scalar int tensor or None)``."""
    if value is None:
        return None, None
    if isinstance(value, Tensor) or hasattr(value, "_as_tensor"):
        value = convert_to_tensor(value)
        if value.ndim not in (0, None) or not dtypes.is_integer(value.dtype):
            raise ValueError(f"while_loop: maximum_iterations must be an integer scalar, got "
                             f"{value.type.describe()}")
        return None, value
    if int(value) != value:
        raise TypeError(f"while_loop: maximum_iterations must be an int, got {value!r}")
    return int(value), None


def _invariants(shape_invariants, loop_vars, init, owner) -> list[TensorType]:
    """Each loop variable's type inside the loop: its own, or with the given shape."""
    if shape_invariants is None:
        return [t.type for t in init]
    shapes = _shapes_up_to(loop_vars, shape_invariants, owner)
    types = []
    for k, (t, shape) in enumerate(zip(init, shapes)):
        shape = None if shape is None else tuple(None if d is None else int(d) for d in shape)
        if not _at_least_as_specific(t.type.shape, shape):
            raise ValueError(f"{owner}: the shape invariant {format_shape(shape)} of loop "
                             f"variable {k} ('{t.name}') is not compatible with its initial "
                             f"shape {format_shape(t.type.shape)}")
        types.append(TensorType(shape, t.dtype))
    return types


def _shapes_up_to(structure, shapes, owner) -> list:
    """``shapes`` flattened up to ``structure`` (a shape is itself a tuple)."""
    if isinstance(structure, dict):
        if not isinstance(shapes, dict) or set(shapes) != set(structure):
            raise ValueError(f"{owner}: shape_invariants must have the structure of loop_vars")
        return [s for key in sorted(structure) for s in _shapes_up_to(structure[key],
                                                                      shapes[key], owner)]
    if isinstance(structure, (list, tuple)):
        if not isinstance(shapes, (list, tuple)) or len(shapes) != len(structure):
            raise ValueError(f"{owner}: shape_invariants must have the structure of loop_vars, "
                             f"got {shapes!r} for {len(structure)} loop variables")
        return [s for x, y in zip(structure, shapes) for s in _shapes_up_to(x, y, owner)]
    return [shapes]


def _at_least_as_specific(shape, invariant) -> bool:
    """Whether no dim of ``shape`` contradicts ``invariant`` (``None``: unknown rank/dim)."""
    if invariant is None or shape is None:
        return True
    return len(shape) == len(invariant) and all(
        d is None or i is None or d == i for d, i in zip(shape, invariant))


def _predicate(value, owner) -> Tensor:
    pred = convert_to_tensor(value)
    if pred.dtype != dtypes.bool_ or pred.ndim not in (0, None):
        raise TypeError(f"{owner}: cond must return a scalar bool tensor, got "
                        f"{pred.type.describe()}")
    return pred


def _next_values(result, loop_vars, init, owner):
    """``body``'s result checked against ``loop_vars``; plain numbers take their dtypes."""
    result = result if isinstance(result, (list, tuple, dict)) else [result]
    top = list(result) if isinstance(result, (list, tuple)) else result
    reason = mismatch(list(loop_vars), top)
    if reason is not None:
        raise ValueError(f"{owner}: body must return the structure of loop_vars ({reason}); "
                         f"got {result!r}")
    flat = [v if isinstance(v, Tensor) or hasattr(v, "_as_tensor")
            else convert_to_tensor(v, dtype=t.dtype) for v, t in zip(flatten(result), init)]
    return pack(result, flat)


def _check_body(owner, step, init, invariants, given) -> None:
    """TF's static checks: each next value keeps its loop variable's dtype and fits its shape
    invariant (dims our inference leaves unknown are checked every iteration instead)."""
    for k, (out, t, inv) in enumerate(zip(step.outputs, init, invariants)):
        if out.dtype != inv.dtype:
            raise TypeError(f"{owner}: body returns {out.dtype} for loop variable {k} "
                            f"('{t.name}'), which enters the loop as {inv.dtype}")
        if not _at_least_as_specific(out.type.shape, inv.shape):
            entry = (f"has the shape invariant {format_shape(inv.shape)}" if given else
                     f"enters the loop with shape {format_shape(inv.shape)}")
            raise ValueError(
                f"{owner}: loop variable {k} ('{t.name}') {entry}, but has shape "
                f"{format_shape(out.type.shape)} after one iteration. To allow the shape to "
                "vary across iterations, use the `shape_invariants` argument of while_loop to "
                "specify a less-specific shape.")
