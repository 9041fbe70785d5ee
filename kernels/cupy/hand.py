"""Hand-written CUDA kernels of the cupy backend: their C++ sources and how to launch them.

Each kernel family is one C++ text with ``extern "C"`` entry points, instantiated per dtype
(``row_kernel``, ``reduce_kernel``, ``index_kernel``); the sources use no headers (NVRTC, which
CuPy compiles them with, has none) and compile as they are with ``nvcc -ptx``. Shared parts sit
behind include guards and entry names are unique, so sources also compile concatenated. A
``HandKernel`` names its entries; the ``*_launch`` functions give grid and block for the sizes
at hand (never an empty grid: callers skip launches with no work).

Families (all arrays C-contiguous; ``rows x n`` matrices, or ``(outer, n, inner)`` blocks):
- ``softmax`` / ``log_softmax`` / ``xent`` / ``sparse_xent``: one row per warp (``n`` up to
  1024) or per block; a single pass over the row keeps the running maximum and the sum of
  ``exp(x - max)`` (rescaled when the maximum grows), then the outputs are written. The
  cross-entropies write the loss and, when given a non-null pointer, the softmax as well. A
  sparse label outside ``[0, n)`` gives a NaN loss (TF's GPU kernels do the same).
- ``reduce``: sum (double accumulator), max and min (NaN propagates), argmax / argmin (first
  of equal values; a NaN wins, as NumPy's) over the middle axis of ``(outer, n, inner)``:
  a warp per output when ``inner == 1`` (contiguous rows), else a thread per output.
- ``gather`` / ``scatter_add``: rows of ``(outer, rows, inner)`` picked by ids (an id outside
  ``[0, rows)`` reads zeros / is skipped, as TF's GPU kernels; ``wrap`` makes negative ids
  count from the end, as NumPy's ``ufunc.at``); scatter-add uses ``atomicAdd``, so repeated
  ids accumulate.
- ``one_hot``: ``out[o, d, i] = on if ids[o, i] == d else off``.
"""
from __future__ import annotations

from dataclasses import dataclass

CTYPES = {"bool": "bool", "int32": "int", "int64": "long long", "float32": "float",
          "float64": "double"}
FLOATS = ("float32", "float64")
INDEX_DTYPES = ("int32", "int64")
ROW_FAMILIES = ("softmax", "log_softmax", "xent", "sparse_xent")
REDUCTIONS = ("sum", "max", "min", "argmax", "argmin")
WARP_ROW_MAX = 1024
"""Longest row given to a single warp; longer rows get a block of ``BLOCK`` threads."""
BLOCK = 256
MAX_GRID = 1 << 20
"""Blocks launched at most; kernels loop over the rest (grid-stride)."""


@dataclass(frozen=True)
class HandKernel:
    """One instantiated source: its ``extern "C"`` entry points by role, and the text."""

    name: str
    source: str
    entries: tuple[tuple[str, str], ...]

    def entry(self, role: str) -> str:
        return dict(self.entries)[role]


@dataclass(frozen=True)
class Launch:
    grid: tuple[int, int, int]
    block: tuple[int, int, int]


_PRELUDE = r"""
#ifndef MG_HAND_PRELUDE
#define MG_HAND_PRELUDE
#define MG_FULL 0xffffffffu
template <class T> __device__ __forceinline__ T mg_neg_inf();
template <> __device__ __forceinline__ float mg_neg_inf<float>() {
  return __int_as_float(0xff800000);
}
template <> __device__ __forceinline__ double mg_neg_inf<double>() {
  return __longlong_as_double(0xfff0000000000000LL);
}
template <class T> __device__ __forceinline__ T mg_nan();
template <> __device__ __forceinline__ float mg_nan<float>() { return __int_as_float(0x7fc00000); }
template <> __device__ __forceinline__ double mg_nan<double>() {
  return __longlong_as_double(0x7ff8000000000000LL);
}
// Threads of one row: a warp (32 x ROWS blocks) or the whole block (one row per block).
struct MgGroup {
  long long first, stride;
  int lane, size;
};
template <bool BLOCK> __device__ __forceinline__ MgGroup mg_group() {
  MgGroup g;
  if (BLOCK) {
    g.first = blockIdx.x; g.stride = gridDim.x; g.lane = threadIdx.x; g.size = blockDim.x;
  } else {
    g.first = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    g.stride = (long long)gridDim.x * blockDim.y; g.lane = threadIdx.x; g.size = 32;
  }
  return g;
}
// Sum over the group, the same value for every thread (lane 0's, so the order is fixed).
template <bool BLOCK, class T> __device__ T mg_group_sum(T v) {
  __shared__ T partial[32];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(MG_FULL, v, off);
  if (!BLOCK) return __shfl_sync(MG_FULL, v, 0);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < (int)(blockDim.x >> 5) ? partial[lane] : T(0);
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(MG_FULL, v, off);
    if (lane == 0) partial[0] = v;
  }
  __syncthreads();
  v = partial[0];
  __syncthreads();
  return v;
}
#endif
"""

