"""Sample rules of the conv/pool ops: hypothesis-drawn windows, strides, padding, dilations and
NHWC sizes (batch and depth may be 0), always a window that fits.

Max-pool inputs are a shuffled grid of distinct values, so no window has a tie and finite
differences never cross an argmax change.
"""
from __future__ import annotations

import numpy as np

from . import _samples
from ._conv_ref import axis_padding, effective_size, spatial_geometry


def _ints(draw, low, high, n=2) -> tuple:
    from hypothesis import strategies as st

    return tuple(draw(st.integers(low, high)) for _ in range(n))


def _window(draw, dilate: bool, explicit: bool) -> dict:
    """Window attrs: ``ksize``, ``strides``, ``dilations`` and ``padding``."""
    from hypothesis import strategies as st

    kinds = ["SAME", "VALID"] + (["explicit"] if explicit else [])
    kind = draw(st.sampled_from(kinds))
    padding = (_ints(draw, 0, 2), _ints(draw, 0, 2)) if kind == "explicit" else kind
    return {"ksize": _ints(draw, 1, 3), "strides": _ints(draw, 1, 3),
            "dilations": _ints(draw, 1, 2) if dilate else (1, 1), "padding": padding}


def _input_shape(draw, window: dict) -> tuple:
    """NHWC sizes the window fits: VALID needs the window's extent, SAME takes even 0."""
    sizes = []
    for axis in range(2):
        padding = axis_padding(window["padding"], axis)
        extent = effective_size(window["ksize"][axis], window["dilations"][axis])
        low = 0 if padding == "SAME" else max(extent - sum((0, 0) if padding == "VALID"
                                                            else padding), 0)
        sizes.append(_ints(draw, low, low + 4, 1)[0])
    return (_count(draw, 2), *sizes, _count(draw, 3))


def _count(draw, high: int) -> int:
    """A batch or channel count in ``[0, high]`` that shrinks towards 1 (0 is an edge case)."""
    from hypothesis import strategies as st

    return draw(st.sampled_from(list(range(1, high + 1)) + [0]))


def _output_shape(x_shape, window: dict, depth: int) -> tuple:
    (oh, _, _), (ow, _, _) = spatial_geometry(x_shape, window["ksize"], window["strides"],
                                              window["dilations"], window["padding"])
    return (x_shape[0], oh, ow, depth)


def conv_sample(which: str):
    """``conv2d`` (``[x, w]``) or its backprops ``"input"`` / ``"filter"`` (``[x, w, dy]``)."""
    def sample(draw):
        from ..testing.domains import sample_values

        window = _window(draw, dilate=True, explicit=True)
        x_shape = _input_shape(draw, window)
        w_shape = window["ksize"] + (x_shape[3], _count(draw, 3))
        rng = _samples.rng_from(draw)
        inputs = [sample_values(rng, x_shape), sample_values(rng, w_shape)]
        if which != "conv2d":
            inputs.append(sample_values(rng, _output_shape(x_shape, window, w_shape[3])))
        attrs = {k: window[k] for k in ("strides", "dilations", "padding")}
        return inputs, attrs
    return sample


def untied(rng: np.random.Generator, shape) -> np.ndarray:
    """Distinct values 0.1 apart, shuffled: max-pool windows never tie."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) * 0.1).reshape(shape)


def pool_sample(which: str):
    """``max``/``avg`` (``[x]``), ``max_grad``/``avg_grad`` (``[x, dy]``) or ``max_grad_grad``
    (``[x, g]`` with ``g`` shaped like ``x``)."""
    def sample(draw):
        from ..testing.domains import sample_values

        window = _window(draw, dilate=False, explicit=False)
        x_shape = _input_shape(draw, window)
        rng = _samples.rng_from(draw)
        x = untied(rng, x_shape) if which.startswith("max") else sample_values(rng, x_shape)
        inputs = [x]
        if which.endswith("grad_grad"):
            inputs.append(sample_values(rng, x_shape))
        elif which.endswith("grad"):
            inputs.append(sample_values(rng, _output_shape(x_shape, window, x_shape[3])))
        attrs = {k: window[k] for k in ("ksize", "strides", "padding")}
        return inputs, attrs
    return sample
