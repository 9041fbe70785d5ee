"""RNN cells make their variables with ``get_variable``: TF1's variable scopes name them and
``reuse=True`` / ``AUTO_REUSE`` share them between cells (expected names are TF1's own)."""
import os

import numpy as np
import pytest

import minigraph as mg
from minigraph.nn import rnn_cell
from minigraph.train.saver import read_checkpoint

RNG = np.random.default_rng(11)

CELLS = {
    "basic_rnn": lambda: rnn_cell.BasicRNNCell(3),
    "basic_lstm": lambda: rnn_cell.BasicLSTMCell(3),
    "lstm_full": lambda: rnn_cell.LSTMCell(4, use_peepholes=True, cell_clip=1.5, num_proj=3),
    "gru": lambda: rnn_cell.GRUCell(3),
    "multi": lambda: rnn_cell.MultiRNNCell([rnn_cell.LSTMCell(4), rnn_cell.GRUCell(2)]),
}

# the variables TF1 makes for each cell under dynamic_rnn in variable_scope("model")
TF_NAMES = {
    "basic_rnn": ["basic_rnn_cell/kernel", "basic_rnn_cell/bias"],
    "basic_lstm": ["basic_lstm_cell/kernel", "basic_lstm_cell/bias"],
    "lstm_full": [f"lstm_cell/{v}" for v in ("kernel", "bias", "w_f_diag", "w_i_diag",
                                             "w_o_diag", "projection/kernel")],
    "gru": [f"gru_cell/{v}" for v in ("gates/kernel", "gates/bias", "candidate/kernel",
                                      "candidate/bias")],
    "multi": ["multi_rnn_cell/cell_0/lstm_cell/kernel", "multi_rnn_cell/cell_0/lstm_cell/bias"]
    + [f"multi_rnn_cell/cell_1/gru_cell/{v}" for v in ("gates/kernel", "gates/bias",
                                                       "candidate/kernel", "candidate/bias")],
}


def _names(variables=None) -> list:
    return [v.name for v in (mg.global_variables() if variables is None else variables)]


def _model_rnn(kind, x, **scope_args):
    """A new ``kind`` cell run by ``dynamic_rnn`` inside ``variable_scope('model')``."""
    cell = CELLS[kind]()
    with mg.variable_scope("model", **scope_args):
        outputs, state = mg.nn.dynamic_rnn(cell, x, dtype=mg.float64)
    return cell, outputs, state


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_a_new_cell_in_a_reusing_scope_shares_the_variables(kind):
    x = mg.placeholder(mg.float64, [None, 5, 2])
    first, out1, state1 = _model_rnn(kind, x)
    want = [f"model/rnn/{n}:0" for n in TF_NAMES[kind]]
    assert _names() == want == _names(first.variables)
    second, out2, state2 = _model_rnn(kind, x, reuse=True)
    assert _names() == want
    assert all(a is b for a, b in zip(first.variables, second.variables, strict=True))
    assert _names(mg.trainable_variables()) == want
    sess = mg.Session()
    sess.run(mg.global_variables_initializer())
    xs = RNG.standard_normal((3, 5, 2))
    got1, got2 = sess.run([[out1, state1], [out2, state2]], {x: xs})
    for a, b in zip(rnn_cell.flatten(got1), rnn_cell.flatten(got2), strict=True):
        np.testing.assert_array_equal(a, b)


def test_auto_reuse_creates_once_then_shares():
    x = mg.placeholder(mg.float64, [None, 5, 2])
    runs = [_model_rnn("multi", x, reuse=mg.AUTO_REUSE) for _ in range(3)]
    assert _names() == [f"model/rnn/{n}:0" for n in TF_NAMES["multi"]]
    for cell, _, _ in runs[1:]:
        assert all(a is b for a, b in zip(runs[0][0].variables, cell.variables, strict=True))


def test_a_second_cell_without_reuse_is_disallowed():
    x = mg.placeholder(mg.float32, [None, 4, 3])
    mg.nn.dynamic_rnn(rnn_cell.BasicLSTMCell(2), x, dtype=mg.float32)
    with pytest.raises(ValueError, match="Variable rnn/basic_lstm_cell/kernel already exists, "
                                         "disallowed"):
        mg.nn.dynamic_rnn(rnn_cell.BasicLSTMCell(2), x, dtype=mg.float32)
    mg.nn.bidirectional_dynamic_rnn(rnn_cell.GRUCell(2), rnn_cell.GRUCell(2), x,
                                    dtype=mg.float32)
    with pytest.raises(ValueError, match="bidirectional_rnn/fw/gru_cell/gates/kernel already"):
        mg.nn.bidirectional_dynamic_rnn(rnn_cell.GRUCell(2), rnn_cell.GRUCell(2), x,
                                        dtype=mg.float32)


def test_reuse_errors_name_the_variable():
    x = mg.placeholder(mg.float32, [None, 4, 3])
    with pytest.raises(ValueError, match="rnn/basic_rnn_cell/kernel does not exist"):
        mg.nn.dynamic_rnn(rnn_cell.BasicRNNCell(2, reuse=True), x, dtype=mg.float32)
    with mg.variable_scope("m"):
        mg.nn.dynamic_rnn(rnn_cell.BasicLSTMCell(2), x, dtype=mg.float32)
    with pytest.raises(ValueError, match=r"share variable m/rnn/basic_lstm_cell/kernel, but "
                                         r"specified shape \(6, 12\) and found shape \(5, 8\)"):
        with mg.variable_scope("m", reuse=True):
            mg.nn.dynamic_rnn(rnn_cell.BasicLSTMCell(3), x, dtype=mg.float32)


