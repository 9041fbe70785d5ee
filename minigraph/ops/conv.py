"""2-D convolution and pooling: TF1's ``tf.nn.conv2d`` (its backprops and ``conv2d_transpose``),
``max_pool``, ``avg_pool`` and ``bias_add``.

Ops work in NHWC with filters ``[kh, kw, in, out]``; the NCHW wrappers transpose around them.
Padding is ``"SAME"`` (TF's arithmetic, resolved against the run-time size), ``"VALID"`` or,
for convolutions, explicit ``((top, bottom), (left, right))``. Every gradient is itself an op
whose gradient is built from these ops (conv2d's backprops are each other's transposes, max-pool
gradients route through the window argmax), so second order works.
"""
from __future__ import annotations

import numpy as np

from ..graph import TensorType, format_shape
from ..tensor import Tensor, convert_to_tensor
from . import _conv_ref as ref
from ._conv_samples import conv_sample, pool_sample
from .registry import InferError, apply_op, defop

# -- shape/dtype rules ---------------------------------------------------------------------------


def _rank4(t: TensorType, what: str) -> tuple:
    if t.shape is None:
        return (None,) * 4
    if len(t.shape) != 4:
        raise InferError(f"{what} must be 4-D, got shape {format_shape(t.shape)}")
    return t.shape


def _float_types(types, names) -> None:
    for t, what in zip(types, names):
        if t.dtype.kind != "f":
            raise InferError(f"{what} must be a float tensor, got {t.dtype}")
    if len({t.dtype for t in types}) > 1:
        raise InferError(" and ".join(f"{what} ({t.dtype})" for t, what in zip(types, names))
                         + " must have the same dtype")


def _spatial_out(x_shape, ksize, strides, dilations, padding) -> tuple:
    """Static output height and width (None where unknown)."""
    out = []
    for axis in range(2):
        size, k = x_shape[1 + axis], ksize[axis]
        if size is None or k is None:
            out.append(None)
            continue
        geometry = ref.window_geometry(size, k, strides[axis], dilations[axis],
                                       ref.axis_padding(padding, axis))
        if geometry is None:
            raise InferError(ref.misfit(x_shape, axis, ksize, dilations, padding))
        out.append(geometry[0])
    return tuple(out)


def _conv_out(x: TensorType, w: TensorType, strides, dilations, padding) -> tuple:
    """Static output shape of ``conv2d(x, w)``, checking ranks, dtypes and depths."""
    _float_types([x, w], ["input", "filter"])
    xs, ws = _rank4(x, "input"), _rank4(w, "filter")
    if None not in (xs[3], ws[2]) and xs[3] != ws[2]:
        raise InferError(f"input depth {xs[3]} does not match the filter's in_channels {ws[2]} "
                         f"(input {format_shape(xs)}, filter {format_shape(ws)})")
    return (xs[0],) + _spatial_out(xs, ws[:2], strides, dilations, padding) + (ws[3],)


def _check_like(expected: tuple, t: TensorType, what: str) -> None:
    """``t`` must have rank 4 and agree with ``expected`` where both are known."""
    got = _rank4(t, what)
    if any(a is not None and b is not None and a != b for a, b in zip(expected, got)):
        raise InferError(f"{what} has shape {format_shape(got)}, expected "
                         f"{format_shape(expected)}")


def _infer_conv2d(types, strides, dilations, padding):
    x, w = types
    return TensorType(_conv_out(x, w, strides, dilations, padding), x.dtype)


def _infer_backprop_input(types, strides, dilations, padding):
    x, w, dy = types
    _float_types([x, w, dy], ["input", "filter", "out_backprop"])
    _check_like(_conv_out(x, w, strides, dilations, padding), dy, "out_backprop")
    return TensorType(_rank4(x, "input"), x.dtype)


def _infer_backprop_filter(types, strides, dilations, padding):
    x, w, dy = types
    _float_types([x, w, dy], ["input", "filter", "out_backprop"])
    _check_like(_conv_out(x, w, strides, dilations, padding), dy, "out_backprop")
    return TensorType(_rank4(w, "filter"), x.dtype)


def _pool_out(x: TensorType, ksize, strides, padding) -> tuple:
    xs = _rank4(x, "input")
    return (xs[0],) + _spatial_out(xs, ksize, strides, (1, 1), padding) + (xs[3],)


def _infer_pool(types, ksize, strides, padding):
    _float_types(types[:1], ["input"])
    return TensorType(_pool_out(types[0], ksize, strides, padding), types[0].dtype)


def _infer_pool_grad(types, ksize, strides, padding):
    """``(x, dy) -> dx``: ``dy`` has the pool's output shape."""
    x, dy = types
    _float_types([x, dy], ["input", "grad"])
    _check_like(_pool_out(x, ksize, strides, padding), dy, "grad")
    return TensorType(_rank4(x, "input"), x.dtype)


