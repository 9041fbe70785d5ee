"""TF1 training helpers in ``tf.nn``: dropout, l2_normalize, moments, batch_normalization.

Plain functions of public ops, so gradients (and second order) come from the ops' own rules.
"""
from __future__ import annotations

import numbers

from .. import dtypes
from ..graph import name_scope
from ..ops.elementwise import cast, greater_equal, maximum, rsqrt, square
from ..ops.random import random_uniform
from ..ops.reduce import reduce_mean, reduce_sum
from ..ops.shape import squeeze
from ..tensor import Tensor, convert_to_tensor


def _keep_probability(keep_prob, rate):
    """TF1's ``keep_prob``/``rate`` pair as one keep probability, range-checked when a number."""
    if (keep_prob is None) == (rate is None):
        raise ValueError("dropout: give exactly one of keep_prob and rate")
    if isinstance(keep_prob, numbers.Real) and not 0 < keep_prob <= 1:
        raise ValueError(f"dropout: keep_prob must be in (0, 1], got {keep_prob}")
    if isinstance(rate, numbers.Real) and not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    return keep_prob if rate is None else 1 - rate


def _noise_shape(x: Tensor, noise_shape):
    """``noise_shape`` with ``None`` entries taken from ``x`` (x's own shape when absent)."""
    if noise_shape is None:
        return x.shape
    if isinstance(noise_shape, (list, tuple)):
        return [x.shape[i] if d is None else d for i, d in enumerate(noise_shape)]
    return noise_shape


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None) -> Tensor:
    """Zero each element with probability ``1 - keep_prob``, scale the rest by ``1/keep_prob``."""
    x = convert_to_tensor(x)
    if not dtypes.is_float(x.dtype):
        raise ValueError(f"dropout: x must be a float tensor since it is scaled, got {x.dtype}")
    keep = _keep_probability(keep_prob, rate)
    if isinstance(keep, numbers.Real) and keep == 1:
        return x
    with name_scope(name, "dropout"):
        keep = cast(keep, x.dtype) if isinstance(keep, Tensor) else convert_to_tensor(
            keep, dtype=x.dtype)
        noise = random_uniform(_noise_shape(x, noise_shape), dtype=x.dtype, seed=seed)
        # ``noise >= 1 - keep`` rather than TF1's ``floor(keep + noise)``: no rounding up to 2.
        kept = cast(greater_equal(noise, 1 - keep), x.dtype)
        return x / keep * kept


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None) -> Tensor:
    """``x / sqrt(max(sum(x**2, axis), epsilon))``: unit L2 norm along ``axis`` (all if None)."""
    if axis is not None and dim is not None and axis != dim:
        raise ValueError("l2_normalize: cannot give both axis and its alias dim")
    axis = dim if axis is None else axis
    with name_scope(name, "l2_normalize"):
        x = convert_to_tensor(x)
        square_sum = reduce_sum(square(x), axis, keepdims=True)
        return x * rsqrt(maximum(square_sum, epsilon))


def moments(x, axes, shift=None, name=None, keep_dims=False) -> tuple:
    """``(mean, variance)`` of ``x`` over ``axes`` (population variance; ``shift`` unused, TF1)."""
    with name_scope(name, "moments"):
        x = convert_to_tensor(x)
        y = cast(x, dtypes.float32) if x.dtype == dtypes.float16 else x
        mean = reduce_mean(y, axes, keepdims=True)
        # TF1 wraps this mean in stop_gradient; that keeps first but breaks second derivatives.
        variance = reduce_mean(square(y - mean), axes, keepdims=True)
        if not keep_dims:
            mean, variance = squeeze(mean, axes), squeeze(variance, axes)
        return cast(mean, x.dtype), cast(variance, x.dtype)


def _like(value, x: Tensor) -> Tensor:
    """``value`` as a tensor; plain data takes ``x``'s dtype."""
    return value if isinstance(value, Tensor) else convert_to_tensor(value, dtype=x.dtype)


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon,
                        name=None) -> Tensor:
    """``(x - mean) / sqrt(variance + eps) * scale + offset``; ``offset``/``scale`` may be None."""
    with name_scope(name, "batchnorm"):
        x = convert_to_tensor(x)
        mean = _like(mean, x)
        inv = rsqrt(_like(variance, x) + variance_epsilon)
        if scale is not None:
            inv = inv * _like(scale, x)
        shift = -mean * inv if offset is None else _like(offset, x) - mean * inv
        return x * cast(inv, x.dtype) + cast(shift, x.dtype)


__all__ = ["dropout", "l2_normalize", "moments", "batch_normalization"]
