"""2-D convolution as im2col + BLAS GEMM, and max/average pooling with their gradients.

Arrays are C-contiguous NHWC; filters ``[kh, kw, in, out]``, so a filter is a
``(kh * kw * in, out)`` matrix whose rows match the columns im2col writes (tap-major, channel
fastest). A conv geometry is the tuple ``(kh, kw, sh, sw, dh, dw, top, left, oh, ow)``, a pool
geometry ``(kh, kw, sh, sw, top, left, oh, ow)``: ``top``/``left`` are the padding before the
first row/column (positions outside the input read as zero, or never win a max).

The GEMMs run on chunks of whole images whose im2col matrix fits ``SCRATCH_ELEMENTS``, so the
scratch stays cache-sized and is reused across chunks. Max-pool gradients send each window's
cotangent to its first maximum in row-major window order (TensorFlow's choice); NaN wins.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)

SCRATCH_ELEMENTS = 1 << 18
"""Largest im2col chunk (elements) unless a single image needs more."""

# -- im2col / col2im -----------------------------------------------------------------------------


@njit(**_JIT)
def im2col(x, first, geo, cols):
    """``cols[r, (a * kw + b) * C + c]``: tap ``(a, b)``, channel ``c`` of output pixel ``r``
    counted from image ``first`` (zero where the tap falls in the padding). One channel (a
    first layer) gets its own branch: a loop of one costs as much as the copy."""
    kh, kw, sh, sw, dh, dw, top, left, oh, ow = geo
    height, width, depth = x.shape[1], x.shape[2], x.shape[3]
    r = 0
    for n in range(first, first + cols.shape[0] // (oh * ow)):
        for i in range(oh):
            for j in range(ow):
                for a in range(kh):
                    h = i * sh - top + a * dh
                    inside = 0 <= h < height
                    for b in range(kw):
                        w = j * sw - left + b * dw
                        base = (a * kw + b) * depth
                        if inside and 0 <= w < width:
                            if depth == 1:
                                cols[r, base] = x[n, h, w, 0]
                            else:
                                for c in range(depth):
                                    cols[r, base + c] = x[n, h, w, c]
                        else:
                            for c in range(depth):
                                cols[r, base + c] = 0
                r += 1


@njit(**_JIT)
def col2im(cols, first, geo, dx):
    """The transpose of ``im2col``: zero images ``first...`` of ``dx``, then add each column
    entry into the input position it was read from (padding taps are dropped)."""
    kh, kw, sh, sw, dh, dw, top, left, oh, ow = geo
    height, width, depth = dx.shape[1], dx.shape[2], dx.shape[3]
    last = first + cols.shape[0] // (oh * ow)
    dx[first:last] = 0
    r = 0
    for n in range(first, last):
        for i in range(oh):
            for j in range(ow):
                for a in range(kh):
                    h = i * sh - top + a * dh
                    if 0 <= h < height:
                        for b in range(kw):
                            w = j * sw - left + b * dw
                            if 0 <= w < width:
                                base = (a * kw + b) * depth
                                if depth == 1:
                                    dx[n, h, w, 0] += cols[r, base]
                                else:
                                    for c in range(depth):
                                        dx[n, h, w, c] += cols[r, base + c]
                r += 1


def _pointwise(x_shape, geo) -> bool:
    """A 1x1, stride-1, unpadded conv: im2col is the input itself."""
    kh, kw, sh, sw, _, _, top, left, oh, ow = geo
    return (kh, kw, sh, sw, top, left, oh, ow) == (1, 1, 1, 1, 0, 0, x_shape[1], x_shape[2])


def _chunks(images: int, geo, taps: int, dtype):
    """Image chunks whose im2col fits one scratch matrix: ``(first, rows, cols)`` for each,
    ``rows`` the chunk's slice of the output pixel rows and ``cols`` its part of the scratch
    (the same array every time: use it before the next chunk)."""
    pixels = geo[8] * geo[9]
    step = max(1, SCRATCH_ELEMENTS // max(pixels * taps, 1))
    step = min(step, images)
    scratch = np.empty((step * pixels, taps), dtype)
    for first in range(0, images, step):
        count = min(step, images - first)
        yield first, slice(first * pixels, (first + count) * pixels), scratch[:count * pixels]


def _matrix(a: np.ndarray) -> np.ndarray:
    """A 4-D array (input, output or filter) as ``(rows, last dim)``, also when empty."""
    return a.reshape(a.shape[0] * a.shape[1] * a.shape[2], a.shape[3])


def conv2d_forward(x, w, geo, out) -> None:
    """``out = conv2d(x, w)``: im2col chunks times the filter matrix, written into ``out``."""
    w2, out2 = _matrix(w), _matrix(out)
    if _pointwise(x.shape, geo):
        np.matmul(_matrix(x), w2, out=out2)
        return
    if out.size == 0:
        return
    if w2.shape[0] == 0:
        out[...] = 0
        return
    for first, rows, chunk in _chunks(x.shape[0], geo, w2.shape[0], x.dtype):
        im2col(x, first, geo, chunk)
        np.matmul(chunk, w2, out=out2[rows])


def conv2d_backprop_filter(x, dy, geo, dw) -> None:
    """``dw = im2col(x).T @ dy``, summed over image chunks."""
    dw2, dy2 = _matrix(dw), _matrix(dy)
    if _pointwise(x.shape, geo):
        np.matmul(_matrix(x).T, dy2, out=dw2)
        return
    if dw.size == 0:
        return
    if dy.size == 0:
        dw[...] = 0
        return
    for first, rows, chunk in _chunks(x.shape[0], geo, dw2.shape[0], x.dtype):
        im2col(x, first, geo, chunk)
        if first == 0:
            np.matmul(chunk.T, dy2[rows], out=dw2)
        else:
            dw2 += chunk.T @ dy2[rows]


def conv2d_backprop_input(w, dy, geo, dx) -> None:
    """``dx = col2im(dy @ w.T)``, one image chunk at a time."""
    w2, dy2 = _matrix(w), _matrix(dy)
    if _pointwise(dx.shape, geo):
        np.matmul(dy2, w2.T, out=_matrix(dx))
        return
    if dx.size == 0:
        return
    if dy.size == 0 or w2.shape[0] == 0:
        dx[...] = 0
        return
    for first, rows, chunk in _chunks(dx.shape[0], geo, w2.shape[0], dx.dtype):
        np.matmul(dy2[rows], w2.T, out=chunk)
        col2im(chunk, first, geo, dx)


# -- pooling -------------------------------------------------------------------------------------


@njit(**_JIT)
def _window_max(x, n, i, j, geo, best, where):
    """Per channel, the maximum of window ``(i, j)`` of image ``n`` in ``best`` and the flat
    position ``h * W + w`` of its first occurrence (first NaN, if any) in ``where``."""
    kh, kw, sh, sw, top, left, _, _ = geo
    height, width = x.shape[1], x.shape[2]
    where[:] = -1
    for a in range(kh):
        h = i * sh - top + a
        if 0 <= h < height:
            for b in range(kw):
                w = j * sw - left + b
                if 0 <= w < width:
                    for c in range(x.shape[3]):
                        v = x[n, h, w, c]
                        if where[c] < 0 or v > best[c] or (v != v and best[c] == best[c]):
                            best[c] = v
                            where[c] = h * width + w


@njit(**_JIT)
def max_pool(x, geo, out):
    best, where = np.empty(x.shape[3], x.dtype), np.empty(x.shape[3], np.int64)
    for n in range(out.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                _window_max(x, n, i, j, geo, best, where)
                out[n, i, j, :] = best


@njit(**_JIT)
def max_pool_grad(x, dy, geo, dx):
    """``dx``: each window's ``dy`` added at its maximum."""
    best, where = np.empty(x.shape[3], x.dtype), np.empty(x.shape[3], np.int64)
    width = x.shape[2]
    dx[:] = 0
    for n in range(dy.shape[0]):
        for i in range(dy.shape[1]):
            for j in range(dy.shape[2]):
                _window_max(x, n, i, j, geo, best, where)
                for c in range(x.shape[3]):
                    p = where[c]
                    if p >= 0:
                        dx[n, p // width, p % width, c] += dy[n, i, j, c]


@njit(**_JIT)
def max_pool_grad_grad(x, g, geo, out):
    """``out``: ``g`` (shaped like ``x``) read at each window's maximum."""
    best, where = np.empty(x.shape[3], x.dtype), np.empty(x.shape[3], np.int64)
    width = x.shape[2]
    for n in range(out.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                _window_max(x, n, i, j, geo, best, where)
                for c in range(x.shape[3]):
                    p = where[c]
                    out[n, i, j, c] = g[n, p // width, p % width, c] if p >= 0 else 0


@njit(**_JIT)
def _window_span(i, size, k, stride, before):
    """``(start, stop)`` of a window's input positions along one axis, padding excluded."""
    start = i * stride - before
    return max(start, 0), min(start + k, size)


@njit(**_JIT)
def avg_pool(x, geo, out):
    """Window means over the input elements a window covers (padding is not counted)."""
    kh, kw, sh, sw, top, left, _, _ = geo
    for n in range(out.shape[0]):
        for i in range(out.shape[1]):
            h0, h1 = _window_span(i, x.shape[1], kh, sh, top)
            for j in range(out.shape[2]):
                w0, w1 = _window_span(j, x.shape[2], kw, sw, left)
                out[n, i, j, :] = 0
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        for c in range(x.shape[3]):
                            out[n, i, j, c] += x[n, h, w, c]
                count = (h1 - h0) * (w1 - w0)
                for c in range(x.shape[3]):
                    out[n, i, j, c] /= count


@njit(**_JIT)
def avg_pool_grad(dy, geo, dx):
    """``dx``: each window's ``dy / count`` added over the input elements it covers."""
    kh, kw, sh, sw, top, left, _, _ = geo
    dx[:] = 0
    for n in range(dy.shape[0]):
        for i in range(dy.shape[1]):
            h0, h1 = _window_span(i, dx.shape[1], kh, sh, top)
            for j in range(dy.shape[2]):
                w0, w1 = _window_span(j, dx.shape[2], kw, sw, left)
                count = (h1 - h0) * (w1 - w0)
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        for c in range(dx.shape[3]):
                            dx[n, h, w, c] += dy[n, i, j, c] / count
