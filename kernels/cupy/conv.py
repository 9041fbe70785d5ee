"""CUDA kernels of 2-D convolution and pooling (NHWC, C-contiguous): sources, geometry, launches.

Convolution is im2col on the device plus a cuBLAS GEMM (the caller's ``cupy.matmul``); the
filter ``[kh, kw, in, out]`` is a ``(kh * kw * in, out)`` matrix whose rows match the columns
im2col writes (tap-major, channel fastest). ``col2im`` is its transpose in gather form: each
input element sums the columns that read it, in tap order (no atomics, so deterministic).
Pooling runs one thread per output element: max (NaN propagates), its gradient (each window's
cotangent to its first maximum, in row-major tap order, padding counting as ``-inf`` -- as the
NumPy reference's ``argmax`` over padded windows), the maximum's position read from a second
tensor (``max_grad_grad``), and averages over the input elements a window covers.

Each entry is a thin grid-stride shell around a ``__host__ __device__`` function
``<entry>_range(first, stride, ...)``, so the same text also builds for the CPU
(``kernels.cupy.conv_harness``). Sources use no headers (NVRTC has none); shared parts sit
behind include guards and entry names are unique, so sources also compile concatenated.
Every scalar parameter is a ``long long``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from .hand import Launch, flat_launch

FLOATS = ("float32", "float64")
CTYPES = {"float32": "float", "float64": "double"}
SCRATCH_ELEMENTS = 1 << 25
"""Largest im2col matrix (elements) unless a single image needs more: bigger batches run as
chunks of whole images through the same scratch."""


@dataclass(frozen=True)
class ConvGeometry:
    """Sizes of a convolution: input ``(n, h, w, c)``, output pixels ``(oh, ow)``, window
    ``(kh, kw)``, strides, dilations and the padding before the first row / column."""

    n: int
    h: int
    w: int
    c: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    top: int
    left: int

    @property
    def taps(self) -> int:
        """Columns of the im2col matrix (rows of the filter matrix)."""
        return self.kh * self.kw * self.c

    @property
    def pixels(self) -> int:
        """Output pixels per image (im2col rows per image)."""
        return self.oh * self.ow

    def pointwise(self) -> bool:
        """A 1x1, stride-1, unpadded convolution: im2col is the input itself."""
        return (self.kh, self.kw, self.sh, self.sw, self.top, self.left, self.oh, self.ow) == (
            1, 1, 1, 1, 0, 0, self.h, self.w)

    def images(self, count: int) -> "ConvGeometry":
        return replace(self, n=count)

    def args(self) -> tuple:
        return tuple(np.int64(getattr(self, f.name)) for f in fields(self))


@dataclass(frozen=True)
class PoolGeometry:
    """Sizes of a pooling: input ``(n, h, w, c)``, output ``(oh, ow)``, window, strides and
    the padding before the first row / column."""

    n: int
    h: int
    w: int
    c: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    top: int
    left: int

    def args(self) -> tuple:
        return tuple(np.int64(getattr(self, f.name)) for f in fields(self))


_CONV_GEO = tuple(f.name for f in fields(ConvGeometry))
_POOL_GEO = tuple(f.name for f in fields(PoolGeometry))

_COMMON = r"""
#ifndef MG_WINDOW_COMMON
#define MG_WINDOW_COMMON
struct MgConvGeo { long long n, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, top, left; };
struct MgPoolGeo { long long n, h, w, c, oh, ow, kh, kw, sh, sw, top, left; };
__host__ __device__ inline float mg_window_neg_inf(float) {
  union { unsigned int u; float f; } v;
  v.u = 0xff800000u;
  return v.f;
}
__host__ __device__ inline double mg_window_neg_inf(double) {
  union { unsigned long long u; double f; } v;
  v.u = 0xfff0000000000000ull;
  return v.f;
}
// Flat index t of an NHWC array with rows `rows`, columns `cols`, channels `c` as (n, i, j, ch).
__host__ __device__ inline void mg_window_split(long long t, long long rows, long long cols,
                                                long long c, long long* n, long long* i,
                                                long long* j, long long* ch) {
  *ch = t % c; t /= c;
  *j = t % cols; t /= cols;
  *i = t % rows; *n = t / rows;
}
// The output index along one axis of the window whose tap `a` reads input position `p`
// (`before`: padding before the first position), or -1 when no window's tap `a` reads it.
__host__ __device__ inline long long mg_window_of(long long p, long long a, long long before,
                                                  long long stride, long long outs) {
  const long long q = p + before - a;
  if (q < 0 || q % stride) return -1;
  return q / stride < outs ? q / stride : -1;
}
#endif
"""

_CONV = r"""
#ifndef MG_CONV_BODIES
#define MG_CONV_BODIES
// cols[r, (a * kw + b) * c + ch] for output pixel r: input tap (a, b), channel ch (0 outside).
template <class T>
__host__ __device__ void mg_conv_im2col(long long first, long long stride, const T* x, T* cols,
                                        const MgConvGeo& g) {
  const long long total = g.n * g.oh * g.ow * g.kh * g.kw * g.c;
  for (long long t = first; t < total; t += stride) {
    long long r = t;
    const long long ch = r % g.c; r /= g.c;
    const long long b = r % g.kw; r /= g.kw;
    const long long a = r % g.kh; r /= g.kh;
    const long long j = r % g.ow; r /= g.ow;
    const long long i = r % g.oh, n = r / g.oh;
    const long long h = i * g.sh - g.top + a * g.dh, w = j * g.sw - g.left + b * g.dw;
    cols[t] = h >= 0 && h < g.h && w >= 0 && w < g.w ? x[((n * g.h + h) * g.w + w) * g.c + ch]
                                                     : T(0);
  }
}
// dx[n, h, w, ch] = sum, in tap order, of the im2col entries that read it.
template <class T>
__host__ __device__ void mg_conv_col2im(long long first, long long stride, const T* cols, T* dx,
                                        const MgConvGeo& g) {
  const long long total = g.n * g.h * g.w * g.c;
  for (long long t = first; t < total; t += stride) {
    long long n, h, w, ch;
    mg_window_split(t, g.h, g.w, g.c, &n, &h, &w, &ch);
    T acc = T(0);
    for (long long a = 0; a < g.kh; ++a) {
      const long long i = mg_window_of(h, a * g.dh, g.top, g.sh, g.oh);
      if (i < 0) continue;
      for (long long b = 0; b < g.kw; ++b) {
        const long long j = mg_window_of(w, b * g.dw, g.left, g.sw, g.ow);
        if (j >= 0) acc += cols[(((n * g.oh + i) * g.ow + j) * g.kh + a) * g.kw * g.c
                                + b * g.c + ch];
      }
    }
    dx[t] = acc;
  }
}
#endif
"""

_POOL = r"""
#ifndef MG_POOL_BODIES
#define MG_POOL_BODIES
// The tap a * kw + b of window (i, j)'s first maximum (a NaN wins; padding reads -inf), its
// value in *best.
template <class T>
__host__ __device__ long long mg_pool_argmax(const T* x, long long n, long long i, long long j,
                                             long long ch, const MgPoolGeo& g, T* best) {
  long long at = -1;
  T top = T(0);
  for (long long a = 0; a < g.kh; ++a) {
    const long long h = i * g.sh - g.top + a;
    for (long long b = 0; b < g.kw; ++b) {
      const long long w = j * g.sw - g.left + b;
      const T v = h >= 0 && h < g.h && w >= 0 && w < g.w
          ? x[((n * g.h + h) * g.w + w) * g.c + ch] : mg_window_neg_inf(T(0));
      if (at < 0 || v > top || (v != v && top == top)) { top = v; at = a * g.kw + b; }
    }
  }
  *best = top;
  return at;
}
template <class T>
__host__ __device__ void mg_pool_max(long long first, long long stride, const T* x, T* out,
                                     const MgPoolGeo& g) {
  const long long total = g.n * g.oh * g.ow * g.c;
  for (long long t = first; t < total; t += stride) {
    long long n, i, j, ch;
    mg_window_split(t, g.oh, g.ow, g.c, &n, &i, &j, &ch);
    T best;
    mg_pool_argmax(x, n, i, j, ch, g, &best);
    out[t] = best;
  }
}
// out[n, i, j, ch] = g at window (i, j)'s maximum (0 where that is padding).
template <class T>
__host__ __device__ void mg_pool_max_grad_grad(long long first, long long stride, const T* x,
                                               const T* grad, T* out, const MgPoolGeo& g) {
  const long long total = g.n * g.oh * g.ow * g.c;
  for (long long t = first; t < total; t += stride) {
    long long n, i, j, ch;
    mg_window_split(t, g.oh, g.ow, g.c, &n, &i, &j, &ch);
    T best;
    const long long at = mg_pool_argmax(x, n, i, j, ch, g, &best);
    const long long h = i * g.sh - g.top + at / g.kw, w = j * g.sw - g.left + at % g.kw;
    out[t] = h >= 0 && h < g.h && w >= 0 && w < g.w ? grad[((n * g.h + h) * g.w + w) * g.c + ch]
                                                    : T(0);
  }
}
// dx[n, h, w, ch] = sum, in tap order, of dy over the windows whose first maximum is here.
template <class T>
__host__ __device__ void mg_pool_max_grad(long long first, long long stride, const T* x,
                                          const T* dy, T* dx, const MgPoolGeo& g) {
  const long long total = g.n * g.h * g.w * g.c;
  for (long long t = first; t < total; t += stride) {
    long long n, h, w, ch;
    mg_window_split(t, g.h, g.w, g.c, &n, &h, &w, &ch);
    T acc = T(0), best;
    for (long long a = 0; a < g.kh; ++a) {
      const long long i = mg_window_of(h, a, g.top, g.sh, g.oh);
      if (i < 0) continue;
      for (long long b = 0; b < g.kw; ++b) {
        const long long j = mg_window_of(w, b, g.left, g.sw, g.ow);
        if (j >= 0 && mg_pool_argmax(x, n, i, j, ch, g, &best) == a * g.kw + b)
          acc += dy[((n * g.oh + i) * g.ow + j) * g.c + ch];
      }
    }
    dx[t] = acc;
  }
}
// Input elements covered by window (i, j), padding excluded: rows [s[0], s[1]), columns
// [s[2], s[3]); returns their count.
__host__ __device__ inline long long mg_pool_span(long long i, long long j, const MgPoolGeo& g,
                                                  long long* s) {
  const long long hs = i * g.sh - g.top, ws = j * g.sw - g.left;
  s[0] = hs > 0 ? hs : 0;
  s[1] = hs + g.kh < g.h ? hs + g.kh : g.h;
  s[2] = ws > 0 ? ws : 0;
  s[3] = ws + g.kw < g.w ? ws + g.kw : g.w;
  return (s[1] - s[0]) * (s[3] - s[2]);
}
// Window means; the sum divided in double, as the reference divides by float64 counts.
template <class T>
__host__ __device__ void mg_pool_avg(long long first, long long stride, const T* x, T* out,
                                     const MgPoolGeo& g) {
  const long long total = g.n * g.oh * g.ow * g.c;
  for (long long t = first; t < total; t += stride) {
    long long n, i, j, ch, s[4];
    mg_window_split(t, g.oh, g.ow, g.c, &n, &i, &j, &ch);
    const long long count = mg_pool_span(i, j, g, s);
    T acc = T(0);
    for (long long h = s[0]; h < s[1]; ++h)
      for (long long w = s[2]; w < s[3]; ++w) acc += x[((n * g.h + h) * g.w + w) * g.c + ch];
    out[t] = (T)((double)acc / (double)count);
  }
}
// dx[n, h, w, ch] = sum, in tap order, of dy / count over the windows covering it.
template <class T>
__host__ __device__ void mg_pool_avg_grad(long long first, long long stride, const T* dy, T* dx,
                                          const MgPoolGeo& g) {
  const long long total = g.n * g.h * g.w * g.c;
  for (long long t = first; t < total; t += stride) {
    long long n, h, w, ch;
    mg_window_split(t, g.h, g.w, g.c, &n, &h, &w, &ch);
    T acc = T(0);
    for (long long a = 0; a < g.kh; ++a) {
      const long long i = mg_window_of(h, a, g.top, g.sh, g.oh);
      if (i < 0) continue;
      for (long long b = 0; b < g.kw; ++b) {
        const long long j = mg_window_of(w, b, g.left, g.sw, g.ow);
        long long s[4];
        if (j >= 0)
          acc = (T)((double)acc + (double)dy[((n * g.oh + i) * g.ow + j) * g.c + ch]
                                  / (double)mg_pool_span(i, j, g, s));
      }
    }
    dx[t] = acc;
  }
}
#endif
"""

_CONV_ROLES = {"im2col": ("x", "cols"), "col2im": ("cols", "dx")}
_POOL_ROLES = {"max": ("x", "out"), "max_grad": ("x", "dy", "dx"),
               "max_grad_grad": ("x", "grad", "out"), "avg": ("x", "out"),
               "avg_grad": ("dy", "dx")}
CONV_ROLES, POOL_ROLES = tuple(_CONV_ROLES), tuple(_POOL_ROLES)


@dataclass(frozen=True)
class Entry:
    """One ``extern "C"`` entry: its role, name and ``(C type, name)`` parameters."""

    role: str
    name: str
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class WindowKernel:
    """One instantiated source (conv or pool family, one dtype) and its entries."""

    name: str
    source: str
    entries: tuple[Entry, ...]

    def entry(self, role: str) -> Entry:
        return next(e for e in self.entries if e.role == role)


def _instantiate(family: str, dtype: str, roles: dict, geo: tuple, body: str) -> WindowKernel:
    """The family's entries for ``dtype``: a ``_range`` function per entry and its shell."""
    t, suffix = CTYPES[dtype], dtype.replace("float", "f")
    struct = "MgConvGeo" if family == "conv" else "MgPoolGeo"
    text, entries = [_COMMON, body], []
    for role, arrays in roles.items():
        name = f"mg_{family}_{role}_{suffix}"
        params = tuple((f"{t}*" if k == len(arrays) - 1 else f"const {t}*", a)
                       for k, a in enumerate(arrays)) + tuple(("long long", d) for d in geo)
        decl = ", ".join(f"{c} {n}" for c, n in params)
        names = ", ".join(n for _, n in params)
        text.append(
            f"__host__ __device__ inline void {name}_range(long long first, long long stride, "
            f"{decl}) {{\n  const {struct} g = {{{', '.join(geo)}}};\n"
            f"  mg_{family}_{role}<{t}>(first, stride, {', '.join(arrays)}, g);\n}}\n"
            f'extern "C" __global__ void {name}({decl}) {{\n'
            f"  {name}_range((long long)blockIdx.x * blockDim.x + threadIdx.x, "
            f"(long long)gridDim.x * blockDim.x, {names});\n}}\n")
        entries.append(Entry(role, name, params))
    return WindowKernel(f"mg_{family}_{suffix}", "".join(text), tuple(entries))


