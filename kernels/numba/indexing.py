"""Gather, scatter-add (the gradient of gather), one-hot rows: serial copy loops.

Arrays are viewed as ``(outer, axis, inner)`` blocks of C-contiguous memory, so one kernel
covers every axis. Kernels that read indices return the position of the first bad one (``-1``
when all are valid) and the caller raises; nothing reads or writes out of bounds.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)


@njit(**_JIT)
def _first_bad(indices, low, high):
    """Position of the first index outside ``[low, high)``, else -1."""
    for j in range(indices.shape[0]):
        if indices[j] < low or indices[j] >= high:
            return j
    return -1


@njit(**_JIT)
def gather_blocks(params, indices, out):
    """``out[o, j, :] = params[o, indices[j], :]``; returns the first out-of-range index
    position (then nothing is written), else -1."""
    bad = _first_bad(indices, 0, params.shape[1])
    if bad >= 0:
        return bad
    for o in range(params.shape[0]):
        for j in range(indices.shape[0]):
            src = indices[j]
            for i in range(params.shape[2]):
                out[o, j, i] = params[o, src, i]
    return -1


@njit(**_JIT)
def scatter_add_blocks(updates, indices, out):
    """``out = 0; out[o, indices[j], :] += updates[o, j, :]`` (repeats accumulate, negative
    indices count from the end); returns the first out-of-range position, else -1."""
    n = out.shape[1]
    bad = _first_bad(indices, -n, n)
    if bad >= 0:
        return bad
    out[:] = 0
    for o in range(out.shape[0]):
        for j in range(indices.shape[0]):
            dst = indices[j] + n if indices[j] < 0 else indices[j]
            for i in range(out.shape[2]):
                out[o, dst, i] += updates[o, j, i]
    return -1


@njit(**_JIT)
def one_hot_blocks(indices, out, on, off):
    """``out[o, d, i] = on if indices[o, i] == d else off`` (indices outside the depth give
    a block of ``off``)."""
    out[:] = off
    depth = out.shape[1]
    for o in range(indices.shape[0]):
        for i in range(indices.shape[1]):
            d = indices[o, i]
            if 0 <= d < depth:
                out[o, d, i] = on


@njit(**_JIT)
def _one_hot_rows(labels, out):
    """Rows ``out[i] = one_hot(labels[i])``; returns the first bad label's row, else -1."""
    bad = _first_bad(labels, 0, out.shape[1])
    if bad >= 0:
        return bad
    out[:] = 0
    for i in range(labels.shape[0]):
        out[i, labels[i]] = 1
    return -1


# -- Python entry points ------------------------------------------------------------------------


def blocks(a: np.ndarray, axis: int) -> np.ndarray:
    """C-contiguous ``a`` as ``(outer, a.shape[axis], inner)`` around ``axis``."""
    return a.reshape(math.prod(a.shape[:axis]), a.shape[axis], math.prod(a.shape[axis + 1:]))


def _out(a: np.ndarray) -> np.ndarray:
    if not a.flags.c_contiguous:
        raise ValueError("output buffers must be C-contiguous")
    return a


def gather(params: np.ndarray, indices: np.ndarray, axis: int, out: np.ndarray) -> int:
    """``out = take(params, indices, axis)``; returns the first bad flat index position or -1."""
    flat = np.ascontiguousarray(indices).reshape(-1)
    src = np.ascontiguousarray(params)
    dst = _out(out).reshape(math.prod(src.shape[:axis]), flat.size,
                            math.prod(src.shape[axis + 1:]))
    return gather_blocks(blocks(src, axis), flat, dst)


def scatter_add(updates: np.ndarray, indices: np.ndarray, axis: int, out: np.ndarray) -> int:
    """``out = zeros; add.at(out, (:,) * axis + (indices,), updates)``; returns the first bad
    flat index position or -1."""
    flat = np.ascontiguousarray(indices).reshape(-1)
    dst = blocks(_out(out), axis)
    src = np.ascontiguousarray(updates).reshape(dst.shape[0], flat.size, dst.shape[2])
    return scatter_add_blocks(src, flat, dst)


def one_hot(indices: np.ndarray, axis: int, on, off, out: np.ndarray) -> None:
    """``out = where(indices == d, on, off)`` with the depth axis ``d`` inserted at ``axis``
    (non-negative); ``on`` and ``off`` are scalars of ``out``'s dtype."""
    dst = blocks(_out(out), axis)
    one_hot_blocks(np.ascontiguousarray(indices).reshape(dst.shape[0], dst.shape[2]), dst,
                   on, off)


def one_hot_rows(labels: np.ndarray, out: np.ndarray) -> int:
    """Rows of ``out`` (last axis) one-hot at ``labels``; returns the first bad label's flat
    position, else -1."""
    flat = np.ascontiguousarray(labels).reshape(-1)
    return _one_hot_rows(flat, _out(out).reshape(flat.size, out.shape[-1]))
