"""Window geometry (TF's SAME/VALID arithmetic) and the NumPy references of the conv/pool ops.

Layout is NHWC, filters are ``[kh, kw, in, out]``. References are vectorised over pixels: windows
are ``sliding_window_view``s of the padded input contracted with ``tensordot``; the scatters of
the gradients loop over the (few) filter taps only.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import InvalidArgumentError
from ..graph import format_shape


def effective_size(k: int, dilation: int) -> int:
    """Extent of a ``k``-tap window whose taps are ``dilation`` apart."""
    return (k - 1) * dilation + 1


def window_geometry(size: int, k: int, stride: int, dilation: int, padding) -> tuple:
    """``(out, pad_before, pad_after)`` of one spatial axis, or ``None`` when the window does
    not fit (VALID or explicit padding with an input smaller than the window).

    SAME follows TF exactly: ``out = ceil(size / stride)``, the padding total is what the last
    window needs, and the odd element goes after.
    """
    extent = effective_size(k, dilation)
    if padding == "SAME":
        out = -(-size // stride)
        total = max((out - 1) * stride + extent - size, 0)
        return out, total // 2, total - total // 2
    before, after = (0, 0) if padding == "VALID" else padding
    span = size + before + after - extent
    return None if span < 0 else (span // stride + 1, before, after)


def axis_padding(padding, axis: int):
    """The padding of spatial ``axis`` (0: height, 1: width) from a conv's ``padding`` attr."""
    return padding if isinstance(padding, str) else padding[axis]


def spatial_geometry(shape, ksize, strides, dilations, padding) -> list[tuple]:
    """Window geometry of both spatial axes of an NHWC ``shape``; raises
    ``InvalidArgumentError`` (naming the sizes) when a window does not fit."""
    geometry = []
    for axis in range(2):
        g = window_geometry(shape[1 + axis], ksize[axis], strides[axis], dilations[axis],
                            axis_padding(padding, axis))
        if g is None:
            raise InvalidArgumentError(misfit(shape, axis, ksize, dilations, padding))
        geometry.append(g)
    return geometry


def misfit(shape, axis: int, ksize, dilations, padding) -> str:
    """Why a window does not fit spatial ``axis`` of an NHWC ``shape``."""
    pad = axis_padding(padding, axis)
    padded = shape[1 + axis] + (0 if isinstance(pad, str) else sum(pad))
    extent = effective_size(ksize[axis], dilations[axis])
    return (f"window of extent {extent} does not fit the padded {('height', 'width')[axis]} "
            f"{padded} of input {format_shape(tuple(shape))} (padding {padding!r})")


def _pad(x: np.ndarray, geometry, value=0.0) -> np.ndarray:
    pads = ((0, 0), geometry[0][1:], geometry[1][1:], (0, 0))
    return np.pad(x, pads, constant_values=value) if any(map(any, pads)) else x


def _windows(xp: np.ndarray, ksize, strides, dilations, geometry) -> np.ndarray:
    """View ``(N, OH, OW, C, KH, KW)`` of the windows of a padded input."""
    extents = [effective_size(k, d) for k, d in zip(ksize, dilations)]
    view = sliding_window_view(xp, extents, axis=(1, 2))
    (oh, _, _), (ow, _, _) = geometry
    return view[:, :(oh - 1) * strides[0] + 1:strides[0], :(ow - 1) * strides[1] + 1:strides[1],
                :, ::dilations[0], ::dilations[1]]


def _empty_output(geometry) -> bool:
    return geometry[0][0] == 0 or geometry[1][0] == 0


def _scatter_taps(shape, geometry, ksize, strides, dilations, tap_values, dtype) -> np.ndarray:
    """Sum of every tap's ``(N, OH, OW, C)`` contribution into the input positions it read."""
    (oh, top, bottom), (ow, left, right) = geometry
    n, h, w, c = shape
    out = np.zeros((n, h + top + bottom, w + left + right, c), dtype)
    if not _empty_output(geometry):
        for a in range(ksize[0]):
            rows = slice(a * dilations[0], a * dilations[0] + (oh - 1) * strides[0] + 1,
                         strides[0])
            for b in range(ksize[1]):
                cols = slice(b * dilations[1], b * dilations[1] + (ow - 1) * strides[1] + 1,
                             strides[1])
                out[:, rows, cols, :] += tap_values(a, b)
    return out[:, top:top + h, left:left + w, :]


# -- convolution ---------------------------------------------------------------------------------


def check_depth(x_shape, w_shape):
    if x_shape[3] != w_shape[2]:
        raise InvalidArgumentError(f"input depth {x_shape[3]} does not match the filter's "
                                   f"in_channels {w_shape[2]} (input {x_shape}, filter {w_shape})")


def conv2d_ref(x, w, strides, dilations, padding) -> np.ndarray:
    check_depth(x.shape, w.shape)
    geometry = spatial_geometry(x.shape, w.shape[:2], strides, dilations, padding)
    shape = (x.shape[0], geometry[0][0], geometry[1][0], w.shape[3])
    if _empty_output(geometry):
        return np.zeros(shape, x.dtype)
    patches = _windows(_pad(x, geometry), w.shape[:2], strides, dilations, geometry)
    return np.tensordot(patches, w, axes=([4, 5, 3], [0, 1, 2])).astype(x.dtype, copy=False)


