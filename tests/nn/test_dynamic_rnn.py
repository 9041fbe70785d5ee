"""dynamic_rnn / bidirectional_dynamic_rnn / reverse_sequence: values against NumPy loops over
TF1's cell formulas, sequence_length masking, nested states, variables and gradients."""
import numpy as np
import pytest

import minigraph as mg
from minigraph.nn import rnn_cell
from minigraph.nn.rnn_cell import LSTMStateTuple
from minigraph.testing import check_grads

from .test_rnn_cell import np_basic_rnn, np_gru, np_lstm

RNG = np.random.default_rng(23)


def np_dynamic_rnn(step, xs, state, lengths=None):
    """TF1's dynamic_rnn in NumPy: ``step(x, state) -> (output, state)`` (states are tuples)."""
    batch, steps = xs.shape[:2]
    lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
    outputs = []
    for t in range(steps):
        output, new_state = step(xs[:, t], state)
        inside = (t < lengths)[:, None]
        outputs.append(np.where(inside, output, 0.0))
        state = tuple(np.where(inside, new, old) for new, old in zip(new_state, state))
    return np.stack(outputs, 1), state


def np_steps(kind, weights):
    """A NumPy step function for the cell ``kind`` with the given weights (states as tuples)."""
    if kind == "basic_rnn":
        return lambda x, s: (lambda h: (h, (h,)))(np_basic_rnn(x, s[0], *weights))
    if kind == "gru":
        return lambda x, s: (lambda h: (h, (h,)))(np_gru(x, s[0], *weights))
    return lambda x, s: (lambda c_h: (c_h[1], c_h))(np_lstm(x, s[0], s[1], *weights))


CELLS = {
    "basic_rnn": lambda: rnn_cell.BasicRNNCell(4),
    "gru": lambda: rnn_cell.GRUCell(4),
    "basic_lstm": lambda: rnn_cell.BasicLSTMCell(4),
    "lstm": lambda: rnn_cell.LSTMCell(4),
}


def _load_random_weights(sess, variables, seed=0):
    rng = np.random.default_rng(seed)
    values = [0.5 * rng.standard_normal(v.type.shape) for v in variables]
    for var, value in zip(variables, values):
        var.load(value, sess)
    return values


def _initialised_session():
    sess = mg.Session()
    sess.run(mg.global_variables_initializer())
    return sess


def _as_tuple(state):
    return tuple(state) if isinstance(state, tuple) else (state,)


