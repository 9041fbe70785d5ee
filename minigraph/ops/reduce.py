"""Reductions (sum, mean, max, min, prod, logsumexp), argmax/argmin and the cumulative
sum/product scans (``cumsum``, ``cumprod``), TF1 style.

Attrs: ``axis`` is a sorted tuple of non-negative axes (the wrappers store this form whenever
the rank is known) or ``None`` for all axes; ``keepdims`` is a bool. Dtypes: sum/prod of bool
give int64; max/min keep the dtype; mean of ints stays int (truncating, as TF); the
``reduce_mean`` wrapper casts bool to ``floatX`` (Theano's ``mean(neq(a, b))`` idiom).
Second-order gradients of ``reduce_prod`` are not supported: its gradient op ``prod_grad``
(zero-safe, no division) has no vjp.
"""
from __future__ import annotations

import operator

import numpy as np

from .. import dtypes
from ..graph import TensorType
from ..tensor import Tensor, convert_to_tensor
from ..testing.domains import NONZERO, REAL
from . import _samples
from ._infer import normalize_axes, require_float
from ..feeds import c_contiguous
from .autodiff_ops import broadcast_like
from .elementwise import cast, equal, exp, ones_like_value, where, zeros_like_value
from .registry import InferError, apply_op, defop

# -- shape/dtype rules -------------------------------------------------------------------------


def canonical_axes(axis, shape):
    """Sorted non-negative axes for a known rank; for unknown rank ``None`` or checked axes."""
    if shape is not None:
        return normalize_axes(axis, len(shape))
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if any(a < 0 for a in axes):
        raise InferError(f"negative axis in {axes} needs a tensor of known rank")
    if len(set(axes)) != len(axes):
        raise InferError(f"repeated axis in {axes}")
    return tuple(sorted(axes))


def _reduced_shape(shape, axis, keepdims):
    """Static output shape of reducing ``shape`` over ``axis``."""
    axes = canonical_axes(axis, shape)
    if shape is None:
        return () if axes is None and not keepdims else None
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_infer(out_dtype=None, float_only=False, no_bool=False):
    def infer(types, axis, keepdims):
        (t,) = types
        if float_only:
            require_float(types)
        if no_bool and t.dtype == dtypes.bool_:
            raise InferError("cannot average a bool tensor; cast it to a number first")
        dtype = out_dtype(t.dtype) if out_dtype else t.dtype
        return TensorType(_reduced_shape(t.shape, axis, keepdims), dtype)
    return infer


def _sum_dtype(dtype):
    return dtypes.int64 if dtype == dtypes.bool_ else dtype


def _infer_arg(types, axis, output_type):
    (t,) = types
    if output_type not in (dtypes.int32, dtypes.int64):
        raise InferError(f"output_type must be int32 or int64, got {output_type}")
    if t.shape is None:
        return TensorType(None, output_type)
    (a,) = normalize_axes(axis, len(t.shape))
    return TensorType(t.shape[:a] + t.shape[a + 1:], output_type)


def _infer_count(types, axis):
    canonical_axes(axis, types[0].shape)
    return TensorType((), types[0].dtype)


def _infer_expand(types, axis):
    shape = types[0].shape
    if shape is None:
        return types[0]
    rank = len(shape) + len(axis)
    normalize_axes(axis, rank)
    dims = iter(shape)
    return TensorType(tuple(1 if i in axis else next(dims) for i in range(rank)), types[0].dtype)


def _infer_prod_grad(types, axis):
    require_float(types)
    canonical_axes(axis, types[0].shape)
    return types[0]


# -- NumPy references ------------------------------------------------------------------------


def _sum_ref(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims, dtype=_sum_dtype(x.dtype))


def _prod_ref(x, axis, keepdims):
    return np.prod(x, axis=axis, keepdims=keepdims, dtype=_sum_dtype(x.dtype))