def _infer_pool_grad_grad(types, ksize, strides, padding):
    """``(x, g) -> pooled g``: ``g`` has the input's shape."""
    x, g = types
    _float_types([x, g], ["input", "grad"])
    _check_like(_rank4(x, "input"), g, "grad")
    return TensorType(_pool_out(x, ksize, strides, padding), x.dtype)


# -- gradients (each from these ops, so they differentiate again) --------------------------------


def _same(op, node, inputs) -> Tensor:
    return apply_op(op, inputs, dict(node.attrs))


def _conv2d_vjp(node, dys):
    x, w = node.inputs
    return [_same("conv2d_backprop_input", node, [x, w, dys[0]]),
            _same("conv2d_backprop_filter", node, [x, w, dys[0]])]


def _backprop_input_vjp(node, dys):
    """``dx`` is bilinear in (filter, dy): its transposes are the filter gradient and conv2d."""
    x, w, dy = node.inputs
    return [None, _same("conv2d_backprop_filter", node, [dys[0], w, dy]),
            _same("conv2d", node, [dys[0], w])]


def _backprop_filter_vjp(node, dys):
    x, w, dy = node.inputs
    return [_same("conv2d_backprop_input", node, [x, dys[0], dy]), None,
            _same("conv2d", node, [x, dys[0]])]


def _max_pool_vjp(node, dys):
    return [_same("max_pool_grad", node, [node.inputs[0], dys[0]])]


def _max_pool_grad_vjp(node, dys):
    """Routing is piecewise constant in ``x``; linear in the routed cotangent."""
    return [None, _same("max_pool_grad_grad", node, [node.inputs[0], dys[0]])]


def _max_pool_grad_grad_vjp(node, dys):
    return [None, _same("max_pool_grad", node, [node.inputs[0], dys[0]])]


def _avg_pool_vjp(node, dys):
    return [_same("avg_pool_grad", node, [node.inputs[0], dys[0]])]


def _avg_pool_grad_vjp(node, dys):
    return [None, _same("avg_pool", node, [dys[0]])]


# -- registration --------------------------------------------------------------------------------

defop("conv2d", _infer_conv2d, ref.conv2d_ref, vjp=_conv2d_vjp, kind="nn",
      sample=conv_sample("conv2d"), doc="2-D cross-correlation of NHWC input, [kh, kw, in, out]")
defop("conv2d_backprop_input", _infer_backprop_input, ref.conv2d_backprop_input_ref,
      vjp=_backprop_input_vjp, kind="nn", sample=conv_sample("input"), grad_inputs=(1, 2),
      doc="gradient of conv2d for its input; input 0 gives only the shape")
defop("conv2d_backprop_filter", _infer_backprop_filter, ref.conv2d_backprop_filter_ref,
      vjp=_backprop_filter_vjp, kind="nn", sample=conv_sample("filter"), grad_inputs=(0, 2),
      doc="gradient of conv2d for its filter; input 1 gives only the shape")
defop("max_pool", _infer_pool, ref.max_pool_ref, vjp=_max_pool_vjp, kind="nn",
      sample=pool_sample("max"), doc="window maxima of an NHWC input")
defop("max_pool_grad", _infer_pool_grad, ref.max_pool_grad_ref, vjp=_max_pool_grad_vjp,
      kind="nn", sample=pool_sample("max_grad"),
      doc="gradient of max_pool: each window's cotangent to its first maximum")
defop("max_pool_grad_grad", _infer_pool_grad_grad, ref.max_pool_grad_grad_ref,
      vjp=_max_pool_grad_grad_vjp, kind="nn", sample=pool_sample("max_grad_grad"),
      doc="an input-shaped tensor read at each max_pool window's maximum")
defop("avg_pool", _infer_pool, ref.avg_pool_ref, vjp=_avg_pool_vjp, kind="nn",
      sample=pool_sample("avg"), doc="window means of an NHWC input over non-padding elements")
defop("avg_pool_grad", _infer_pool_grad, ref.avg_pool_grad_ref, vjp=_avg_pool_grad_vjp,
      kind="nn", sample=pool_sample("avg_grad"), grad_inputs=(1,),
      doc="gradient of avg_pool; input 0 gives only the shape")

# -- public functions ----------------------------------------------------------------------------

_LAYOUTS = {"NHWC": (1, 2), "NCHW": (2, 3)}


def _layout(data_format) -> tuple:
    """Spatial axes of ``data_format``; anything but NHWC/NCHW is refused."""
    if data_format not in _LAYOUTS:
        raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    return _LAYOUTS[data_format]


