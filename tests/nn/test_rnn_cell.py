"""TF1 RNN cells: forward against NumPy versions of TF1's formulas, gradients of the step math,
variable creation/sharing/initialisation, zero_state, stacking and errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.nn import rnn_cell
from minigraph.nn.rnn_cell import LSTMStateTuple
from minigraph.testing import check_grads

RNG = np.random.default_rng(11)


# -- NumPy versions of TF1's rnn_cell_impl formulas ------------------------------------------------


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_basic_rnn(x, h, kernel, bias):
    return np.tanh(np.concatenate([x, h], 1) @ kernel + bias)


def np_lstm(x, c, h, kernel, bias, forget_bias=1.0, peepholes=None, cell_clip=None,
            projection=None, proj_clip=None):
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ kernel + bias, 4, axis=1)
    if peepholes is not None:
        w_f, w_i, w_o = peepholes
        f, i = f + w_f * c, i + w_i * c
    new_c = c * np_sigmoid(f + forget_bias) + np_sigmoid(i) * np.tanh(j)
    if cell_clip is not None:
        new_c = np.clip(new_c, -cell_clip, cell_clip)
    if peepholes is not None:
        o = o + w_o * new_c
    new_h = np.tanh(new_c) * np_sigmoid(o)
    if projection is not None:
        new_h = new_h @ projection
        if proj_clip is not None:
            new_h = np.clip(new_h, -proj_clip, proj_clip)
    return new_c, new_h


def np_gru(x, h, gate_kernel, gate_bias, candidate_kernel, candidate_bias):
    r, u = np.split(np_sigmoid(np.concatenate([x, h], 1) @ gate_kernel + gate_bias), 2, axis=1)
    candidate = np.tanh(np.concatenate([x, r * h], 1) @ candidate_kernel + candidate_bias)
    return u * h + (1 - u) * candidate


# -- helpers ---------------------------------------------------------------------------------------


def _session_with_random_weights(cell, seed=0):
    """An initialised session in which every cell variable got fresh N(0, 0.5) values."""
    sess = mg.Session()
    sess.run(mg.global_variables_initializer())
    rng = np.random.default_rng(seed)
    weights = []
    for var in cell.variables:
        value = 0.5 * rng.standard_normal(var.type.shape)
        var.load(value, sess)
        weights.append(value)
    return sess, weights


def _unroll(cell, xs, state):
    """Outputs and final state of ``cell`` called once per time step in a Python loop."""
    outputs = []
    for x in xs:
        output, state = cell(x, state)
        outputs.append(output)
    return outputs, state


# -- forward against NumPy -------------------------------------------------------------------------


def test_basic_rnn_cell_unrolled_matches_numpy():
    batch, depth, units, steps = 3, 4, 5, 6
    xs_value = RNG.standard_normal((steps, batch, depth))
    xs = [mg.constant(v) for v in xs_value]
    cell = rnn_cell.BasicRNNCell(units)
    outputs, final = _unroll(cell, xs, cell.zero_state(batch, mg.float64))
    sess, (kernel, bias) = _session_with_random_weights(cell)
    got = sess.run(outputs + [final])
    h = np.zeros((batch, units))
    for t in range(steps):
        h = np_basic_rnn(xs_value[t], h, kernel, bias)
        np.testing.assert_allclose(got[t], h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[-1], h, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("forget_bias", [1.0, 0.0, 2.5])
def test_basic_lstm_cell_matches_numpy(forget_bias):
    x, c, h = (RNG.standard_normal((4, k)) for k in (3, 5, 5))
    cell = rnn_cell.BasicLSTMCell(5, forget_bias=forget_bias)
    output, state = cell(mg.constant(x), LSTMStateTuple(mg.constant(c), mg.constant(h)))
    assert isinstance(state, LSTMStateTuple) and output is state.h
    sess, (kernel, bias) = _session_with_random_weights(cell)
    got_c, got_h = sess.run([state.c, state.h])
    want_c, want_h = np_lstm(x, c, h, kernel, bias, forget_bias)
    np.testing.assert_allclose(got_c, want_c, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("peepholes, cell_clip, num_proj, proj_clip", [
    (False, None, None, None), (True, None, None, None), (False, 0.3, None, None),
    (False, None, 2, None), (True, 0.5, 3, 0.2)])
def test_lstm_cell_options_match_numpy(peepholes, cell_clip, num_proj, proj_clip):
    units = 4
    x, c, h = (RNG.standard_normal((3, k)) for k in (2, units, num_proj or units))
    cell = rnn_cell.LSTMCell(units, use_peepholes=peepholes, cell_clip=cell_clip,
                             num_proj=num_proj, proj_clip=proj_clip, forget_bias=0.5)
    assert cell.output_size == (num_proj or units)
    assert cell.state_size == LSTMStateTuple(units, num_proj or units)
    output, state = cell(mg.constant(x), LSTMStateTuple(mg.constant(c), mg.constant(h)))
    sess, weights = _session_with_random_weights(cell)
    kernel, bias, rest = weights[0], weights[1], weights[2:]
    peeps = tuple(rest[:3]) if peepholes else None
    projection = rest[-1] if num_proj else None
    want_c, want_h = np_lstm(x, c, h, kernel, bias, 0.5, peeps, cell_clip, projection, proj_clip)
    got_output, got_c, got_h = sess.run([output, state.c, state.h])
    np.testing.assert_allclose(got_c, want_c, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(got_output, got_h)
    if cell_clip is not None:
        assert np.abs(got_c).max() <= cell_clip


def test_gru_cell_matches_numpy():
    x, h = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 4))
    cell = rnn_cell.GRUCell(4)
    output, state = cell(mg.constant(x), mg.constant(h))
    assert output is state
    sess, weights = _session_with_random_weights(cell)
    np.testing.assert_allclose(sess.run(output), np_gru(x, h, *weights), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell_class", [rnn_cell.BasicLSTMCell, rnn_cell.LSTMCell])
def test_lstm_concatenated_state_equals_the_tuple_state(cell_class):
    x, c, h = (RNG.standard_normal((2, k)) for k in (3, 4, 4))
    tuple_cell = cell_class(4)
    flat_cell = cell_class(4, state_is_tuple=False)
    assert flat_cell.state_size == 8
    out_t, state_t = tuple_cell(mg.constant(x), LSTMStateTuple(mg.constant(c), mg.constant(h)))
    out_f, state_f = flat_cell(mg.constant(x), mg.constant(np.concatenate([c, h], 1)))
    sess, weights = _session_with_random_weights(tuple_cell)
    for var, value in zip(flat_cell.variables, weights):
        var.load(value, sess)
    got = sess.run([out_t, state_t.c, state_t.h, out_f, state_f])
    np.testing.assert_allclose(got[3], got[0], rtol=1e-12)
    np.testing.assert_allclose(got[4], np.concatenate([got[1], got[2]], 1), rtol=1e-12)


def test_multi_rnn_cell_of_lstms_matches_numpy():
    units = [4, 3]
    x = RNG.standard_normal((2, 5))
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(n) for n in units])
    assert cell.state_size == (LSTMStateTuple(4, 4), LSTMStateTuple(3, 3))
    assert cell.output_size == 3
    state = cell.zero_state(2, mg.float64)
    outputs, final = _unroll(cell, [mg.constant(x)] * 3, state)
    sess, (k0, b0, k1, b1) = _session_with_random_weights(cell)
    got = sess.run([outputs[-1], final])
    states = [(np.zeros((2, n)), np.zeros((2, n))) for n in units]
    for _ in range(3):
        layer_input = x
        for layer, (kernel, bias) in enumerate([(k0, b0), (k1, b1)]):
            states[layer] = np_lstm(layer_input, *states[layer], kernel, bias)
            layer_input = states[layer][1]
    np.testing.assert_allclose(got[0], layer_input, rtol=1e-10, atol=1e-12)
    for got_state, want_state in zip(got[1], states):
        np.testing.assert_allclose(got_state.c, want_state[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got_state.h, want_state[1], rtol=1e-10, atol=1e-12)


def test_multi_rnn_cell_with_a_concatenated_state():
    cells = [rnn_cell.GRUCell(3), rnn_cell.BasicRNNCell(2)]
    cell = rnn_cell.MultiRNNCell(cells, state_is_tuple=False)
    assert cell.state_size == 5
    x = RNG.standard_normal((4, 2))
    state = RNG.standard_normal((4, 5))
    output, new_state = cell(mg.constant(x), mg.constant(state))
    sess, weights = _session_with_random_weights(cell)
    h0 = np_gru(x, state[:, :3], *weights[:4])
    h1 = np_basic_rnn(h0, state[:, 3:], *weights[4:])
    got_output, got_state = sess.run([output, new_state])
    np.testing.assert_allclose(got_output, h1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_state, np.concatenate([h0, h1], 1), rtol=1e-10, atol=1e-12)


def test_activation_can_be_a_callable_or_a_name():
    x, h = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 2))
    by_fn = rnn_cell.BasicRNNCell(2, activation=mg.nn.relu)
    by_name = rnn_cell.BasicRNNCell(2, activation="relu")
    out_fn, _ = by_fn(mg.constant(x), mg.constant(h))
    out_name, _ = by_name(mg.constant(x), mg.constant(h))
    sess, (kernel, bias) = _session_with_random_weights(by_fn)
    for var, value in zip(by_name.variables, (kernel, bias)):
        var.load(value, sess)
    want = np.maximum(np.concatenate([x, h], 1) @ kernel + bias, 0)
    for got in sess.run([out_fn, out_name]):
        np.testing.assert_allclose(got, want, rtol=1e-12)


# -- gradients of the step math --------------------------------------------------------------------

sizes = st.integers(1, 3)


def _arrays(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [0.7 * rng.standard_normal(shape) for shape in shapes]


@settings(max_examples=4)
@given(sizes, sizes, sizes, st.integers(0, 2**16))
def test_basic_rnn_step_gradients(batch, depth, units, seed):
    args = _arrays(seed, (batch, depth), (batch, units), (depth + units, units), (units,))
    check_grads(rnn_cell.basic_rnn_step, args, seed=seed)


@settings(max_examples=4)
@given(sizes, sizes, sizes, st.booleans(), st.integers(0, 2**16))
def test_lstm_step_gradients(batch, depth, units, options, seed):
    proj = units + 1
    shapes = [(batch, depth), (batch, units), (batch, proj if options else units),
              (depth + (proj if options else units), 4 * units), (4 * units,)]
    if options:
        shapes += [(units,)] * 3 + [(units, proj)]

    def step(x, c, h, kernel, bias, *extra):
        peepholes = tuple(extra[:3]) if extra else None
        projection = extra[3] if extra else None
        return rnn_cell.lstm_step(x, c, h, kernel, bias, 0.7, peepholes=peepholes,
                                  projection=projection)

    check_grads(step, _arrays(seed, *shapes), seed=seed)


@settings(max_examples=4)
@given(sizes, sizes, sizes, st.integers(0, 2**16))
def test_gru_step_gradients(batch, depth, units, seed):
    args = _arrays(seed, (batch, depth), (batch, units), (depth + units, 2 * units),
                   (2 * units,), (depth + units, units), (units,))
    check_grads(rnn_cell.gru_step, args, seed=seed)


def test_gradients_through_25_unrolled_lstm_steps():
    steps, batch, depth, units = 25, 2, 2, 3

    def unrolled(xs, kernel, bias):
        c = h = mg.zeros([batch, units], mg.float64)
        total = []
        for t in range(steps):
            c, h = rnn_cell.lstm_step(xs[t], c, h, kernel, bias)
            total.append(h)
        return mg.stack(total)

    args = _arrays(3, (steps, batch, depth), (depth + units, 4 * units), (4 * units,))
    check_grads(unrolled, args, seed=0)


def test_gradients_through_20_unrolled_gru_cell_calls_reach_the_shared_weights():
    steps = 20
    x = mg.constant(RNG.standard_normal((steps, 2, 3)))
    cell = rnn_cell.GRUCell(3)
    outputs, final = _unroll(cell, [x[t] for t in range(steps)], cell.zero_state(2, mg.float64))
    loss = mg.reduce_sum(mg.square(final))
    grads = mg.gradients(loss, cell.variables)
    assert len(cell.variables) == 4 and all(g is not None for g in grads)
    sess, weights = _session_with_random_weights(cell)
    got = sess.run(grads)

    def np_loss(ws):
        h = np.zeros((2, 3))
        xs = sess.run(x)
        for t in range(steps):
            h = np_gru(xs[t], h, *ws)
        return np.sum(h ** 2)

    eps = 1e-6
    for k, (w, g) in enumerate(zip(weights, got)):
        direction = np.random.default_rng(k).standard_normal(w.shape)
        plus = [v + eps * direction if i == k else v for i, v in enumerate(weights)]
        minus = [v - eps * direction if i == k else v for i, v in enumerate(weights)]
        numeric = (np_loss(plus) - np_loss(minus)) / (2 * eps)
        np.testing.assert_allclose(np.sum(g * direction), numeric, rtol=1e-5, atol=1e-8)


# -- variables: creation, names, sharing, initialisation -------------------------------------------


def test_variables_are_created_once_and_shared_by_every_call():
    cell = rnn_cell.BasicLSTMCell(4)
    x = mg.placeholder(mg.float32, [None, 3])
    assert not cell.built and cell.variables == []
    _unroll(cell, [x] * 20, cell.zero_state(mg.shape(x)[0], mg.float32))
    assert len(mg.global_variables()) == 2 == len(mg.trainable_variables())
    kernel, bias = cell.variables
    assert kernel.name == "basic_lstm_cell/kernel:0" and kernel.type.shape == (7, 16)
    assert bias.name == "basic_lstm_cell/bias:0" and bias.type.shape == (16,)
    assert kernel.dtype == np.float32


@pytest.mark.parametrize("cell, names", [
    (rnn_cell.BasicRNNCell(2), ["basic_rnn_cell/kernel", "basic_rnn_cell/bias"]),
    (rnn_cell.GRUCell(2), ["gru_cell/gates/kernel", "gru_cell/gates/bias",
                           "gru_cell/candidate/kernel", "gru_cell/candidate/bias"]),
    (rnn_cell.LSTMCell(2, use_peepholes=True, num_proj=1, name="enc"),
     ["enc/kernel", "enc/bias", "enc/w_f_diag", "enc/w_i_diag", "enc/w_o_diag",
      "enc/projection/kernel"]),
    (rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(2), rnn_cell.BasicLSTMCell(2)]),
     [f"multi_rnn_cell/cell_{k}/basic_lstm_cell/{v}" for k in (0, 1) for v in ("kernel", "bias")]),
])
def test_variable_names_follow_tf1(cell, names):
    cell(mg.zeros([1, 3]), cell.zero_state(1, mg.float32))
    assert [v.name for v in cell.variables] == [n + ":0" for n in names]
    assert [v.name for v in mg.global_variables()] == [n + ":0" for n in names]


def test_initial_values_follow_tf1_defaults_and_the_graph_seed():
    def initial_weights(seed):
        graph = mg.Graph()
        with graph.as_default():
            mg.set_random_seed(seed)
            cell = rnn_cell.GRUCell(30)
            cell(mg.zeros([1, 20], mg.float64), mg.zeros([1, 30], mg.float64))
            sess = mg.Session(graph=graph)
            sess.run(mg.global_variables_initializer())
            return sess.run(cell.variables)

    gate_kernel, gate_bias, candidate_kernel, candidate_bias = initial_weights(1)
    limit = np.sqrt(6 / (50 + 60))
    assert np.abs(gate_kernel).max() <= limit and np.abs(gate_kernel).max() > 0.9 * limit
    assert abs(gate_kernel.mean()) < 0.05 and gate_kernel.dtype == np.float64
    assert np.abs(candidate_kernel).max() <= np.sqrt(6 / (50 + 30))
    np.testing.assert_array_equal(gate_bias, np.ones(60))
    np.testing.assert_array_equal(candidate_bias, np.zeros(30))
    again = initial_weights(1)
    np.testing.assert_array_equal(again[0], gate_kernel)
    assert not np.array_equal(initial_weights(2)[0], gate_kernel)


def test_custom_initializers_are_called_with_shape_and_dtype():
    seen = []

    def initializer(shape, dtype=None):
        seen.append((tuple(shape), dtype))
        return np.full(shape, 0.25, dtype)

    cell = rnn_cell.GRUCell(2, kernel_initializer=initializer,
                            bias_initializer=rnn_cell.constant_initializer(-1.0))
    cell(mg.zeros([1, 3]), mg.zeros([1, 2]))
    sess = mg.Session()
    sess.run(mg.global_variables_initializer())
    values = sess.run(cell.variables)
    assert seen == [((5, 4), np.float32), ((5, 2), np.float32)]
    np.testing.assert_array_equal(values[0], np.full((5, 4), 0.25))
    np.testing.assert_array_equal(values[1], -np.ones(4))


# -- zero_state ------------------------------------------------------------------------------------


def test_zero_state_structures_and_shapes():
    lstm = rnn_cell.BasicLSTMCell(3)
    state = lstm.zero_state(2, mg.float32)
    assert isinstance(state, LSTMStateTuple) and state.dtype == np.float32
    stacked = rnn_cell.MultiRNNCell([lstm, rnn_cell.GRUCell(4)]).zero_state(2, mg.float64)
    assert isinstance(stacked[0], LSTMStateTuple) and stacked[1].type.shape == (2, 4)
    got = mg.Session().run([state, stacked])
    np.testing.assert_array_equal(got[0].c, np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(got[1][1], np.zeros((2, 4)))


def test_zero_state_with_a_batch_size_tensor():
    x = mg.placeholder(mg.float64, [None, 5])
    state = rnn_cell.LSTMCell(3, num_proj=2).zero_state(mg.shape(x)[0], mg.float64)
    assert state.c.type.shape == (None, 3) and state.h.type.shape == (None, 2)
    got = mg.Session().run(state, {x: np.ones((7, 5))})
    assert got.c.shape == (7, 3) and got.h.shape == (7, 2)
    flat = rnn_cell.BasicLSTMCell(3, state_is_tuple=False).zero_state(4, mg.float32)
    assert flat.type.shape == (4, 6)


# -- errors ----------------------------------------------------------------------------------------


def test_errors_are_clear():
    cell = rnn_cell.BasicRNNCell(2)
    with pytest.raises(ValueError, match="floating point"):
        cell(mg.zeros([1, 3], mg.int32), mg.zeros([1, 2], mg.int32))
    with pytest.raises(ValueError, match=r"inputs.shape\[-1\] to be known"):
        rnn_cell.BasicRNNCell(2)(mg.placeholder(mg.float32, [1, None]), mg.zeros([1, 2]))
    cell(mg.zeros([1, 3]), mg.zeros([1, 2]))
    with pytest.raises(ValueError, match="built for inputs of depth 3 and now gets depth 4"):
        cell(mg.zeros([1, 4]), mg.zeros([1, 2]))
    with pytest.raises(ValueError, match="at least one cell"):
        rnn_cell.MultiRNNCell([])
    with pytest.raises(ValueError, match="state_is_tuple"):
        rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(2)], state_is_tuple=False)
    with pytest.raises(NotImplementedError, match="num_unit_shards"):
        rnn_cell.LSTMCell(2, num_unit_shards=2)