# -- dynamic_rnn against NumPy ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("time_major", [False, True])
def test_dynamic_rnn_matches_a_numpy_loop(kind, time_major):
    xs = RNG.standard_normal((3, 6, 2))
    cell = CELLS[kind]()
    fed = xs.transpose(1, 0, 2) if time_major else xs
    x = mg.placeholder(mg.float64, [None, None, 2])
    outputs, state = mg.nn.dynamic_rnn(cell, x, dtype=mg.float64, time_major=time_major)
    sess = _initialised_session()
    weights = _load_random_weights(sess, cell.variables)
    got_outputs, got_state = sess.run([outputs, state], {x: fed})
    zero = tuple(np.zeros((3, 4)) for _ in _as_tuple(cell.state_size))
    want_outputs, want_state = np_dynamic_rnn(np_steps(kind, weights), xs, zero)
    if time_major:
        got_outputs = got_outputs.transpose(1, 0, 2)
    np.testing.assert_allclose(got_outputs, want_outputs, rtol=1e-10, atol=1e-12)
    for got, want in zip(_as_tuple(got_state), want_state):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_sequence_length_zeroes_outputs_and_freezes_the_state():
    xs = RNG.standard_normal((4, 5, 3))
    lengths = np.array([5, 2, 0, 3], np.int32)
    cell = rnn_cell.BasicLSTMCell(3)
    x = mg.placeholder(mg.float64, [None, 5, 3])
    length = mg.placeholder(mg.int32, [None])
    initial = LSTMStateTuple(*(mg.constant(RNG.standard_normal((4, 3))) for _ in range(2)))
    outputs, state = mg.nn.dynamic_rnn(cell, x, sequence_length=length, initial_state=initial)
    assert isinstance(state, LSTMStateTuple)
    sess = _initialised_session()
    weights = _load_random_weights(sess, cell.variables)
    got_outputs, got_state, initial_value = sess.run([outputs, state, initial],
                                                     {x: xs, length: lengths})
    want_outputs, want_state = np_dynamic_rnn(np_steps("lstm", weights), xs,
                                              tuple(initial_value), lengths)
    np.testing.assert_allclose(got_outputs, want_outputs, rtol=1e-10, atol=1e-12)
    assert not got_outputs[1, 2:].any() and not got_outputs[2].any()
    np.testing.assert_array_equal(got_state.c[2], initial_value.c[2])
    for got, want in zip(got_state, want_state):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_multi_rnn_cell_of_lstms_through_dynamic_rnn():
    xs = RNG.standard_normal((2, 7, 3))
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(4), rnn_cell.BasicLSTMCell(2)])
    outputs, state = mg.nn.dynamic_rnn(cell, mg.constant(xs), sequence_length=[7, 4],
                                       dtype=mg.float64)
    assert outputs.type.shape == (2, 7, 2)
    assert isinstance(state, tuple) and all(isinstance(s, LSTMStateTuple) for s in state)
    sess = _initialised_session()
    k0, b0, k1, b1 = _load_random_weights(sess, cell.variables)

    def step(x, s):
        c0, h0 = np_lstm(x, s[0], s[1], k0, b0)
        c1, h1 = np_lstm(h0, s[2], s[3], k1, b1)
        return h1, (c0, h0, c1, h1)

    zero = (np.zeros((2, 4)),) * 2 + (np.zeros((2, 2)),) * 2
    want_outputs, want_state = np_dynamic_rnn(step, xs, zero, [7, 4])
    got_outputs, got_state = sess.run([outputs, state])
    np.testing.assert_allclose(got_outputs, want_outputs, rtol=1e-10, atol=1e-12)
    got_flat = [got_state[0].c, got_state[0].h, got_state[1].c, got_state[1].h]
    for got, want in zip(got_flat, want_state):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_variables_are_named_and_shared_like_tf1():
    cell = rnn_cell.GRUCell(3)
    x = mg.placeholder(mg.float32, [None, None, 2])
    mg.nn.dynamic_rnn(cell, x, dtype=mg.float32)
    names = [v.name for v in mg.global_variables()]
    assert names == [f"rnn/gru_cell/{part}:0" for part in
                     ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")]
    mg.nn.dynamic_rnn(cell, x, dtype=mg.float32)  # a second run reuses the cell's variables
    assert len(mg.global_variables()) == 4
    mg.nn.dynamic_rnn(rnn_cell.BasicLSTMCell(2), x, dtype=mg.float32, scope="encoder")
    assert [v.name for v in mg.global_variables()][4:] == [
        "encoder/basic_lstm_cell/kernel:0", "encoder/basic_lstm_cell/bias:0"]


# -- bidirectional ---------------------------------------------------------------------------------


def test_bidirectional_dynamic_rnn_matches_numpy():
    xs = RNG.standard_normal((3, 5, 2))
    lengths = np.array([5, 3, 1])
    cell_fw, cell_bw = rnn_cell.BasicLSTMCell(3), rnn_cell.GRUCell(2)
    x = mg.placeholder(mg.float64, [None, None, 2])
    (out_fw, out_bw), (state_fw, state_bw) = mg.nn.bidirectional_dynamic_rnn(
        cell_fw, cell_bw, x, sequence_length=lengths, dtype=mg.float64)
    names = [v.name for v in mg.global_variables()]
    assert names[0] == "bidirectional_rnn/fw/basic_lstm_cell/kernel:0"
    assert names[2] == "bidirectional_rnn/bw/gru_cell/gates/kernel:0"
    sess = _initialised_session()
    w_fw = _load_random_weights(sess, cell_fw.variables, seed=1)
    w_bw = _load_random_weights(sess, cell_bw.variables, seed=2)
    got = sess.run([out_fw, out_bw, state_fw, state_bw], {x: xs})
    want_fw, want_state_fw = np_dynamic_rnn(np_steps("lstm", w_fw), xs,
                                            (np.zeros((3, 3)),) * 2, lengths)
    flipped = np.stack([np.concatenate([xs[b, :n][::-1], xs[b, n:]]) for b, n in
                        enumerate(lengths)])
    want_bw_flipped, want_state_bw = np_dynamic_rnn(np_steps("gru", w_bw), flipped,
                                                    (np.zeros((3, 2)),), lengths)
    want_bw = np.stack([np.concatenate([want_bw_flipped[b, :n][::-1], want_bw_flipped[b, n:]])
                        for b, n in enumerate(lengths)])
    np.testing.assert_allclose(got[0], want_fw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], want_bw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[2].h, want_state_fw[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[3], want_state_bw[0], rtol=1e-10, atol=1e-12)
    # The backward output at t=0 has read each whole sequence: it equals the final bw state.
    np.testing.assert_allclose(got[1][:, 0], got[3], rtol=1e-12)


def test_bidirectional_time_major_without_lengths():
    xs = RNG.standard_normal((4, 2, 3))  # [time, batch, depth]
    cell_fw, cell_bw = rnn_cell.BasicRNNCell(2), rnn_cell.BasicRNNCell(2)
    (out_fw, out_bw), (state_fw, state_bw) = mg.nn.bidirectional_dynamic_rnn(
        cell_fw, cell_bw, mg.constant(xs), dtype=mg.float64, time_major=True)
    sess = _initialised_session()
    w_fw = _load_random_weights(sess, cell_fw.variables, seed=3)
    w_bw = _load_random_weights(sess, cell_bw.variables, seed=4)
    got = sess.run([out_fw, out_bw, state_fw, state_bw])
    batch_major = xs.transpose(1, 0, 2)
    want_fw, _ = np_dynamic_rnn(np_steps("basic_rnn", w_fw), batch_major, (np.zeros((2, 2)),))
    want_bw, (last_bw,) = np_dynamic_rnn(np_steps("basic_rnn", w_bw), batch_major[:, ::-1],
                                         (np.zeros((2, 2)),))
    np.testing.assert_allclose(got[0], want_fw.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], want_bw[:, ::-1].transpose(1, 0, 2), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(got[3], last_bw, rtol=1e-10, atol=1e-12)


# -- reverse_sequence ------------------------------------------------------------------------------


@pytest.mark.parametrize("seq_axis, batch_axis", [(1, 0), (0, 1), (2, 0)])
def test_reverse_sequence_matches_numpy(seq_axis, batch_axis):
    shape = [3, 4, 5]
    shape[seq_axis], shape[batch_axis] = 6, 3
    x = RNG.standard_normal(shape)
    lengths = np.array([6, 0, 2])
    got = mg.Session().run(mg.nn.reverse_sequence(x, lengths, seq_axis, batch_axis))
    moved = np.moveaxis(x, (batch_axis, seq_axis), (0, 1)).copy()
    for b, n in enumerate(lengths):
        moved[b, :n] = moved[b, :n][::-1]
    np.testing.assert_array_equal(got, np.moveaxis(moved, (0, 1), (batch_axis, seq_axis)))


def test_reverse_sequence_gradient():
    lengths = np.array([3, 1, 4])
    check_grads(lambda x: mg.nn.reverse_sequence(x, lengths, seq_axis=1),
                [RNG.standard_normal((3, 4, 2))], seed=0)


# -- gradients -------------------------------------------------------------------------------------


class TensorLSTMCell(rnn_cell.RNNCell):
    """An LSTM whose weights are given tensors (so check_grads can perturb them)."""

    def __init__(self, kernel, bias):
        super().__init__()
        self._weights = (kernel, bias)
        self._units = bias.type.shape[0] // 4

    @property
    def state_size(self):
        return LSTMStateTuple(self._units, self._units)

    @property
    def output_size(self):
        return self._units

    def call(self, inputs, state):
        c, h = rnn_cell.lstm_step(inputs, state.c, state.h, *self._weights)
        return h, LSTMStateTuple(c, h)


def test_gradients_through_24_steps_of_dynamic_rnn_match_finite_differences():
    steps, batch, depth, units = 24, 2, 2, 2

    def run(xs, c0, kernel, bias):
        cell = TensorLSTMCell(kernel, bias)
        outputs, state = mg.nn.dynamic_rnn(cell, xs, sequence_length=[steps, steps - 5],
                                           initial_state=LSTMStateTuple(c0, mg.tanh(c0)))
        return outputs, state.c

    args = [0.8 * RNG.standard_normal(shape) for shape in
            [(batch, steps, depth), (batch, units), (depth + units, 4 * units), (4 * units,)]]
    check_grads(run, args, seed=1)


def test_dynamic_rnn_and_the_unrolled_loop_agree_on_values_and_gradients():
    steps = 21
    xs = RNG.standard_normal((2, steps, 3))
    cell = rnn_cell.GRUCell(3)
    x = mg.constant(xs)
    outputs, state = mg.nn.dynamic_rnn(cell, x, dtype=mg.float64)
    h = cell.zero_state(2, mg.float64)
    unrolled = []
    for t in range(steps):
        output, h = cell(x[:, t], h)
        unrolled.append(output)
    assert len(mg.global_variables()) == 4
    loss_scan = mg.reduce_sum(outputs * np.cos(np.arange(steps))[:, None])
    loss_loop = mg.reduce_sum(mg.stack(unrolled, 1) * np.cos(np.arange(steps))[:, None])
    grads_scan = mg.gradients(loss_scan, cell.variables + [x])
    grads_loop = mg.gradients(loss_loop, cell.variables + [x])
    sess = _initialised_session()
    _load_random_weights(sess, cell.variables)
    got = sess.run([outputs, mg.stack(unrolled, 1), state, h, grads_scan, grads_loop])
    np.testing.assert_allclose(got[0], got[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[2], got[3], rtol=1e-12, atol=1e-14)
    for a, b in zip(got[4], got[5]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# -- errors ----------------------------------------------------------------------------------------


def test_errors_are_clear():
    cell = rnn_cell.BasicRNNCell(2)
    x = mg.placeholder(mg.float32, [None, 4, 3])
    with pytest.raises(ValueError, match="must give a dtype"):
        mg.nn.dynamic_rnn(cell, x)
    with pytest.raises(ValueError, match="rank >= 3"):
        mg.nn.dynamic_rnn(cell, mg.placeholder(mg.float32, [None, 3]), dtype=mg.float32)
    with pytest.raises(ValueError, match="integer vector"):
        mg.nn.dynamic_rnn(cell, x, sequence_length=[[1, 2]], dtype=mg.float32)
    with pytest.raises(ValueError, match="3 entries for a batch of 2"):
        mg.nn.dynamic_rnn(cell, mg.zeros([2, 4, 3]), sequence_length=[1, 2, 3],
                          dtype=mg.float32)
    with pytest.raises(ValueError, match="seq_axis and batch_axis"):
        mg.nn.reverse_sequence(mg.zeros([2, 3]), [1, 2], seq_axis=0, batch_axis=0)


def test_a_cell_called_inside_scan_creates_its_variables_once():
    xs = RNG.standard_normal((6, 2, 3))
    cell = rnn_cell.BasicRNNCell(2)
    outputs, _ = mg.scan(lambda x, h: cell(x, h)[0], sequences=mg.constant(xs),
                         outputs_info=mg.zeros([2, 2], mg.float64))
    assert [v.name for v in mg.global_variables()] == ["basic_rnn_cell/kernel:0",
                                                       "basic_rnn_cell/bias:0"]
    sess = _initialised_session()
    weights = _load_random_weights(sess, cell.variables)
    want, _ = np_dynamic_rnn(np_steps("basic_rnn", weights), xs.transpose(1, 0, 2),
                             (np.zeros((2, 2)),))
    np.testing.assert_allclose(sess.run(outputs), want.transpose(1, 0, 2), rtol=1e-10,
                               atol=1e-12)
