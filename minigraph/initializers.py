"""TF1 variable initializers (``tf.compat.v1.*_initializer`` and ``tf.compat.v1.initializers``).

An initializer is a callable ``init(shape, dtype=None, partition_info=None)`` returning a
*tensor* built from graph ops, so ``global_variables_initializer`` runs it and
``mg.set_random_seed`` / ``seed=`` make it reproducible by TF1's seed rules. ``dtype=None``
(the default of every initializer) means ``floatX``.
"""
from __future__ import annotations

import math

import numpy as np

from . import dtypes
from .ops.creation import ones as _ones
from .ops.creation import zeros as _zeros
from .ops.random import random_normal as _random_normal
from .ops.random import random_uniform as _random_uniform
from .ops.random import truncated_normal as _truncated_normal
from .ops.state import constant as _constant
from .tensor import Tensor
from .variables import global_variables_initializer, variables_initializer

TRUNCATED_NORMAL_STDDEV = 0.87962566103423978
"""Standard deviation of a unit normal truncated to [-2, 2] (scipy's truncnorm(-2, 2).std())."""


def compute_fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape; convolution kernels ``(..., in, out)`` count
    their receptive field (the product of the leading dims), as TF does."""
    shape = [int(d) for d in shape]
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _float_dtype(dtype) -> np.dtype:
    dtype = dtypes.as_dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"Argument `dtype` is expected to be floating point. Received: {dtype}.")
    return dtype


class Initializer:
    """Base class: subclasses build the initial value in ``call(shape, dtype)``."""

    float_only = False

    def __init__(self, dtype=None):
        self.dtype = None if dtype is None else self._check(dtype)

    def _check(self, dtype) -> np.dtype:
        return _float_dtype(dtype) if self.float_only else dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None) -> Tensor:
        dtype = dtype if dtype is not None else self.dtype
        return self.call([int(d) for d in shape],
                         self._check(dtype) if dtype is not None else dtypes.floatx())

    def call(self, shape: list, dtype: np.dtype) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define call(shape, dtype)")

    def get_config(self) -> dict:
        """The constructor arguments (``type(init).from_config(init.get_config())`` clones)."""
        return {"dtype": None if self.dtype is None else self.dtype.name}

    @classmethod
    def from_config(cls, config: dict) -> "Initializer":
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros (``tf.zeros_initializer``)."""

    def call(self, shape, dtype):
        return _zeros(shape, dtype=dtype)


class Ones(Initializer):
    """All ones (``tf.ones_initializer``)."""

    def call(self, shape, dtype):
        return _ones(shape, dtype=dtype)


class Constant(Initializer):
    """``value`` (a scalar, broadcast, or an array with the variable's number of elements)."""

    def __init__(self, value=0, dtype=None, verify_shape=False):
        super().__init__(dtype)
        if isinstance(value, Tensor):
            raise TypeError("constant_initializer: value must be a Python or NumPy value, not a "
                            f"tensor ({value.name!r}); pass the tensor as the initializer")
        self.value = value
        self.verify_shape = verify_shape

    def call(self, shape, dtype):
        array = np.asarray(self.value)
        if self.verify_shape and array.shape != tuple(shape):
            raise TypeError(f"constant_initializer: expected shape {tuple(shape)}, the value has "
                            f"shape {array.shape}")
        if array.size != 1 and array.size != math.prod(shape):
            raise ValueError(f"constant_initializer: a value of {array.size} elements cannot "
                             f"fill shape {tuple(shape)} ({math.prod(shape)} elements)")
        return _constant(array, dtype=dtype, shape=shape)

    def get_config(self):
        return {"value": self.value, "verify_shape": self.verify_shape, **super().get_config()}


class RandomUniform(Initializer):
    """Uniform in ``[minval, maxval)`` (``maxval`` defaults to 1 for floats)."""

    def __init__(self, minval=0, maxval=None, seed=None, dtype=None):
        super().__init__(dtype)
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def call(self, shape, dtype):
        return _random_uniform(shape, self.minval, self.maxval, dtype, seed=self.seed)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed,
                **super().get_config()}


