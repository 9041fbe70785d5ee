"""Softmax, log-softmax and softmax cross-entropy over the last axis, one pass per row.

Arrays are viewed as C-contiguous ``(rows, classes)`` matrices. Each kernel is a ``*_rows``
function computing rows ``[start, stop)`` (the serial variant) and a ``*_parallel`` one running
chunks of rows under ``prange``; the Python entry points pick one by size. Row sums accumulate
in float64, so float32 results are at least as accurate as NumPy's. ``exp`` and ``log`` are
vecmath's branch-free versions, so the per-row loops vectorise. Sparse kernels return the first
row whose label is outside ``[0, classes)`` (``-1`` when all are valid); the caller raises.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from . import vecmath

PARALLEL_MIN_SIZE = 100_000
"""Elements from which the row loop runs on all threads (below, thread start-up dominates)."""

_JIT = dict(cache=True, nogil=True)


def vexp(x):
    """``e**x``; in Numba code, vecmath's vectorisable exp of ``x``'s float type."""
    return np.exp(x)


def vlog(x):
    """``log(x)``; in Numba code, vecmath's vectorisable log of ``x``'s float type."""
    return np.log(x)


def _vecmath_overload(stub, name):
    @overload(stub, inline="always")
    def implement(x):
        if isinstance(x, types.Float):
            fn = vecmath.get(name, x.name)
            return lambda x: fn(x)
    return implement


_vecmath_overload(vexp, "exp")
_vecmath_overload(vlog, "log")

# -- per-row pieces ---------------------------------------------------------------------------
# Matrices are indexed ``[i, j]`` with ``j`` counting from 0 (a loop from a variable start keeps
# Numba's negative-index check, which blocks SIMD; per-row slices would cost reference counts).
# Rows are done in blocks: shifted logits are written for the whole block, then exponentiated in
# one flat loop, so exp vectorises across rows even when rows are short (10 classes).

BLOCK = 4096
"""Elements per block of rows (an L1-sized scratch)."""


@njit(cache=True, nogil=True, fastmath={"nnan", "nsz"})
def _larger(v, top):
    return v if v > top else top


@njit(**_JIT)
def _row_max(x, i):
    """Largest entry of row ``i``; long rows keep eight running maxima (one chain of compares
    is latency-bound). NaN entries may be skipped: they make every output of their row NaN."""
    n, top = x.shape[1], x[i, 0]
    whole = n // 8 if n >= 32 else 0
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = top
    for k in range(whole):
        j = k * 8
        a0, a1 = _larger(x[i, j], a0), _larger(x[i, j + 1], a1)
        a2, a3 = _larger(x[i, j + 2], a2), _larger(x[i, j + 3], a3)
        a4, a5 = _larger(x[i, j + 4], a4), _larger(x[i, j + 5], a5)
        a6, a7 = _larger(x[i, j + 6], a6), _larger(x[i, j + 7], a7)
    top = _larger(_larger(_larger(a0, a1), _larger(a2, a3)),
                  _larger(_larger(a4, a5), _larger(a6, a7)))
    for j in range(whole * 8, n):
        top = _larger(x[i, j], top)
    return top


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _sum(e, i):
    """Float64 sum of row ``i``, reassociated so it vectorises."""
    s = 0.0
    for j in range(e.shape[1]):
        s += e[i, j]
    return s


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _xent_row(labels, x, i, top, log_sum):
    """``-sum(labels * log_softmax(x))`` of row ``i`` given its max and log-sum-exp."""
    s = 0.0
    for j in range(x.shape[1]):
        s += labels[i, j] * (log_sum - (x[i, j] - top))
    return s


@njit(**_JIT)
def _scale(e, i, factor):
    for j in range(e.shape[1]):
        e[i, j] = e[i, j] * factor


@njit(**_JIT)
def _exp_rows(x, a, b, e, eo, tops):
    """``e[eo + r] = exp(x[a + r] - max(x[a + r]))`` for rows ``a + r`` in ``[a, b)``, their
    maxima in ``tops[r]``."""
    n = x.shape[1]
    for r in range(b - a):
        top = _row_max(x, a + r)
        tops[r] = top
        for j in range(n):
            e[eo + r, j] = x[a + r, j] - top
    flat = e.reshape(-1)[eo * n:(eo + b - a) * n]
    for k in range(flat.shape[0]):
        flat[k] = vexp(flat[k])


@njit(**_JIT)
def _block_rows(n):
    """Rows per block: at most ``BLOCK`` elements, at least one row."""
    return max(1, BLOCK // n)


@njit(**_JIT)
def _bad_label(labels, n, start, stop):
    """First row in ``[start, stop)`` whose label is outside ``[0, n)``, else -1."""
    for i in range(start, stop):
        if labels[i] < 0 or labels[i] >= n:
            return i
    return -1


@njit(**_JIT)
def _chunk(c, nchunk, rows):
    """Rows ``[start, stop)`` of chunk ``c`` of ``nchunk`` near-equal chunks."""
    return c * rows // nchunk, (c + 1) * rows // nchunk


# -- kernels ----------------------------------------------------------------------------------


@njit(**_JIT)
def softmax_rows(x, out, start, stop):
    rows = _block_rows(x.shape[1])
    tops = np.empty(rows, x.dtype)
    for a in range(start, stop, rows):
        b = min(a + rows, stop)
        _exp_rows(x, a, b, out, a, tops)
        for i in range(a, b):
            _scale(out, i, 1.0 / _sum(out, i))


@njit(parallel=True, **_JIT)
def softmax_parallel(x, out, nchunk):
    for c in prange(nchunk):
        start, stop = _chunk(c, nchunk, x.shape[0])
        softmax_rows(x, out, start, stop)


@njit(**_JIT)
def log_softmax_rows(x, out, start, stop):
    rows = _block_rows(x.shape[1])
    tops = np.empty(rows, x.dtype)
    for a in range(start, stop, rows):
        b = min(a + rows, stop)
        _exp_rows(x, a, b, out, a, tops)
        for i in range(a, b):
            log_sum, top = vlog(_sum(out, i)), tops[i - a]
            for j in range(x.shape[1]):
                out[i, j] = (x[i, j] - top) - log_sum


@njit(parallel=True, **_JIT)
def log_softmax_parallel(x, out, nchunk):
    for c in prange(nchunk):
        start, stop = _chunk(c, nchunk, x.shape[0])
        log_softmax_rows(x, out, start, stop)


@njit(**_JIT)
def _buffers(x, probs, write):
    """Row maxima for a block, and the exp buffer: ``probs`` or a block of scratch rows."""
    rows = _block_rows(x.shape[1])
    return np.empty(rows, x.dtype), probs if write else np.empty((rows, x.shape[1]), x.dtype)


@njit(**_JIT)
def xent_rows(labels, x, loss, probs, write, start, stop):
    """Dense cross-entropy of rows ``[start, stop)``; with ``write``, ``probs`` receives the
    softmax (else it is unused)."""
    tops, e = _buffers(x, probs, write)
    for a in range(start, stop, tops.shape[0]):
        b = min(a + tops.shape[0], stop)
        eo = a if write else 0
        _exp_rows(x, a, b, e, eo, tops)
        for r in range(b - a):
            s = _sum(e, eo + r)
            loss[a + r] = _xent_row(labels, x, a + r, tops[r], vlog(s))
            if write:
                _scale(e, eo + r, 1.0 / s)


@njit(parallel=True, **_JIT)
def xent_parallel(labels, x, loss, probs, write, nchunk):
    for c in prange(nchunk):
        start, stop = _chunk(c, nchunk, x.shape[0])
        xent_rows(labels, x, loss, probs, write, start, stop)


@njit(**_JIT)
def sparse_xent_rows(labels, x, loss, probs, write, start, stop):
    """Sparse cross-entropy of rows ``[start, stop)`` (``probs`` as in ``xent_rows``); returns
    the first row with a bad label (nothing is computed when there is one), else -1."""
    bad = _bad_label(labels, x.shape[1], start, stop)
    if bad >= 0:
        return bad
    tops, e = _buffers(x, probs, write)
    for a in range(start, stop, tops.shape[0]):
        b = min(a + tops.shape[0], stop)
        eo = a if write else 0
        _exp_rows(x, a, b, e, eo, tops)
        for r in range(b - a):
            s = _sum(e, eo + r)
            loss[a + r] = vlog(s) - (x[a + r, labels[a + r]] - tops[r])
            if write:
                _scale(e, eo + r, 1.0 / s)
    return -1


@njit(parallel=True, **_JIT)
def sparse_xent_parallel(labels, x, loss, probs, write, nchunk):
    bad = _bad_label(labels, x.shape[1], 0, x.shape[0])
    if bad >= 0:
        return bad
    for c in prange(nchunk):
        start, stop = _chunk(c, nchunk, x.shape[0])
        sparse_xent_rows(labels, x, loss, probs, write, start, stop)
    return -1


# -- Python entry points ------------------------------------------------------------------------


def matrix(a: np.ndarray) -> np.ndarray:
    """``a`` as a C-contiguous ``(rows, last axis)`` matrix (copied only if not contiguous)."""
    a = np.ascontiguousarray(a)
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def _out_matrix(out: np.ndarray) -> np.ndarray:
    """A written output as a matrix view; it must be C-contiguous so the view aliases it."""
    if not out.flags.c_contiguous:
        raise ValueError("output buffers must be C-contiguous")
    return out.reshape(math.prod(out.shape[:-1]), out.shape[-1])


def threads_for(size: int, rows: int) -> int:
    """Chunks to run: every thread for large work with several rows, else 1 (serial)."""
    return numba.get_num_threads() if size >= PARALLEL_MIN_SIZE and rows > 1 else 1


def _row_kernel(rows_fn, parallel_fn, x, args):
    """Run a row kernel over the rows of matrix ``x`` serially or in parallel."""
    nchunk = threads_for(x.size, x.shape[0])
    return rows_fn(*args, 0, x.shape[0]) if nchunk == 1 else parallel_fn(*args, nchunk)


def softmax(x: np.ndarray, out: np.ndarray) -> None:
    """``out = softmax(x)`` along the last axis."""
    if x.size:
        xm = matrix(x)
        _row_kernel(softmax_rows, softmax_parallel, xm, (xm, _out_matrix(out)))


def log_softmax(x: np.ndarray, out: np.ndarray) -> None:
    """``out = log_softmax(x)`` along the last axis."""
    if x.size:
        xm = matrix(x)
        _row_kernel(log_softmax_rows, log_softmax_parallel, xm, (xm, _out_matrix(out)))


def _probs(probs, logits):
    """The softmax output as a matrix, or an unused placeholder when it is not wanted."""
    return np.empty((0, 0), logits.dtype) if probs is None else _out_matrix(probs)


def softmax_cross_entropy(labels: np.ndarray, logits: np.ndarray, loss: np.ndarray,
                          probs: np.ndarray | None = None) -> None:
    """``loss = -sum(labels * log_softmax(logits))`` over the last axis; with ``probs``,
    also ``probs = softmax(logits)`` from the same pass."""
    losses = loss.reshape(-1)
    if not logits.size:
        losses[:] = 0
        return
    x = matrix(logits)
    args = (matrix(labels), x, losses, _probs(probs, logits), probs is not None)
    _row_kernel(xent_rows, xent_parallel, x, args)


def sparse_softmax_cross_entropy(labels: np.ndarray, logits: np.ndarray, loss: np.ndarray,
                                 probs: np.ndarray | None = None) -> int:
    """``loss = -log_softmax(logits)[label]`` (and ``probs = softmax(logits)`` when given);
    returns the flat index of the first label outside ``[0, classes)``, else -1."""
    x = matrix(logits)
    args = (np.ascontiguousarray(labels).reshape(-1), x, loss.reshape(-1),
            _probs(probs, logits), probs is not None)
    return _row_kernel(sparse_xent_rows, sparse_xent_parallel, x, args)
