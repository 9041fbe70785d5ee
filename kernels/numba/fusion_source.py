"""Source generator for fused elementwise DAGs (``kernels.scalar_expr.FusedDag``): one module of
``@njit(cache=True, fastmath={'contract'})`` functions per DAG (see ``kernels.numba.fusion`` for
the compiled kernel built from it).

The functions take C-contiguous arrays in their natural ranks and flatten them inside the
compiled code, so a call makes no views. The loop is *flat* -- one 1-D loop -- when every input
is full-shape or scalar and every reduction covers all axes, else *nd*: broadcast inputs are read
by index arithmetic on their own (smaller) arrays, nothing is materialised. ``chunk(c, nchunk,
...)`` runs chunk ``c`` of the flat index range in *segments* of at most ``TILE`` elements inside
one row of the last axis. One inner loop, which LLVM vectorises, computes a segment into stack
buffers -- they alias no argument, so an output may be an input's own array and the loop needs
no overlap checks -- that are then copied to the outputs. Reductions fold each value into an
accumulator row indexed by the position in the segment (still vectorisable; floats stay in
their own width so the vector width is kept), drained every ``DRAIN_EVERY`` segments and at row
ends into per-chunk partials (float64 for float sums: accurate, like NumPy's pairwise sum);
reductions keeping the last axis fold straight into the partials' rows. ``serial`` runs one
chunk, ``parallel`` all of them under ``prange``; both then ``combine`` the partials into the
reduction outputs.
"""
from __future__ import annotations

import hashlib
import math as _math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..scalar_expr import FusedDag, Term, accumulator_dtype, reduction_identity, typed_expr

TILE = 256
DRAIN_EVERY = 16
MATH_MODES = ("auto", "libm", "vecmath")
_LIBM = ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tanh", "floor", "ceil", "rint")
_MACROS = {"sigmoid": "1 / (1 + exp(-x0))", "softplus": "maximum(x0, 0) + log1p(exp(-abs(x0)))"}
_VECMATH_FILES = ("vecmath.py", "bits.py")
_INFIX = ("+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "!=")
_PREFIX = {"not": "not {0}", "neg": "-{0}", "abs": "abs({0})", "where": "{1} if {0} else {2}"}
_JIT = "@njit(cache=True, error_model='numpy', fastmath={'contract'}"


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
        return [f"# vecmath sources: {_file_hash(*_VECMATH_FILES)}",
                f"from {__name__} import scalar_function as _scalar_function",
                *self.used.values()]


def _file_hash(*names: str) -> str:
    """Digest of sources in this package that generated kernels call into: a change to them
    changes the generated text, so Numba's disk cache cannot serve stale machine code."""
    digest = hashlib.sha256()
    for name in names:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


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


# -- the loop structure -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """How the kernel loops: per-input broadcast patterns and per-output reduced axes (flat: one
    axis, every input full or scalar, every reduction total)."""

    flat: bool
    patterns: tuple[tuple[bool, ...], ...]
    reduced: tuple[tuple[int, ...], ...]

    @property
    def ndim(self) -> int:
        return len(self.patterns[0])

    def kept(self, k: int) -> list[int]:
        return [a for a in range(self.ndim) if a not in self.reduced[k]]


def flat_compatible(dag: FusedDag) -> bool:
    """Whether every input is full-shape or scalar and every reduction covers all axes."""
    return (all(all(i.pattern) or not any(i.pattern) for i in dag.inputs)
            and all(o.reduce is None or o.axes is None for o in dag.outputs))


def loop_layout(dag: FusedDag) -> _Layout:
    """The loop structure of ``dag``'s kernel."""
    reduced = tuple(dag.reduced_axes(o) for o in dag.outputs)
    if flat_compatible(dag):
        return _Layout(True, tuple((bool(i.pattern) and all(i.pattern),) for i in dag.inputs),
                       tuple((0,) if r else () for r in reduced))
    return _Layout(False, tuple(i.pattern for i in dag.inputs), reduced)


def _horner(axes: Sequence[int], last_too: bool, last: int) -> str:
    """Flat offset of the current row's start in a C array over ``axes`` (+ the last axis);
    empty when it is 0."""
    text = ""
    for a in axes:
        text = f"i{a}" if not text else f"{_grouped(text)} * d{a} + i{a}"
    return f"{_grouped(text)} * d{last}" if last_too and text else text


def _grouped(text: str) -> str:
    return f"({text})" if " + " in text else text


def _plus(*terms: str) -> str:
    return " + ".join(t for t in terms if t) or "0"


def _span(offset: str, position: str) -> str:
    """Slice of the segment's ``e`` elements at ``position`` in a row starting at ``offset``."""
    start = _plus(offset, position)
    return f"{start}:{start} + e"


