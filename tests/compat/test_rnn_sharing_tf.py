"""Where TensorFlow is installed: RNN cells under tf.compat.v1 variable scopes and under minigraph
make the same variables, share them in the same cases and refuse the same ones."""
import numpy as np
import pytest

import minigraph as mg


def _twice_without_scope(lib, rc, x):
    lib.nn.dynamic_rnn(rc.BasicLSTMCell(2), x(), dtype=lib.float32)
    lib.nn.dynamic_rnn(rc.BasicLSTMCell(2), x(), dtype=lib.float32)


def _reuse_rnn_scope_around_dynamic_rnn(lib, rc, x):
    """dynamic_rnn opens its own 'rnn' below: the reusing scope looks for rnn/rnn/..."""
    lib.nn.dynamic_rnn(rc.BasicLSTMCell(2), x(), dtype=lib.float32)
    with lib.variable_scope("rnn", reuse=True):
        lib.nn.dynamic_rnn(rc.BasicLSTMCell(2), x(), dtype=lib.float32)


def _reuse_outer_scope(lib, rc, x):
    with lib.variable_scope("model"):
        lib.nn.dynamic_rnn(rc.GRUCell(2), x(), dtype=lib.float32)
    with lib.variable_scope("model", reuse=True):
        lib.nn.dynamic_rnn(rc.GRUCell(2), x(), dtype=lib.float32)


def _auto_reuse_multi(lib, rc, x):
    for _ in range(2):
        with lib.variable_scope("m", reuse=lib.AUTO_REUSE):
            cells = [rc.LSTMCell(2, use_peepholes=True, num_proj=1), rc.GRUCell(2)]
            lib.nn.dynamic_rnn(rc.MultiRNNCell(cells), x(), dtype=lib.float32)


def _reusing_cell(lib, rc, x):
    lib.nn.dynamic_rnn(rc.BasicRNNCell(2), x(), dtype=lib.float32)
    with lib.variable_scope("rnn"):
        lib.nn.dynamic_rnn(rc.BasicRNNCell(2, reuse=True), x(), dtype=lib.float32,
                           scope=lib.get_variable_scope())


def _reusing_cell_without_variables(lib, rc, x):
    lib.nn.dynamic_rnn(rc.BasicRNNCell(2, reuse=True), x(), dtype=lib.float32)


def _direct_calls(lib, rc, x):
    inputs = lib.placeholder(lib.float32, [None, 3])
    first, second = rc.BasicLSTMCell(2), rc.BasicLSTMCell(2)
    state = first.zero_state(1, lib.float32)
    first(inputs, state)
    second(inputs, state)
    rc.GRUCell(2)(inputs, lib.zeros([1, 2]), scope="foo")
    rc.GRUCell(2, name="bar")(inputs, lib.zeros([1, 2]))
    rc.GRUCell(2, name="bar")(inputs, lib.zeros([1, 2]))


def _shape_mismatch(lib, rc, x):
    with lib.variable_scope("m"):
        lib.nn.dynamic_rnn(rc.BasicLSTMCell(2), x(), dtype=lib.float32)
    with lib.variable_scope("m", reuse=True):
        lib.nn.dynamic_rnn(rc.BasicLSTMCell(3), x(), dtype=lib.float32)


def _bidirectional_reuse(lib, rc, x):
    lib.nn.bidirectional_dynamic_rnn(rc.GRUCell(2), rc.BasicLSTMCell(2), x(), dtype=lib.float32)
    with lib.variable_scope(lib.get_variable_scope(), reuse=True):
        lib.nn.bidirectional_dynamic_rnn(rc.GRUCell(2), rc.BasicLSTMCell(2), x(),
                                         dtype=lib.float32)


def _bidirectional_twice(lib, rc, x):
    lib.nn.bidirectional_dynamic_rnn(rc.GRUCell(2), rc.GRUCell(2), x(), dtype=lib.float32)
    lib.nn.bidirectional_dynamic_rnn(rc.GRUCell(2), rc.GRUCell(2), x(), dtype=lib.float32)


def _same_cell_in_two_scopes(lib, rc, x):
    cell = rc.BasicRNNCell(2)
    lib.nn.dynamic_rnn(cell, x(), dtype=lib.float32)
    lib.nn.dynamic_rnn(cell, x(), dtype=lib.float32, scope="other")


SCENARIOS = [_twice_without_scope, _reuse_rnn_scope_around_dynamic_rnn, _reuse_outer_scope,
             _auto_reuse_multi, _reusing_cell, _reusing_cell_without_variables, _direct_calls,
             _shape_mismatch, _bidirectional_reuse, _bidirectional_twice,
             _same_cell_in_two_scopes]


def _outcome(lib, rc, scenario):
    """The variables' names and shapes, or the error's type and first sentence."""
    with lib.Graph().as_default():
        try:
            scenario(lib, rc, lambda: lib.placeholder(lib.float32, [None, 4, 3]))
        except ValueError as err:
            return "ValueError: " + str(err).split(". ")[0]
        return [(v.name, tuple(v.get_shape().as_list())) for v in lib.global_variables()]


def _tensorflow():
    tf = pytest.importorskip("tensorflow")
    rc = pytest.importorskip("tensorflow.python.keras.layers.legacy_rnn.rnn_cell_impl")
    tf.compat.v1.disable_eager_execution()
    return tf.compat.v1, rc


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__.strip("_"))
def test_sharing_matches_tensorflow(scenario):
    tf1, rc = _tensorflow()
    assert _outcome(mg, mg.nn.rnn_cell, scenario) == _outcome(tf1, rc, scenario)


def _initial_values(lib, rc):
    with lib.Graph().as_default():
        with lib.variable_scope("m", initializer=lib.constant_initializer(0.25)):
            lib.nn.dynamic_rnn(rc.LSTMCell(2, use_peepholes=True, num_proj=1),
                               lib.placeholder(lib.float64, [None, 4, 3]), dtype=lib.float64)
        with lib.Session() as sess:
            sess.run(lib.global_variables_initializer())
            return {v.name: sess.run(v) for v in lib.global_variables()}


def test_cell_variables_take_the_scope_initializer_like_tensorflow():
    tf1, rc = _tensorflow()
    theirs, ours = _initial_values(tf1, rc), _initial_values(mg, mg.nn.rnn_cell)
    assert list(ours) == list(theirs)
    for name, value in theirs.items():
        np.testing.assert_array_equal(ours[name], value)
