"""Where TensorFlow is installed: tf.compat.v1.nn.conv2d / max_pool / avg_pool / bias_add and
minigraph's give the same values, gradients and second-order gradients (float64, 1e-10) for
hypothesis-drawn shapes, windows, strides, padding (SAME / VALID / explicit) and dilations.

TF's CPU kernels compute dilated convolutions forward only (its Conv2DBackprop* refuse
dilations > 1), so dilated cases compare values only. TF refuses filters and pools over 0
channels (minigraph gives empty or zero results), and its conv gradients around an empty input,
filter or output can be uninitialised memory (minigraph's are 0): those compare values only."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigraph as mg
from minigraph.ops._conv_ref import spatial_geometry
from minigraph.ops._conv_samples import untied
from minigraph.testing.strategies import op_inputs

tf = pytest.importorskip("tensorflow")
tf1 = tf.compat.v1
tf1.disable_eager_execution()

TOL = dict(rtol=1e-10, atol=1e-10)


def _tf_padding(padding):
    return padding if isinstance(padding, str) else [[0, 0], *map(list, padding), [0, 0]]


def _conv_fn(attrs):
    return lambda lib, x, w: lib.nn.conv2d(x, w, strides=[1, *attrs["strides"], 1],
                                           padding=_tf_padding(attrs["padding"]),
                                           dilations=[1, *attrs["dilations"], 1])


def _pool_fn(kind, attrs):
    return lambda lib, x: getattr(lib.nn, f"{kind}_pool")(
        x, ksize=[1, *attrs["ksize"], 1], strides=[1, *attrs["strides"], 1],
        padding=attrs["padding"])


def _script(lib, fn, arrays, grads, seed=0):
    """``(placeholders, fetches)`` of ``fn(lib, *inputs)``: its value and, when ``grads``, the
    gradients of a random projection and of a projection of the first input's gradient."""
    inputs = [lib.placeholder(lib.float64, a.shape) for a in arrays]
    y = fn(lib, *inputs)
    if not grads:
        return inputs, [y]
    rng = np.random.default_rng(seed)
    shape = y.get_shape().as_list()
    r = lib.constant(rng.standard_normal(shape))
    first = lib.gradients(lib.reduce_sum(y * r), inputs)
    s = lib.constant(rng.standard_normal(arrays[0].shape))
    second = lib.gradients(lib.reduce_sum(first[0] * s), [r] + inputs[1:])
    return inputs, [y] + first + [g for g in second if g is not None]


def _compare(fn, arrays, grads=True):
    with tf1.Graph().as_default():
        inputs, fetches = _script(tf1, fn, arrays, grads)
        with tf1.Session() as sess:
            theirs = sess.run(fetches, dict(zip(inputs, arrays)))
    with mg.Graph().as_default():
        inputs, fetches = _script(mg, fn, arrays, grads)
        ours = mg.Session().run(fetches, dict(zip(inputs, arrays)))
    assert len(ours) == len(theirs)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape, f"fetch {k}: shape {a.shape} vs TensorFlow's {b.shape}"
        np.testing.assert_allclose(a, b, err_msg=f"fetch {k}", **TOL)


def _tf_conv_inputs(data):
    """A conv2d sample TF computes (input channels), and whether to compare gradients."""
    (x, w), attrs = data.draw(op_inputs("conv2d"))
    assume(x.shape[3] > 0)
    return x, w, attrs, x.size > 0 and w.size > 0


@given(data=st.data())
def test_conv2d_matches_tensorflow(data):
    x, w, attrs, grads = _tf_conv_inputs(data)
    _compare(_conv_fn(attrs), [x, w], grads=grads and attrs["dilations"] == (1, 1))


@given(data=st.data())
def test_conv2d_gradients_match_tensorflow_without_dilation(data):
    x, w, attrs, grads = _tf_conv_inputs(data)
    assume(grads)
    _compare(_conv_fn({**attrs, "dilations": (1, 1)}), [x, w])


@pytest.mark.parametrize("which", ["input", "filter", "transpose"])
@given(data=st.data())
def test_public_backprops_and_transpose_match_tensorflow(which, data):
    (x, w, _), attrs = data.draw(op_inputs("conv2d_backprop_input"))
    assume(which != "transpose" or isinstance(attrs["padding"], str))
    # undilated (TF's CPU backprop kernels refuse dilations): a smaller window still fits
    (oh, _, _), (ow, _, _) = spatial_geometry(x.shape, w.shape[:2], attrs["strides"], (1, 1),
                                              attrs["padding"])
    dy = np.random.default_rng(0).standard_normal((x.shape[0], oh, ow, w.shape[3]))
    assume(x.size > 0 and w.size > 0 and dy.size > 0)
    strides, padding = [1, *attrs["strides"], 1], _tf_padding(attrs["padding"])
    fn, arrays = {
        "input": (lambda lib, w, dy: lib.nn.conv2d_backprop_input(
            list(x.shape), w, dy, strides, padding), [w, dy]),
        "filter": (lambda lib, x, dy: lib.nn.conv2d_backprop_filter(
            x, list(w.shape), dy, strides, padding), [x, dy]),
        "transpose": (lambda lib, dy, w: lib.nn.conv2d_transpose(
            dy, w, list(x.shape), strides, padding), [dy, w]),
    }[which]
    _compare(fn, arrays)


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(data=st.data())
def test_pools_match_tensorflow(kind, data):
    (x,), attrs = data.draw(op_inputs(f"{kind}_pool"))
    assume(x.shape[3] > 0)
    _compare(_pool_fn(kind, attrs), [x])


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_max_pool_ties_route_like_tensorflow(padding):
    x = np.random.default_rng(3).integers(0, 3, size=(2, 6, 5, 3)).astype(np.float64)
    _compare(_pool_fn("max", {"ksize": (3, 2), "strides": (2, 1), "padding": padding}), [x])


@pytest.mark.parametrize("data_format", [None, "NHWC", "NCHW"])
def test_bias_add_matches_tensorflow(data_format):
    rng = np.random.default_rng(5)
    value = rng.standard_normal((2, 3, 4, 5))
    bias = rng.standard_normal(3 if data_format == "NCHW" else 5)
    _compare(lambda lib, v, b: lib.nn.bias_add(v, b, data_format=data_format), [value, bias])


def test_small_cnn_matches_tensorflow():
    rng = np.random.default_rng(6)
    x, w1, b1 = untied(rng, (3, 9, 8, 2)), rng.standard_normal((3, 3, 2, 4)), rng.standard_normal(4)
    w2 = rng.standard_normal((2, 2, 4, 3))

    def cnn(lib, x, w1, b1, w2):
        h = lib.nn.relu(lib.nn.bias_add(lib.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME"), b1))
        h = lib.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
        h = lib.nn.conv2d(h, w2, [1, 2, 1, 1], "VALID")
        return lib.nn.avg_pool(lib.tanh(h), [1, 2, 2, 1], [1, 1, 2, 1], "SAME")
    _compare(cnn, [x, w1, b1, w2])
