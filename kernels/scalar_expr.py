"""Neutral description of a fused elementwise DAG, its expression mini-language, and a NumPy
reference interpreter of both; shared by the fusion code generators (never imports minigraph).

An expression is a Python-syntax string over operands ``x0, x1, ...``: arithmetic
(``+ - * / **``, unary ``-``), comparisons (one per test), ``and``/``or``/``not``, numeric
literals, ``inf``/``nan``, and the calls in ``FUNCTIONS`` plus ``cast_<dtype>(x)``. Literals are
weakly typed: they adopt the dtype of the operand they meet (``x0 * 0.5`` stays float32).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Sequence

import numpy as np

REDUCTIONS = ("sum", "max", "min")
FLOAT_FUNCTIONS = ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tanh", "sigmoid",
                   "softplus")
SAME_TYPE_FUNCTIONS = ("abs", "sign", "floor", "ceil", "rint")
FUNCTIONS = FLOAT_FUNCTIONS + SAME_TYPE_FUNCTIONS + ("where", "maximum", "minimum")
CAST_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "float16", "float32", "float64")
_ARITY = {"where": 3, "maximum": 2, "minimum": 2}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_KIND_RANK = {"b": 0, "u": 1, "i": 2, "f": 3}
BOOL = np.dtype(bool)


# -- the DAG ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """A kernel input: dtype and, per output axis, whether it varies there (False: broadcast)."""

    dtype: str
    pattern: tuple[bool, ...]

    def __post_init__(self):
        object.__setattr__(self, "dtype", np.dtype(self.dtype).name)
        object.__setattr__(self, "pattern", tuple(bool(p) for p in self.pattern))


@dataclass(frozen=True)
class Node:
    """An internal value: ``expr`` over ``x0..`` = ``operands`` (value ids), cast to ``dtype``."""

    expr: str
    operands: tuple[int, ...]
    dtype: str

    def __post_init__(self):
        object.__setattr__(self, "dtype", np.dtype(self.dtype).name)
        object.__setattr__(self, "operands", tuple(int(v) for v in self.operands))


@dataclass(frozen=True)
class Output:
    """A kernel result: value id, optionally reduced (sum/max/min) over ``axes`` (None: all)."""

    value: int
    reduce: str | None = None
    axes: tuple[int, ...] | None = None


@dataclass(frozen=True)
class FusedDag:
    """Inputs, nodes and outputs of one fused kernel; value ids number inputs then nodes."""

    inputs: tuple[Input, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[Output, ...]

    def __post_init__(self):
        for name in ("inputs", "nodes", "outputs"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.inputs or not self.outputs:
            raise ValueError("a fused DAG needs at least one input and one output")
        object.__setattr__(self, "outputs", tuple(self._normalised(o) for o in self.outputs))
        self._validate()

    @property
    def ndim(self) -> int:
        return len(self.inputs[0].pattern)

    def value_dtype(self, value: int) -> np.dtype:
        """dtype of a value id (an input, then the nodes in order)."""
        n = len(self.inputs)
        return np.dtype(self.inputs[value].dtype if value < n else self.nodes[value - n].dtype)

    def reduced_axes(self, out: Output) -> tuple[int, ...]:
        """Axes an output reduces over (empty when it is elementwise)."""
        if out.reduce is None:
            return ()
        return tuple(range(self.ndim)) if out.axes is None else out.axes

    def node_term(self, j: int) -> Term:
        """Typed expression of node ``j``, already cast to the node's dtype."""
        node = self.nodes[j]
        dtypes = tuple(self.value_dtype(v).name for v in node.operands)
        return typed_expr(node.expr, dtypes, node.dtype)

    def _normalised(self, out: Output) -> Output:
        """``out`` with its reduction axes sorted, non-negative, and None when they are all;
        a reduction over no axes (a 0-d DAG's included) becomes a plain output."""
        if out.reduce is None:
            return out
        if out.axes is not None and any(not -self.ndim <= a < self.ndim for a in out.axes):
            raise ValueError(f"reduction axes {out.axes} out of range for ndim {self.ndim}")
        axes = range(self.ndim) if out.axes is None else sorted({a % self.ndim for a in out.axes})
        if not axes:  # reducing over no axes leaves the value as it is
            return replace(out, reduce=None, axes=None)
        return replace(out, axes=None if len(axes) == self.ndim else tuple(axes))

    def _validate(self):
        if any(len(i.pattern) != self.ndim for i in self.inputs):
            raise ValueError("all input broadcast patterns must have the output's ndim")
        for j, node in enumerate(self.nodes):
            if any(not 0 <= v < len(self.inputs) + j for v in node.operands):
                raise ValueError(f"node {j} ({node.expr!r}) uses a value not defined before it")
            self.node_term(j)
        for out in self.outputs:
            self._validate_output(out)

    def _validate_output(self, out: Output):
        if not 0 <= out.value < len(self.inputs) + len(self.nodes):
            raise ValueError(f"output refers to unknown value {out.value}")
        if out.reduce is not None and out.reduce not in REDUCTIONS:
            raise ValueError(f"unknown reduction {out.reduce!r}; expected one of {REDUCTIONS}")
        if out.reduce is None and out.axes is not None:
            raise ValueError("reduction axes given for an output with no reduction")
        if out.reduce == "sum" and self.value_dtype(out.value) == BOOL:
            raise TypeError("sum of a bool value: cast it to a number first")