_ROWS = r"""
#ifndef MG_HAND_ROWS
#define MG_HAND_ROWS
// Running softmax statistics: the maximum m and s = sum(exp(x - m)).
template <class T> struct MgStats { T m, s; };
template <class T> __device__ __forceinline__ T mg_rescale(T s, T from, T to) {
  return from == to ? s : s * exp(from - to);
}
template <class T> __device__ __forceinline__ void mg_merge(MgStats<T>& a, T m, T s) {
  const T top = m > a.m ? m : a.m;
  a.s = mg_rescale(a.s, a.m, top) + mg_rescale(s, m, top);
  a.m = top;
}
template <class T> __device__ __forceinline__ void mg_push(MgStats<T>& a, T x) {
  if (x > a.m) { a.s = mg_rescale(a.s, a.m, x) + T(1); a.m = x; }
  else a.s += x == a.m ? T(1) : exp(x - a.m);
}
template <bool BLOCK, class T> __device__ MgStats<T> mg_group_stats(MgStats<T> a) {
  __shared__ T partial[64];
  for (int off = 16; off > 0; off >>= 1) {
    const T m = __shfl_down_sync(MG_FULL, a.m, off), s = __shfl_down_sync(MG_FULL, a.s, off);
    mg_merge(a, m, s);
  }
  if (!BLOCK) {
    a.m = __shfl_sync(MG_FULL, a.m, 0); a.s = __shfl_sync(MG_FULL, a.s, 0);
    return a;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) { partial[2 * warp] = a.m; partial[2 * warp + 1] = a.s; }
  __syncthreads();
  if (warp == 0) {
    MgStats<T> b = {mg_neg_inf<T>(), T(0)};
    if (lane < (int)(blockDim.x >> 5)) { b.m = partial[2 * lane]; b.s = partial[2 * lane + 1]; }
    for (int off = 16; off > 0; off >>= 1) {
      const T m = __shfl_down_sync(MG_FULL, b.m, off), s = __shfl_down_sync(MG_FULL, b.s, off);
      mg_merge(b, m, s);
    }
    if (lane == 0) { partial[0] = b.m; partial[1] = b.s; }
  }
  __syncthreads();
  a.m = partial[0]; a.s = partial[1];
  __syncthreads();
  return a;
}
template <bool BLOCK, class T>
__device__ MgStats<T> mg_row_stats(const T* x, long long n, MgGroup g) {
  MgStats<T> a = {mg_neg_inf<T>(), T(0)};
  for (long long j = g.lane; j < n; j += g.size) mg_push(a, x[j]);
  return mg_group_stats<BLOCK>(a);
}
// LOG: log_softmax, else softmax, of each row of x (rows x n) into y.
template <bool BLOCK, bool LOG, class T>
__device__ void mg_softmax(const T* x, T* y, long long rows, long long n) {
  const MgGroup g = mg_group<BLOCK>();
  for (long long row = g.first; row < rows; row += g.stride) {
    const T* xr = x + row * n;
    T* yr = y + row * n;
    const MgStats<T> a = mg_row_stats<BLOCK>(xr, n, g);
    const T log_s = log(a.s);
    for (long long j = g.lane; j < n; j += g.size)
      yr[j] = LOG ? (xr[j] - a.m) - log_s : exp(xr[j] - a.m) / a.s;
  }
}
// loss[row] = -sum(labels * log_softmax(logits)); probs (if not null) = softmax(logits).
template <bool BLOCK, class T>
__device__ void mg_xent(const T* labels, const T* x, T* loss, T* probs, long long rows,
                        long long n) {
  const MgGroup g = mg_group<BLOCK>();
  for (long long row = g.first; row < rows; row += g.stride) {
    const T* xr = x + row * n;
    const T* lr = labels + row * n;
    const MgStats<T> a = mg_row_stats<BLOCK>(xr, n, g);
    const T log_s = log(a.s);
    T acc = T(0);
    for (long long j = g.lane; j < n; j += g.size) {
      acc += lr[j] * ((xr[j] - a.m) - log_s);
      if (probs) probs[row * n + j] = exp(xr[j] - a.m) / a.s;
    }
    acc = mg_group_sum<BLOCK>(acc);
    if (g.lane == 0) loss[row] = -acc;
  }
}
// loss[row] = -log_softmax(logits)[label] (NaN for a label outside [0, n)); probs as mg_xent.
template <bool BLOCK, class T, class I>
__device__ void mg_sparse_xent(const I* labels, const T* x, T* loss, T* probs, long long rows,
                               long long n) {
  const MgGroup g = mg_group<BLOCK>();
  for (long long row = g.first; row < rows; row += g.stride) {
    const T* xr = x + row * n;
    const MgStats<T> a = mg_row_stats<BLOCK>(xr, n, g);
    if (probs)
      for (long long j = g.lane; j < n; j += g.size) probs[row * n + j] = exp(xr[j] - a.m) / a.s;
    if (g.lane == 0) {
      const long long label = (long long)labels[row];
      loss[row] = label >= 0 && label < n ? log(a.s) - (xr[label] - a.m) : mg_nan<T>();
    }
  }
}
#endif
"""

