"""Random ops (TF1 semantics): normal, uniform and truncated-normal samples of a given shape,
and class ids drawn from the softmax of logits (``multinomial``).

Each op carries ``seed = (graph_seed, op_seed)`` or ``None``; the runtime turns it into one
NumPy generator per session and node, so a seeded op repeats its stream in every new session
while consecutive runs in one session draw fresh numbers. Distribution parameters (mean,
stddev, minval, maxval) are Python numbers held as attrs; TF also accepts tensors there.

``shape`` is a list of ints, a list mixing ints and int scalar tensors, or an int vector
tensor; anything not known when the graph is built becomes one int vector input.
"""
from __future__ import annotations

import operator

import numpy as np

from .. import dtypes
from .. import graph as graph_mod
from ..errors import InvalidArgumentError
from ..graph import TensorType, format_shape
from ..tensor import Tensor, convert_to_tensor
from ._operands import plain_hint, scalar_hint, shape_operand
from .registry import InferError, apply_op, defop

DEFAULT_GRAPH_SEED = 87654321  # TF's graph seed for ops given only an op seed
_SEED_MODULUS = 2**31

# -- run-time shape ------------------------------------------------------------------------------


def _runtime_shape(inputs, shape) -> tuple:
    """The concrete shape: the int vector input when there is one, else the static attr."""
    dims = tuple(int(d) for d in inputs[0]) if inputs else shape
    if any(d < 0 for d in dims):
        raise ValueError(f"random shape must be non-negative, got {list(dims)}")
    return dims


def _truncated_standard_normal(rng: np.random.Generator, size) -> np.ndarray:
    """Standard normal samples, redrawing every value beyond two standard deviations."""
    z = rng.standard_normal(size)
    outside = np.abs(z) > 2
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2
    return z


# -- NumPy references ----------------------------------------------------------------------------


def _normal_ref(*inputs, shape, dtype, mean, stddev, seed, rng):
    z = rng.standard_normal(_runtime_shape(inputs, shape))
    return (mean + stddev * z).astype(dtype)


def _truncated_ref(*inputs, shape, dtype, mean, stddev, seed, rng):
    z = _truncated_standard_normal(rng, _runtime_shape(inputs, shape))
    return (mean + stddev * z).astype(dtype)


def _uniform_ref(*inputs, shape, dtype, minval, maxval, seed, rng):
    size = _runtime_shape(inputs, shape)
    if dtype.kind in "iu":
        return rng.integers(minval, maxval, size=size).astype(dtype)
    values = (minval + (maxval - minval) * rng.random(size)).astype(dtype)
    return np.minimum(values, np.nextafter(dtype.type(maxval), dtype.type(minval)))  # [lo, hi)


