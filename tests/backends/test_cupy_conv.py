"""The cupy backend's convolution and pooling kernels (``cupy_conv``) without a GPU: small CNN
training steps on the strict CuPy stand-in (the conv/pool CUDA run on the host through
``kernels.cupy.conv_harness``, GEMMs by NumPy) match the NumPy reference, also when im2col runs
in image chunks and through CUDA-graph replay; ``explain`` lists the CUDA sources; dtypes
without a kernel are refused by name.
"""
import numpy as np
import pytest

import minigraph as mg
from kernels.cupy import conv
from minigraph.backends import cupy_kernels
from minigraph.backends.cupy_kernels import MissingKernelError
from minigraph.compiler import compile_plan

from .test_cupy_backend import assert_same_training, fake_device, host_ops, needs_nvcc, train

TOLERANCE = {np.float64: (1e-9, 1e-12), np.float32: (1e-4, 1e-5)}


def _weights(rng, *shape):
    """A fixed initializer (the same weights in every session, whatever runs random ops)."""
    return mg.constant_initializer(rng.standard_normal(shape) * 0.4)


def cnn_graph(dtype=np.float64):
    """conv -> max-pool -> conv -> average-pool -> spatial mean -> dense, a GD step on sparse
    cross-entropy."""
    rng = np.random.default_rng(3)
    x = mg.placeholder(dtype, [None, 9, 8, 2], name="x")
    t = mg.placeholder(mg.int64, [None], name="t")
    h = mg.layers.conv2d(x, 4, 3, padding="same", activation=mg.nn.relu,
                         kernel_initializer=_weights(rng, 3, 3, 2, 4))
    h = mg.layers.max_pooling2d(h, 2, 2, padding="same")
    h = mg.layers.conv2d(h, 3, (2, 3), strides=(1, 2), padding="valid", activation=mg.tanh,
                         kernel_initializer=_weights(rng, 2, 3, 4, 3))
    h = mg.layers.average_pooling2d(h, 2, 1, padding="same")
    logits = mg.layers.dense(mg.reduce_mean(h, axis=[1, 2]), 3,
                             kernel_initializer=_weights(rng, 3, 3))
    loss = mg.reduce_mean(mg.nn.sparse_softmax_cross_entropy_with_logits(labels=t,
                                                                         logits=logits))
    train_op = mg.train.GradientDescentOptimizer(0.2).minimize(loss)
    feeds = {x: rng.standard_normal((5, 9, 8, 2)).astype(dtype), t: rng.integers(0, 3, 5)}
    return [loss, logits, train_op], feeds, mg.trainable_variables()


def nchw_graph():
    """``mg.nn`` ops in NCHW (transposed views around the NHWC kernels), dilation, a 1x1
    convolution (a plain GEMM) and the gradient of max-pool's gradient."""
    rng = np.random.default_rng(4)
    x = mg.placeholder(mg.float64, [None, 2, 7, 7], name="x")
    w1 = mg.Variable(rng.standard_normal((3, 3, 2, 3)) * 0.4, name="w1")
    w2 = mg.Variable(rng.standard_normal((1, 1, 3, 2)) * 0.4, name="w2")
    h = mg.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME", data_format="NCHW", dilations=[1, 1, 2, 2])
    h = mg.nn.conv2d(mg.nn.max_pool(h, [1, 1, 2, 2], [1, 1, 2, 2], "VALID", data_format="NCHW"),
                     w2, 1, "VALID", data_format="NCHW")
    loss = mg.reduce_sum(mg.square(h))
    (gx,) = mg.gradients(loss, [x])
    penalty = mg.reduce_sum(mg.square(gx))  # second order: max_pool_grad_grad and friends
    train_op = mg.train.GradientDescentOptimizer(0.01).minimize(loss + 0.1 * penalty)
    feeds = {x: rng.standard_normal((3, 2, 7, 7))}
    return [loss, penalty, train_op], feeds, [w1, w2]


@needs_nvcc
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cnn_training_on_the_stand_in_matches_the_reference(dtype):
    build = lambda: cnn_graph(dtype)  # noqa: E731
    with fake_device(fused="reference") as fake:
        before = fake.LAUNCHES["graphs"]
        want, got = train(build, "numpy"), train(build, "cupy")
        replays = fake.LAUNCHES["graphs"] - before
    assert_same_training(got, want, *TOLERANCE[dtype])
    assert replays == 2  # steps 3 and 4 replay the captured CUDA graph


@needs_nvcc
def test_nchw_dilated_and_second_order_training_matches_the_reference():
    with fake_device(fused="reference"):
        want, got = train(nchw_graph, "numpy"), train(nchw_graph, "cupy")
    assert_same_training(got, want)


@needs_nvcc
def test_im2col_in_image_chunks_matches_the_reference(monkeypatch):
    """A scratch too small for one image's im2col: one image per chunk (the filter gradient
    then adds chunks after the first)."""
    monkeypatch.setattr(conv, "SCRATCH_ELEMENTS", 8)
    with fake_device(fused="reference"):
        want, got = train(cnn_graph, "numpy"), train(cnn_graph, "cupy")
    assert_same_training(got, want)


def test_explain_lists_the_conv_and_pool_sources():
    with mg.Graph().as_default():
        fetches, feeds, _ = cnn_graph(np.float32)
        report = mg.Session(backend="numpy").explain(fetches, feeds, backend="cupy")
    assert {"mg_conv_f32", "mg_pool_f32"} <= set(report.kernels)
    assert 'extern "C" __global__ void mg_conv_im2col_f32(' in report.kernels["mg_conv_f32"]
    assert "mg_pool_max_grad_f32" in report.kernels["mg_pool_f32"]


@pytest.mark.parametrize("op", ["conv2d", "max_pool"])
def test_dtypes_without_a_kernel_are_refused_by_name(op):
    with mg.Graph().as_default():
        x = mg.placeholder(mg.float16, [1, 4, 4, 1])
        y = mg.nn.conv2d(x, np.ones((2, 2, 1, 1), np.float16), 1, "SAME") if op == "conv2d" \
            else mg.nn.max_pool(x, 2, 2, "SAME")
        with pytest.raises(MissingKernelError, match=rf"no kernel for op '{op}' on float16 "
                                                     r"\(float32 and float64 only\).*host_ops"):
            compile_plan([y], [x], "cupy").bind(((1, 4, 4, 1),))


def test_host_ops_run_dtypes_without_a_kernel_on_the_host():
    x = mg.placeholder(mg.float16, [1, 4, 4, 1])
    y = mg.nn.conv2d(x, np.ones((2, 2, 1, 1), np.float16), 1, "SAME")
    feed = {x: np.arange(16, dtype=np.float16).reshape(1, 4, 4, 1) / 8}
    cupy_kernels._WARNED.discard("conv2d")
    with fake_device(fused="reference"), host_ops(), \
            pytest.warns(RuntimeWarning, match="no kernel for op 'conv2d' on float16.*host_ops"):
        got = mg.Session(backend="cupy").run(y, feed)
    np.testing.assert_array_equal(got, mg.Session(backend="numpy").run(y, feed))