def conv2d_backprop_input_ref(x, w, dy, strides, dilations, padding) -> np.ndarray:
    """Gradient of ``conv2d`` for its input (``x`` gives only the shape)."""
    check_depth(x.shape, w.shape)
    geometry = spatial_geometry(x.shape, w.shape[:2], strides, dilations, padding)
    return _scatter_taps(x.shape, geometry, w.shape[:2], strides, dilations,
                         lambda a, b: dy @ w[a, b].T, x.dtype)


def conv2d_backprop_filter_ref(x, w, dy, strides, dilations, padding) -> np.ndarray:
    """Gradient of ``conv2d`` for its filter (``w`` gives only the shape)."""
    check_depth(x.shape, w.shape)
    geometry = spatial_geometry(x.shape, w.shape[:2], strides, dilations, padding)
    if _empty_output(geometry):
        return np.zeros(w.shape, x.dtype)
    patches = _windows(_pad(x, geometry), w.shape[:2], strides, dilations, geometry)
    dw = np.tensordot(patches, dy, axes=([0, 1, 2], [0, 1, 2]))  # (C, KH, KW, O)
    return np.ascontiguousarray(dw.transpose(1, 2, 0, 3), dtype=x.dtype)


# -- pooling -------------------------------------------------------------------------------------

_UNDILATED = (1, 1)


def _pool_windows(x, ksize, strides, padding, fill):
    """``(geometry, windows (N, OH, OW, C, KH * KW))``; windows is None for an empty output."""
    geometry = spatial_geometry(x.shape, ksize, strides, _UNDILATED, padding)
    if _empty_output(geometry):
        return geometry, None
    view = _windows(_pad(x, geometry, fill), ksize, strides, _UNDILATED, geometry)
    return geometry, view.reshape(view.shape[:4] + (ksize[0] * ksize[1],))


def _pool_shape(x, geometry):
    return (x.shape[0], geometry[0][0], geometry[1][0], x.shape[3])


def max_pool_ref(x, ksize, strides, padding) -> np.ndarray:
    geometry, windows = _pool_windows(x, ksize, strides, padding, -np.inf)
    if windows is None:
        return np.zeros(_pool_shape(x, geometry), x.dtype)
    return windows.max(axis=-1)


def _window_argmax(x, ksize, strides, padding):
    """``(geometry, tap)``: the flat tap ``a * KW + b`` of each window's first maximum."""
    geometry, windows = _pool_windows(x, ksize, strides, padding, -np.inf)
    tap = None if windows is None else windows.argmax(axis=-1)
    return geometry, tap


def max_pool_grad_ref(x, dy, ksize, strides, padding) -> np.ndarray:
    """Gradient of ``max_pool``: each window's cotangent goes to its (first) maximum."""
    geometry, tap = _window_argmax(x, ksize, strides, padding)
    return _scatter_taps(x.shape, geometry, ksize, strides, _UNDILATED,
                         lambda a, b: np.where(tap == a * ksize[1] + b, dy, 0), x.dtype)


def max_pool_grad_grad_ref(x, g, ksize, strides, padding) -> np.ndarray:
    """Gradient of ``max_pool_grad`` for its cotangent: ``g`` read at each window's maximum."""
    geometry, tap = _window_argmax(x, ksize, strides, padding)
    if tap is None:
        return np.zeros(_pool_shape(x, geometry), x.dtype)
    _, windows = _pool_windows(g, ksize, strides, padding, 0.0)
    return np.take_along_axis(windows, tap[..., None], axis=-1)[..., 0]


def window_counts(shape, ksize, strides, padding) -> np.ndarray:
    """``(1, OH, OW, 1)``: how many input (non-padding) elements each window covers."""
    ones = np.ones((1,) + tuple(shape[1:3]) + (1,))
    geometry, windows = _pool_windows(ones, ksize, strides, padding, 0.0)
    if windows is None:
        return np.ones(_pool_shape(ones, geometry))
    return windows.sum(axis=-1)


def avg_pool_ref(x, ksize, strides, padding) -> np.ndarray:
    """Window means over the input elements only (TF: SAME padding is not averaged in)."""
    geometry, windows = _pool_windows(x, ksize, strides, padding, 0.0)
    if windows is None:
        return np.zeros(_pool_shape(x, geometry), x.dtype)
    counts = window_counts(x.shape, ksize, strides, padding)
    return (windows.sum(axis=-1) / counts).astype(x.dtype, copy=False)


def avg_pool_grad_ref(x, dy, ksize, strides, padding) -> np.ndarray:
    """Gradient of ``avg_pool`` (``x`` gives only the shape)."""
    geometry = spatial_geometry(x.shape, ksize, strides, _UNDILATED, padding)
    share = dy / window_counts(x.shape, ksize, strides, padding)
    return _scatter_taps(x.shape, geometry, ksize, strides, _UNDILATED, lambda a, b: share,
                         x.dtype)