def _spatial(value, data_format: str, what: str) -> tuple:
    """``(height, width)`` from TF's int or 1/2/4-element spec; batch and depth entries of a
    4-element spec must be 1 (no striding or pooling across them)."""
    values = [value] if np.ndim(value) == 0 else list(value)
    if len(values) == 1:
        return (int(values[0]),) * 2
    if len(values) == 2:
        return tuple(int(v) for v in values)
    if len(values) != 4:
        raise ValueError(f"{what} must be an int or have 1, 2 or 4 elements, got {value!r}")
    spatial = _layout(data_format)
    others = [values[i] for i in range(4) if i not in spatial]
    if any(v != 1 for v in others):
        raise ValueError(f"{what} {value!r}: {what} over the batch or depth dimension is not "
                         "supported")
    return tuple(int(values[i]) for i in spatial)


def _positive(values: tuple, what: str) -> tuple:
    if any(v < 1 for v in values):
        raise ValueError(f"{what} must be positive, got {values}")
    return values


def _padding(padding, data_format: str, explicit_ok: bool = True):
    """``"SAME"``/``"VALID"``, or explicit TF-style pairs as ``((top, bottom), (left, right))``."""
    if isinstance(padding, str) and padding.upper() in ("SAME", "VALID"):
        return padding.upper()
    if not explicit_ok or isinstance(padding, str) or padding is None:
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    pairs = [tuple(int(v) for v in pair) for pair in padding]
    spatial = _layout(data_format)
    if len(pairs) != 4 or any(len(p) != 2 or min(p) < 0 for p in pairs) or \
            any(pairs[i] != (0, 0) for i in range(4) if i not in spatial):
        raise ValueError("explicit padding must be 4 non-negative [before, after] pairs, zero "
                         f"for the batch and depth dimensions, got {padding!r}")
    return tuple(pairs[i] for i in spatial)


def _to_nhwc(x: Tensor, data_format: str) -> Tensor:
    from .shape import transpose

    return x if data_format == "NHWC" else transpose(x, (0, 2, 3, 1))


def _from_nhwc(y: Tensor, data_format: str, name) -> Tensor:
    from .shape import transpose

    return y if data_format == "NHWC" else transpose(y, (0, 3, 1, 2), name=name)


def _tensors(a, b) -> tuple:
    """Two operands as tensors, plain data taking the other's dtype (no silent casts)."""
    a, b = (v._as_tensor() if hasattr(v, "_as_tensor") else v for v in (a, b))
    if not isinstance(a, Tensor) and isinstance(b, Tensor):
        return convert_to_tensor(a, dtype=b.dtype), b
    a = convert_to_tensor(a)
    return a, (b if isinstance(b, Tensor) else convert_to_tensor(b, dtype=a.dtype))


def _apply(op, inputs, attrs, data_format, name) -> Tensor:
    """``op`` on NHWC views of ``inputs``, its result back in ``data_format``."""
    nhwc = data_format == "NHWC"
    out = apply_op(op, inputs, attrs, name=name if nhwc else None)
    return _from_nhwc(out, data_format, name)


def conv2d(input, filter=None, strides=None, padding=None, use_cudnn_on_gpu=True,
           data_format="NHWC", dilations=(1, 1, 1, 1), name=None, filters=None) -> Tensor:
    """TF1 ``tf.nn.conv2d``: cross-correlation of a 4-D input with ``[kh, kw, in, out]``."""
    attrs = _conv_attrs("conv2d", strides, padding, data_format, dilations)
    x, w = _tensors(input, _one_filter("conv2d", filter, filters))
    return _apply("conv2d", [_to_nhwc(x, data_format), w], attrs, data_format, name)


def _one_filter(op: str, filter, filters):
    if (filter is None) == (filters is None):
        raise ValueError(f"{op}: pass exactly one of filter and filters")
    return filter if filters is None else filters


def _conv_attrs(op: str, strides, padding, data_format, dilations) -> dict:
    if strides is None or padding is None:
        raise ValueError(f"{op}: strides and padding are required")
    _layout(data_format)
    return {"strides": _positive(_spatial(strides, data_format, "strides"), "strides"),
            "dilations": _positive(_spatial(dilations, data_format, "dilations"), "dilations"),
            "padding": _padding(padding, data_format)}


def _zeros_of(sizes, dtype, data_format=None) -> Tensor:
    """A tensor of ``sizes`` (ints or an int tensor) standing for a shape: the backprop ops
    read only the shape of their input or filter operand."""
    from .creation import zeros

    like = zeros(sizes, dtype=dtype)
    return like if data_format is None else _to_nhwc(like, data_format)


