"""TF1 control flow: ``cond``, ``case`` and ``while_loop``, each ONE node of the outer program.

Each function (a branch, a loop condition or body) is traced once, when the graph is built, in
the user's default graph (variables it creates land there); the nodes it creates form its body
(``_loop_body.Subgraph``), everything else it reads is captured and becomes an input of the
node. A backend compiles every body with itself and calls its bound program at run time
(``minigraph/backends/loop.py``): ``cond`` runs only the taken branch, ``while_loop`` one call of
the condition and one of the body per iteration -- no graph work per call.

Bodies may not write state (a run commits its writes together at the end; clear error).

Gradients: a ``cond``'s vjp is a ``cond`` over the two branches' vjps (each recomputes its
branch; random draws are replayed from hidden outputs), so higher orders work. A
``while_loop`` with ``back_prop`` records every iteration's loop values (hidden outputs) and its
vjp is a ``while_grad`` node running the body's vjp over the iterations in reverse.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .. import dtypes
from ..graph import TensorType
from ..indexed_slices import dense
from ..tensor import convert_to_tensor
from ._loop_body import no_body_ref, trace_body
from ._nest import describe, mismatch, pack, unpack_singleton
from ._while_loop import while_loop
from .elementwise import equal, zeros_like_value
from .registry import InferError, apply_op, defop


def _merge_shapes(a, b):
    """The most specific shape compatible with both (``None``: ranks differ or unknown)."""
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else None for x, y in zip(a, b))


# -- cond ---------------------------------------------------------------------------------------


def _infer_cond(types, true, false):
    pred = types[0]
    if pred.dtype != dtypes.bool_ or (pred.shape is not None and len(pred.shape) != 0):
        raise InferError(f"pred must be a scalar bool tensor, got {pred.describe()}")
    outputs = [TensorType(_merge_shapes(t.type.shape, f.type.shape), t.dtype)
               for t, f in zip(true.outputs, false.outputs)]
    return outputs + [TensorType(None, t.dtype) for t in true.saved + false.saved]


def _cond_positions(true, false) -> tuple[range, range]:
    """Node input positions of the values each branch is fed."""
    split = 1 + len(true.captured)
    return range(1, split), range(split, split + len(false.captured))


def _cond_vjp(node, dys):
    """A ``cond`` on the same predicate over the two branches' vjps: each recomputes its
    branch from the same fed values (random draws replayed from the hidden outputs)."""
    true, false = node.attrs["true"], node.attrs["false"]
    n = len(true.outputs)
    dys = list(dys[:n])
    positions = _cond_positions(true, false)
    targets = [p for span in positions for p in span if dtypes.is_float(node.inputs[p].dtype)]
    grads = [None] * len(node.inputs)
    if all(d is None for d in dys) or not targets:
        return grads
    saved = node.outputs[n:]
    specs = (_recomputed(node, true, positions[0], saved[:len(true.saved)]),
             _recomputed(node, false, positions[1], saved[len(true.saved):]))
    fns = [partial(_branch_vjp, branch, span, node, dys, targets)
           for branch, span in zip((true, false), positions)]
    with node.graph.as_default():
        results = _build_cond(node.inputs[0], fns, True, node.name.rsplit("/", 1)[-1] + "Grad",
                              specs)
    for p, g in zip(targets, results):
        grads[p] = g
    return grads


def _recomputed(node, branch, span, draws) -> tuple:
    """``(body, bound pairs)`` for a branch's vjp: it recomputes the branch's body, fed the
    node's inputs as params and the forward random ``draws`` (hidden outputs) as its draws."""
    outer = [node.inputs[p] for p in span] + list(draws)
    return frozenset(branch.nodes), tuple(zip(branch.params + branch.saved, outer))


def _branch_vjp(branch, span, node, dys, targets) -> list:
    """One branch's gradients for the ``targets`` positions (zeros for the other branch's)."""
    from ..autodiff import gradients

    ys = [(o, d) for o, d in zip(branch.outputs, dys) if d is not None and dtypes.is_float(o.dtype)]
    found = {}
    if ys:
        found = dict(zip(span, gradients([o for o, _ in ys], list(branch.params),
                                         grad_ys=[d for _, d in ys])))
    return [dense(found[p]) if found.get(p) is not None else zeros_like_value(node.inputs[p])
            for p in targets]


defop("cond", _infer_cond, no_body_ref, vjp=_cond_vjp, kind="control", extra={"takes_store": True})


def cond(pred, true_fn=None, false_fn=None, strict=False, name=None):
    """TF1's ``tf.cond``: ``true_fn()`` if ``pred`` else ``false_fn()``, only the taken one run.

    Both functions are traced once and must return the same (nested) structure of tensors with
    the same dtypes; each result's static shape is the most specific one compatible with both.
    Unless ``strict``, a singleton list or tuple result is unpacked. A Python bool ``pred``
    just calls the chosen function.
    """
    for fn, what in ((true_fn, "true_fn"), (false_fn, "false_fn")):
        if not callable(fn):
            raise TypeError(f"cond: {what} must be callable, got {fn!r}")
    if isinstance(pred, (bool, np.bool_)):
        return unpack_singleton((true_fn if pred else false_fn)(), strict)
    return _build_cond(convert_to_tensor(pred), (true_fn, false_fn), strict, name)


