"""Where TensorFlow (tf.compat.v1) or PyTensor is installed (the optional `compat` extra), run the
same script under it and under minigraph and compare the numbers."""
import numpy as np
import pytest

import minigraph as mg

OPTIMIZERS = {
    "sgd": lambda lib: lib.train.GradientDescentOptimizer(0.1),
    "momentum": lambda lib: lib.train.MomentumOptimizer(0.1, 0.9),
    "nesterov": lambda lib: lib.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
    "adagrad": lambda lib: lib.train.AdagradOptimizer(0.1),
    "rmsprop": lambda lib: lib.train.RMSPropOptimizer(0.01),
    "rmsprop_centered": lambda lib: lib.train.RMSPropOptimizer(0.01, momentum=0.5, centered=True),
    "adam": lambda lib: lib.train.AdamOptimizer(0.01),
}


def tf1_script(lib, make_optimizer, steps=5):
    """A TF1 regression script written once and run under `lib` (tf.compat.v1 or minigraph)."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    lib.reset_default_graph()
    x = lib.placeholder(lib.float64, [None, 3])
    y = lib.placeholder(lib.float64, [None, 2])
    W = lib.Variable(rng.standard_normal((3, 2)))
    b = lib.Variable(np.zeros(2))
    pred = lib.nn.softmax(lib.matmul(x, W) + b)
    loss = lib.reduce_mean(lib.square(pred - y)) + 0.01 * lib.nn.l2_loss(W)
    train = make_optimizer(lib).minimize(loss)
    history = []
    with lib.Session() as sess:
        sess.run(lib.global_variables_initializer())
        for _ in range(steps):
            _, value = sess.run([train, loss], {x: X, y: Y})
            history.append((value, sess.run(W)))
    return history


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_tf1_script_matches_tensorflow(name):
    tf = pytest.importorskip("tensorflow")
    tf1 = tf.compat.v1
    tf1.disable_eager_execution()
    theirs = tf1_script(tf1, OPTIMIZERS[name])
    ours = tf1_script(mg, OPTIMIZERS[name])
    for (loss_a, w_a), (loss_b, w_b) in zip(theirs, ours):
        np.testing.assert_allclose(loss_b, loss_a, rtol=1e-9)
        np.testing.assert_allclose(w_b, w_a, rtol=1e-9, atol=1e-12)


def theano_script(th, T, steps=5):
    """A Theano MLP training script written once and run under PyTensor or minigraph."""
    rng = np.random.default_rng(1)
    X, labels = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
    x, t = T.dmatrix("x"), T.ivector("t")
    W1 = th.shared(rng.standard_normal((4, 5)) * 0.5, name="W1")
    W2 = th.shared(rng.standard_normal((5, 3)) * 0.5, name="W2")
    h = T.tanh(T.dot(x, W1))
    o = T.exp(T.dot(h, W2))
    p = o / o.sum(axis=1, keepdims=True)
    cost = -T.log(p[T.arange(t.shape[0]), t]).mean()
    grads = th.grad(cost, [W1, W2])
    step = th.function([x, t], cost, updates=[(w, w - 0.5 * g) for w, g in zip([W1, W2], grads)])
    return [(step(X, labels.astype("int32")), W1.get_value()) for _ in range(steps)]


def test_theano_script_matches_pytensor():
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt

    theirs = theano_script(pytensor, pt)
    ours = theano_script(mg, mg)
    for (cost_a, w_a), (cost_b, w_b) in zip(theirs, ours):
        np.testing.assert_allclose(cost_b, cost_a, rtol=1e-9)
        np.testing.assert_allclose(w_b, w_a, rtol=1e-9)
