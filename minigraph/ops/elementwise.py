"""Elementwise ops with NumPy broadcasting. Each has a ``scalar`` expression for fusion.

Scalar expressions use ``x0, x1, ...`` and the functions exp, log, log1p, expm1, sqrt, sin,
cos, tanh, abs, sign, floor, ceil, rint, where, maximum, minimum and ``cast_<dtype>``.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import TensorType
from ..testing import domains as dom
from ..tensor import convert_operands, convert_to_tensor
from . import _samples
from ._infer import broadcast_shapes, require_float, same_dtype
from .registry import InferError, apply_op, defop

# -- shape/dtype rules -------------------------------------------------------------------------


def _infer_same(types, **_):
    same_dtype(types)
    return TensorType(broadcast_shapes(*(t.shape for t in types)), types[0].dtype)


def _infer_float(types, **_):
    require_float(types)
    return _infer_same(types)


def _infer_bool_result(types, **_):
    same_dtype(types)
    return TensorType(broadcast_shapes(*(t.shape for t in types)), dtypes.bool_)


def _infer_logical(types, **_):
    for t in types:
        if t.dtype != dtypes.bool_:
            raise InferError(f"logical ops take bool tensors, got {t.dtype}")
    return _infer_bool_result(types)


def _infer_where(types, **_):
    cond, x, y = types
    if cond.dtype != dtypes.bool_:
        raise InferError(f"condition must be bool, got {cond.dtype}")
    same_dtype([x, y])
    return TensorType(broadcast_shapes(cond.shape, x.shape, y.shape), x.dtype)


def _infer_cast(types, dtype):
    return TensorType(types[0].shape, dtype)


# -- gradient helpers ---------------------------------------------------------------------------


def _mask(cond, dy):
    """``dy`` where ``cond`` holds, else 0."""
    return where(cond, dy, zeros_like_value(dy))


# -- registration -------------------------------------------------------------------------------

defop("zeros_like_value", lambda types: types[0], lambda x: np.zeros_like(x),
      kind="elementwise", scalar="0", differentiable=False, sample=_samples.unary(),
      extra={"shape_only": True}, doc="zeros of the input's shape and dtype (used by gradients)")


def _unary(name, ref, scalar, vjp=None, domain=dom.REAL, float_only=True, **kw):
    defop(name, _infer_float if float_only else _infer_same, ref, vjp=vjp, kind="elementwise",
          scalar=scalar, sample=_samples.unary(domain), **kw)


def _x(node):
    return node.inputs[0]


def _y(node):
    return node.outputs[0]


_unary("negative", np.negative, "-x0", lambda n, d: [-d[0]], float_only=False)
_unary("abs", np.abs, "abs(x0)", lambda n, d: [d[0] * sign(_x(n))], dom.NONZERO,
       float_only=False)
_unary("sign", np.sign, "sign(x0)", differentiable=False, domain=dom.NONZERO, float_only=False)
_unary("exp", np.exp, "exp(x0)", lambda n, d: [d[0] * _y(n)])
_unary("log", np.log, "log(x0)", lambda n, d: [d[0] / _x(n)], dom.POSITIVE)
_unary("log1p", np.log1p, "log1p(x0)", lambda n, d: [d[0] / (1 + _x(n))], dom.ABOVE_MINUS_ONE)
_unary("expm1", np.expm1, "expm1(x0)", lambda n, d: [d[0] * (_y(n) + 1)])
_unary("sqrt", np.sqrt, "sqrt(x0)", lambda n, d: [d[0] * 0.5 / _y(n)], dom.POSITIVE)
_unary("rsqrt", lambda x: 1 / np.sqrt(x), "1 / sqrt(x0)",
       lambda n, d: [d[0] * -0.5 * _y(n) / _x(n)], dom.POSITIVE)
_unary("square", np.square, "x0 * x0", lambda n, d: [d[0] * 2 * _x(n)], float_only=False)
_unary("reciprocal", lambda x: 1 / x, "1 / x0", lambda n, d: [-d[0] * _y(n) * _y(n)],
       dom.POSITIVE)
_unary("sin", np.sin, "sin(x0)", lambda n, d: [d[0] * cos(_x(n))])
_unary("cos", np.cos, "cos(x0)", lambda n, d: [-d[0] * sin(_x(n))])
_unary("tanh", np.tanh, "tanh(x0)", lambda n, d: [d[0] * (1 - _y(n) * _y(n))])
_unary("sigmoid", lambda x: _sigmoid_ref(x), "1 / (1 + exp(-x0))",
       lambda n, d: [d[0] * _y(n) * (1 - _y(n))])
_unary("relu", lambda x: np.maximum(x, 0), "maximum(x0, 0)",
       lambda n, d: [_mask(_x(n) > 0, d[0])], dom.NONZERO, float_only=False)
_unary("relu6", lambda x: np.clip(x, 0, 6), "minimum(maximum(x0, 0), 6)",
       lambda n, d: [_mask(logical_and(_x(n) > 0, _x(n) < 6), d[0])],
       dom.Domain(-2.0, 8.0, (0.0, 6.0)))
_unary("softplus", lambda x: np.logaddexp(0, x), "maximum(x0, 0) + log1p(exp(-abs(x0)))",
       lambda n, d: [d[0] * sigmoid(_x(n))])
_unary("elu", lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
       "where(x0 > 0, x0, expm1(minimum(x0, 0)))",
       lambda n, d: [where(_x(n) > 0, d[0], d[0] * (_y(n) + 1))], dom.NONZERO)
defop("leaky_relu", _infer_float, lambda x, alpha: np.where(x > 0, x, alpha * x),
      vjp=lambda n, d: [where(_x(n) > 0, d[0], d[0] * n.attrs["alpha"])], kind="elementwise",
      scalar="where(x0 > 0, x0, {alpha} * x0)", sample=_samples.unary(dom.NONZERO, alpha=0.2))
for _name, _ref in (("round", np.rint), ("floor", np.floor), ("ceil", np.ceil)):
    _unary(_name, _ref, f"{'rint' if _name == 'round' else _name}(x0)", differentiable=False)


def _sigmoid_ref(x):
    """Numerically stable logistic function."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def _binary(name, ref, scalar, vjp=None, infer=_infer_same, sample=None, **kw):
    defop(name, infer, ref, vjp=vjp, kind="elementwise", scalar=scalar,
          sample=sample or _samples.nary(2), extra={"broadcasts": True}, **kw)