def pattern_of(shape: Sequence[int], ndim: int) -> tuple[bool, ...]:
    """Broadcast pattern of an input of ``shape`` (right-aligned, as NumPy) in an ndim result."""
    padded = (1,) * (ndim - len(shape)) + tuple(shape)
    return tuple(n != 1 for n in padded)


# -- parsing and typing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A typed expression node; ``weak`` marks literal-only subtrees that adopt other dtypes."""

    op: str
    args: tuple[Term, ...]
    dtype: np.dtype
    value: object = None
    weak: bool = False


@lru_cache(maxsize=4096)
def typed_expr(expr: str, operand_dtypes: tuple[str, ...], dtype: str) -> Term:
    """Parse and type ``expr`` over operands of the given dtypes, cast to ``dtype``."""
    try:
        tree = ast.parse(expr, mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"cannot parse scalar expression {expr!r}: {e.msg}") from None
    dtypes = tuple(np.dtype(d) for d in operand_dtypes)
    return convert(_Typer(expr, dtypes).term(tree), np.dtype(dtype))


def convert(term: Term, dtype: np.dtype) -> Term:
    """``term`` as ``dtype``: weak literals take it, anything else gets an explicit cast."""
    if term.dtype == dtype and not term.weak:
        return term
    if term.weak:
        return _retyped(term, dtype, weak=False)
    return Term("cast", (term,), dtype)


def _retyped(term: Term, dtype: np.dtype, weak: bool) -> Term:
    """A weak (literal-only) subtree recomputed in ``dtype``."""
    return replace(term, dtype=dtype, weak=weak,
                   args=tuple(_retyped(a, dtype, weak) for a in term.args))


def _common_dtype(a: Term, b: Term) -> np.dtype:
    if a.weak != b.weak:
        weak, strong = (a, b) if a.weak else (b, a)
        if _KIND_RANK[weak.dtype.kind] <= _KIND_RANK[strong.dtype.kind]:
            return strong.dtype
    return np.result_type(a.dtype, b.dtype)


def _unify(args: Sequence[Term]) -> tuple[tuple[Term, ...], np.dtype, bool]:
    """Operands converted to their common dtype, that dtype, and whether all were weak."""
    dtype = args[0].dtype if len(args) == 1 else _common_dtype(args[0], args[1])
    if all(a.weak for a in args):
        return tuple(_retyped(a, dtype, weak=True) for a in args), dtype, True
    return tuple(convert(a, dtype) for a in args), dtype, False