_ROW_ENTRIES = {
    "softmax": ("const {T}* x, {T}* y, long long rows, long long n",
                "mg_softmax<{B}, false>(x, y, rows, n);"),
    "log_softmax": ("const {T}* x, {T}* y, long long rows, long long n",
                    "mg_softmax<{B}, true>(x, y, rows, n);"),
    "xent": ("const {T}* labels, const {T}* x, {T}* loss, {T}* probs, long long rows, long long n",
             "mg_xent<{B}>(labels, x, loss, probs, rows, n);"),
    "sparse_xent": ("const {I}* labels, const {T}* x, {T}* loss, {T}* probs, long long rows, "
                    "long long n", "mg_sparse_xent<{B}>(labels, x, loss, probs, rows, n);"),
}

_REDUCE = r"""
#ifndef MG_HAND_REDUCE
#define MG_HAND_REDUCE
template <class T> struct MgSum {
  typedef double Acc;
  static __device__ __forceinline__ Acc start() { return 0.0; }
  static __device__ __forceinline__ Acc add(Acc a, T x) { return a + (Acc)x; }
  static __device__ __forceinline__ Acc merge(Acc a, Acc b) { return a + b; }
};
template <class T, bool MAX> struct MgExtreme {
  typedef T Acc;
  static __device__ __forceinline__ Acc start() { return MAX ? mg_neg_inf<T>() : -mg_neg_inf<T>(); }
  static __device__ __forceinline__ Acc add(Acc a, T x) {
    return a != a || (MAX ? a >= x : a <= x) ? a : x;
  }
  static __device__ __forceinline__ Acc merge(Acc a, Acc b) { return add(a, b); }
};
template <class Op> __device__ typename Op::Acc mg_warp_merge(typename Op::Acc v) {
  for (int off = 16; off > 0; off >>= 1) v = Op::merge(v, __shfl_down_sync(MG_FULL, v, off));
  return v;
}
// out[o * inner + i] = reduce over k of x[(o * n + k) * inner + i], divided by divisor (sums).
template <class Op, class T>
__device__ void mg_reduce_rows(const T* x, T* out, long long rows, long long n, double divisor) {
  const MgGroup g = mg_group<false>();
  for (long long row = g.first; row < rows; row += g.stride) {
    typename Op::Acc a = Op::start();
    for (long long k = g.lane; k < n; k += 32) a = Op::add(a, x[row * n + k]);
    a = mg_warp_merge<Op>(a);
    if (g.lane == 0) out[row] = (T)(a / (typename Op::Acc)divisor);
  }
}
template <class Op, class T>
__device__ void mg_reduce_cols(const T* x, T* out, long long outer, long long n,
                               long long inner, double divisor) {
  const long long total = outer * inner;
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (long long)gridDim.x * blockDim.x) {
    const long long o = t / inner, i = t - o * inner;
    typename Op::Acc a = Op::start();
    for (long long k = 0; k < n; ++k) a = Op::add(a, x[(o * n + k) * inner + i]);
    out[t] = (T)(a / (typename Op::Acc)divisor);
  }
}
// (value, index) pairs: the larger (MAX) value wins, NaN first, then the smaller index.
template <bool MAX, class T>
__device__ __forceinline__ bool mg_wins(T x, long long i, T y, long long j) {
  if (x != x) return y == y || i < j;
  if (y != y) return false;
  if (x == y) return i < j;
  return MAX ? x > y : x < y;
}
template <bool MAX, class T, class I>
__device__ void mg_arg_rows(const T* x, I* out, long long rows, long long n) {
  const MgGroup g = mg_group<false>();
  for (long long row = g.first; row < rows; row += g.stride) {
    T best = x[row * n];
    long long at = 0;
    for (long long k = g.lane; k < n; k += 32)
      if (mg_wins<MAX>(x[row * n + k], k, best, at)) { best = x[row * n + k]; at = k; }
    for (int off = 16; off > 0; off >>= 1) {
      const T v = __shfl_down_sync(MG_FULL, best, off);
      const long long j = __shfl_down_sync(MG_FULL, at, off);
      if (mg_wins<MAX>(v, j, best, at)) { best = v; at = j; }
    }
    if (g.lane == 0) out[row] = (I)at;
  }
}
template <bool MAX, class T, class I>
__device__ void mg_arg_cols(const T* x, I* out, long long outer, long long n, long long inner) {
  const long long total = outer * inner;
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (long long)gridDim.x * blockDim.x) {
    const long long o = t / inner, i = t - o * inner;
    T best = x[o * n * inner + i];
    long long at = 0;
    for (long long k = 1; k < n; ++k) {
      const T v = x[(o * n + k) * inner + i];
      if (mg_wins<MAX>(v, k, best, at)) { best = v; at = k; }
    }
    out[t] = (I)at;
  }
}
#endif
"""