def _a(node):
    return node.inputs[0]


def _b(node):
    return node.inputs[1]


_POS2 = [dom.REAL, dom.Domain(0.5, 2.0)]
_binary("add", np.add, "x0 + x1", lambda n, d: [d[0], d[0]])
_binary("subtract", np.subtract, "x0 - x1", lambda n, d: [d[0], -d[0]])
_binary("multiply", np.multiply, "x0 * x1", lambda n, d: [d[0] * _b(n), d[0] * _a(n)])
_binary("divide", lambda a, b: np.true_divide(a, b).astype(a.dtype), "x0 / x1",
        lambda n, d: [d[0] / _b(n), -d[0] * _y(n) / _b(n)], infer=_infer_float,
        sample=_samples.nary(2, _POS2))
_binary("floordiv", np.floor_divide, "floor(x0 / x1)", differentiable=False,
        sample=_samples.nary(2, _POS2))
_binary("mod", np.mod, "x0 - floor(x0 / x1) * x1",
        lambda n, d: [d[0], -d[0] * floor(_a(n) / _b(n))],
        sample=_samples.nary(2, [dom.Domain(-2.0, 2.0, (-2.0, -1.0, 0.0, 1.0, 2.0)),
                                 dom.Domain(1.0, 1.0)]))
_binary("pow", np.power, "x0 ** x1",
        lambda n, d: [d[0] * _b(n) * pow(_a(n), _b(n) - 1),
                      d[0] * _y(n) * log(where(_a(n) > 0, _a(n), ones_like_value(_a(n))))],
        sample=_samples.nary(2, [dom.POSITIVE, dom.REAL]))
_binary("maximum", np.maximum, "maximum(x0, x1)",
        lambda n, d: [_mask(_a(n) >= _b(n), d[0]), _mask(_a(n) < _b(n), d[0])],
        sample=_samples.untied_pair())
_binary("minimum", np.minimum, "minimum(x0, x1)",
        lambda n, d: [_mask(_a(n) <= _b(n), d[0]), _mask(_a(n) > _b(n), d[0])],
        sample=_samples.untied_pair())
for _name, _ref, _op in (("equal", np.equal, "=="), ("not_equal", np.not_equal, "!="),
                         ("less", np.less, "<"), ("less_equal", np.less_equal, "<="),
                         ("greater", np.greater, ">"), ("greater_equal", np.greater_equal, ">=")):
    _binary(_name, _ref, f"x0 {_op} x1", infer=_infer_bool_result, differentiable=False,
            sample=_samples.untied_pair())
for _name, _ref, _op in (("logical_and", np.logical_and, "and"),
                         ("logical_or", np.logical_or, "or")):
    _binary(_name, _ref, f"x0 {_op} x1", infer=_infer_logical, differentiable=False,
            sample=_samples.bools(2))
defop("logical_not", _infer_logical, np.logical_not, kind="elementwise", scalar="not x0",
      differentiable=False, sample=_samples.bools(1))
defop("ones_like_value", lambda types: types[0], lambda x: np.ones_like(x), kind="elementwise",
      scalar="1", differentiable=False, sample=_samples.unary(), extra={"shape_only": True})
defop("where", _infer_where, np.where, kind="elementwise", scalar="where(x0, x1, x2)",
      vjp=lambda n, d: [None, _mask(n.inputs[0], d[0]), _mask(logical_not(n.inputs[0]), d[0])],
      sample=_samples.where_inputs(), grad_inputs=(1, 2), extra={"broadcasts": True})