class _ChunkWriter:
    """Source of ``chunk``: this chunk's segments, each computed by one inner loop into buffers
    (elementwise outputs) and accumulator rows (reductions)."""

    def __init__(self, dag: FusedDag, layout: _Layout, math: _MathTable):
        self.dag, self.lay, self.math = dag, layout, math
        self.lines: list[str] = []
        self.elementwise = [k for k, r in enumerate(layout.reduced) if not r]
        self.reductions = [k for k, r in enumerate(layout.reduced) if r]
        self.along_rows = [k for k in self.reductions if layout.ndim - 1 in layout.reduced[k]]
        self.buffered = sorted({dag.outputs[k].value for k in self.elementwise})

    def write(self) -> list[str]:
        dag, lay = self.dag, self.lay
        params = ["c", "nchunk"] + [f"p{k}" for k in self.reductions] + \
            [f"x{k}" for k in range(len(dag.inputs))] + [f"o{k}" for k in self.elementwise]
        self.lines = [f"{_JIT})", f"def chunk({', '.join(params)}):"]
        self._dims()
        self.lines += ["    lo = c * total // nchunk", "    hi = (c + 1) * total // nchunk"]
        for k, pattern in enumerate(lay.patterns):
            if not any(pattern):
                self.lines.append(f"    v{k} = x{k}.reshape(-1)[0]")
            else:
                self.lines.append(f"    x{k} = x{k}.reshape(-1)")
        self.lines += [f"    o{k} = o{k}.reshape(-1)" for k in self.elementwise]
        for k in self.reductions:
            self._init_partial(k)
        self.lines += [f"    b{v} = _scratch({TILE}, np.{dag.value_dtype(v).name})"
                       for v in self.buffered]
        if self.along_rows:
            self.lines.append("    u = m = 0")
        self.lines += ["    g = lo", "    while g < hi:"]
        self._segment()
        self.lines.append("        g += e")
        return self.lines

    def _dims(self):
        """``d0..`` (the loop shape) and ``total`` from the outputs' or the inputs' shapes."""
        lay, nd = self.lay, self.lay.ndim
        names = ", ".join(f"d{a}" for a in range(nd))
        if self.elementwise:
            k = self.elementwise[0]
            self.lines.append(f"    {names} = o{k}.{'size' if lay.flat else 'shape'}")
        else:
            for a in range(nd):
                k = next((k for k, p in enumerate(lay.patterns) if p[a]), None)
                size = "1" if k is None else f"x{k}.size" if lay.flat else f"x{k}.shape[{a - nd}]"
                self.lines.append(f"    d{a} = {size}")
        self.lines.append(f"    total = {' * '.join(f'd{a}' for a in range(nd))}")

    def _init_partial(self, k: int):
        """Reset this chunk's partials of output ``k`` (and its accumulator row, for a reduction
        along rows: position ``i`` of every segment of a row folds into element ``i``)."""
        out = self.dag.outputs[k]
        dtype = self.dag.value_dtype(out.value)
        size = " * ".join(f"d{a}" for a in self.lay.kept(k)) or "1"
        self.lines += [f"    n{k} = {size}", f"    p{k}[c * n{k}:(c + 1) * n{k}] = "
                       f"{_start(out.reduce, partial_dtype(self.lay, k, out.reduce, dtype))}"]
        if k in self.along_rows:
            lane = _lane(out.reduce, dtype)
            self.lines += [f"    a{k} = _scratch({TILE}, np.{lane.name})",
                           f"    a{k}[:] = {_start(out.reduce, lane)}"]

    def _segment(self):
        """Emit one segment: its position, views, the inner loop and what follows it."""
        lay, nd, ind = self.lay, self.lay.ndim, "        "
        last, position = nd - 1, "g" if nd == 1 else "j"
        if nd == 1:
            self.lines.append(f"{ind}e = min(hi - g, {TILE})")
        else:
            self.lines += [f"{ind}r = g // d{last}", f"{ind}j = g - r * d{last}",
                           f"{ind}e = min(hi - g, d{last} - j, {TILE})", f"{ind}q = r"]
            for a in range(nd - 2, 0, -1):
                self.lines += [f"{ind}i{a} = q % d{a}", f"{ind}q = q // d{a}"]
            self.lines.append(f"{ind}i0 = q")
        for k, pattern in enumerate(lay.patterns):
            if any(pattern):
                offset = _horner([a for a in range(last) if pattern[a]], pattern[last], last)
                self.lines.append(f"{ind}x{k}s = x{k}[{_span(offset, position)}]"
                                  if pattern[last] else f"{ind}v{k} = x{k}[{offset or 0}]")
        for k in self.reductions:
            if k not in self.along_rows:
                offset = _plus(f"c * n{k}", _horner(lay.kept(k)[:-1], True, last))
                self.lines.append(f"{ind}q{k} = p{k}[{_span(offset, position)}]")
        self.lines.append(f"{ind}for i in range(e):")
        self._body(ind + "    ")
        for k in self.elementwise:
            value = self.dag.outputs[k].value
            self.lines += [f"{ind}o{k}s = o{k}[g:g + e]", f"{ind}for i in range(e):",
                           f"{ind}    o{k}s[i] = b{value}[i]"]
        if self.along_rows:
            self._drain(ind)

    def _body(self, ind: str):
        dag, last = self.dag, self.lay.ndim - 1
        self.lines += [f"{ind}v{k} = x{k}s[i]" for k, p in enumerate(self.lay.patterns)
                       if p[last]]
        emitter = _Emitter(self.math, self.lines, ind)
        n = len(dag.inputs)
        for j, node in enumerate(dag.nodes):
            result = emitter.term(dag.node_term(j), [f"v{v}" for v in node.operands])
            self.lines.append(f"{ind}v{n + j} = {result}")
        self.lines += [f"{ind}b{v}[i] = v{v}" for v in self.buffered]
        for k in self.reductions:
            out = dag.outputs[k]
            dtype = dag.value_dtype(out.value)
            value = f"v{out.value}" if _lane(out.reduce, dtype) == dtype else \
                f"np.{_lane(out.reduce, dtype).name}(v{out.value})"
            target = f"a{k}[i]" if k in self.along_rows else f"q{k}[i]"
            self.lines.append(ind + _fold(out.reduce, target, value))

    def _drain(self, ind: str):
        """At the end of a row (or of the chunk), fold the accumulator rows into the partials."""
        last = self.lay.ndim - 1
        row_end = "g + e == hi" if self.lay.ndim == 1 else f"j + e == d{last} or g + e == hi"
        self.lines += [f"{ind}u = max(u, e)", f"{ind}m += 1",
                       f"{ind}if m == {DRAIN_EVERY} or {row_end}:"]
        for k in self.along_rows:
            out = self.dag.outputs[k]
            start = _start(out.reduce, _lane(out.reduce, self.dag.value_dtype(out.value)))
            slot = f"p{k}[{_plus(f'c * n{k}', _horner(self.lay.kept(k), False, last))}]"
            self.lines.append(f"{ind}    {slot} = _drain_{out.reduce}(a{k}, u, {slot}, {start})")
        self.lines.append(f"{ind}    u = m = 0")