_REDUCE_OPS = {"sum": "MgSum<{T}>", "max": "MgExtreme<{T}, true>", "min": "MgExtreme<{T}, false>"}

_INDEXING = r"""
#ifndef MG_HAND_INDEXING
#define MG_HAND_INDEXING
// out[o, k, i] = params[o, ids[k], i] (zeros for an id outside [0, rows)).
template <class T, class I>
__device__ void mg_gather(const T* params, const I* ids, T* out, long long outer,
                          long long rows, long long n_ids, long long inner) {
  const long long total = outer * n_ids * inner;
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (long long)gridDim.x * blockDim.x) {
    const long long i = t % inner, k = (t / inner) % n_ids, o = t / (inner * n_ids);
    const long long id = (long long)ids[k];
    out[t] = id >= 0 && id < rows ? params[(o * rows + id) * inner + i] : T(0);
  }
}
__device__ __forceinline__ void mg_atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void mg_atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void mg_atomic_add(int* p, int v) { atomicAdd(p, v); }
__device__ __forceinline__ void mg_atomic_add(long long* p, long long v) {
  atomicAdd((unsigned long long*)p, (unsigned long long)v);
}
// out[o, ids[k], i] += sign * updates[o, k, i]; wrap: a negative id counts from the end.
template <class T, class I>
__device__ void mg_scatter_add(const T* updates, const I* ids, T* out, long long outer,
                               long long rows, long long n_ids, long long inner, int negate,
                               int wrap) {
  const long long total = outer * n_ids * inner;
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (long long)gridDim.x * blockDim.x) {
    const long long i = t % inner, k = (t / inner) % n_ids, o = t / (inner * n_ids);
    long long id = (long long)ids[k];
    if (wrap && id < 0) id += rows;
    if (id >= 0 && id < rows)
      mg_atomic_add(out + (o * rows + id) * inner + i, negate ? -updates[t] : updates[t]);
  }
}
// out[o, d, i] = on if ids[o, i] == d else off.
template <class T, class I>
__device__ void mg_one_hot(const I* ids, T* out, long long outer, long long depth,
                           long long inner, T on, T off) {
  const long long total = outer * depth * inner;
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (long long)gridDim.x * blockDim.x) {
    const long long i = t % inner, d = (t / inner) % depth, o = t / (inner * depth);
    out[t] = (long long)ids[o * inner + i] == d ? on : off;
  }
}
#endif
"""

