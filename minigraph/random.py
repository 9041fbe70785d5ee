"""TF1's ``tf.random`` namespace: the random ops under their short names.

Seeds follow TF1 (``set_random_seed`` for the graph, ``seed=`` per op); the streams are NumPy's,
so a seeded op repeats itself across sessions but not TensorFlow's numbers.
"""
from __future__ import annotations

from .graph import set_random_seed
from .ops.random import multinomial, truncated_normal
from .ops.random import random_normal as normal
from .ops.random import random_uniform as uniform
from .ops.sampling import (fixed_unigram_candidate_sampler, log_uniform_candidate_sampler,
                           uniform_candidate_sampler)
from .tensor import Tensor


def categorical(logits, num_samples, dtype=None, seed=None, name=None) -> Tensor:
    """``[batch_size, num_samples]`` class ids drawn from ``softmax(logits)`` (int64 default)."""
    return multinomial(logits, num_samples, seed=seed, name=name, output_dtype=dtype)


__all__ = ["categorical", "multinomial", "normal", "truncated_normal", "uniform",
           "set_random_seed", "fixed_unigram_candidate_sampler",
           "log_uniform_candidate_sampler", "uniform_candidate_sampler"]