def _lane(reduce: str, dtype: np.dtype) -> np.dtype:
    """dtype the inner loop accumulates ``dtype`` values in: their own for floats (a wider one
    would halve the loop's vector width), the widened accumulator for integers."""
    return dtype if dtype.kind == "f" else accumulator_dtype(reduce, dtype)


def partial_dtype(layout: _Layout, k: int, reduce: str, dtype: np.dtype) -> np.dtype:
    """dtype of the per-chunk partials of output ``k``: the accumulator's for reductions along
    rows (drained there every few segments), else the lane dtype (summed row by row, as NumPy
    sums a C array over its leading axes)."""
    along_rows = layout.ndim - 1 in layout.reduced[k]
    return accumulator_dtype(reduce, dtype) if along_rows else _lane(reduce, dtype)


def _start(reduce: str, dtype: np.dtype) -> str:
    return _literal(reduction_identity(reduce, dtype), dtype)


def _fold(reduce: str, target: str, value: str) -> str:
    """Statement folding ``value`` into ``target`` (max/min propagate NaN like NumPy)."""
    if reduce == "sum":
        return f"{target} += {value}"
    return f"{target} = _{reduce}2({value}, {target})"


# -- helpers, combine and entry points ----------------------------------------------------------

_HELPERS = {
    "sum": """
{jit})
def _drain_sum(a, n, t, start):
    \"\"\"t plus the sum of a[:n], which are reset to start.\"\"\"
    for i in range(n):
        t += a[i]
        a[i] = start
    return t
""",
    "extremum": """
{jit})
def _{reduce}2(a, b):
    \"\"\"The {reduce} of a and b; NaN if either is NaN.\"\"\"
    return a if (a {cmp} b) | (a != a) else b


{jit})
def _drain_{reduce}(a, n, t, start):
    \"\"\"The {reduce} of t and a[:n], which are reset to start.\"\"\"
    for i in range(n):
        t = _{reduce}2(a[i], t)
        a[i] = start
    return t
"""}