def _multinomial_ref(logits, num_samples, dtype, seed, rng):
    """TF's CPU kernel: inverse CDF of ``exp(logits - max)`` over the finite logits only.

    A row without a finite logit has a zero CDF, and every draw is ``num_classes`` (as TF).
    """
    batch, classes = logits.shape
    if classes == 0:
        raise InvalidArgumentError("multinomial: logits must have at least one class")
    finite = np.isfinite(logits)
    top = np.max(np.where(finite, logits, -np.inf), axis=1, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        weights = np.where(finite, np.exp(logits.astype(np.float64) - top), 0.0)
    cdf = np.cumsum(weights, axis=1)
    targets = rng.random((batch, num_samples)) * cdf[:, -1:]
    # a row's search (side="right") is the count of its CDF entries <= the target: compared
    # all at once (one device pass), in row blocks of at most COMPARISONS booleans
    rows = max(1, COMPARISONS // max(1, num_samples * classes))
    return np.concatenate(
        [np.sum(cdf[r:r + rows, None, :] <= targets[r:r + rows, :, None], axis=2)
         for r in range(0, batch, rows)] or [targets.astype(np.int64)]).astype(dtype)


COMPARISONS = 1 << 24
"""The most CDF-target comparisons ``multinomial`` holds at once (16 MB of booleans)."""


# -- shape/dtype rules ---------------------------------------------------------------------------


def _infer_random(types, shape, dtype, **_):
    if types:
        vector = types[0]
        if vector.dtype.kind not in "iu" or (vector.shape is not None and len(vector.shape) != 1):
            raise InferError(f"a shape tensor must be an int vector, got {vector.describe()}")
        if shape is not None and vector.shape is not None and vector.shape[0] not in (
                None, len(shape)):
            raise InferError(f"shape vector of length {vector.shape[0]} for a rank-{len(shape)} "
                             "result")
    if shape is not None and any(d is not None and d < 0 for d in shape):
        raise InferError(f"shape {format_shape(shape)} has a negative dimension")
    return TensorType(shape, dtype)


def _infer_float_random(types, shape, dtype, **attrs):
    if dtype.kind != "f":
        raise InferError(f"dtype must be a float type, got {dtype}")
    return _infer_random(types, shape, dtype, **attrs)


def _infer_multinomial(types, num_samples, dtype, seed):
    (logits,) = types
    if logits.dtype.kind != "f":
        raise InferError(f"logits must be a float tensor, got {logits.dtype}")
    if dtype not in (dtypes.int32, dtypes.int64):
        raise InferError(f"output dtype must be int32 or int64, got {dtype}")
    if num_samples < 0:
        raise InferError(f"num_samples must be non-negative, got {num_samples}")
    if logits.shape is None:
        return TensorType((None, num_samples), dtype)
    if len(logits.shape) != 2:
        raise InferError(f"logits must be a matrix [batch_size, num_classes], got shape "
                         f"{format_shape(logits.shape)}")
    if logits.shape[1] == 0:
        raise InferError("logits must have at least one class")
    return TensorType((logits.shape[0], num_samples), dtype)


# -- sample rule ---------------------------------------------------------------------------------


def _sample(kind):
    """Static shapes and dtypes from hypothesis; ``kind`` picks the op's parameters."""
    def sample(draw):
        from hypothesis import strategies as st

        from ..testing import strategies

        shape = draw(strategies.shapes())
        seed = draw(st.one_of(st.none(), st.tuples(st.integers(0, 99), st.integers(0, 99))))
        names = ["float32", "float64"] + (["int32", "int64"] if kind == "uniform" else [])
        dtype = np.dtype(draw(st.sampled_from(names)))
        attrs = {"shape": shape, "dtype": dtype, "seed": seed}
        if kind != "uniform":
            return [], {**attrs, "mean": draw(st.floats(-2, 2)), "stddev": draw(st.floats(0, 2))}
        low = draw(st.integers(-5, 5))
        high = low + draw(st.integers(1, 5))
        if dtype.kind == "f":
            low, high = float(low), float(high)
        return [], {**attrs, "minval": low, "maxval": high}
    return sample


def _multinomial_sample(draw):
    from hypothesis import strategies as st

    from ._samples import rng_from

    shape = (draw(st.integers(0, 3)), draw(st.integers(1, 4)))
    logits = rng_from(draw).uniform(-2, 2, size=shape)
    if draw(st.booleans()):
        logits[..., 0] = -np.inf  # an impossible class
    seed = draw(st.one_of(st.none(), st.tuples(st.integers(0, 99), st.integers(0, 99))))
    dtype = np.dtype(draw(st.sampled_from(["int32", "int64"])))
    return [logits], {"num_samples": draw(st.integers(0, 4)), "dtype": dtype, "seed": seed}


# -- registration --------------------------------------------------------------------------------

defop("random_normal", _infer_float_random, _normal_ref, kind="random", differentiable=False,
      stateful=True, random=True, sample=_sample("normal"), doc="normal samples")
defop("truncated_normal", _infer_float_random, _truncated_ref, kind="random",
      differentiable=False, stateful=True, random=True, sample=_sample("normal"),
      doc="normal samples redrawn until within two standard deviations of the mean")
defop("random_uniform", _infer_random, _uniform_ref, kind="random", differentiable=False,
      stateful=True, random=True, sample=_sample("uniform"),
      doc="uniform samples in [minval, maxval)")

defop("multinomial", _infer_multinomial, _multinomial_ref, kind="random", differentiable=False,
      stateful=True, random=True, sample=_multinomial_sample,
      doc="num_samples class ids per row of logits, drawn from softmax(logits)")

# -- public functions ----------------------------------------------------------------------------


def _shape_operands(shape) -> tuple:
    """``(static shape, inputs)``: ints become the attr, anything dynamic one int vector input."""
    hint, vector = shape_operand(shape, "shape")
    return plain_hint(hint), ([] if vector is None else [vector])


def seed_attr(graph, op_seed):
    """TF1's seed rule: ``(graph seed, op seed)``, or ``None`` for a nondeterministic op."""
    graph_seed = graph.seed
    if graph_seed is None and op_seed is None:
        return None
    if op_seed is None:
        op_seed = len(graph.nodes)
    if graph_seed is None:
        graph_seed = DEFAULT_GRAPH_SEED
    return (int(graph_seed) % _SEED_MODULUS, int(op_seed) % _SEED_MODULUS)


def _number(value, what):
    if isinstance(value, Tensor):
        raise TypeError(f"{what} must be a Python number here; tensor parameters are not "
                        "supported (build mean + stddev * random_normal(shape) instead)")
    return value


def _random_op(op, shape, dtype, seed, name, params):
    static, inputs = _shape_operands(shape)
    graph = inputs[0].graph if inputs else graph_mod.get_default_graph()
    attrs = {"shape": static, "dtype": dtypes.as_dtype(dtype), "seed": seed_attr(graph, seed),
             **params}
    return apply_op(op, inputs, attrs, name=name)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None,
                  name=None) -> Tensor:
    """Samples from a normal distribution (TF1 ``tf.random_normal``)."""
    params = {"mean": float(_number(mean, "mean")), "stddev": float(_number(stddev, "stddev"))}
    return _random_op("random_normal", shape, dtype, seed, name, params)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None,
                     name=None) -> Tensor:
    """Normal samples, with values more than two ``stddev`` from ``mean`` redrawn."""
    params = {"mean": float(_number(mean, "mean")), "stddev": float(_number(stddev, "stddev"))}
    return _random_op("truncated_normal", shape, dtype, seed, name, params)