class _Typer:
    """Turns a whitelisted Python AST into typed ``Term``s; anything else is rejected."""

    def __init__(self, expr: str, dtypes: tuple[np.dtype, ...]):
        self.expr, self.dtypes = expr, dtypes

    def fail(self, what: str):
        raise ValueError(f"scalar expression {self.expr!r}: {what}")

    def term(self, node: ast.AST) -> Term:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            self.fail(f"unsupported syntax {type(node).__name__}")
        return method(node)

    def _Constant(self, node):
        v = node.value
        if isinstance(v, bool):
            return Term("const", (), BOOL, v)
        if not isinstance(v, (int, float)):
            self.fail(f"unsupported literal {v!r}")
        return Term("const", (), np.dtype(float if isinstance(v, float) else np.int64), v, True)

    def _Name(self, node):
        if node.id in ("inf", "nan"):
            return Term("const", (), np.dtype(float), float(node.id), True)
        k = int(node.id[1:]) if node.id[:1] == "x" and node.id[1:].isdigit() else -1
        if not 0 <= k < len(self.dtypes):
            self.fail(f"unknown name {node.id!r} ({len(self.dtypes)} operands)")
        return Term("arg", (), self.dtypes[k], k)

    def _UnaryOp(self, node):
        arg = self.term(node.operand)
        if isinstance(node.op, ast.Not):
            return Term("not", (convert(arg, BOOL),), BOOL)
        if isinstance(node.op, ast.UAdd):
            return arg
        if not isinstance(node.op, ast.USub) or arg.dtype == BOOL:
            self.fail("unary '-' takes a number")
        return Term("neg", (arg,), arg.dtype, weak=arg.weak)

    def _BinOp(self, node):
        op = _BINOPS.get(type(node.op)) or self.fail("unsupported binary operator")
        args, dtype, weak = _unify([self.term(node.left), self.term(node.right)])
        if dtype == BOOL:
            self.fail(f"arithmetic {op!r} on bools")
        if op == "/" and dtype.kind != "f":
            args, dtype = tuple(convert(a, np.dtype(float)) for a in args), np.dtype(float)
        return Term(op, args, dtype, weak=weak)

    def _Compare(self, node):
        if len(node.ops) != 1:
            self.fail("chained comparisons are not supported")
        op = _CMPOPS.get(type(node.ops[0])) or self.fail("unsupported comparison")
        args, _, _ = _unify([self.term(node.left), self.term(node.comparators[0])])
        return Term(op, args, BOOL)

    def _BoolOp(self, node):
        op = "and" if isinstance(node.op, ast.And) else "or"
        terms = [convert(self.term(v), BOOL) for v in node.values]
        result = terms[0]
        for t in terms[1:]:
            result = Term(op, (result, t), BOOL)
        return result

    def _Call(self, node):
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if node.keywords or name not in FUNCTIONS and not name.startswith("cast_"):
            self.fail(f"unsupported call {ast.unparse(node.func)!r}")
        arity = _ARITY.get(name, 1)
        if len(node.args) != arity:
            self.fail(f"{name} takes {arity} argument(s), got {len(node.args)}")
        args = [self.term(a) for a in node.args]
        if name.startswith("cast_"):
            return self._cast(name[5:], args[0])
        return self._function(name, args)

    def _cast(self, dtype: str, arg: Term) -> Term:
        if dtype not in CAST_DTYPES:
            self.fail(f"unknown cast target {dtype!r}")
        return convert(arg, np.dtype(dtype))

    def _function(self, name: str, args: list[Term]) -> Term:
        if name == "where":
            rest, dtype, _ = _unify(args[1:])
            return Term("where", (convert(args[0], BOOL),) + rest, dtype)
        if name in ("maximum", "minimum"):
            args, dtype, weak = _unify(args)
            return Term(name, args, dtype, weak=weak)
        arg, f64 = args[0], np.dtype(float)
        if name in FLOAT_FUNCTIONS and arg.dtype.kind != "f":
            arg = _retyped(arg, f64, weak=True) if arg.weak else convert(arg, f64)
        if name in ("floor", "ceil", "rint") and arg.dtype.kind != "f":
            return arg
        if arg.dtype == BOOL:
            self.fail(f"{name} takes a number")
        return Term(name, (arg,), arg.dtype, weak=arg.weak)