_INDEX_ENTRIES = {
    "gather": ("const {T}* params, const {I}* ids, {T}* out, long long outer, long long rows, "
               "long long n_ids, long long inner",
               "mg_gather(params, ids, out, outer, rows, n_ids, inner);"),
    "scatter_add": ("const {T}* updates, const {I}* ids, {T}* out, long long outer, "
                    "long long rows, long long n_ids, long long inner, int negate, int wrap",
                    "mg_scatter_add(updates, ids, out, outer, rows, n_ids, inner, negate, wrap);"),
    "one_hot": ("const {I}* ids, {T}* out, long long outer, long long depth, long long inner, "
                "{T} on, {T} off", "mg_one_hot(ids, out, outer, depth, inner, on, off);"),
}
_INDEX_DTYPES = {"gather": tuple(CTYPES), "scatter_add": ("int32", "int64") + FLOATS,
                 "one_hot": tuple(CTYPES)}


def _suffix(*dtypes: str) -> str:
    return "_".join(d.replace("float", "f").replace("int", "i") for d in dtypes)


def _entry(name: str, params: str, body: str) -> str:
    return f'extern "C" __global__ void {name}({params}) {{\n  {body}\n}}\n'


def _fill(text: str, **names: str) -> str:
    for key, value in names.items():
        text = text.replace("{" + key + "}", value)
    return text


def row_kernel(family: str, dtype: str, index_dtype: str = "int64") -> HandKernel:
    """A row family (``ROW_FAMILIES``) for float ``dtype``; entries ``warp`` and ``block``."""
    _check(dtype, FLOATS, f"{family} rows")
    sparse = family == "sparse_xent"
    if sparse:
        _check(index_dtype, INDEX_DTYPES, "labels")
    params, body = _ROW_ENTRIES[family]
    suffix = _suffix(dtype, index_dtype) if sparse else _suffix(dtype)
    types = {"T": CTYPES[dtype], "I": CTYPES[index_dtype]}
    entries, text = [], [_PRELUDE, _ROWS]
    for role, block in (("warp", "false"), ("block", "true")):
        name = f"mg_{family}_{role}_{suffix}"
        entries.append((role, name))
        text.append(_entry(name, _fill(params, **types), _fill(body, B=block)))
    return HandKernel(f"mg_{family}_{suffix}", "".join(text), tuple(entries))


