"""The move catalog behind ``graphs()``: one move per op, each applicable to any operand.

A move adds the op's step plus the guard steps that keep it differentiable: positive operands
go through ``square(x) + 0.5``; relu/abs/max/min operands get an offset keeping every element
at least ``MARGIN`` from the kink (chosen from the concrete values, known while drawing);
amplifiers (exp, square, multiply, matmul, pow, reduce_prod) squash large operands with
``tanh``. Guards are ordinary steps, so the printed program shows them.
"""
from __future__ import annotations

import itertools
import math
import re
from typing import Callable, NamedTuple

import numpy as np
from hypothesis import strategies as st

from ..ops._samples import rng_from
from ..ops.registry import REGISTRY, get_op
from .domains import sample_values

MARGIN = 0.05  # every kink operand stays at least this far from the kink
MAX_SIDE = 4


class Step(NamedTuple):
    """One op application: registry ``op`` on ``operands`` (value ids or float constants).

    ``code`` is the public-API expression with ``{0}, {1}...`` standing for the operands.
    """

    op: str
    operands: tuple
    attrs: dict
    out: int
    code: str


def run_step(step: Step, env: dict) -> np.ndarray:
    """The step's value from its op's NumPy ``ref``; constants take the float operands' dtype."""
    dtype = next(env[o].dtype for o in step.operands
                 if isinstance(o, int) and env[o].dtype.kind == "f")
    args = [env[o] if isinstance(o, int) else np.asarray(o, dtype) for o in step.operands]
    return np.asarray(get_op(step.op).ref(*args, **step.attrs))


class Builder:
    """Collects inputs and steps of one draw, evaluating each step as it is added."""

    def __init__(self, draw, dtype):
        self.draw, self.dtype = draw, dtype
        self.rng = rng_from(draw)
        self.values: list[np.ndarray] = []
        self.inputs: list[int] = []
        self.steps: list[Step] = []

    def input(self, shape, classes=None) -> int:
        """A fresh input: float values, or int labels in ``[0, classes)``."""
        if classes is None:
            value = sample_values(self.rng, shape, dtype=self.dtype)
        else:
            value = self.rng.integers(0, classes, size=shape).astype(np.int64)
        self.inputs.append(len(self.values))
        return self._add(value)

    def apply(self, op: str, operands, code: str, **attrs) -> int:
        """A step ``code`` (``{0}, {1}...`` stand for the operands); returns its value id."""
        operands = tuple(o if isinstance(o, int) else float(o) for o in operands)
        step = Step(op, operands, attrs, len(self.values), code)
        self.steps.append(step)
        return self._add(run_step(step, dict(enumerate(self.values))))

    def _add(self, value) -> int:
        self.values.append(value)
        return len(self.values) - 1

    def shape(self, i) -> tuple:
        return self.values[i].shape

    def floats(self) -> list:
        return [i for i, v in enumerate(self.values) if v.dtype.kind == "f"]

    def pick(self) -> int:
        """A float value, shrinking toward the most recent one (programs shrink to chains)."""
        floats = self.floats()
        return floats[-1 - self.draw(st.integers(0, len(floats) - 1))]

    def squash(self, i, limit) -> int:
        """``tanh(x)`` when ``x`` exceeds ``limit`` somewhere, so amplifiers stay moderate."""
        value = self.values[i]
        if value.size and np.max(np.abs(value)) > limit:
            return self.apply("tanh", [i], "mg.tanh({0})")
        return i

    def positive(self, i) -> int:
        """``square(x) + 0.5`` (at least 0.5) for log, sqrt, reciprocal, divisors, pow bases."""
        square = self.apply("square", [self.squash(i, 10.0)], "mg.square({0})")
        return self.apply("add", [square, 0.5], "mg.add({0}, {1})")

    def threshold(self, values, kinks=(0.0,)) -> float:
        """A drawn ``t`` (0.01 grid, within the values' range when possible, shrinking toward
        0) with every ``values - t`` at least ``MARGIN`` away from each kink."""
        flat = np.asarray(values, np.float64).ravel()
        if flat.size == 0:
            return 0.0
        reach = int(100 * (np.max(np.abs(flat)) + max(abs(k) for k in kinks) + 1))
        grid = np.arange(-reach, reach + 1) / 100
        grid = grid[np.argsort(np.abs(grid), kind="stable")]
        ok = np.ones(grid.size, bool)
        for kink in kinks:
            ok &= np.min(np.abs(flat[None, :] - grid[:, None] - kink), axis=1) >= MARGIN
        valid = grid[ok]
        inside = valid[np.abs(valid) <= np.max(np.abs(flat))]
        valid = inside if inside.size else valid
        return float(valid[self.draw(st.integers(0, valid.size - 1))])

    def offset(self, i, kinks=(0.0,)) -> int:
        """``x - t`` keeping every element of ``x`` ``MARGIN`` away from the kinks."""
        t = self.threshold(self.values[i], kinks)
        return i if t == 0 else self.apply("subtract", [i, t], "mg.subtract({0}, {1})")

    def reshaped(self, i, shape) -> int:
        return self.apply("reshape", [i], f"mg.reshape({{0}}, {shape})", shape=shape)

    def at_least_rank(self, i, rank) -> int:
        """Reshape to rank ``rank`` (leading 1s) when ``x`` has fewer dims."""
        shape = self.shape(i)
        if len(shape) >= rank:
            return i
        return self.reshaped(i, (1,) * (rank - len(shape)) + shape)

    def partner(self, i) -> int:
        """A second operand broadcasting with ``x``: an existing value or a fresh input."""
        shape = self.shape(i)
        reusable = [j for j in self.floats() if j != i and _broadcasts(shape, self.shape(j))]
        if reusable and self.draw(st.booleans()):
            return reusable[-1 - self.draw(st.integers(0, len(reusable) - 1))]
        kept = shape[self.draw(st.integers(0, len(shape))):]
        sides = [self.draw(st.integers(1, MAX_SIDE)) if d == 1 else
                 1 if self.draw(st.booleans()) else d for d in kept]
        return self.input(tuple(sides))

    def spell(self, *forms) -> str:
        """One of equivalent spellings (function, operator, method), shrinking to the first."""
        return forms[self.draw(st.integers(0, len(forms) - 1))]

    def ordered(self, a, b) -> list:
        return [b, a] if self.draw(st.booleans()) else [a, b]