defop("clip_by_value", _infer_same, lambda t, lo, hi: np.minimum(np.maximum(t, lo), hi),
      kind="elementwise", scalar="minimum(maximum(x0, x1), x2)",
      vjp=lambda n, d: [_mask(logical_and(n.inputs[0] >= n.inputs[1],
                                          n.inputs[0] <= n.inputs[2]), d[0]),
                        _mask(n.inputs[0] < n.inputs[1], d[0]),
                        _mask(n.inputs[0] > n.inputs[2], d[0])],
      sample=_samples.clip_inputs(), extra={"broadcasts": True})
defop("cast", _infer_cast, lambda x, dtype: x.astype(dtype), kind="elementwise",
      scalar="cast_{dtype}(x0)",
      vjp=lambda n, d: [cast(d[0], _x(n).dtype) if dtypes.is_float(_x(n).dtype) else None],
      sample=_samples.unary(dtype=dtypes.float64))
defop("identity", lambda types: types[0], lambda x: x, kind="elementwise", scalar="x0",
      vjp=lambda n, d: [d[0]], sample=_samples.unary())

# -- public functions ----------------------------------------------------------------------------


def _unary_fn(op):
    def fn(x, name=None):
        return apply_op(op, [convert_to_tensor(x)], {}, name=name)
    fn.__name__ = op
    fn.__doc__ = f"Elementwise ``{op}``."
    return fn


def _binary_fn(op):
    def fn(x, y, name=None):
        return apply_op(op, convert_operands(x, y), {}, name=name)
    fn.__name__ = op
    fn.__doc__ = f"Elementwise ``{op}`` with broadcasting."
    return fn


negative, abs, sign, exp, log, log1p, expm1, sqrt, rsqrt, square, reciprocal = map(
    _unary_fn, ["negative", "abs", "sign", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt",
                "square", "reciprocal"])
sin, cos, tanh, sigmoid, relu, relu6, softplus, elu, round, floor, ceil, identity = map(
    _unary_fn, ["sin", "cos", "tanh", "sigmoid", "relu", "relu6", "softplus", "elu", "round",
                "floor", "ceil", "identity"])
logical_not = _unary_fn("logical_not")
zeros_like_value, ones_like_value = _unary_fn("zeros_like_value"), _unary_fn("ones_like_value")
add, subtract, multiply, floordiv, mod, pow, maximum, minimum = map(
    _binary_fn, ["add", "subtract", "multiply", "floordiv", "mod", "pow", "maximum", "minimum"])
equal, not_equal, less, less_equal, greater, greater_equal = map(
    _binary_fn, ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"])
logical_and, logical_or = _binary_fn("logical_and"), _binary_fn("logical_or")


def divide(x, y, name=None):
    """True division; integer operands are promoted to ``floatX`` first."""
    a, b = convert_operands(x, y)
    if not dtypes.is_float(a.dtype):
        a, b = cast(a, dtypes.floatx()), cast(b, dtypes.floatx())
    return apply_op("divide", [a, b], {}, name=name)


truediv = div = divide
floor_div = floordiv
floormod = mod


def leaky_relu(features, alpha=0.2, name=None):
    return apply_op("leaky_relu", [convert_to_tensor(features)], {"alpha": float(alpha)},
                    name=name)


def where(condition, x=None, y=None, name=None):
    """Elements of ``x`` where ``condition`` holds, else of ``y`` (broadcasting)."""
    if x is None or y is None:
        raise ValueError("where: both x and y must be given")
    cond = convert_to_tensor(condition)
    a, b = convert_operands(x, y)
    return apply_op("where", [cond, a, b], {}, name=name)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    values = convert_operands(t, clip_value_min, clip_value_max)
    return apply_op("clip_by_value", values, {}, name=name)


def cast(x, dtype, name=None):
    """``x`` converted to ``dtype`` (no node when it already has it)."""
    x = convert_to_tensor(x)
    dtype = dtypes.as_dtype(dtype)
    if x.dtype == dtype:
        return x
    return apply_op("cast", [x], {"dtype": dtype}, name=name)


def to_float(x, name=None):
    return cast(x, dtypes.float32, name)


def add_n(inputs, name=None):
    """Sum of a list of tensors of the same shape."""
    total = inputs[0]
    for t in inputs[1:]:
        total = add(total, t)
    return total


__all__ = [
    "negative", "abs", "sign", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "square",
    "reciprocal", "sin", "cos", "tanh", "sigmoid", "relu", "relu6", "softplus", "elu",
    "leaky_relu", "round", "floor", "ceil", "identity", "add", "subtract", "multiply", "divide",
    "truediv", "div", "floordiv", "floor_div", "mod", "floormod", "pow", "maximum", "minimum",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
    "logical_or", "logical_not", "where", "clip_by_value", "cast", "to_float", "add_n",
    "zeros_like_value", "ones_like_value",
]
