"""TF1's ``tf.layers`` functions: dense, dropout, conv2d, max_pooling2d / average_pooling2d,
flatten -- each a variable scope (``dense``, ``dense_1``, ... or ``name``) holding the layer's
``kernel`` and ``bias`` made by ``get_variable``, so ``reuse=True`` shares them as in TF1.

``tf.contrib.layers.fully_connected(x, n)`` scripts port to ``dense(x, n, activation=relu)``.
"""
from __future__ import annotations

from .ops.elementwise import where
from .ops.linalg import matmul, tensordot
from .ops.shape import reshape
from .tensor import Tensor, convert_to_tensor
from .variable_scope import get_variable, variable_scope


def _apply_activation(y: Tensor, activation) -> Tensor:
    return y if activation is None else activation(y)


def _depth(inputs: Tensor, what: str) -> int:
    depth = inputs.get_shape().as_list()[-1] if inputs.type.shape else None
    if depth is None:
        raise ValueError(f"{what}: the last dimension of the inputs should be defined, got "
                         f"shape {inputs.type.shape}")
    return depth


def dense(inputs, units: int, activation=None, use_bias: bool = True, kernel_initializer=None,
          bias_initializer=None, kernel_regularizer=None, bias_regularizer=None,
          activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
          trainable: bool = True, name=None, reuse=None) -> Tensor:
    """``activation(inputs @ kernel + bias)`` over the last axis of ``inputs`` (any rank)."""
    from .initializers import zeros_initializer

    inputs = convert_to_tensor(inputs)
    depth = _depth(inputs, "dense")
    with variable_scope(name, default_name="dense", reuse=reuse):
        kernel = get_variable("kernel", [depth, units], inputs.dtype,
                              initializer=kernel_initializer, trainable=trainable)
        if inputs.ndim == 2:
            y = matmul(inputs, kernel)
        else:
            y = tensordot(inputs, kernel, [[inputs.ndim - 1], [0]])
        if use_bias:
            bias = get_variable("bias", [units], inputs.dtype,
                                initializer=bias_initializer or zeros_initializer(),
                                trainable=trainable)
            y = _bias_add(y, bias)
        return _apply_activation(y, activation)


def _bias_add(y, bias):
    from .ops.conv import bias_add

    return bias_add(y, bias)


def dropout(inputs, rate: float = 0.5, noise_shape=None, seed=None, training=False,
            name=None) -> Tensor:
    """Drop each value with probability ``rate`` (survivors scaled by ``1/(1-rate)``) when
    ``training`` (a Python bool or a bool tensor, e.g. a placeholder); else the identity."""
    from .nn.training import dropout as nn_dropout

    inputs = convert_to_tensor(inputs)
    with variable_scope(name, default_name="dropout"):
        if isinstance(training, bool):
            return nn_dropout(inputs, rate=rate, noise_shape=noise_shape, seed=seed) \
                if training and rate > 0 else inputs
        dropped = nn_dropout(inputs, rate=rate, noise_shape=noise_shape, seed=seed)
        return where(convert_to_tensor(training), dropped, inputs)


def _pair(value, what: str) -> tuple:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return pair


def _padding(padding: str) -> str:
    if padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    return padding.upper()


def _channels_last(data_format: str, what: str) -> None:
    if data_format != "channels_last":
        raise NotImplementedError(f"{what}: only data_format='channels_last' (NHWC) is "
                                  f"supported, got {data_format!r}")


def conv2d(inputs, filters: int, kernel_size, strides=(1, 1), padding="valid",
           data_format="channels_last", dilation_rate=(1, 1), activation=None,
           use_bias: bool = True, kernel_initializer=None, bias_initializer=None,
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
           kernel_constraint=None, bias_constraint=None, trainable: bool = True, name=None,
           reuse=None) -> Tensor:
    """A 2-D convolution layer over NHWC ``inputs`` with a ``[kh, kw, in, filters]`` kernel."""
    from .initializers import zeros_initializer
    from .ops.conv import conv2d as conv2d_op

    inputs = convert_to_tensor(inputs)
    _channels_last(data_format, "conv2d")
    depth = _depth(inputs, "conv2d")
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(strides, "strides")
    dh, dw = _pair(dilation_rate, "dilation_rate")
    with variable_scope(name, default_name="conv2d", reuse=reuse):
        kernel = get_variable("kernel", [kh, kw, depth, filters], inputs.dtype,
                              initializer=kernel_initializer, trainable=trainable)
        y = conv2d_op(inputs, kernel, strides=[1, sh, sw, 1], padding=_padding(padding),
                      dilations=[1, dh, dw, 1])
        if use_bias:
            bias = get_variable("bias", [filters], inputs.dtype,
                                initializer=bias_initializer or zeros_initializer(),
                                trainable=trainable)
            y = _bias_add(y, bias)
        return _apply_activation(y, activation)


def _pooling(pool, default_name: str):
    def layer(inputs, pool_size, strides, padding="valid", data_format="channels_last",
              name=None) -> Tensor:
        _channels_last(data_format, default_name)
        ph, pw = _pair(pool_size, "pool_size")
        sh, sw = _pair(strides, "strides")
        with variable_scope(name, default_name=default_name):
            return pool(convert_to_tensor(inputs), ksize=[1, ph, pw, 1], strides=[1, sh, sw, 1],
                        padding=_padding(padding))
    layer.__name__ = default_name
    layer.__doc__ = f"TF1's ``tf.layers.{default_name}`` over NHWC inputs."
    return layer


def _max_pool(*args, **kwargs):
    from .ops.conv import max_pool

    return max_pool(*args, **kwargs)


def _avg_pool(*args, **kwargs):
    from .ops.conv import avg_pool

    return avg_pool(*args, **kwargs)


max_pooling2d = _pooling(_max_pool, "max_pooling2d")
average_pooling2d = _pooling(_avg_pool, "average_pooling2d")


def flatten(inputs, name=None, data_format="channels_last") -> Tensor:
    """``[batch, d1, d2, ...] -> [batch, d1 * d2 * ...]``."""
    inputs = convert_to_tensor(inputs)
    with variable_scope(name, default_name="flatten"):
        shape = inputs.get_shape().as_list()
        rest = shape[1:]
        if rest and None not in rest:
            size = 1
            for d in rest:
                size *= d
            return reshape(inputs, [-1, size])
        return reshape(inputs, [inputs.shape[0], -1])


__all__ = ["dense", "dropout", "conv2d", "max_pooling2d", "average_pooling2d", "flatten"]
