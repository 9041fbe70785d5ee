"""conv2d, max_pool, avg_pool, bias_add: values against loop-by-loop oracles, gradients (first
and second order) against finite differences, numba against the NumPy reference, static shapes,
TF1 argument forms and errors. Windows, strides, padding and dilations are hypothesis-drawn from
the ops' own sample rules."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigraph as mg
from minigraph.errors import InvalidArgumentError
from minigraph.ops._conv_samples import untied
from minigraph.testing import assert_backends_agree, check_grads
from minigraph.testing.strategies import op_inputs

RNG = np.random.default_rng(7)


def _run(fetch, feeds=None):
    return mg.Session().run(fetch, feeds or {})


def _evaluate(fn, *arrays):
    """``fn`` on placeholders fed ``arrays`` (constants would be folded by the reference)."""
    inputs = [mg.placeholder(mg.float64, a.shape) for a in arrays]
    return _run(fn(*inputs), dict(zip(inputs, arrays)))


# -- loop-by-loop oracles (independent of the references) ----------------------------------------


def _pads(size, k, stride, dilation, padding):
    extent = (k - 1) * dilation + 1
    if padding == "SAME":
        total = max((-(-size // stride) - 1) * stride + extent - size, 0)
        return total // 2, total - total // 2
    return (0, 0) if padding == "VALID" else padding


def _naive_conv(x, w, strides, dilations, padding):
    (kh, kw, _, depth), pads = w.shape, []
    for axis in range(2):
        pad = padding if isinstance(padding, str) else padding[axis]
        pads.append(_pads(x.shape[1 + axis], w.shape[axis], strides[axis], dilations[axis], pad))
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    oh = (xp.shape[1] - (kh - 1) * dilations[0] - 1) // strides[0] + 1
    ow = (xp.shape[2] - (kw - 1) * dilations[1] - 1) // strides[1] + 1
    out = np.zeros((x.shape[0], oh, ow, depth))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    out[:, i, j] += xp[:, i * strides[0] + a * dilations[0],
                                       j * strides[1] + b * dilations[1]] @ w[a, b]
    return out


def _naive_pool(x, ksize, strides, padding, reduce):
    (top, _), (left, _) = [_pads(x.shape[1 + a], ksize[a], strides[a], 1, padding)
                           for a in range(2)]
    oh = -(-x.shape[1] // strides[0]) if padding == "SAME" else \
        (x.shape[1] - ksize[0]) // strides[0] + 1
    ow = -(-x.shape[2] // strides[1]) if padding == "SAME" else \
        (x.shape[2] - ksize[1]) // strides[1] + 1
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * strides[0] - top, j * strides[1] - left
            window = x[:, max(h0, 0):h0 + ksize[0], max(w0, 0):w0 + ksize[1]]
            out[:, i, j] = reduce(window, axis=(1, 2))
    return out


def _tf_padding(padding):
    return padding if isinstance(padding, str) else [[0, 0], *padding, [0, 0]]


def _conv(attrs):
    """``(x, w) -> mg.nn.conv2d`` with the sample rule's attrs in TF1's argument forms."""
    return lambda x, w: mg.nn.conv2d(x, w, strides=[1, *attrs["strides"], 1],
                                     padding=_tf_padding(attrs["padding"]),
                                     dilations=[1, *attrs["dilations"], 1])


def _pool(fn, attrs):
    return lambda x: fn(x, ksize=[1, *attrs["ksize"], 1], strides=[1, *attrs["strides"], 1],
                        padding=attrs["padding"])


# -- values --------------------------------------------------------------------------------------


@given(data=st.data())
def test_conv2d_matches_loop_oracle(data):
    (x, w), attrs = data.draw(op_inputs("conv2d"))
    got = _evaluate(_conv(attrs), x, w)
    np.testing.assert_allclose(got, _naive_conv(x, w, **attrs), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(data=st.data())
def test_pools_match_loop_oracle(kind, data):
    (x,), attrs = data.draw(op_inputs(f"{kind}_pool"))
    fn, reduce = (mg.nn.max_pool, np.max) if kind == "max" else (mg.nn.avg_pool, np.mean)
    got = _evaluate(_pool(fn, attrs), x)
    np.testing.assert_allclose(got, _naive_pool(x, **attrs, reduce=reduce), rtol=1e-12,
                               atol=1e-12)


def test_avg_pool_same_divides_by_the_elements_in_the_input():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    got = _evaluate(lambda x: mg.nn.avg_pool(x, 2, 2, "SAME"), x)[0, :, :, 0]
    np.testing.assert_allclose(got, [[2.0, 3.5], [6.5, 8.0]])


def test_max_pool_gradient_goes_to_the_first_maximum_of_a_tie():
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]]).reshape(1, 2, 3, 1)

    def grad(x):
        return mg.gradients(mg.reduce_sum(mg.nn.max_pool(x, 2, 1, "VALID")), [x])[0]
    dx = _evaluate(grad, x)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 2, 0], [0, 0, 0]])


def test_nchw_is_nhwc_transposed():
    x, w = RNG.standard_normal((2, 3, 6, 5)), RNG.standard_normal((3, 2, 3, 4))
    nhwc = np.transpose(x, (0, 2, 3, 1))
    got_conv, got_pool = _evaluate(lambda x, w: [
        mg.nn.conv2d(x, w, [1, 1, 2, 1], "SAME", data_format="NCHW", dilations=[1, 1, 1, 2]),
        mg.nn.max_pool(x, [1, 1, 2, 2], [1, 1, 2, 2], "SAME", data_format="NCHW")], x, w)
    np.testing.assert_allclose(got_conv, np.transpose(
        _naive_conv(nhwc, w, (2, 1), (1, 2), "SAME"), (0, 3, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(got_pool, np.transpose(
        _naive_pool(nhwc, (2, 2), (2, 2), "SAME", np.max), (0, 3, 1, 2)))


@pytest.mark.parametrize("data_format", [None, "NHWC", "NCHW"])
def test_bias_add_adds_along_the_channel_axis(data_format):
    value, bias = RNG.standard_normal((2, 3, 4, 5)), RNG.standard_normal(3 if data_format ==
                                                                          "NCHW" else 5)
    got = _evaluate(lambda v, b: mg.nn.bias_add(v, b, data_format=data_format), value, bias)
    expected = value + (bias[:, None, None] if data_format == "NCHW" else bias)
    np.testing.assert_allclose(got, expected)
    check_grads(lambda v, b: mg.nn.bias_add(v, b, data_format=data_format), [value, bias])


def test_filters_alias_int_strides_and_lowercase_padding():
    x, w = RNG.standard_normal((1, 5, 5, 2)), RNG.standard_normal((3, 3, 2, 2))
    got = _evaluate(lambda x, w: mg.nn.conv2d(x, filters=w, strides=2, padding="same"), x, w)
    np.testing.assert_allclose(got, _naive_conv(x, w, (2, 2), (1, 1), "SAME"), rtol=1e-12)


def test_public_backprops_and_transpose_are_conv2d_gradients():
    x, w = RNG.standard_normal((2, 5, 6, 3)), RNG.standard_normal((3, 2, 3, 4))
    dy = RNG.standard_normal((2, 3, 3, 4))
    xp, dyp, wc = mg.placeholder(mg.float64, (None, 5, 6, 3)), mg.placeholder(mg.float64), \
        mg.constant(w)
    y = mg.nn.conv2d(xp, wc, [1, 2, 2, 1], "SAME")
    bpi = mg.nn.conv2d_backprop_input(mg.shape(xp), wc, dyp, 2, "SAME")
    assert bpi.get_shape().as_list() == [None, 5, 6, 3]
    got = _run(mg.gradients(mg.reduce_sum(y * dyp), [xp, wc]) + [
        bpi, mg.nn.conv2d_transpose(dyp, wc, mg.shape(xp), [1, 2, 2, 1]),
        mg.nn.conv2d_backprop_filter(xp, [3, 2, 3, 4], dyp, 2, "SAME")], {xp: x, dyp: dy})
    gx, gw, by_input, by_transpose, by_filter = got
    np.testing.assert_allclose(by_input, gx, rtol=1e-12)
    np.testing.assert_allclose(by_transpose, gx, rtol=1e-12)
    np.testing.assert_allclose(by_filter, gw, rtol=1e-12)


# -- gradients -----------------------------------------------------------------------------------


@given(data=st.data())
def test_conv2d_gradients_match_finite_differences(data):
    (x, w), attrs = data.draw(op_inputs("conv2d"))
    check_grads(_conv(attrs), [x, w], seed=0)


@pytest.mark.parametrize("attrs", [
    {"strides": (2, 1), "dilations": (1, 1), "padding": "SAME"},
    {"strides": (1, 1), "dilations": (2, 1), "padding": "VALID"},
    {"strides": (1, 2), "dilations": (1, 1), "padding": ((1, 0), (2, 1))},
])
def test_conv2d_second_order(attrs):
    x, w = RNG.standard_normal((1, 4, 4, 2)), RNG.standard_normal((2, 2, 2, 2))
    check_grads(lambda x, w: mg.tanh(_conv(attrs)(x, w)), [x, w], order=2, seed=1)


@pytest.mark.parametrize("fn", [mg.nn.max_pool, mg.nn.avg_pool])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_pool_second_order(fn, padding):
    x = untied(RNG, (2, 4, 5, 2))
    check_grads(lambda x: mg.square(fn(x, [1, 2, 3, 1], [1, 2, 2, 1], padding)), [x], order=2,
                seed=2)


# -- backends ------------------------------------------------------------------------------------


def _small_cnn(attrs):
    def build(x, w, b):
        h = mg.nn.relu(mg.nn.bias_add(_conv(attrs)(x, w), b))
        pooled = [mg.nn.max_pool(h, 2, 1, "SAME"), mg.nn.avg_pool(h, [1, 2, 1, 1], 2, "SAME")]
        return [mg.reduce_sum(p * p) for p in pooled]
    return build


@given(data=st.data())
def test_numba_agrees_with_reference_on_a_small_cnn(data):
    pytest.importorskip("numba")
    (x, w), attrs = data.draw(op_inputs("conv2d"))
    b = RNG.standard_normal(w.shape[3])
    assert_backends_agree(_small_cnn(attrs), [x, w, b], backends=["numpy", "numba"])


@pytest.mark.parametrize("op", ["conv2d_backprop_input", "conv2d_backprop_filter", "max_pool",
                                "max_pool_grad", "max_pool_grad_grad", "avg_pool",
                                "avg_pool_grad"])
@given(data=st.data())
def test_numba_kernels_agree_with_reference(op, data):
    pytest.importorskip("numba")
    inputs, attrs = data.draw(op_inputs(op))
    assert_backends_agree(lambda *ts: mg.apply_op(op, list(ts), attrs), inputs,
                          backends=["numpy", "numba"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numba_conv_in_image_chunks_and_float32(dtype, monkeypatch):
    """Chunked im2col (a scratch smaller than the batch) matches the unchunked reference."""
    conv = pytest.importorskip("kernels.numba.conv")
    monkeypatch.setattr(conv, "SCRATCH_ELEMENTS", 200)
    x = RNG.standard_normal((5, 7, 6, 3)).astype(dtype)
    w = RNG.standard_normal((3, 2, 3, 4)).astype(dtype)
    b = RNG.standard_normal(4).astype(dtype)
    attrs = {"strides": (2, 1), "dilations": (1, 2), "padding": "SAME"}
    assert_backends_agree(_small_cnn(attrs), [x, w, b], backends=["numpy", "numba"])


# -- shapes and errors ---------------------------------------------------------------------------


def test_static_shapes_follow_tf_arithmetic():
    x = mg.placeholder(mg.float32, (None, 28, 27, 1))
    y = mg.nn.conv2d(x, np.zeros((5, 5, 1, 32), np.float32), [1, 2, 2, 1], "SAME")
    assert y.get_shape().as_list() == [None, 14, 14, 32]
    z = mg.nn.max_pool(y, [1, 3, 3, 1], [1, 2, 2, 1], "VALID")
    assert z.get_shape().as_list() == [None, 6, 6, 32]
    unknown = mg.nn.avg_pool(mg.placeholder(mg.float32, (None, None, 8, 3)), 2, 2, "SAME")
    assert unknown.get_shape().as_list() == [None, None, 4, 3]


@pytest.mark.parametrize("build, message", [
    (lambda: mg.nn.conv2d(np.zeros((1, 5, 5, 2)), np.zeros((3, 3, 4, 1)), 1, "SAME"),
     "input depth 2 does not match the filter's in_channels 4"),
    (lambda: mg.nn.conv2d(np.zeros((1, 2, 5, 2)), np.zeros((3, 3, 2, 1)), 1, "VALID"),
     r"window of extent 3 does not fit the padded height 2 of input \(1, 2, 5, 2\)"),
    (lambda: mg.nn.conv2d(np.zeros((5, 5, 2)), np.zeros((3, 3, 2, 1)), 1, "SAME"),
     "input must be 4-D"),
    (lambda: mg.nn.conv2d(mg.constant(np.zeros((1, 5, 5, 2))),
                          mg.constant(np.zeros((3, 3, 2, 1)), mg.float32), 1, "SAME"),
     "must have the same dtype"),
    (lambda: mg.nn.conv2d(np.zeros((1, 5, 5, 2)), np.zeros((3, 3, 2, 1)), [2, 1, 1, 1], "SAME"),
     "over the batch or depth dimension is not supported"),
    (lambda: mg.nn.conv2d(np.zeros((1, 5, 5, 2)), np.zeros((3, 3, 2, 1)), 1, "SAME",
                          data_format="NWHC"), "data_format must be 'NHWC' or 'NCHW'"),
    (lambda: mg.nn.conv2d(np.zeros((1, 5, 5, 2)), np.zeros((3, 3, 2, 1)), 1, "FULL"),
     "padding must be"),
    (lambda: mg.nn.conv2d(np.zeros((1, 5, 5, 2)), np.zeros((3, 3, 2, 1)), 0, "SAME"),
     "strides must be positive"),
    (lambda: mg.nn.max_pool(np.zeros((1, 5, 5, 2)), 2, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]),
     "padding must be 'SAME' or 'VALID'"),
    (lambda: mg.nn.bias_add(np.zeros((2, 3)), np.zeros(4)), "does not match the channel"),
    (lambda: mg.nn.bias_add(np.zeros((2, 3)), np.zeros((1, 3))), "bias must be 1-D"),
])
def test_static_errors_name_the_shapes(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


def test_run_time_window_error_names_the_input():
    x = mg.placeholder(mg.float64, (None, None, None, 1))
    y = mg.nn.conv2d(x, np.zeros((3, 3, 1, 1)), 1, "VALID")
    with pytest.raises(InvalidArgumentError, match=r"extent 3 does not fit the padded height 2 "
                                                   r"of input \(1, 2, 5, 1\)"):
        _run(y, {x: np.zeros((1, 2, 5, 1))})
