"""mg.layers (TF1 tf.layers): variable layout and reuse, shapes, dropout's training switch, and
a small convnet that trains on digits and beats an MLP on the same budget."""
import numpy as np
import pytest

import minigraph as mg


def test_dense_creates_scoped_kernel_and_bias_and_reuses_them():
    x = mg.placeholder(mg.float32, [None, 3])
    y = mg.layers.dense(x, 4, activation=mg.nn.relu)
    z = mg.layers.dense(x, 2, use_bias=False)
    again = mg.layers.dense(x, 4, activation=mg.nn.relu, name="dense", reuse=True)
    names = [v.name for v in mg.trainable_variables()]
    assert names == ["dense/kernel:0", "dense/bias:0", "dense_1/kernel:0"]
    assert y.get_shape().as_list() == [None, 4] and z.get_shape().as_list() == [None, 2]
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        value = np.random.default_rng(0).standard_normal((5, 3))
        kernel, first, second = sess.run([mg.trainable_variables()[0], y, again], {x: value})
    np.testing.assert_allclose(first, np.maximum(value.astype(np.float32) @ kernel, 0), rtol=1e-6)
    np.testing.assert_array_equal(first, second)


def test_dense_over_the_last_axis_of_a_rank_3_input():
    x = mg.constant(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    y = mg.layers.dense(x, 5, kernel_initializer=mg.ones_initializer(),
                        bias_initializer=mg.constant_initializer(0.5))
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        got = sess.run(y)
    expected = np.arange(24, dtype=np.float32).reshape(2, 3, 4).sum(-1, keepdims=True) + 0.5
    np.testing.assert_allclose(got, np.broadcast_to(expected, (2, 3, 5)))


def test_dense_needs_a_known_last_dimension():
    with pytest.raises(ValueError, match="last dimension"):
        mg.layers.dense(mg.placeholder(mg.float32, [None, None]), 3)


def test_dropout_follows_the_training_switch():
    x = mg.ones([1000], mg.float32)
    training = mg.placeholder(mg.bool, [])
    y = mg.layers.dropout(x, rate=0.25, training=training, seed=1)
    assert mg.layers.dropout(x, 0.5) is x  # training=False: the identity
    with mg.Session() as sess:
        kept = sess.run(y, {training: True})
        np.testing.assert_array_equal(sess.run(y, {training: False}), np.ones(1000))
    assert set(np.unique(kept)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.18 < np.mean(kept == 0) < 0.32


def test_conv_pool_flatten_shapes_and_names():
    x = mg.placeholder(mg.float32, [None, 8, 8, 3])
    h = mg.layers.conv2d(x, 6, (3, 3), strides=2, padding="same")
    p = mg.layers.max_pooling2d(h, 2, 2)
    a = mg.layers.average_pooling2d(h, 2, 1, padding="valid")
    f = mg.layers.flatten(p)
    assert h.get_shape().as_list() == [None, 4, 4, 6]
    assert p.get_shape().as_list() == [None, 2, 2, 6]
    assert a.get_shape().as_list() == [None, 3, 3, 6]
    assert f.get_shape().as_list() == [None, 24]
    assert [v.name for v in mg.trainable_variables()] == ["conv2d/kernel:0", "conv2d/bias:0"]
    assert mg.trainable_variables()[0].get_shape().as_list() == [3, 3, 3, 6]
    with pytest.raises(NotImplementedError, match="channels_last"):
        mg.layers.conv2d(x, 2, 3, data_format="channels_first")


def _train_digits(kind: str, steps: int = 300, seed: int = 0):
    """(mean loss of the first and last 10 steps, test accuracy) of a small net on digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = (digits.data / 16).astype(np.float32), digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:1400], order[1400:]
    graph = mg.Graph()
    with graph.as_default():
        mg.set_random_seed(seed)
        x = mg.placeholder(mg.float32, [None, 64])
        y = mg.placeholder(mg.int64, [None])
        h = x
        if kind == "convnet":
            h = mg.reshape(x, [-1, 8, 8, 1])
            for filters in (16, 32):
                h = mg.layers.conv2d(h, filters, 3, padding="same", activation=mg.nn.relu)
                h = mg.layers.max_pooling2d(h, 2, 2)
            h = mg.layers.flatten(h)
        logits = mg.layers.dense(mg.layers.dense(h, 64, activation=mg.nn.relu), 10)
        loss = mg.reduce_mean(
            mg.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        step = mg.train.AdamOptimizer(0.003).minimize(loss)
        accuracy = mg.reduce_mean(mg.cast(mg.equal(mg.argmax(logits, 1), y), mg.float32))
        with mg.Session(graph=graph) as sess:
            sess.run(mg.global_variables_initializer())
            rng, losses = np.random.default_rng(seed), []
            for _ in range(steps):
                batch = train[rng.integers(0, len(train), 32)]
                losses.append(sess.run([loss, step], {x: images[batch], y: labels[batch]})[0])
            return (np.mean(losses[:10]), np.mean(losses[-10:]),
                    sess.run(accuracy, {x: images[test], y: labels[test]}))


def test_a_convnet_trains_on_digits_and_beats_the_mlp_on_the_same_budget():
    pytest.importorskip("sklearn")
    first, last, conv_accuracy = _train_digits("convnet")
    _, _, mlp_accuracy = _train_digits("mlp")
    assert last < first / 10, (first, last)
    assert conv_accuracy > mlp_accuracy, (conv_accuracy, mlp_accuracy)