def conv2d_backprop_input(input_sizes, filter=None, out_backprop=None, strides=None,
                          padding=None, use_cudnn_on_gpu=True, data_format="NHWC",
                          dilations=(1, 1, 1, 1), name=None, filters=None) -> Tensor:
    """TF1 ``tf.nn.conv2d_backprop_input``: the gradient of ``conv2d`` for an input of shape
    ``input_sizes`` (ints or an int tensor), given the filter and the output's gradient."""
    op = "conv2d_backprop_input"
    attrs = _conv_attrs(op, strides, padding, data_format, dilations)
    w, dy = _tensors(_one_filter(op, filter, filters), out_backprop)
    like = _zeros_of(input_sizes, w.dtype, data_format)
    return _apply(op, [like, w, _to_nhwc(dy, data_format)], attrs, data_format, name)


def conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding,
                           use_cudnn_on_gpu=True, data_format="NHWC", dilations=(1, 1, 1, 1),
                           name=None) -> Tensor:
    """TF1 ``tf.nn.conv2d_backprop_filter``: the gradient of ``conv2d`` for a filter of shape
    ``filter_sizes``, given the input and the output's gradient."""
    op = "conv2d_backprop_filter"
    attrs = _conv_attrs(op, strides, padding, data_format, dilations)
    x, dy = _tensors(input, out_backprop)
    inputs = [_to_nhwc(x, data_format), _zeros_of(filter_sizes, x.dtype),
              _to_nhwc(dy, data_format)]
    return apply_op(op, inputs, attrs, name=name)


def conv2d_transpose(value=None, filter=None, output_shape=None, strides=None, padding="SAME",
                     data_format="NHWC", name=None, input=None, filters=None,
                     dilations=None) -> Tensor:
    """TF1 ``tf.nn.conv2d_transpose`` ("deconvolution"): the input-gradient of ``conv2d`` for an
    input of ``output_shape``; ``filter`` is ``[kh, kw, output_channels, in_channels]``."""
    if (value is None) == (input is None):
        raise ValueError("conv2d_transpose: pass exactly one of value and input")
    return conv2d_backprop_input(output_shape, _one_filter("conv2d_transpose", filter, filters),
                                 input if value is None else value, strides, padding,
                                 data_format=data_format, dilations=dilations or 1, name=name)


def _pool(op, value, ksize, strides, padding, data_format, name, input) -> Tensor:
    if (value is None) == (input is None):
        raise ValueError(f"{op}: pass exactly one of value and input")
    _layout(data_format)
    attrs = {"ksize": _positive(_spatial(ksize, data_format, "ksize"), "ksize"),
             "strides": _positive(_spatial(strides, data_format, "strides"), "strides"),
             "padding": _padding(padding, data_format, explicit_ok=False)}
    x = convert_to_tensor(input if value is None else value)
    return _apply(op, [_to_nhwc(x, data_format)], attrs, data_format, name)


def max_pool(value=None, ksize=None, strides=None, padding=None, data_format="NHWC", name=None,
             input=None) -> Tensor:
    """TF1 ``tf.nn.max_pool``: window maxima (SAME pads with -inf)."""
    return _pool("max_pool", value, ksize, strides, padding, data_format, name, input)


def avg_pool(value=None, ksize=None, strides=None, padding=None, data_format="NHWC", name=None,
             input=None) -> Tensor:
    """TF1 ``tf.nn.avg_pool``: window means, SAME padding not counted in the divisor."""
    return _pool("avg_pool", value, ksize, strides, padding, data_format, name, input)


def bias_add(value, bias, data_format=None, name=None) -> Tensor:
    """TF1 ``tf.nn.bias_add``: add a 1-D ``bias`` along the channel axis (last, or 1 for
    ``NC...`` formats). A broadcasting ``add``, so it fuses with what follows."""
    from .elementwise import add
    from .shape import reshape

    x, b = _tensors(value, bias)
    channels_first = data_format is not None and data_format.startswith("NC")
    if data_format is not None and not channels_first and not data_format.endswith("C"):
        raise ValueError(f"bias_add: unsupported data_format {data_format!r}")
    if b.ndim is not None and b.ndim != 1:
        raise ValueError(f"bias_add: bias must be 1-D, got shape {format_shape(b.type.shape)}")
    if x.ndim is not None and x.ndim < 2:
        raise ValueError(f"bias_add: value must have rank >= 2, got {format_shape(x.type.shape)}")
    axis = 1 if channels_first else -1
    depth = None if x.ndim is None else x.type.shape[axis]
    size = None if b.ndim is None else b.type.shape[0]
    if None not in (depth, size) and depth != size:
        raise ValueError(f"bias_add: bias of shape ({size},) does not match the channel "
                         f"dimension of value {format_shape(x.type.shape)}")
    if channels_first:
        if x.ndim is None:
            raise ValueError("bias_add: data_format NC... needs a value of known rank")
        b = reshape(b, (-1,) + (1,) * (x.ndim - 2))
    return add(x, b, name=name)


__all__ = ["conv2d", "conv2d_backprop_filter", "conv2d_backprop_input", "conv2d_transpose",
           "max_pool", "avg_pool", "bias_add"]