def random_uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None,
                   name=None) -> Tensor:
    """Uniform samples in ``[minval, maxval)``; ``maxval`` defaults to 1 for floats only."""
    dtype = dtypes.as_dtype(dtype)
    minval, maxval = _number(minval, "minval"), _number(maxval, "maxval")
    if dtype.kind in "iu":
        if maxval is None:
            raise ValueError(f"random_uniform: maxval must be given for integer dtype {dtype}")
        params = {"minval": int(minval), "maxval": int(maxval)}
    else:
        params = {"minval": float(minval), "maxval": float(1.0 if maxval is None else maxval)}
    if params["maxval"] <= params["minval"]:
        raise ValueError(f"random_uniform: need minval < maxval, got [{minval}, {maxval})")
    return _random_op("random_uniform", shape, dtype, seed, name, params)


def multinomial(logits, num_samples, seed=None, name=None, output_dtype=None) -> Tensor:
    """``[batch_size, num_samples]`` class ids drawn from ``softmax(logits)`` row by row.

    ``logits`` is ``[batch_size, num_classes]``; ``output_dtype`` defaults to int64. The
    stream is NumPy's, not TF's Philox: same distribution, different numbers.
    """
    x = convert_to_tensor(logits)
    if isinstance(num_samples, Tensor):
        hint = scalar_hint(num_samples) if dtypes.is_integer(num_samples.dtype) else None
        if not isinstance(hint, int):
            raise TypeError("multinomial: num_samples must be a Python int or a constant int "
                            f"tensor, got {num_samples.name!r}")
        num_samples = hint
    attrs = {"num_samples": operator.index(num_samples),
             "dtype": dtypes.as_dtype(output_dtype or dtypes.int64),
             "seed": seed_attr(x.graph, seed)}
    return apply_op("multinomial", [x], attrs, name=name)


__all__ = ["random_normal", "truncated_normal", "random_uniform", "multinomial"]
