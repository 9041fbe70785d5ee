"""CUDA C++ text of typed scalar expressions (``kernels.scalar_expr.Term``): C types of the DAG
dtypes, exact literals, the shared ``__host__ __device__`` helper prelude, and one statement per
term, so the same text runs on the device and, through the host harness, on the CPU.

Semantics follow the NumPy reference interpreter step by step: every term is rounded to its
dtype (float16 values are held in ``float`` and rounded to half after each inexact step, as
NumPy's half loops do); integer ``+ - * **`` and negation wrap (computed in unsigned types, so
there is no undefined signed overflow); maximum/minimum propagate NaN; sigmoid and softplus use
the overflow-free forms of the reference. Float32 math calls the accurate CUDA functions
(``expf``, ``log1pf``, ... -- never the ``__expf`` intrinsics). Out-of-range float-to-integer
casts are undefined, as in NumPy (which warns); small integer targets go through ``long long``
so in-range values wrap as NumPy's do.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..scalar_expr import Term

CTYPES = {"bool": "bool", "int8": "signed char", "int16": "short", "int32": "int",
          "int64": "long long", "uint8": "unsigned char", "uint16": "unsigned short",
          "uint32": "unsigned int", "uint64": "unsigned long long", "float16": "__half",
          "float32": "float", "float64": "double"}
_INFIX = ("+", "-", "*", "/")
_COMPARE = ("<", "<=", ">", ">=", "==", "!=")
_MATH = ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tanh", "floor", "ceil", "rint")
_INEXACT = _INFIX + ("**", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tanh",
                     "sigmoid", "softplus")

PRELUDE = r"""#ifndef MG_FUSION_PRELUDE
#define MG_FUSION_PRELUDE
#define MG_HD __host__ __device__ __forceinline__
#define MG_BLOCK 256
// Bit patterns of inf/nan: no math headers are needed (NVRTC has none).
MG_HD float mg_bits_f(unsigned int b) { union { unsigned int u; float f; } v; v.u = b; return v.f; }
MG_HD double mg_bits_d(unsigned long long b) {
  union { unsigned long long u; double f; } v; v.u = b; return v.f;
}
// NumPy's maximum/minimum: the first argument if it wins or is NaN, so NaN propagates.
template <class T> MG_HD T mg_maximum(T a, T b) { return (a >= b || a != a) ? a : b; }
template <class T> MG_HD T mg_minimum(T a, T b) { return (a <= b || a != a) ? a : b; }
MG_HD double mg_sum(double a, double b) { return a + b; }
MG_HD unsigned long long mg_sum(unsigned long long a, unsigned long long b) { return a + b; }
MG_HD long long mg_sum(long long a, long long b) {
  return (long long)((unsigned long long)a + (unsigned long long)b);
}
// sigmoid without overflow: exp of a non-positive argument only.
MG_HD float mg_sigmoid(float x) {
  const float e = expf(-fabsf(x));
  return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}
MG_HD double mg_sigmoid(double x) {
  const double e = exp(-fabs(x));
  return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}
// softplus = max(x, 0) + log1p(exp(-|x|)): exact for large |x|, NaN in, NaN out.
MG_HD float mg_softplus(float x) { return mg_maximum(x, 0.0f) + log1pf(expf(-fabsf(x))); }
MG_HD double mg_softplus(double x) { return mg_maximum(x, 0.0) + log1p(exp(-fabs(x))); }
// Integer power by squaring in the unsigned type U: wraps like NumPy's integer power.
template <class T, class U> MG_HD T mg_ipow(T base, T exponent) {
  U result = 1, b = (U)base;
  for (U e = (U)exponent; e != 0; e >>= 1) {
    if (e & 1) result *= b;
    b *= b;
  }
  return (T)result;
}
#endif
"""
HALF_PRELUDE = r"""#include <cuda_fp16.h>
#ifndef MG_FUSION_HALF
#define MG_FUSION_HALF
// A float rounded to the nearest half: float16 values are computed in float, rounded per step.
MG_HD float mg_h(float x) { return __half2float(__float2half(x)); }
#endif
"""


def ctype(dtype) -> str:
    """C type an array element of ``dtype`` is stored as."""
    return CTYPES[np.dtype(dtype).name]


def value_type(dtype) -> str:
    """C type a value of ``dtype`` is computed in (float16 in float)."""
    dtype = np.dtype(dtype)
    return "float" if dtype == np.float16 else CTYPES[dtype.name]


def _wide_unsigned(dtype: np.dtype) -> str:
    """Unsigned type integer arithmetic on ``dtype`` wraps in (never promoted to signed int)."""
    return "unsigned long long" if dtype.itemsize == 8 else "unsigned int"


def load(dtype, text: str) -> str:
    """``text`` (a stored element of ``dtype``) as its computed value."""
    return f"__half2float({text})" if np.dtype(dtype) == np.float16 else text


def store(dtype, text: str) -> str:
    """A computed value of ``dtype`` as its stored element."""
    return f"__float2half({text})" if np.dtype(dtype) == np.float16 else text


def literal(value, dtype) -> str:
    """Exact C text of constant ``value`` of ``dtype`` (in its computed type)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return "true" if value else "false"
    if dtype.kind in "iu":
        v = int(value)
        if dtype.kind == "i" and v == np.iinfo(np.int64).min:
            return f"(({CTYPES[dtype.name]})(-9223372036854775807LL - 1))"
        return f"(({CTYPES[dtype.name]}){v}{'LL' if dtype.kind == 'i' else 'ULL'})"
    with np.errstate(over="ignore"):  # the value NumPy's constant of ``dtype`` holds
        v = float(np.asarray(value, dtype=dtype))
    single = dtype.itemsize <= 4
    if v != v or v in (np.inf, -np.inf):
        if single:
            bits = "0x7fc00000u" if v != v else "0x7f800000u" if v > 0 else "0xff800000u"
            return f"mg_bits_f({bits})"
        bits = "0x7ff8000000000000ull" if v != v else \
            "0x7ff0000000000000ull" if v > 0 else "0xfff0000000000000ull"
        return f"mg_bits_d({bits})"
    text = np.format_float_scientific(np.float32(v), unique=True) + "f" if single else repr(v)
    return f"({text})"