def test_a_cell_constructed_with_reuse_shares():
    x = mg.placeholder(mg.float32, [None, 4, 3])
    first = rnn_cell.BasicRNNCell(2)
    mg.nn.dynamic_rnn(first, x, dtype=mg.float32)
    with mg.variable_scope("rnn"):
        second = rnn_cell.BasicRNNCell(2, reuse=True)
        mg.nn.dynamic_rnn(second, x, dtype=mg.float32, scope=mg.get_variable_scope())
    assert _names() == ["rnn/basic_rnn_cell/kernel:0", "rnn/basic_rnn_cell/bias:0"]
    assert all(a is b for a, b in zip(first.variables, second.variables, strict=True))


def test_scope_names_follow_tf1_layers():
    x = mg.placeholder(mg.float32, [None, 3])
    a, b = rnn_cell.BasicLSTMCell(2), rnn_cell.BasicLSTMCell(2)
    state = a.zero_state(1, mg.float32)
    a(x, state)
    b(x, state)
    a(x, state)  # the same cell keeps its scope and variables
    rnn_cell.GRUCell(2)(x, mg.zeros([1, 2]), scope="foo")
    rnn_cell.GRUCell(2, name="bar")(x, mg.zeros([1, 2]))
    rnn_cell.GRUCell(2, name="bar")(x, mg.zeros([1, 2]))
    gru = ["gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias"]
    assert _names() == [f"{s}/{v}:0" for s in ("basic_lstm_cell", "basic_lstm_cell_1")
                        for v in ("kernel", "bias")] + [
        f"{s}/{v}:0" for s in ("foo", "bar", "bar_1") for v in gru]
    assert (a.scope_name, b.scope_name) == ("basic_lstm_cell", "basic_lstm_cell_1")


def test_a_cell_keeps_its_first_scope_when_run_again_elsewhere():
    cell = rnn_cell.BasicRNNCell(2)
    x = mg.placeholder(mg.float32, [None, 4, 3])
    mg.nn.dynamic_rnn(cell, x, dtype=mg.float32)
    mg.nn.dynamic_rnn(cell, x, dtype=mg.float32, scope="other")
    assert _names() == ["rnn/basic_rnn_cell/kernel:0", "rnn/basic_rnn_cell/bias:0"]


def test_kernels_take_the_scope_initializer_and_biases_keep_theirs():
    x = mg.placeholder(mg.float64, [None, 4, 3])
    with mg.variable_scope("m", initializer=mg.constant_initializer(0.25)):
        cell = rnn_cell.GRUCell(2)
        mg.nn.dynamic_rnn(cell, x, dtype=mg.float64)
    sess = mg.Session()
    sess.run(mg.global_variables_initializer())
    gate_kernel, gate_bias, candidate_kernel, candidate_bias = sess.run(cell.variables)
    assert np.all(gate_kernel == 0.25) and np.all(candidate_kernel == 0.25)
    assert np.all(gate_bias == 1.0) and np.all(candidate_bias == 0.0)


# -- a char-RNN script: a training graph and a one-step sampling graph sharing the weights ------

TEXT = "the cat sat on the mat. the rat ate the hat. " * 4
VOCAB = sorted(set(TEXT))


def _char_model(chars, state=None, reuse=None):
    """Logits ``[batch, time, vocab]`` and final state of a GRU over one-hot ``chars``."""
    with mg.variable_scope("char_rnn", reuse=reuse):
        cell = rnn_cell.GRUCell(16)
        outputs, final = mg.nn.dynamic_rnn(cell, mg.one_hot(chars, len(VOCAB), dtype=mg.float32),
                                           initial_state=state, dtype=mg.float32)
        return mg.layers.dense(outputs, len(VOCAB), name="logits"), final


def test_char_rnn_training_and_reused_sampling_graph_share_weights(tmp_path):
    mg.set_random_seed(3)
    chars = mg.placeholder(mg.int32, [None, None])
    logits, _ = _char_model(chars)
    loss = mg.reduce_mean(mg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=chars[:, 1:], logits=logits[:, :-1]))
    train = mg.train.AdamOptimizer(0.05).minimize(loss)
    names = _names()
    one = mg.placeholder(mg.int32, [1, 1])
    state = mg.placeholder(mg.float32, [1, 16])
    sample_logits, new_state = _char_model(one, state, reuse=True)
    assert _names() == names and len(mg.trainable_variables()) == 6
    assert names[:4] == [f"char_rnn/rnn/gru_cell/{v}:0" for v in
                         ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")]
    encoded = np.array([[VOCAB.index(c) for c in TEXT[k:k + 12]] for k in range(0, 96, 8)])
    sess = mg.Session()
    sess.run(mg.global_variables_initializer())
    losses = [sess.run([loss, train], {chars: encoded})[0] for _ in range(30)]
    assert losses[-1] < 0.6 * losses[0]
    h, text, step_logits = np.zeros((1, 16), np.float32), "t", []
    for _ in range(6):
        step, h = sess.run([sample_logits, new_state], {one: [[VOCAB.index(text[-1])]], state: h})
        step_logits.append(step[0, 0])
        text += VOCAB[int(np.argmax(step[0, 0]))]
    whole = sess.run(logits, {chars: [[VOCAB.index(c) for c in text[:-1]]]})
    np.testing.assert_allclose(np.stack(step_logits), whole[0], rtol=1e-5, atol=1e-5)
    path = mg.train.Saver().save(sess, os.fspath(tmp_path / "model"), write_meta_graph=False)
    assert sorted(read_checkpoint(path)) == sorted(n[:-2] for n in names)