def _helpers(dag: FusedDag, layout: _Layout) -> list[str]:
    """Source of the helpers the kernel uses: NaN-propagating max/min, accumulator drains."""
    texts = {}
    for out, reduced in zip(dag.outputs, layout.reduced):
        if out.reduce == "sum" and layout.ndim - 1 in reduced:
            texts["sum"] = _HELPERS["sum"].format(jit=_JIT)
        elif out.reduce in ("max", "min"):
            texts[out.reduce] = _HELPERS["extremum"].format(
                jit=_JIT, reduce=out.reduce, cmp=">" if out.reduce == "max" else "<")
    return [line for text in texts.values() for line in ["", "", *text.strip("\n").split("\n")]]


def _entry_points(dag: FusedDag, layout: _Layout) -> list[str]:
    """``combine`` (partials -> reduction outputs), ``serial`` and ``parallel``."""
    reductions = [k for k, r in enumerate(layout.reduced) if r]
    elementwise = [k for k, r in enumerate(layout.reduced) if not r]
    arrays = [f"p{k}" for k in reductions] + [f"x{k}" for k in range(len(dag.inputs))]
    outs = [f"o{k}" for k in range(len(dag.outputs))]
    chunk_args = ", ".join(arrays + [f"o{k}" for k in elementwise])
    entry = ", ".join(arrays + outs)
    combine = ", ".join([f"p{k}" for k in reductions] + [f"o{k}" for k in reductions])
    lines = []
    if reductions:
        lines += ["", "", f"{_JIT})", f"def combine(nchunk, {combine}):"]
        for k in reductions:
            out = dag.outputs[k]
            dtype = dag.value_dtype(out.value)
            lines += [f"    o{k} = o{k}.reshape(-1)", f"    for j in range(o{k}.size):",
                      f"        a = p{k}[j]", "        for c in range(1, nchunk):",
                      "            " + _fold(out.reduce, "a", f"p{k}[c * o{k}.size + j]"),
                      f"        o{k}[j] = {'a' if dtype.kind == 'b' else f'np.{dtype.name}(a)'}"]
    finish = [f"    combine(nchunk, {combine})"] if reductions else []
    # A 0-d array would enter the parallel loop as a scalar: hand the chunks 1-d views instead.
    maybe_0d = {f"x{k}" for k, p in enumerate(layout.patterns) if layout.flat or not any(p)} | \
        {f"o{k}" for k in elementwise if layout.flat}
    views = [f"    {name}v = {name}.reshape(-1)" for name in sorted(maybe_0d)]
    viewed = ", ".join(f"{name}v" if name in maybe_0d else name
                       for name in arrays + [f"o{k}" for k in elementwise])
    return lines + [
        "", "", f"{_JIT})", f"def serial({entry}):", "    nchunk = 1",
        f"    chunk(0, nchunk, {chunk_args})", *finish,
        "", "", f"{_JIT}, parallel=True)", f"def parallel(nchunk, {entry}):", *views,
        "    for c in prange(nchunk):", f"        chunk(np.int64(c), nchunk, {viewed})",
        *finish]


def generate_source(dag: FusedDag, math: str = "auto") -> str:
    """Python source of the module holding the kernel of ``dag``."""
    for k in range(len(dag.inputs) + len(dag.nodes)):
        if dag.value_dtype(k) == np.float16:
            raise TypeError("the Numba fusion generator does not support float16")
    table, layout = _MathTable(math), loop_layout(dag)
    chunk = _ChunkWriter(dag, layout, table).write()
    header = [f'"""Generated by {__name__}; do not edit."""', *_describe(dag, layout),
              "import numpy as np", "from numba import njit, prange", *table.header()]
    if any("_scratch(" in line for line in chunk):
        header += [f"# scratch source: {_file_hash('scratch.py')}",
                   f"from {__package__}.scratch import scratch as _scratch"]
    body = _helpers(dag, layout) + ["", ""] + chunk + _entry_points(dag, layout)
    return "\n".join(header + body) + "\n"


def _describe(dag: FusedDag, layout: _Layout) -> list[str]:
    """Comment lines naming the DAG's values, for readers of the generated source."""
    n = len(dag.inputs)
    lines = [f"# v{k} = x{k}: {i.dtype}, pattern {i.pattern}" for k, i in enumerate(dag.inputs)]
    lines += [f"# v{n + j} = {' '.join(node.expr.split())} over "
              f"{', '.join(f'v{v}' for v in node.operands)}: {node.dtype}"
              for j, node in enumerate(dag.nodes)]
    lines += [f"# output {k}: v{o.value}" + (f", {o.reduce} over axes {o.axes or 'all'}"
                                             if o.reduce else "")
              for k, o in enumerate(dag.outputs)]
    return lines + [f"# loop: {'flat' if layout.flat else f'{layout.ndim}-d'}"]
