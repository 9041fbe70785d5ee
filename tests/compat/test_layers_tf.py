"""mg.layers against tf.compat.v1.layers: the same variables (names, shapes) and, with the same
initial values, the same outputs."""
import os

import numpy as np
import pytest

import minigraph as mg

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
tf = pytest.importorskip("tensorflow").compat.v1
tf.disable_eager_execution()  # not disable_v2_behavior: it would switch every later
# compat test to TF1 ref variables (dtypes such as float64_ref)


def _build(lib, x_value, training):
    """A small convnet written once for both libraries' TF1 layers API."""
    x = lib.placeholder(lib.float64, [None, 6, 6, 2])
    h = lib.layers.conv2d(x, 3, 3, padding="same", activation=lib.nn.relu,
                          kernel_initializer=lib.random_uniform_initializer(-1, 1, seed=1))
    h = lib.layers.max_pooling2d(h, 2, 2)
    h = lib.layers.average_pooling2d(h, 2, 1, padding="same")
    h = lib.layers.flatten(h)
    h = lib.layers.dropout(h, 0.5, training=training)
    y = lib.layers.dense(h, 4, activation=lib.nn.tanh, name="out")
    again = lib.layers.dense(h, 4, activation=lib.nn.tanh, name="out", reuse=True)
    return x, [y, again]


def test_layers_match_tensorflow():
    x_value = np.random.default_rng(0).standard_normal((2, 6, 6, 2))
    tf_graph = tf.Graph()
    with tf_graph.as_default():
        x, outputs = _build(tf, x_value, training=False)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf_vars = {v.name: sess.run(v) for v in tf.trainable_variables()}
            tf_out = sess.run(outputs, {x: x_value})
    graph = mg.Graph()
    with graph.as_default():
        x, outputs = _build(mg, x_value, training=False)
        names = [v.name for v in mg.trainable_variables()]
        assert names == list(tf_vars)
        with mg.Session(graph=graph) as sess:
            sess.run(mg.global_variables_initializer())
            for variable in mg.trainable_variables():
                assert variable.get_shape().as_list() == list(tf_vars[variable.name].shape)
                variable.load(tf_vars[variable.name], sess)
            ours = sess.run(outputs, {x: x_value})
    for got, want in zip(ours, tf_out):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
