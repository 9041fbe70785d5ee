"""TF1 learning-rate schedules (``tf.compat.v1.train.*_decay``) built as graph ops of a step."""
from __future__ import annotations

from ..ops.elementwise import cast, divide, floor, identity, multiply, pow, where
from ..ops.state import constant
from ..tensor import Tensor, convert_to_tensor


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                      name=None) -> Tensor:
    """``learning_rate * decay_rate ** (global_step / decay_steps)`` (floored if staircase)."""
    lr, p = _decay_progress("exponential_decay", learning_rate, global_step, decay_steps,
                            staircase)
    return multiply(lr, pow(_as_dtype(decay_rate, lr.dtype), p), name=name)


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                       name=None) -> Tensor:
    """``learning_rate / (1 + decay_rate * global_step / decay_steps)`` (floored if staircase)."""
    lr, p = _decay_progress("inverse_time_decay", learning_rate, global_step, decay_steps,
                            staircase)
    return divide(lr, 1 + _as_dtype(decay_rate, lr.dtype) * p, name=name)


def _decay_progress(schedule, learning_rate, global_step, decay_steps, staircase):
    """The learning rate as a tensor and ``global_step / decay_steps`` in its dtype."""
    if global_step is None:
        raise ValueError(f"global_step is required for {schedule}.")
    lr = convert_to_tensor(learning_rate)
    if lr.dtype.kind != "f":
        raise TypeError(f"{schedule}: learning_rate must be a float, got {lr.dtype}")
    step = cast(convert_to_tensor(global_step), lr.dtype)
    p = step / _as_dtype(decay_steps, lr.dtype)
    return lr, floor(p) if staircase else p


def piecewise_constant(x, boundaries, values, name=None) -> Tensor:
    """``values[0]`` while ``x <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < x <= boundaries[i]``, and ``values[-1]`` past the last boundary."""
    if len(boundaries) != len(values) - 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    x = convert_to_tensor(x)
    values = [convert_to_tensor(v) for v in values]
    for v in values[1:]:
        if v.dtype != values[0].dtype:
            raise ValueError("Values must have elements all with the same dtype "
                             f"({values[0].dtype} vs {v.dtype}).")
    bounds = [_as_dtype(b, x.dtype) for b in boundaries]
    result = values[-1]
    for bound, value in zip(reversed(bounds), reversed(values[:-1])):
        result = where(x <= bound, value, result)
    return result if name is None else identity(result, name=name)


def _as_dtype(value, dtype) -> Tensor:
    """A tensor (cast) or number (constant) as a tensor of ``dtype``."""
    return cast(value, dtype) if isinstance(value, Tensor) else constant(value, dtype=dtype)