def _build_cond(pred, fns, strict, name, specs=None):
    """The ``cond`` node; ``specs`` (gradients): per branch, the forward body it recomputes and
    the ``(inner, outer)`` pairs feeding the forward values it reads."""
    graph = pred.graph
    specs = specs or ((frozenset(), ()),) * 2
    with graph.name_scope(name or "cond") as scope:
        owner = f"cond '{scope.rstrip('/')}'"
        (true_out, true), (false_out, false) = [
            trace_body(fn, (), owner, "cond", what, (), bound, extra)
            for fn, what, (extra, bound) in zip(fns, ("true_fn", "false_fn"), specs)]
        true_out = unpack_singleton(true_out, strict)
        false_out = unpack_singleton(false_out, strict)
        _check_branches(owner, true_out, false_out, true, false)
        results = apply_op("cond", [pred, *true.captured, *false.captured],
                           {"true": true, "false": false}, name="Cond")
    return pack(true_out, results[:len(true.outputs)])


def _check_branches(owner, true_out, false_out, true, false) -> None:
    reason = mismatch(true_out, false_out)
    if reason is not None:
        raise TypeError(f"{owner}: true_fn and false_fn must return the same nested structure "
                        f"({reason}): true_fn returned {describe(true_out)}, false_fn "
                        f"returned {describe(false_out)}")
    for k, (t, f) in enumerate(zip(true.outputs, false.outputs)):
        if t.dtype != f.dtype:
            raise TypeError(f"{owner}: output {k} has dtype {t.dtype} from true_fn but "
                            f"{f.dtype} from false_fn; the branches must return the same "
                            "dtypes (cast one of them)")


# -- case ---------------------------------------------------------------------------------------


def _infer_case_index(types, exclusive, has_default):
    for t in types:
        if t.dtype != dtypes.bool_ or (t.shape is not None and len(t.shape) != 0):
            raise InferError(f"every predicate must be a scalar bool tensor, got {t.describe()}")
    return TensorType((), dtypes.int32)


def _case_index(*preds, exclusive, has_default):
    """The index of the first true predicate (``len(preds)``: the default), checked."""
    flags = [bool(p) for p in preds]
    if exclusive and sum(flags) > 1:
        raise ValueError(f"case: exclusive=True, but {sum(flags)} conditions are true: {flags}")
    if True in flags:
        return np.array(flags.index(True), np.int32)
    if not has_default:
        raise ValueError(f"case: none of the conditions is true and there is no default: "
                         f"{flags}")
    return np.array(len(flags), np.int32)


defop("case_index", _infer_case_index, _case_index, kind="control", differentiable=False)


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """TF1's ``tf.case``: the result of the first ``fn`` whose ``pred`` is true, else of
    ``default`` -- nested ``cond``s, so only the chosen function runs.

    ``pred_fn_pairs``: a list of ``(pred, fn)`` or a dict (in insertion order). Without a
    default, the last ``fn`` serves when its ``pred`` is the only true one and no true
    predicate is a run-time error; ``exclusive=True``: more than one true is an error too.
    """
    pairs = _case_pairs(pred_fn_pairs)
    if default is not None and not callable(default):
        raise TypeError(f"case: default must be callable, got {default!r}")
    if not pairs:
        if default is None:
            raise ValueError("case: pred_fn_pairs is empty and there is no default")
        return unpack_singleton(default(), strict)
    preds = [convert_to_tensor(p) for p, _ in pairs]
    fns = [fn for _, fn in pairs] + ([default] if default is not None else [])
    with preds[0].graph.name_scope(name or "case"):
        index = apply_op("case_index", preds, {"exclusive": bool(exclusive),
                                               "has_default": default is not None}, name="Index")
        if len(fns) == 1:  # still checked: the single branch runs only if its pred is true
            return cond(equal(index, 0), fns[0], fns[0], strict=strict)
        return _case_from(index, fns, 0, strict)


def _case_from(index, fns, k, strict):
    if k == len(fns) - 1:
        return fns[k]()
    return cond(equal(index, k), fns[k], lambda: _case_from(index, fns, k + 1, strict),
                strict=strict, name=f"case_{k}")


def _case_pairs(pred_fn_pairs) -> list:
    pairs = list(pred_fn_pairs.items()) if isinstance(pred_fn_pairs, dict) else pred_fn_pairs
    if not isinstance(pairs, (list, tuple)):
        raise TypeError(f"case: pred_fn_pairs must be a list of (pred, fn) pairs or a dict, got "
                        f"{type(pred_fn_pairs).__name__}")
    for k, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"case: entry {k} of pred_fn_pairs is not a (pred, fn) pair")
        if not callable(pair[1]):
            raise TypeError(f"case: the fn of entry {k} is not callable: {pair[1]!r}")
    return list(pairs)


__all__ = ["case", "cond", "while_loop"]