def _check(dtype: str, what: str) -> None:
    if dtype not in FLOATS:
        raise ValueError(f"no CUDA {what} kernel for dtype {dtype}; have {', '.join(FLOATS)}")


def conv_kernel(dtype: str) -> WindowKernel:
    """im2col / col2im for float ``dtype``; entries ``im2col`` and ``col2im``."""
    _check(dtype, "convolution")
    return _instantiate("conv", dtype, _CONV_ROLES, _CONV_GEO, _CONV)


def pool_kernel(dtype: str) -> WindowKernel:
    """Pooling for float ``dtype``; entries ``POOL_ROLES``."""
    _check(dtype, "pooling")
    return _instantiate("pool", dtype, _POOL_ROLES, _POOL_GEO, _POOL)


def all_kernels() -> list[WindowKernel]:
    """Every instantiation (what the tests compile)."""
    return [make(d) for make in (conv_kernel, pool_kernel) for d in FLOATS]


# -- launch geometry ----------------------------------------------------------------------------


def work(role: str, geo) -> int:
    """Elements (threads' items) of a launch of ``role``: what the entry writes."""
    if role == "im2col":
        return geo.n * geo.pixels * geo.taps
    if role in ("col2im", "max_grad", "avg_grad"):
        return geo.n * geo.h * geo.w * geo.c
    return geo.n * geo.oh * geo.ow * geo.c


def launch(role: str, geo) -> Launch | None:
    """Grid and block of an entry for ``geo``; None when there is no work (CUDA rejects an
    empty grid)."""
    total = work(role, geo)
    return flat_launch(total) if total else None


def image_chunks(geo: ConvGeometry, limit: int | None = None) -> list[tuple[int, int]]:
    """``(first image, count)`` chunks whose im2col matrices fit ``limit`` elements (default
    ``SCRATCH_ELEMENTS``; at least one image each): all share one scratch of the first's size."""
    limit = SCRATCH_ELEMENTS if limit is None else limit
    per_image = max(geo.pixels * geo.taps, 1)
    step = max(1, min(limit // per_image, geo.n))
    return [(first, min(step, geo.n - first)) for first in range(0, geo.n, step)]