class RandomNormal(Initializer):
    """Normal with ``mean`` and ``stddev``."""

    float_only = True
    sampler = staticmethod(_random_normal)

    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=None):
        super().__init__(dtype)
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def call(self, shape, dtype):
        return self.sampler(shape, self.mean, self.stddev, dtype, seed=self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed,
                **super().get_config()}


class TruncatedNormal(RandomNormal):
    """Normal with values beyond two ``stddev`` of ``mean`` redrawn."""

    sampler = staticmethod(_truncated_normal)


class VarianceScaling(Initializer):
    """Samples of variance ``scale / n``, ``n`` the fan_in, fan_out or their mean (``mode``);
    ``distribution`` is ``truncated_normal`` (alias ``normal``), ``untruncated_normal`` or
    ``uniform`` (limit ``sqrt(3 * scale / n)``)."""

    float_only = True
    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("normal", "truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 dtype=None):
        super().__init__(dtype)
        if scale <= 0.0:
            raise ValueError(f"`scale` must be a positive float, got {scale}")
        if mode not in self._MODES:
            raise ValueError(f"invalid `mode` {mode!r}; expected one of {self._MODES}")
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(f"invalid `distribution` {distribution!r}; expected one of "
                             f"{self._DISTRIBUTIONS}")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def call(self, shape, dtype):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        variance = self.scale / max(1.0, fan[self.mode])
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return _random_uniform(shape, -limit, limit, dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return _random_normal(shape, 0.0, math.sqrt(variance), dtype, seed=self.seed)
        stddev = math.sqrt(variance) / TRUNCATED_NORMAL_STDDEV
        return _truncated_normal(shape, 0.0, stddev, dtype, seed=self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, **super().get_config()}


class GlorotUniform(VarianceScaling):
    """Uniform in ``±sqrt(6 / (fan_in + fan_out))`` (TF1's default for float variables)."""

    def __init__(self, seed=None, dtype=None):
        super().__init__(1.0, "fan_avg", "uniform", seed, dtype)

    def get_config(self):
        return {"seed": self.seed, "dtype": None if self.dtype is None else self.dtype.name}


class GlorotNormal(VarianceScaling):
    """Truncated normal of stddev ``sqrt(2 / (fan_in + fan_out))`` (before truncation)."""

    def __init__(self, seed=None, dtype=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed, dtype)

    get_config = GlorotUniform.get_config


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    float_only = True

    def __init__(self, gain=1.0, dtype=None):
        super().__init__(dtype)
        self.gain = gain

    def call(self, shape, dtype):
        if len(shape) != 2:
            raise ValueError(f"identity initializer needs a 2-D shape, got {tuple(shape)}")
        return _constant(self.gain * np.eye(*shape), dtype=dtype)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


def he_normal(seed=None) -> VarianceScaling:
    return VarianceScaling(2.0, "fan_in", "truncated_normal", seed)


def he_uniform(seed=None) -> VarianceScaling:
    return VarianceScaling(2.0, "fan_in", "uniform", seed)


def lecun_normal(seed=None) -> VarianceScaling:
    return VarianceScaling(1.0, "fan_in", "truncated_normal", seed)


def lecun_uniform(seed=None) -> VarianceScaling:
    return VarianceScaling(1.0, "fan_in", "uniform", seed)


# tf.compat.v1 names: ``mg.zeros_initializer()`` ... and ``mg.initializers.zeros()`` ...
zeros_initializer = zeros = Zeros
ones_initializer = ones = Ones
constant_initializer = constant = Constant
random_uniform_initializer = random_uniform = RandomUniform
random_normal_initializer = random_normal = RandomNormal
truncated_normal_initializer = truncated_normal = TruncatedNormal
variance_scaling_initializer = variance_scaling = VarianceScaling
glorot_uniform_initializer = glorot_uniform = GlorotUniform
glorot_normal_initializer = glorot_normal = GlorotNormal
identity = Identity
global_variables = global_variables_initializer
variables = variables_initializer

__all__ = [
    "constant_initializer", "glorot_normal_initializer", "glorot_uniform_initializer",
    "ones_initializer", "random_normal_initializer", "random_uniform_initializer",
    "truncated_normal_initializer", "variance_scaling_initializer", "zeros_initializer",
]
"""The names ``minigraph`` re-exports (tf.compat.v1's); the short aliases (``zeros``,
``constant``...) stay under ``mg.initializers`` so they never shadow the ops."""