def _count(shape, axis) -> int:
    axes = range(len(shape)) if axis is None else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def _mean_ref(x, axis, keepdims):
    total = np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)
    n = _count(x.shape, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        if x.dtype.kind == "f":
            return np.asarray(total / n, dtype=x.dtype)
        # TF's integer mean truncates toward zero; an empty integer mean is 0.
        return (np.sign(total) * (np.abs(total) // max(n, 1))).astype(x.dtype)


def _logsumexp_ref(x, axis, keepdims):
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return (out if keepdims else np.squeeze(out, axis=axis)).astype(x.dtype)


def _expand_ref(x, axis):
    return np.expand_dims(x, axis) if axis else x


def _exclusive_products(x, axis):
    """For each element, the product of the others in its reduction group (no division)."""
    axes = tuple(range(x.ndim)) if axis is None else axis
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, kept + list(axes))
    group = int(np.prod(moved.shape[len(kept):], dtype=np.int64))
    if group == 0:
        return np.ones_like(x)
    flat = moved.reshape(moved.shape[:len(kept)] + (group,))
    ones = np.ones_like(flat, shape=flat.shape[:-1] + (1,))
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    result = (left * right).reshape(moved.shape)
    return np.transpose(result, tuple(int(a) for a in np.argsort(kept + list(axes))))


# -- gradients --------------------------------------------------------------------------------


def _keep_reduced(t: Tensor, node) -> Tensor:
    """A reduction output (or its cotangent) with the reduced axes restored as size 1."""
    axis, keepdims = node.attrs["axis"], node.attrs["keepdims"]
    if keepdims or axis is None:
        return t
    return apply_op("expand_reduced", [t], {"axis": axis})


def _sum_vjp(node, dys):
    return [broadcast_like(_keep_reduced(dys[0], node), node.inputs[0])]


def _mean_vjp(node, dys):
    x, axis = node.inputs[0], node.attrs["axis"]
    shape = x.type.shape
    static = shape is not None and all(shape[a] is not None for a in canonical_axes(axis, shape))
    count = _count(shape, axis) if static else apply_op("reduction_count", [x], {"axis": axis})
    return [broadcast_like(_keep_reduced(dys[0], node) / count, x)]


def _extremum_vjp(node, dys):
    """TF's rule: the cotangent is shared equally among the tied extreme elements."""
    x, axis = node.inputs[0], node.attrs["axis"]
    hits = cast(equal(x, _keep_reduced(node.outputs[0], node)), x.dtype)
    ties = reduce_sum(hits, axis, keepdims=True)
    return [hits * (_keep_reduced(dys[0], node) / ties)]


def _prod_vjp(node, dys):
    x, axis = node.inputs[0], node.attrs["axis"]
    others = apply_op("prod_grad", [x], {"axis": axis})
    return [broadcast_like(_keep_reduced(dys[0], node), x) * others]


def _logsumexp_vjp(node, dys):
    x = node.inputs[0]
    weights = exp(x - _keep_reduced(node.outputs[0], node))
    return [weights * _keep_reduced(dys[0], node)]


# -- sample rules -----------------------------------------------------------------------------


def _draw_axis(draw, shape, nonempty):
    """``None`` or a subset of axes; with ``nonempty`` every reduced dim has size > 0."""
    from hypothesis import strategies as st

    allowed = [i for i, d in enumerate(shape) if d > 0 or not nonempty]
    if len(allowed) == len(shape) and draw(st.booleans()):
        return None
    picks = draw(st.lists(st.booleans(), min_size=len(allowed), max_size=len(allowed)))
    return tuple(a for a, pick in zip(allowed, picks) if pick)


def _distinct_values(rng, shape):
    """Values on a grid in random order: no two equal, so max/min/argmax have no ties."""
    size = int(np.prod(shape, dtype=np.int64))
    return (rng.permutation(size) * 0.1 - size * 0.05).reshape(shape)


def _with_zeros(rng, shape):
    """Real values with some exact zeros, to exercise the zero-safe product gradient."""
    values = _samples.sample_values(rng, shape)
    return np.where(rng.random(shape) < 0.2, 0.0, values)


def _reduce_sample(values=_samples.sample_values, nonempty=False, keepdims=True):
    def sample(draw):
        from hypothesis import strategies as st

        shape = draw(_samples._strategies().shapes())
        attrs = {"axis": _draw_axis(draw, shape, nonempty)}
        if keepdims:
            attrs["keepdims"] = draw(st.booleans())
        return [values(_samples.rng_from(draw), shape)], attrs
    return sample


def _arg_sample(draw):
    from hypothesis import strategies as st

    shape = draw(_samples._strategies().shapes(min_dims=1, min_side=1))
    axis = draw(st.integers(0, len(shape) - 1))
    return [_distinct_values(_samples.rng_from(draw), shape)], {
        "axis": axis, "output_type": dtypes.int64}


def _expand_sample(draw):
    from hypothesis import strategies as st

    shape = draw(_samples._strategies().shapes())
    extra = draw(st.integers(0, 2))
    slots = draw(st.permutations(range(len(shape) + extra)))
    axis = tuple(sorted(slots[:extra]))
    return [_samples.sample_values(_samples.rng_from(draw), shape)], {"axis": axis}


# -- registration -------------------------------------------------------------------------------


def _reduction(name, ref, vjp, sample, **infer_kw):
    defop(name, _reduce_infer(**infer_kw), ref, vjp=vjp, kind="reduction", sample=sample,
          extra={"reduce": name.removeprefix("reduce_")})


_reduction("reduce_sum", _sum_ref, _sum_vjp, _reduce_sample(), out_dtype=_sum_dtype)
_reduction("reduce_mean", _mean_ref, _mean_vjp, _reduce_sample(nonempty=True), no_bool=True)
_reduction("reduce_max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
           _extremum_vjp, _reduce_sample(_distinct_values, nonempty=True))
_reduction("reduce_min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
           _extremum_vjp, _reduce_sample(_distinct_values, nonempty=True))
_reduction("reduce_prod", _prod_ref, _prod_vjp, _reduce_sample(_with_zeros),
           out_dtype=_sum_dtype)
_reduction("reduce_logsumexp", _logsumexp_ref, _logsumexp_vjp, _reduce_sample(nonempty=True),
           float_only=True)
for _name, _fn in (("argmax", np.argmax), ("argmin", np.argmin)):
    defop(_name, _infer_arg,
          lambda x, axis, output_type, _fn=_fn: _fn(x, axis=axis).astype(output_type),
          kind="reduction", differentiable=False, sample=_arg_sample, extra={"reduce": _name})
defop("reduction_count", _infer_count,
      lambda x, axis: np.asarray(_count(x.shape, axis), dtype=x.dtype), kind="other",
      differentiable=False, sample=_reduce_sample(keepdims=False), extra={"shape_only": True},
      doc="number of elements a reduction over axis combines (dims may be dynamic)")
defop("expand_reduced", _infer_expand, _expand_ref, kind="movement",
      vjp=lambda node, dys: [reduce_sum(dys[0], node.attrs["axis"])], sample=_expand_sample,
      doc="insert size-1 dims at the reduced axes (restores keepdims shape for gradients)")
defop("prod_grad", _infer_prod_grad, _exclusive_products, kind="other",
      sample=_reduce_sample(_with_zeros, keepdims=False),
      extra={"no_vjp_reason": "second-order gradients of reduce_prod are not supported"},
      doc="product of the other elements of each reduction group (gradient of reduce_prod)")

# -- cumulative sums and products ---------------------------------------------------------------


def _infer_scan(types, axis, exclusive, reverse):
    (t,) = types
    if t.dtype == dtypes.bool_:
        raise InferError("cannot accumulate a bool tensor; cast it to a number first")
    if t.shape is not None:
        if not t.shape:
            raise InferError("input must have rank >= 1, got a scalar")
        normalize_axes(axis, len(t.shape))
    return t


def _scan_ref(accumulate, identity):
    """A NumPy scan along ``axis``, optionally exclusive (shifted by one) and/or reversed."""
    def ref(x, axis, exclusive, reverse):
        moved = np.moveaxis(x, axis, -1)
        moved = moved[..., ::-1] if reverse else moved
        out = accumulate(moved, axis=-1, dtype=x.dtype)
        if exclusive and out.shape[-1]:
            first = np.full_like(out, identity, shape=out.shape[:-1] + (1,))
            out = np.concatenate([first, out[..., :-1]], axis=-1)
        out = out[..., ::-1] if reverse else out
        return c_contiguous(np.moveaxis(out, -1, axis))
    return ref


def _cumsum_vjp(node, dys):
    attrs = node.attrs
    return [cumsum(dys[0], attrs["axis"], attrs["exclusive"], not attrs["reverse"])]


def _cumprod_vjp(node, dys):
    """TF's rule: ``cumsum(cumprod(x) * dy, reversed) / x``, taken as 0 where ``x`` is 0."""
    x, attrs = node.inputs[0], node.attrs
    axis, exclusive, reverse = attrs["axis"], attrs["exclusive"], attrs["reverse"]
    total = cumsum(node.outputs[0] * dys[0], axis, exclusive, not reverse)
    zero = equal(x, zeros_like_value(x))
    return [where(zero, zeros_like_value(total), total / where(zero, ones_like_value(x), x))]


def _scan_sample(domain):
    def sample(draw):
        from hypothesis import strategies as st

        shape = draw(_samples._strategies().shapes(min_dims=1))
        attrs = {"axis": draw(st.integers(0, len(shape) - 1)), "exclusive": draw(st.booleans()),
                 "reverse": draw(st.booleans())}
        return [_samples.sample_values(_samples.rng_from(draw), shape, domain)], attrs
    return sample


defop("cumsum", _infer_scan, _scan_ref(np.cumsum, 0), vjp=_cumsum_vjp, kind="other",
      sample=_scan_sample(REAL), doc="running sums along an axis")
defop("cumprod", _infer_scan, _scan_ref(np.cumprod, 1), vjp=_cumprod_vjp, kind="other",
      sample=_scan_sample(NONZERO), doc="running products along an axis")

# -- public functions ----------------------------------------------------------------------------


def _alias(value, alias, what, alias_name):
    if alias is None:
        return value
    if value is not None and value != alias:
        raise ValueError(f"cannot give both {what} and its alias {alias_name}")
    return alias


def _axis_attr(axis, x: Tensor):
    """Canonical axes for ``x``; invalid ones pass through so ``infer`` reports them in context."""
    if isinstance(axis, Tensor):
        raise TypeError(f"axis must be a Python int or list of ints, got tensor {axis.name!r}")
    if axis is not None:
        axis = (operator.index(axis),) if np.ndim(axis) == 0 else tuple(
            operator.index(a) for a in axis)
    try:
        return canonical_axes(axis, x.type.shape)
    except InferError:
        return axis


def _reducer(op):
    def fn(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
           keep_dims=None) -> Tensor:
        x = convert_to_tensor(input_tensor)
        axis = _alias(axis, reduction_indices, "axis", "reduction_indices")
        keepdims = bool(_alias(keepdims, keep_dims, "keepdims", "keep_dims"))
        return apply_op(op, [x], {"axis": _axis_attr(axis, x), "keepdims": keepdims}, name=name)
    fn.__name__ = op
    fn.__doc__ = f"TF1 ``{op}`` over ``axis`` (all axes when ``None``)."
    return fn


reduce_sum, reduce_max, reduce_min, reduce_prod, reduce_logsumexp = map(
    _reducer, ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_logsumexp"])
_reduce_mean = _reducer("reduce_mean")


def reduce_mean(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
                keep_dims=None) -> Tensor:
    """Mean over ``axis``; ints stay ints (TF), bools are averaged as ``floatX`` (Theano)."""
    x = convert_to_tensor(input_tensor)
    if x.dtype == dtypes.bool_:
        x = cast(x, dtypes.floatx())
    return _reduce_mean(x, axis, keepdims, name, reduction_indices, keep_dims)


def _bool_reducer(op, via):
    def fn(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
           keep_dims=None) -> Tensor:
        x = convert_to_tensor(input_tensor)
        if x.dtype != dtypes.bool_:
            raise TypeError(f"{op} takes a bool tensor, got {x.name!r} of dtype {x.dtype}")
        return via(x, axis, keepdims, name, reduction_indices, keep_dims)
    fn.__name__ = op
    fn.__doc__ = f"TF1 ``{op}``: logical reduction of a bool tensor over ``axis``."
    return fn


reduce_all = _bool_reducer("reduce_all", reduce_min)
reduce_any = _bool_reducer("reduce_any", reduce_max)


def _arg_reducer(op):
    def fn(input, axis=None, name=None, dimension=None, output_type=dtypes.int64) -> Tensor:
        x = convert_to_tensor(input)
        axis = _alias(axis, dimension, "axis", "dimension")
        axis = 0 if axis is None else operator.index(axis)
        if x.type.shape is not None and -len(x.type.shape) <= axis < 0:
            axis += len(x.type.shape)
        attrs = {"axis": axis, "output_type": dtypes.as_dtype(output_type)}
        return apply_op(op, [x], attrs, name=name)
    fn.__name__ = op
    fn.__doc__ = (f"TF1 ``{op}``: index along ``axis`` (0 when ``None``, as TF1 does; never "
                  "NumPy's flattening).")
    return fn


argmax, argmin = _arg_reducer("argmax"), _arg_reducer("argmin")


def _scanner(op):
    def fn(x, axis=0, exclusive=False, reverse=False, name=None) -> Tensor:
        x = convert_to_tensor(x)
        axis = operator.index(axis)
        if x.type.shape is not None and -len(x.type.shape) <= axis < 0:
            axis += len(x.type.shape)
        attrs = {"axis": axis, "exclusive": bool(exclusive), "reverse": bool(reverse)}
        return apply_op(op, [x], attrs, name=name)
    fn.__name__ = op
    fn.__doc__ = (f"TF1 ``{op}`` along ``axis``: ``exclusive`` leaves each element out of its "
                  "own result, ``reverse`` runs from the end.")
    return fn


cumsum, cumprod = _scanner("cumsum"), _scanner("cumprod")

__all__ = [
    "argmax", "argmin", "cumprod", "cumsum", "reduce_all", "reduce_any", "reduce_logsumexp",
    "reduce_max", "reduce_mean", "reduce_min", "reduce_prod", "reduce_sum",
]
