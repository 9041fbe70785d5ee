"""Where TensorFlow is installed: TF1 RNN cells under dynamic_rnn / bidirectional_dynamic_rnn,
run under tf.compat.v1 and under minigraph with the same weights, give the same numbers and the
same variable names and shapes."""
import numpy as np
import pytest

import minigraph as mg

CELLS = {
    "basic_rnn": lambda rc: rc.BasicRNNCell(3),
    "basic_lstm": lambda rc: rc.BasicLSTMCell(3, forget_bias=0.7),
    "lstm_full": lambda rc: rc.LSTMCell(4, use_peepholes=True, cell_clip=0.8, num_proj=3,
                                        proj_clip=0.5),
    "gru": lambda rc: rc.GRUCell(3),
    "multi": lambda rc: rc.MultiRNNCell([rc.LSTMCell(4), rc.GRUCell(2)]),
    "concat_state": lambda rc: rc.BasicLSTMCell(2, state_is_tuple=False),
}


def rnn_script(lib, rc, make_cell, bidirectional):
    """Build a TF1 RNN graph under ``lib`` (tf.compat.v1 or minigraph); returns feeds, fetches."""
    x = lib.placeholder(lib.float64, [None, None, 2])
    lengths = lib.placeholder(lib.int32, [None])
    if bidirectional:
        outputs, states = lib.nn.bidirectional_dynamic_rnn(make_cell(rc), make_cell(rc), x,
                                                           sequence_length=lengths,
                                                           dtype=lib.float64)
    else:
        outputs, states = lib.nn.dynamic_rnn(make_cell(rc), x, sequence_length=lengths,
                                             dtype=lib.float64)
    return (x, lengths), (outputs, states)


def _flat(value):
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


def _run_tensorflow(kind, bidirectional, feeds):
    tf = pytest.importorskip("tensorflow")
    rc = pytest.importorskip("tensorflow.python.keras.layers.legacy_rnn.rnn_cell_impl")

    tf1 = tf.compat.v1
    tf1.disable_eager_execution()
    with tf1.Graph().as_default():
        tf1.set_random_seed(0)
        placeholders, fetches = rnn_script(tf1, rc, CELLS[kind], bidirectional)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            weights = {v.name: sess.run(v) for v in tf1.global_variables()}
            return weights, sess.run(fetches, dict(zip(placeholders, feeds)))


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", sorted(CELLS))
def test_rnn_matches_tensorflow(kind, bidirectional):
    rng = np.random.default_rng(4)
    feeds = (rng.standard_normal((3, 5, 2)), np.array([5, 2, 4], np.int32))
    weights, theirs = _run_tensorflow(kind, bidirectional, feeds)
    placeholders, fetches = rnn_script(mg, mg.nn.rnn_cell, CELLS[kind], bidirectional)
    variables = mg.global_variables()
    assert [v.name for v in variables] == list(weights)
    sess = mg.Session()
    sess.run(mg.global_variables_initializer())
    for var in variables:
        assert var.type.shape == weights[var.name].shape
        var.load(weights[var.name], sess)
    ours = sess.run(fetches, dict(zip(placeholders, feeds)))
    for a, b in zip(_flat(ours), _flat(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