# -- NumPy reference interpreter ----------------------------------------------------------------


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


_NUMPY = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "**": np.power,
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal,
    "!=": np.not_equal, "and": np.logical_and, "or": np.logical_or, "not": np.logical_not,
    "neg": np.negative, "where": np.where, "maximum": np.maximum, "minimum": np.minimum,
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt,
    "sin": np.sin, "cos": np.cos, "tanh": np.tanh, "sigmoid": _sigmoid,
    "softplus": lambda x: np.logaddexp(np.zeros_like(x), x), "abs": np.abs, "sign": np.sign,
    "floor": np.floor, "ceil": np.ceil, "rint": np.rint,
}


def evaluate_term(term: Term, operands: Sequence[np.ndarray]) -> np.ndarray:
    """NumPy value of a typed term over operand arrays (every step rounded to its dtype)."""
    if term.op == "arg":
        return np.asarray(operands[term.value])
    if term.op == "const":
        return np.asarray(term.value, dtype=term.dtype)
    args = [evaluate_term(a, operands) for a in term.args]
    if term.op == "cast":
        return args[0].astype(term.dtype)
    return np.asarray(_NUMPY[term.op](*args)).astype(term.dtype, copy=False)


def accumulator_dtype(reduce: str, dtype) -> np.dtype:
    """dtype partial results of a reduction are kept in (sums widen to 64 bits)."""
    dtype = np.dtype(dtype)
    if reduce != "sum":
        return dtype
    return np.dtype({"f": np.float64, "u": np.uint64}.get(dtype.kind, np.int64))


def reduction_identity(reduce: str, dtype) -> object:
    """Starting value of a sum/max/min accumulator of ``dtype``."""
    dtype = np.dtype(dtype)
    if reduce == "sum":
        return dtype.type(0)
    if dtype == BOOL:
        return reduce == "min"
    if dtype.kind == "f":
        return dtype.type(-np.inf if reduce == "max" else np.inf)
    info = np.iinfo(dtype)
    return dtype.type(info.min if reduce == "max" else info.max)


def evaluate(dag: FusedDag, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Reference outputs of ``dag`` on NumPy ``arrays`` (broadcast as NumPy does)."""
    values = [np.asarray(a, dtype=i.dtype) for a, i in zip(arrays, dag.inputs)]
    shape = np.broadcast_shapes(*(v.shape for v in values), (1,) * dag.ndim)
    with np.errstate(all="ignore"):
        for j, node in enumerate(dag.nodes):
            values.append(evaluate_term(dag.node_term(j), [values[v] for v in node.operands]))
        return [_reference_output(dag, out, values[out.value], shape) for out in dag.outputs]


def _reference_output(dag: FusedDag, out: Output, value: np.ndarray, shape) -> np.ndarray:
    full = np.broadcast_to(value, shape)
    if out.reduce is None:
        return full.copy()
    axes = dag.reduced_axes(out)
    acc = accumulator_dtype(out.reduce, value.dtype)
    if out.reduce == "sum":
        return np.asarray(full.astype(acc).sum(axis=axes)).astype(value.dtype)
    ufunc = np.maximum if out.reduce == "max" else np.minimum
    start = reduction_identity(out.reduce, value.dtype)
    return np.asarray(ufunc.reduce(full, axis=axes, initial=start))