def cast(text: str, source: np.dtype, target: np.dtype) -> str:
    """C text converting the computed value ``text`` of ``source`` to ``target``."""
    if target.kind == "b":
        return f"({text} != 0)"
    if target == np.float16:
        if source == np.float32 or source == np.float16:
            return f"mg_h({text})"
        return f"__half2float(__double2half((double)({text})))"
    if source.kind == "f" and target.kind in "iu" and target.itemsize < 8:
        return f"(({CTYPES[target.name]})(long long)({text}))"
    return f"(({value_type(target)})({text}))"


class Emitter:
    """Appends one ``const T tN = ...;`` statement per term; returns the name holding each value."""

    def __init__(self, lines: list[str], indent: str, prefix: str = "t"):
        self.lines, self.indent, self.prefix, self.count = lines, indent, prefix, 0
        self.half = False

    def term(self, term: Term, operands: Sequence[str]) -> str:
        if term.op == "arg":
            return operands[term.value]
        if term.op == "const":
            return literal(term.value, term.dtype)
        args = [self.term(a, operands) for a in term.args]
        code = self._code(term, args)
        if term.dtype == np.float16 and term.op in _INEXACT:
            code = f"mg_h({code})"
        self.half |= term.dtype == np.float16 or any(a.dtype == np.float16 for a in term.args)
        self.count += 1
        var = f"{self.prefix}{self.count}"
        self.lines.append(f"{self.indent}const {value_type(term.dtype)} {var} = {code};")
        return var

    def _code(self, term: Term, a: list[str]) -> str:
        op, dtype = term.op, term.dtype
        vt = value_type(dtype)
        if op in _COMPARE:
            return f"{a[0]} {op} {a[1]}"
        if op in _INFIX or op == "neg":
            x, y = (("0", a[0]) if op == "neg" else a)
            if dtype.kind in "iu":
                u = _wide_unsigned(dtype)
                return f"({vt})(({u}){x} {op if op != 'neg' else '-'} ({u}){y})"
            return f"-{a[0]}" if op == "neg" else f"{x} {op} {y}"
        if op in ("and", "or"):
            return f"{a[0]} {'&&' if op == 'and' else '||'} {a[1]}"
        if op == "not":
            return f"!{a[0]}"
        if op == "where":
            return f"{a[0]} ? {a[1]} : {a[2]}"
        if op in ("maximum", "minimum"):
            return f"mg_{op}<{vt}>({a[0]}, {a[1]})"
        if op == "cast":
            return cast(a[0], term.args[0].dtype, dtype)
        return self._function(op, dtype, a[0], a[1] if len(a) > 1 else None)

    def _function(self, op: str, dtype: np.dtype, x: str, y: str | None) -> str:
        vt = value_type(dtype)
        if op == "**":
            if dtype.kind in "iu":
                return f"mg_ipow<{vt}, {_wide_unsigned(dtype)}>({x}, {y})"
            return f"{'pow' if dtype == np.float64 else 'powf'}({x}, {y})"
        if op == "abs":
            if dtype.kind == "u":
                return x
            if dtype.kind == "i":
                u = _wide_unsigned(dtype)
                return f"({vt})({x} < 0 ? ({u})0 - ({u}){x} : ({u}){x})"
            return f"{'fabs' if dtype == np.float64 else 'fabsf'}({x})"
        if op == "sign":
            one, zero = literal(1, dtype), literal(0, dtype)
            negative = f"-{one}" if dtype.kind == "f" else f"({vt})-1"
            if dtype.kind == "u":
                return f"{x} > {zero} ? {one} : {zero}"
            rest = x if dtype.kind == "f" else zero  # NaN and signed zeros pass through
            return f"{x} > {zero} ? {one} : ({x} < {zero} ? {negative} : {rest})"
        if op in ("sigmoid", "softplus"):
            return f"mg_{op}({x})"
        if op in _MATH:
            return f"{op}{'' if dtype == np.float64 else 'f'}({x})"
        raise ValueError(f"no CUDA code for scalar operation {op!r} on {dtype}")
