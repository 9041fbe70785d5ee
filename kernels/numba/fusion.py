"""Numba code generator for fused elementwise DAGs (``kernels.scalar_expr.FusedDag``).

A DAG becomes one generated module of ``@njit(cache=True)`` kernels: ``nd_*`` indexes the DAG's
own broadcast patterns (broadcast axes read index 0, so nothing is materialised), and ``flat_*``
-- generated when every input is full-shape or scalar -- runs one 1-D loop that LLVM vectorises,
used when the arrays are C-contiguous. The flat index range is cut into ``nchunk`` contiguous
chunks: ``*_chunk(c, ...)`` runs chunk ``c`` (with one chunk it is the serial kernel) and
``*_parallel`` runs all chunks under ``prange``. Reduction outputs accumulate into per-chunk
partials combined after the call, so no intermediate array is stored.
"""
from __future__ import annotations

import hashlib
import math as _math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numba
import numpy as np

from ..scalar_expr import (FusedDag, Term, accumulator_dtype, reduction_identity,
                           typed_expr)
from .cache import load_module

PARALLEL_MIN_SIZE = 100_000
MATH_MODES = ("auto", "libm", "vecmath")
_LIBM = ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tanh", "floor", "ceil", "rint")
_MACROS = {"sigmoid": "1 / (1 + exp(-x0))", "softplus": "maximum(x0, 0) + log1p(exp(-abs(x0)))"}
_VECMATH_FILES = ("vecmath.py", "bits.py")
_INFIX = ("+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "!=")
_PREFIX = {"not": "not {0}", "neg": "-{0}", "abs": "abs({0})", "where": "{1} if {0} else {2}"}
_COMBINE = {"sum": np.add, "max": np.maximum, "min": np.minimum}


# -- math functions -----------------------------------------------------------------------------


def _vecmath():
    """The vectorisable math module, or None when it is not installed."""
    try:
        from . import vecmath
    except ImportError:
        return None
    return vecmath


def scalar_function(name: str, dtype: str):
    """vecmath's njit scalar ``name`` for ``dtype`` (imported by generated modules)."""
    return _vecmath().get(name, dtype)


class _MathTable:
    """Chooses vecmath or NumPy/libm per function and collects the header lines it needs."""

    def __init__(self, mode: str):
        if mode not in MATH_MODES:
            raise ValueError(f"math must be one of {MATH_MODES}, got {mode!r}")
        self.vecmath = None if mode == "libm" else _vecmath()
        if mode == "vecmath" and self.vecmath is None:
            raise ImportError("math='vecmath' but kernels.numba.vecmath cannot be imported")
        self.used: dict[str, str] = {}

    def function(self, name: str, dtype: np.dtype) -> str | None:
        """Callable to emit for ``name`` on ``dtype``; None means expand its macro instead."""
        if self.vecmath is not None and dtype.kind == "f":
            try:
                self.vecmath.get(name, dtype.name)
            except KeyError:
                pass
            else:
                var = f"_vm_{name}_{dtype.name}"
                self.used[var] = f'{var} = _scalar_function("{name}", "{dtype.name}")'
                return var
        return f"np.{name}" if name in _LIBM else None

    def header(self) -> list[str]:
        if not self.used:
            return []
        digest = hashlib.sha256()
        for name in _VECMATH_FILES:
            digest.update((Path(self.vecmath.__file__).parent / name).read_bytes())
        return [f"# vecmath sources: {digest.hexdigest()[:16]}",
                f"from {__package__}.fusion import scalar_function as _scalar_function",
                *self.used.values()]


# -- expression statements ----------------------------------------------------------------------


def _literal(value, dtype: np.dtype) -> str:
    """Source text of a constant of exactly ``dtype``."""
    if dtype.kind == "b":
        return str(bool(value))
    if dtype.kind != "f":
        return f"np.{dtype.name}({int(value)})"
    v = float(value)
    text = repr(v) if _math.isfinite(v) else ("np.nan" if v != v else f"{'-' * (v < 0)}np.inf")
    return f"np.{dtype.name}({text})"


class _Emitter:
    """Writes one statement per typed term; returns the variable or literal holding its value."""

    def __init__(self, math: _MathTable, lines: list[str], indent: str):
        self.math, self.lines, self.indent, self.count = math, lines, indent, 0

    def term(self, term: Term, operands: Sequence[str]) -> str:
        if term.op == "arg":
            return operands[term.value]
        if term.op == "const":
            return _literal(term.value, term.dtype)
        args = [self.term(a, operands) for a in term.args]
        if term.op in _MACROS and self.math.function(term.op, term.dtype) is None:
            return self.term(typed_expr(_MACROS[term.op], (term.dtype.name,), term.dtype.name),
                             args)
        code = self._code(term, args)
        wrap = term.dtype.kind != "b" and term.op != "cast"
        self.count += 1
        var = f"t{self.count}"
        text = f"np.{term.dtype.name}({code})" if wrap else code
        self.lines.append(f"{self.indent}{var} = {text}")
        return var

    def _code(self, term: Term, a: list[str]) -> str:
        op, dtype = term.op, term.dtype
        if op in _INFIX:
            return f"{a[0]} {op} {a[1]}"
        if op in ("and", "or"):
            return f"{a[0]} {'&' if op == 'and' else '|'} {a[1]}"
        if op in _PREFIX:
            return _PREFIX[op].format(*a)
        if op in ("maximum", "minimum"):
            x, y, cmp = a[0], a[1], ">=" if op == "maximum" else "<="
            return f"{x} if ({x} {cmp} {y}) | ({x} != {x}) else {y}"
        if op == "sign":
            one = _literal(1, dtype)
            return f"{one} if {a[0]} > 0 else (-{one} if {a[0]} < 0 else {a[0]})"
        if op == "cast":
            if dtype == np.float16:
                raise TypeError("the Numba fusion generator does not support float16")
            return f"{a[0]} != 0" if dtype.kind == "b" else f"np.{dtype.name}({a[0]})"
        return f"{self.math.function(op, dtype)}({a[0]})"


# -- kernel bodies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Variant:
    """One loop structure of a DAG: per-input broadcast patterns and per-output reduced axes."""

    name: str
    patterns: tuple[tuple[bool, ...], ...]
    reduced: tuple[tuple[int, ...], ...]

    @property
    def ndim(self) -> int:
        return len(self.patterns[0])


def _variants(dag: FusedDag) -> list[_Variant]:
    """The flat variant when the DAG allows it, and the N-d one unless the DAG is 1-d or 0-d."""
    reduced = tuple(dag.reduced_axes(o) for o in dag.outputs)
    variants = []
    if flat_compatible(dag):
        patterns = tuple((any(i.pattern),) for i in dag.inputs)
        variants.append(_Variant("flat", patterns, tuple((0,) if r else () for r in reduced)))
    if dag.ndim >= 2 or not variants:
        variants.append(_Variant("nd", tuple(i.pattern for i in dag.inputs), reduced))
    return variants


def flat_compatible(dag: FusedDag) -> bool:
    """Whether every input is full-shape or scalar and every reduction covers all axes."""
    return (all(all(i.pattern) or not any(i.pattern) for i in dag.inputs)
            and all(o.reduce is None or o.axes is None for o in dag.outputs))


def _index(pattern: Sequence[bool]) -> str:
    """Subscript reading an input at the current element: index 0 along its broadcast axes."""
    return ", ".join(f"i{a}" if full else "0" for a, full in enumerate(pattern))


class _KernelWriter:
    """Source of one kernel variant: a chunk function (row loop, inner loop over the last axis)
    that is also the serial kernel, and a parallel kernel running the chunks under ``prange``.

    Keeping the loop body out of the ``prange`` function keeps Numba's parallel compile cheap.
    """

    def __init__(self, dag: FusedDag, variant: _Variant, math: _MathTable):
        self.dag, self.v, self.math = dag, variant, math
        self.lines: list[str] = []

    def write(self) -> list[str]:
        nd, last, name = self.v.ndim, self.v.ndim - 1, self.v.name
        xs = [f"x{k}" for k in range(len(self.dag.inputs))]
        args = ", ".join(["nchunk", "total", "shape"] + xs +
                         [f"{'p' if r else 'o'}{k}" for k, r in enumerate(self.v.reduced)])
        self.lines = ["@njit(cache=True, error_model='numpy')", f"def {name}_chunk(c, {args}):",
                      f"    {', '.join(f'd{a}' for a in range(nd))}{',' * (nd == 1)} = shape",
                      "    lo = c * total // nchunk", "    hi = (c + 1) * total // nchunk"]
        self._loads(lambda p: not any(p), lambda k: f"x{k}[0]", "    ")
        indent = "    " if nd == 1 else self._row_loop()
        self._row_accumulators(indent, "s{k} = {p}")
        self.lines.append(f"{indent}for i{last} in range({'lo, hi' if nd == 1 else 'j0, j1'}):")
        self._body(indent + "    ")
        self._row_accumulators(indent, "{p} = s{k}")
        return self.lines + ["", "", "@njit(cache=True, error_model='numpy', parallel=True)",
                             f"def {name}_parallel({args}):", "    for c in prange(nchunk):",
                             f"        {name}_chunk(np.int64(c), {args})"]

    def _row_loop(self) -> str:
        """Emit the loop over rows (all axes but the last) of this chunk; return its indent."""
        nd, last = self.v.ndim, self.v.ndim - 1
        self.lines += [f"    for r in range(lo // d{last}, (hi + d{last} - 1) // d{last}):",
                       f"        j0 = max(lo - r * d{last}, 0)",
                       f"        j1 = min(hi - r * d{last}, d{last})", "        q = r"]
        for a in range(nd - 2, 0, -1):
            self.lines += [f"        i{a} = q % d{a}", f"        q = q // d{a}"]
        self.lines.append("        i0 = q")
        self._loads(lambda p: any(p) and not p[-1], self._load, "        ")
        return "        "

    def _load(self, k: int) -> str:
        return f"x{k}[{_index(self.v.patterns[k])}]"

    def _loads(self, which, source, indent: str):
        for k, pattern in enumerate(self.v.patterns):
            if which(pattern):
                self.lines.append(f"{indent}v{k} = {source(k)}")

    def _partial(self, k: int) -> str:
        kept = [a for a in range(self.v.ndim) if a not in self.v.reduced[k]]
        return f"p{k}[{', '.join(['c'] + [f'i{a}' for a in kept])}]"

    def _row_accumulators(self, indent: str, template: str):
        """Load (before) or store (after the inner loop) accumulators of last-axis reductions."""
        for k, axes in enumerate(self.v.reduced):
            if self.v.ndim - 1 in axes:
                self.lines.append(indent + template.format(k=k, p=self._partial(k)))

    def _body(self, indent: str):
        dag, last = self.dag, self.v.ndim - 1
        self._loads(lambda p: p[-1], self._load, indent)
        emitter = _Emitter(self.math, self.lines, indent)
        n = len(dag.inputs)
        for j, node in enumerate(dag.nodes):
            result = emitter.term(dag.node_term(j), [f"v{v}" for v in node.operands])
            self.lines.append(f"{indent}v{n + j} = {result}")
        everywhere = f"[{', '.join(f'i{a}' for a in range(self.v.ndim))}]"
        for k, (out, axes) in enumerate(zip(dag.outputs, self.v.reduced)):
            value = f"v{out.value}"
            if not axes:
                self.lines.append(f"{indent}o{k}{everywhere} = {value}")
                continue
            acc = accumulator_dtype(out.reduce, dag.value_dtype(out.value))
            if acc != dag.value_dtype(out.value):
                value = f"np.{acc.name}({value})"
            target = f"s{k}" if last in axes else self._partial(k)
            self.lines.append(indent + _accumulate(out.reduce, target, value))


def _accumulate(reduce: str, target: str, value: str) -> str:
    """Statement folding ``value`` into ``target`` (max/min propagate NaN like NumPy)."""
    if reduce == "sum":
        return f"{target} += {value}"
    cmp = ">" if reduce == "max" else "<"
    return f"{target} = {value} if ({value} {cmp} {target}) | ({value} != {value}) else {target}"


def generate_source(dag: FusedDag, math: str = "auto") -> str:
    """Python source of the module holding every kernel variant of ``dag``."""
    for k in range(len(dag.inputs) + len(dag.nodes)):
        if dag.value_dtype(k) == np.float16:
            raise TypeError("the Numba fusion generator does not support float16")
    table = _MathTable(math)
    kernels: list[str] = []
    for variant in _variants(dag):
        kernels += ["", ""] + _KernelWriter(dag, variant, table).write()
    header = ['"""Generated by kernels.numba.fusion; do not edit."""', *_describe(dag),
              "import numpy as np", "from numba import njit, prange", *table.header()]
    return "\n".join(header + kernels) + "\n"


def _describe(dag: FusedDag) -> list[str]:
    """Comment lines naming the DAG's values, for readers of the generated source."""
    n = len(dag.inputs)
    lines = [f"# v{k} = x{k}: {i.dtype}, pattern {i.pattern}" for k, i in enumerate(dag.inputs)]
    lines += [f"# v{n + j} = {' '.join(node.expr.split())} over "
              f"{', '.join(f'v{v}' for v in node.operands)}: {node.dtype}"
              for j, node in enumerate(dag.nodes)]
    return lines + [f"# output {k}: v{o.value}" + (f", {o.reduce} over axes {o.axes or 'all'}"
                                                   if o.reduce else "")
                    for k, o in enumerate(dag.outputs)]


# -- compiled kernels ---------------------------------------------------------------------------


class FusedKernel:
    """A compiled fused DAG: ``run`` writes into caller buffers, calling it allocates them.

    An elementwise output may be the very array of a full-shape input of its shape and dtype
    (in place): each element is read before it is written.
    """

    def __init__(self, dag: FusedDag, source: str, module):
        self.dag, self.source, self.module = dag, source, module
        self._scalar = tuple(not any(i.pattern) for i in dag.inputs)
        self._flat = flat_compatible(dag)
        self._size_from = tuple(next((k for k, i in enumerate(dag.inputs) if i.pattern[a]), None)
                                for a in range(dag.ndim))
        self.output_dtypes = tuple(dag.value_dtype(o.value) for o in dag.outputs)
        self._kept = tuple(tuple(a for a in range(dag.ndim) if a not in dag.reduced_axes(o))
                           for o in dag.outputs)
        self._reductions = tuple(
            (k, _COMBINE[o.reduce], reduction_identity(o.reduce, acc), acc)
            for k, o in enumerate(dag.outputs) if o.reduce
            for acc in [accumulator_dtype(o.reduce, self.output_dtypes[k])])

    def __call__(self, *inputs: np.ndarray, parallel: bool | None = None) -> list[np.ndarray]:
        """Outputs of the DAG on ``inputs``, in fresh arrays."""
        shape = self.shape_of(inputs)
        outputs = [np.empty(tuple(shape[a] for a in kept), dtype)
                   for kept, dtype in zip(self._kept, self.output_dtypes)]
        self._run(inputs, outputs, shape, parallel)
        return outputs

    def run(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
            parallel: bool | None = None) -> None:
        """Write the DAG's outputs into ``outputs``; ``parallel=None`` decides by size."""
        shape = self.shape_of(inputs)
        for k, (kept, array) in enumerate(zip(self._kept, outputs, strict=True)):
            expected = tuple(shape[a] for a in kept)
            if array.shape != expected or array.dtype != self.output_dtypes[k]:
                raise ValueError(f"output {k} must be {self.output_dtypes[k]}{list(expected)}, "
                                 f"got {array.dtype}{list(array.shape)}")
        self._run(inputs, outputs, shape, parallel)

    def shape_of(self, inputs: Sequence[np.ndarray]) -> tuple[int, ...]:
        """Output shape for ``inputs``, checking them against the DAG's dtypes and patterns."""
        nd = self.dag.ndim
        if len(inputs) != len(self.dag.inputs) or any(x.ndim > nd for x in inputs):
            raise ValueError(f"expected {len(self.dag.inputs)} arrays of ndim <= {nd}, got "
                             f"shapes {[x.shape for x in inputs]}")
        padded = [(1,) * (nd - x.ndim) + x.shape for x in inputs]
        shape = tuple(1 if k is None else padded[k][a] for a, k in enumerate(self._size_from))
        for k, (x, spec, dims) in enumerate(zip(inputs, self.dag.inputs, padded)):
            if x.dtype != spec.dtype or dims != tuple(
                    n if full else 1 for n, full in zip(shape, spec.pattern)):
                raise ValueError(f"input {k} is {x.dtype}{list(x.shape)}; the kernel wants "
                                 f"{spec.dtype} with broadcast pattern {spec.pattern} in {shape}")
        return shape

    def _run(self, inputs, outputs, shape, parallel):
        total = _math.prod(shape)
        if parallel is None:
            parallel = total >= PARALLEL_MIN_SIZE
        nchunk = numba.get_num_threads() if parallel else 1
        partials = {k: np.full((nchunk,) + outputs[k].shape, start, acc)
                    for k, _, start, acc in self._reductions}
        if total:
            flat = self._flat and (len(shape) <= 1 or self._contiguous(inputs, outputs))
            name = f"{'flat' if flat else 'nd'}_{'parallel' if parallel else 'chunk'}"
            first = () if parallel else (0,)  # the serial kernel is the one-chunk function
            nd = len(shape)
            arrays = [self._argument(x, s, flat, nd) for x, s in zip(inputs, self._scalar)]
            arrays += [partials[k] if k in partials else self._argument(o, False, flat, nd)
                       for k, o in enumerate(outputs)]
            getattr(self.module, name)(*first, nchunk, total, (total,) if flat else shape, *arrays)
        for k, combine, _, _ in self._reductions:
            combine.reduce(partials[k], axis=0, out=outputs[k])

    def _contiguous(self, inputs, outputs) -> bool:
        return (all(x.flags.c_contiguous for x, s in zip(inputs, self._scalar) if not s)
                and all(o.flags.c_contiguous for o, spec in zip(outputs, self.dag.outputs)
                        if spec.reduce is None))

    @staticmethod
    def _argument(x: np.ndarray, scalar: bool, flat: bool, nd: int) -> np.ndarray:
        """View of ``x`` in the layout the kernel indexes: (1,), flat 1-D, or padded to nd."""
        if scalar:
            return x.reshape(1)
        if flat:
            return x if x.ndim == 1 else x.reshape(-1)
        return x if x.ndim == nd else x.reshape((1,) * (nd - x.ndim) + x.shape)


_KERNELS: dict[tuple[FusedDag, str], FusedKernel] = {}


def compile_fused(dag: FusedDag, math: str = "auto") -> FusedKernel:
    """The kernel for ``dag`` (generated, written and imported once per process)."""
    kernel = _KERNELS.get((dag, math))
    if kernel is None:
        source = generate_source(dag, math)
        kernel = _KERNELS[dag, math] = FusedKernel(dag, source, load_module(source))
    return kernel