def _broadcasts(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


# -- moves: one per op, each always applicable to any float operand ------------------------------

MOVES: dict[str, Callable] = {}


def _unary(op, code, limit=None, spellings=()):
    def move(b, x):
        b.apply(op, [x if limit is None else b.squash(x, limit)], b.spell(code, *spellings))
    MOVES[op] = move


def _guarded(op, code):
    MOVES[op] = lambda b, x: b.apply(op, [b.positive(x)], code)


def _kinked(op, code, kinks=(0.0,), spellings=(), **attrs):
    def move(b, x):
        operand = b.offset(b.squash(x, 10.0), kinks)
        b.apply(op, [operand], b.spell(code, *spellings), **attrs)
    MOVES[op] = move


def _binary(op, code, operator, limit=None):
    def move(b, x):
        operands = b.ordered(x, b.partner(x))
        if limit is not None:
            operands = [b.squash(o, limit) for o in operands]
        b.apply(op, operands, b.spell(code, operator))
    MOVES[op] = move


def _divide(b, x):
    numerator, denominator = b.ordered(x, b.partner(x))
    b.apply("divide", [numerator, b.positive(denominator)],
            b.spell("mg.divide({0}, {1})", "{0} / {1}"))


def _pow(b, x):
    base, exponent = b.ordered(x, b.partner(x))
    base = b.positive(b.squash(base, 2.0))
    b.apply("pow", [base, b.squash(exponent, 2.0)], b.spell("mg.pow({0}, {1})", "{0} ** {1}"))


def _extremum(op):
    def move(b, x):
        first, second = [b.squash(o, 10.0) for o in b.ordered(x, b.partner(x))]
        t = b.threshold(np.subtract(b.values[first], b.values[second]))
        if t:  # x - (y + t) stays MARGIN away from 0: no ties under broadcasting
            second = b.apply("add", [second, t], "mg.add({0}, {1})")
        b.apply(op, [first, second], f"mg.{op}({{0}}, {{1}})")
    MOVES[op] = move


def _reduction(op):
    def move(b, x):
        if op == "reduce_prod":
            x = b.squash(x, 1.5)
        axis, keepdims = _draw_axes(b, b.shape(x)), b.draw(st.booleans())
        chosen = op if _reducible(op, b.values[x], axis) else "reduce_sum"
        spelled = "" if axis is None else f"axis={_axes_code(b, axis, len(b.shape(x)))}"
        args = ", ".join(filter(None, [spelled, "keepdims=True" if keepdims else ""]))
        method = chosen.removeprefix("reduce_")
        forms = [f"mg.{chosen}({{0}}{', ' if args else ''}{args})"]
        forms += [f"{{0}}.{method}({args})"] if method not in ("logsumexp",) else []
        b.apply(chosen, [x], b.spell(*forms), axis=axis, keepdims=keepdims)
    MOVES[op] = move


def _draw_axes(b, shape):
    """``None`` (all axes, the shrink target) or a non-empty sorted tuple of axes."""
    if not shape or b.draw(st.integers(0, 1)) == 0:
        return None
    chosen = tuple(a for a in range(len(shape)) if b.draw(st.booleans()))
    return chosen or (len(shape) - 1,)


def _axes_code(b, axis, rank) -> str:
    """The axes as written: the canonical tuple, negative axes, or a bare int for one axis."""
    spelled = b.spell(axis, tuple(a - rank for a in axis))
    return str(spelled[0]) if len(spelled) == 1 and b.draw(st.booleans()) else str(spelled)


def _reducible(op, value, axis) -> bool:
    """False where ``op`` is undefined (empty groups) or not differentiable (max/min ties)."""
    if op in ("reduce_sum", "reduce_prod"):
        return True
    axes = tuple(range(value.ndim)) if axis is None else axis
    group = math.prod(value.shape[a] for a in axes)
    if group == 0:
        return False
    if op not in ("reduce_max", "reduce_min") or group == 1:
        return True
    rows = np.moveaxis(value, axes, range(value.ndim - len(axes), value.ndim))
    rows = np.sort(rows.reshape(-1, group), axis=1)
    top = rows[:, -1] - rows[:, -2] if op == "reduce_max" else rows[:, 1] - rows[:, 0]
    return bool(np.all(top >= MARGIN))


def _reshape(b, x):
    """A new shape, written out, with one -1 (when not empty), or through the method."""
    size = b.values[x].size
    shape = b.draw(st.sampled_from(_factorizations(size)))
    wild = b.draw(st.integers(0, len(shape) - 1))
    spelled = shape[:wild] + (-1,) + shape[wild + 1:] if size else shape
    forms = [f"mg.reshape({{0}}, {shape})", f"mg.reshape({{0}}, {spelled})",
             f"{{0}}.reshape({shape})"]
    b.apply("reshape", [x], b.spell(*forms), shape=shape)


def _factorizations(n) -> list:
    """Shapes of 1 to 3 dims holding ``n`` elements, flattest first."""
    if n == 0:
        return [(0,), (1, 0), (0, 1)]
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    shapes = [(n,)] + [(d, n // d) for d in divisors]
    shapes += [(d, e, n // (d * e)) for d in divisors for e in divisors if (n // d) % e == 0]
    return sorted(set(shapes), key=lambda s: (len(s), s))


def _transpose(b, x):
    rank = len(b.shape(x))
    reverse = tuple(range(rank))[::-1]
    perms = [reverse] + [p for p in itertools.permutations(range(rank)) if p != reverse]
    perm = b.draw(st.sampled_from(perms))
    if perm == reverse:
        b.apply("transpose", [x], b.spell("mg.transpose({0})", "{0}.T"), perm=None)
    else:
        b.apply("transpose", [x], f"mg.transpose({{0}}, {perm})", perm=perm)


def _getitem(b, x):
    """Basic indexing: per axis a full slice, a range (maybe strided or reversed) or an int."""
    shape = b.shape(x)
    if not shape:
        b.apply("getitem", [x], "{0}[None]", spec=(("newaxis",),))
        return
    items = [_index_item(b, n) for n in shape[:b.draw(st.integers(1, len(shape)))]]
    while len(items) > 1 and items[-1] == ("slice", None, None, None):
        items.pop()
    key = ", ".join(_key_code(item) for item in items)
    b.apply("getitem", [x], f"{{0}}[{key}]", spec=tuple(items))


def _index_item(b, n):
    kind = b.draw(st.integers(0, 3)) if n else 0
    if kind == 0:
        return ("slice", None, None, None)
    if kind == 1:
        return ("int", b.draw(st.integers(0, n - 1)))
    if kind == 2:
        return ("slice", None, None, -1)
    start = b.draw(st.integers(0, n - 1))
    stop = b.draw(st.integers(start + 1, n))
    step = b.draw(st.integers(1, 2))
    return ("slice", start or None, None if stop == n else stop, None if step == 1 else step)


def _key_code(item) -> str:
    if item[0] == "int":
        return str(item[1])
    parts = ["" if p is None else str(p) for p in item[1:]]
    return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")


def _matmul(b, x):
    """``x`` (made rank >= 2) times an existing or fresh weight, maybe batched and transposed."""
    a = b.squash(b.at_least_rank(x, 2), 10.0)
    ta, tb = b.draw(st.booleans()), b.draw(st.booleans())
    k, batch = b.shape(a)[-2 if ta else -1], b.shape(a)[:-2]
    fits = [j for j in b.floats() if j != a and len(b.shape(j)) >= 2
            and b.shape(j)[-1 if tb else -2] == k and _broadcasts(batch, b.shape(j)[:-2])]
    if fits and b.draw(st.booleans()):
        w = fits[-1 - b.draw(st.integers(0, len(fits) - 1))]
    else:
        m = b.draw(st.integers(1, MAX_SIDE))
        w = b.input(_weight_batch(b, batch) + ((m, k) if tb else (k, m)))
    flags = (", transpose_a=True" if ta else "") + (", transpose_b=True" if tb else "")
    forms = [f"mg.matmul({{0}}, {{1}}{flags})"] + ([] if flags else ["{0} @ {1}"])
    b.apply("matmul", [a, b.squash(w, 10.0)], b.spell(*forms), transpose_a=ta, transpose_b=tb)


def _weight_batch(b, batch) -> tuple:
    """No batch dims (the shrink target), ``x``'s batch dims with some set to 1, or one new
    batch dim when ``x`` has none (the product broadcasts ``x``)."""
    if not b.draw(st.booleans()):
        return ()
    if batch:
        return tuple(1 if b.draw(st.booleans()) else d for d in batch)
    return (b.draw(st.integers(1, 3)),)


def _draw_axis(b, x):
    """An axis of ``x`` and its keyword (maybe omitted for the last axis, or negative)."""
    rank = len(b.shape(x))
    axis = b.draw(st.integers(0, rank - 1))
    forms = ([""] if axis == rank - 1 else []) + [f", axis={axis}", f", axis={axis - rank}"]
    return axis, b.spell(*forms)


def _softmax(op):
    def move(b, x):
        x = b.at_least_rank(x, 1)
        axis, keyword = _draw_axis(b, x)
        b.apply(op, [x], f"mg.nn.{op}({{0}}{keyword})", axis=axis)
    MOVES[op] = move


def _sigmoid_xent(b, x):
    labels = b.apply("sigmoid", [b.input(b.shape(x))], "mg.sigmoid({0})")
    b.apply("sigmoid_cross_entropy_with_logits", [labels, x],
            "mg.nn.sigmoid_cross_entropy_with_logits(labels={0}, logits={1})")


def _softmax_xent(b, x):
    """Labels are the softmax of a fresh input: a valid distribution that gradients reach."""
    x = b.at_least_rank(x, 1)
    axis, keyword = _draw_axis(b, x)
    labels = b.apply("softmax", [b.input(b.shape(x))], f"mg.nn.softmax({{0}}{keyword})",
                     axis=axis)
    b.apply("softmax_cross_entropy_with_logits", [labels, x],
            f"mg.nn.softmax_cross_entropy_with_logits_v2(labels={{0}}, logits={{1}}{keyword})",
            axis=axis)


def _sparse_xent(b, x):
    """Int class labels are an extra input; ``check_grads`` perturbs only float inputs."""
    x = b.at_least_rank(x, 1)
    classes = b.shape(x)[-1]
    if classes == 0:
        MOVES["log_softmax"](b, x)
        return
    labels = b.input(b.shape(x)[:-1], classes=classes)
    b.apply("sparse_softmax_cross_entropy_with_logits", [labels, x],
            "mg.nn.sparse_softmax_cross_entropy_with_logits(labels={0}, logits={1})")


def _generic(op):
    """A move for a registered elementwise op outside the catalog, through ``mg.apply_op``."""
    opdef = get_op(op)
    if opdef.kind != "elementwise" or not opdef.differentiable:
        raise ValueError(f"graphs: no move for op {op!r} (only differentiable elementwise ops "
                         "outside the built-in catalog can be fuzzed)")
    arity = len(set(re.findall(r"\bx(\d+)\b", opdef.scalar or "x0")))
    if arity > 2:
        raise ValueError(f"graphs: elementwise op {op!r} takes {arity} operands; 1 or 2 only")
    code = f"mg.apply_op({op!r}, [{', '.join(f'{{{k}}}' for k in range(arity))}], {{{{}}}})"

    def move(b, x):
        b.apply(op, [x] if arity == 1 else b.ordered(x, b.partner(x)), code)
    return move


# -- the catalog, simple to complex: hypothesis shrinks choices toward its front -----------------

_unary("negative", "mg.negative({0})", spellings=("-{0}",))
for _op, _limit in (("tanh", None), ("sigmoid", None), ("sin", None), ("cos", None),
                    ("softplus", None), ("square", 10.0), ("exp", 3.0), ("expm1", 3.0)):
    _unary(_op, f"mg.{'nn.' if _op == 'softplus' else ''}{_op}({{0}})", _limit)
_binary("add", "mg.add({0}, {1})", "{0} + {1}")
_binary("subtract", "mg.subtract({0}, {1})", "{0} - {1}")
_binary("multiply", "mg.multiply({0}, {1})", "{0} * {1}", limit=10.0)
for _op in ("reduce_sum", "reduce_mean", "reduce_logsumexp", "reduce_max", "reduce_min",
            "reduce_prod"):
    _reduction(_op)
MOVES.update(reshape=_reshape, transpose=_transpose, getitem=_getitem, matmul=_matmul)
for _op in ("log", "log1p", "sqrt", "rsqrt", "reciprocal"):
    _guarded(_op, f"mg.{_op}({{0}})")
MOVES.update(divide=_divide, pow=_pow)
_kinked("abs", "mg.abs({0})", spellings=("abs({0})",))
_kinked("relu", "mg.nn.relu({0})")
_kinked("leaky_relu", "mg.nn.leaky_relu({0}, alpha=0.2)", alpha=0.2)
_kinked("elu", "mg.nn.elu({0})")
_kinked("relu6", "mg.nn.relu6({0})", kinks=(0.0, 6.0))
_extremum("maximum")
_extremum("minimum")
_softmax("softmax")
_softmax("log_softmax")
MOVES.update(sigmoid_cross_entropy_with_logits=_sigmoid_xent,
              softmax_cross_entropy_with_logits=_softmax_xent,
              sparse_softmax_cross_entropy_with_logits=_sparse_xent)

DEFAULT_OPS = tuple(MOVES)


def catalog(ops) -> list:
    """``(op, move)`` pairs for ``ops`` in catalog order, unknown elementwise ops last."""
    if ops is None:
        return list(MOVES.items())
    ops = list(dict.fromkeys(ops))
    unknown = [op for op in ops if op not in MOVES]
    for op in unknown:
        if op not in REGISTRY:
            raise ValueError(f"graphs: no op named {op!r} is registered")
    known = [(op, move) for op, move in MOVES.items() if op in ops]
    if not known and not unknown:
        raise ValueError("graphs: ops must name at least one op")
    return known + [(op, _generic(op)) for op in unknown]
