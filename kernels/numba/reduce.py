"""Sum, mean, max, min, argmax and argmin over one run of adjacent axes.

The input is viewed as ``(outer, reduced, inner)``: ``*_rows`` kernels handle ``inner == 1``
(the reduced elements are contiguous), ``*_columns`` kernels the rest (vectorised across
``inner``). Sums accumulate in float64 in blocks of ``BLOCK`` elements, so float32 results are
at least as accurate as NumPy's pairwise sums. Max/min propagate NaN as NumPy does; argmax/argmin
return the first extreme (or first NaN) index.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)
LONG_ROW = 64
"""Contiguous extreme/arg reductions at least this long run NumPy's SIMD loops instead."""
BLOCK = 1024
"""Elements summed in one vectorised run before joining the row's float64 total."""


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _block_sum(seg):
    s = 0.0
    for k in range(seg.shape[0]):
        s += seg[k]
    return s


@njit(**_JIT)
def _row_sum(x, o):
    """Float64 sum of row ``o``: vectorised blocks joined with compensated (Neumaier) adds."""
    total = comp = 0.0
    for lo in range(0, x.shape[1], BLOCK):
        part = _block_sum(x[o, lo:lo + BLOCK])
        t = total + part
        comp += (total - t) + part if abs(total) >= abs(part) else (part - t) + total
        total = t
    return total + comp


@njit(**_JIT)
def sum_rows(x, out, scale):
    """``out[o] = scale * sum(x[o])``."""
    for o in range(x.shape[0]):
        out[o] = _row_sum(x, o) * scale


@njit(**_JIT)
def sum_columns(x, out, scale):
    """``out[o, i] = scale * sum_k x[o, k, i]`` with a float64 accumulator row."""
    acc = np.empty(x.shape[2])
    for o in range(x.shape[0]):
        acc[:] = 0.0
        for k in range(x.shape[1]):
            for i in range(x.shape[2]):
                acc[i] += x[o, k, i]
        for i in range(x.shape[2]):
            out[o, i] = acc[i] * scale


@njit(**_JIT)
def _pick(v, best, larger):
    """``v`` when it beats ``best`` (or is NaN, which then sticks), else ``best``."""
    better = v > best if larger else v < best
    return v if better or v != v else best


@njit(**_JIT)
def extreme_rows(x, out, larger):
    """``out[o] = max(x[o])`` (``larger``) or ``min(x[o])``, NaN if the row has one."""
    for o in range(x.shape[0]):
        best = x[o, 0]
        for k in range(1, x.shape[1]):
            best = _pick(x[o, k], best, larger)
        out[o] = best


@njit(**_JIT)
def extreme_columns(x, out, larger):
    """``out[o, i]`` = max (``larger``) or min over ``k`` of ``x[o, k, i]``, NaN-propagating."""
    for o in range(x.shape[0]):
        for i in range(x.shape[2]):
            out[o, i] = x[o, 0, i]
        for k in range(1, x.shape[1]):
            for i in range(x.shape[2]):
                out[o, i] = _pick(x[o, k, i], out[o, i], larger)


@njit(**_JIT)
def arg_extreme(x, out, larger):
    """``out[o, i]`` = first ``k`` of the max (``larger``) or min of ``x[o, :, i]``, or of
    its first NaN."""
    for o in range(x.shape[0]):
        for i in range(x.shape[2]):
            best, at = x[o, 0, i], 0
            for k in range(1, x.shape[1]):
                if best != best:
                    break
                v = x[o, k, i]
                if (v > best if larger else v < best) or v != v:
                    best, at = v, k
            out[o, i] = at


# -- Python entry points ------------------------------------------------------------------------


def blocks(a: np.ndarray, first: int, last: int) -> np.ndarray:
    """C-contiguous ``a`` as ``(outer, reduced, inner)`` for reduced axes ``first..last``."""
    return np.ascontiguousarray(a).reshape(math.prod(a.shape[:first]),
                                           math.prod(a.shape[first:last + 1]),
                                           math.prod(a.shape[last + 1:]))


def sum_blocks(x: np.ndarray, out: np.ndarray, scale: float) -> None:
    """``out = scale * x.sum(axis=1)`` of an ``(outer, reduced, inner)`` array into ``out`` of
    shape ``(outer, inner)``."""
    if x.shape[2] == 1:
        sum_rows(x.reshape(x.shape[0], x.shape[1]), out.reshape(-1), scale)
    else:
        sum_columns(x, out, scale)


def extreme_blocks(x: np.ndarray, out: np.ndarray, larger: bool) -> None:
    """``out`` = max (``larger``) or min of ``(outer, reduced, inner)`` ``x`` over axis 1.
    Long contiguous rows go to NumPy's SIMD loop (a NaN-propagating compare chain is slower)."""
    if x.shape[2] != 1:
        extreme_columns(x, out, larger)
    elif x.shape[1] >= LONG_ROW:
        (np.maximum if larger else np.minimum).reduce(x[:, :, 0], axis=1, out=out[:, 0])
    else:
        extreme_rows(x.reshape(x.shape[0], x.shape[1]), out.reshape(-1), larger)


def arg_blocks(x: np.ndarray, out: np.ndarray, larger: bool) -> None:
    """``out`` = argmax (``larger``) or argmin of ``(outer, reduced, inner)`` ``x`` over axis 1
    (``out`` is ``(outer, inner)``; ``reduced`` must be non-empty)."""
    if x.shape[2] == 1 and x.shape[1] >= LONG_ROW:
        out[:, 0] = (np.argmax if larger else np.argmin)(x[:, :, 0], axis=1)
    else:
        arg_extreme(x, out, larger)