def reduce_kernel(op: str, dtype: str, index_dtype: str = "int64") -> HandKernel:
    """A reduction (``REDUCTIONS``) of float ``dtype``; entries ``rows`` and ``cols`` (argmax
    and argmin write ``index_dtype``)."""
    _check(dtype, FLOATS, f"{op} reduction")
    arg = op.startswith("arg")
    if arg:
        _check(index_dtype, INDEX_DTYPES, "indices")
    suffix = _suffix(dtype, index_dtype) if arg else _suffix(dtype)
    t, i = CTYPES[dtype], CTYPES[index_dtype]
    rows, cols = f"mg_{op}_rows_{suffix}", f"mg_{op}_cols_{suffix}"
    if arg:
        big = "true" if op == "argmax" else "false"
        text = [_entry(rows, f"const {t}* x, {i}* out, long long rows, long long n",
                       f"mg_arg_rows<{big}>(x, out, rows, n);"),
                _entry(cols, f"const {t}* x, {i}* out, long long outer, long long n, "
                             "long long inner", f"mg_arg_cols<{big}>(x, out, outer, n, inner);")]
    else:
        reducer = _fill(_REDUCE_OPS[op], T=t)
        text = [_entry(rows, f"const {t}* x, {t}* out, long long rows, long long n, "
                             "double divisor",
                       f"mg_reduce_rows<{reducer}>(x, out, rows, n, divisor);"),
                _entry(cols, f"const {t}* x, {t}* out, long long outer, long long n, "
                             "long long inner, double divisor",
                       f"mg_reduce_cols<{reducer}>(x, out, outer, n, inner, divisor);")]
    return HandKernel(f"mg_{op}_{suffix}", "".join([_PRELUDE, _REDUCE] + text),
                      (("rows", rows), ("cols", cols)))


def index_kernel(family: str, dtype: str, index_dtype: str) -> HandKernel:
    """``gather``, ``scatter_add`` or ``one_hot`` for values of ``dtype``; entry ``main``."""
    _check(dtype, _INDEX_DTYPES[family], family)
    _check(index_dtype, INDEX_DTYPES, "indices")
    params, body = _INDEX_ENTRIES[family]
    name = f"mg_{family}_{_suffix(dtype, index_dtype)}"
    types = {"T": CTYPES[dtype], "I": CTYPES[index_dtype]}
    text = _PRELUDE + _INDEXING + _entry(name, _fill(params, **types), body)
    return HandKernel(name, text, (("main", name),))


def supports(family: str, dtype: str, index_dtype: str | None = None) -> bool:
    """Whether ``family`` has a kernel for values of ``dtype`` (and ids of ``index_dtype``)."""
    if index_dtype is not None and index_dtype not in INDEX_DTYPES:
        return False
    if family in ROW_FAMILIES or family in REDUCTIONS:
        return dtype in FLOATS
    return dtype in _INDEX_DTYPES.get(family, ())


def all_kernels() -> list[HandKernel]:
    """Every instantiation (what the tests compile)."""
    kernels = [row_kernel(f, d, i) for f in ROW_FAMILIES for d in FLOATS
               for i in (INDEX_DTYPES if f == "sparse_xent" else ("int64",))]
    kernels += [reduce_kernel(op, d, i) for op in REDUCTIONS for d in FLOATS
                for i in (INDEX_DTYPES if op.startswith("arg") else ("int64",))]
    kernels += [index_kernel(f, d, i) for f, dtypes in _INDEX_DTYPES.items() for d in dtypes
                for i in INDEX_DTYPES]
    return kernels


def _check(dtype: str, allowed, what: str) -> None:
    if dtype not in allowed:
        raise ValueError(f"no CUDA {what} kernel for dtype {dtype}; have {', '.join(allowed)}")


# -- launch geometry ----------------------------------------------------------------------------


def row_launch(rows: int, n: int) -> tuple[str, Launch]:
    """``(entry role, launch)`` of a row family or a row reduction: a warp per row (8 rows a
    block) up to ``WARP_ROW_MAX`` entries, else a block of ``BLOCK`` threads per row."""
    if n <= WARP_ROW_MAX:
        return "warp", Launch((_blocks(rows, 8), 1, 1), (32, 8, 1))
    return "block", Launch((min(rows, MAX_GRID), 1, 1), (BLOCK, 1, 1))


def reduce_rows_launch(rows: int) -> Launch:
    """Row reductions always run a warp per row (8 rows a block)."""
    return Launch((_blocks(rows, 8), 1, 1), (32, 8, 1))


def flat_launch(total: int) -> Launch:
    """One thread per element (grid-stride beyond ``MAX_GRID`` blocks)."""
    return Launch((_blocks(total, BLOCK), 1, 1), (BLOCK, 1, 1))


def _blocks(items: int, per_block: int) -> int:
    return max(1, min(MAX_GRID, -(-items // per_block)))
