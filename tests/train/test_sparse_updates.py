"""Sparse (IndexedSlices) gradients: embedding_lookup's gradient, every optimizer's row update
against its dense update restricted to the touched rows (TF1), and the scatter state ops."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.testing import check_grads

VOCAB, DIM = 6, 3

OPTIMIZERS = {
    "sgd": lambda: mg.train.GradientDescentOptimizer(0.3),
    "momentum": lambda: mg.train.MomentumOptimizer(0.2, 0.9),
    "nesterov": lambda: mg.train.MomentumOptimizer(0.2, 0.9, use_nesterov=True),
    "adagrad": lambda: mg.train.AdagradOptimizer(0.4),
    "rmsprop": lambda: mg.train.RMSPropOptimizer(0.05, momentum=0.5),
    "centered": lambda: mg.train.RMSPropOptimizer(0.05, momentum=0.5, centered=True),
    "adam": lambda: mg.train.AdamOptimizer(0.1),
}


def _model(make_optimizer, sparse: bool):
    """A loss over looked-up rows and the update applying its (sparse or densified) gradient."""
    table = mg.Variable(np.linspace(-1, 1, VOCAB * DIM).reshape(VOCAB, DIM), name="table")
    ids = mg.placeholder(mg.int64, [None])
    weights = mg.placeholder(mg.float64, [None, DIM])
    rows = mg.nn.embedding_lookup(table, ids)
    loss = mg.reduce_sum(weights * rows * rows + weights * rows)
    optimizer = make_optimizer()
    grad, = mg.gradients(loss, [table])
    assert isinstance(grad, mg.IndexedSlices)
    if not sparse:
        grad = mg.convert_to_tensor(grad)
    train = optimizer.apply_gradients([(grad, table)])
    state = [table] + [optimizer.get_slot(table, n) for n in optimizer.get_slot_names()]
    return ids, weights, train, state


def _steps(rng, count):
    for _ in range(count):
        ids = rng.integers(0, VOCAB, size=rng.integers(1, 5))
        yield ids, rng.standard_normal((len(ids), DIM))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_sparse_update_is_the_dense_update_on_touched_rows(name):
    """Each step from the same state: touched rows of the variable and its slots match the
    dense update, untouched rows keep their values (Adam: everything matches, as in TF1)."""
    graphs = {}
    for sparse in (True, False):
        graph = mg.Graph()
        with graph.as_default():
            parts = _model(OPTIMIZERS[name], sparse)
            sess = mg.Session(graph=graph)
            sess.run(mg.global_variables_initializer())
        graphs[sparse] = (parts, sess)
    rng = np.random.default_rng(7)
    for ids, weights in _steps(rng, 4):
        (s_ids, s_w, s_train, s_state), s_sess = graphs[True]
        (d_ids, d_w, d_train, d_state), d_sess = graphs[False]
        before = s_sess.run(s_state)
        for var, value in zip(d_state, before):
            var.load(value, d_sess)
        s_sess.run(s_train, {s_ids: ids, s_w: weights})
        d_sess.run(d_train, {d_ids: ids, d_w: weights})
        touched = np.zeros(VOCAB, bool)
        touched[ids] = True
        for old, got, dense in zip(before, s_sess.run(s_state), d_sess.run(d_state)):
            if name == "adam" or old.shape != (VOCAB, DIM):
                np.testing.assert_allclose(got, dense, rtol=1e-12, atol=1e-12)
                continue
            np.testing.assert_allclose(got[touched], dense[touched], rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(got[~touched], old[~touched])


def test_sparse_update_runs_as_row_writes():
    """The sparse update writes only rows in place (no full-table copy in the plan)."""
    ids, weights, train, _ = _model(OPTIMIZERS["rmsprop"], sparse=True)
    sess = mg.Session()
    sess.run(mg.global_variables_initializer())
    report = sess.explain(train, {ids: [1, 2, 2], weights: np.ones((3, DIM))})
    text = str(report)
    assert text.count("rows in place: scatter_update") == 3, text


@settings(deadline=None)
@given(ids=st.lists(st.integers(0, VOCAB - 1), min_size=1, max_size=6),
       seed=st.integers(0, 2**16))
def test_embedding_lookup_gradient_with_repeated_ids(ids, seed):
    ids = np.array(ids)
    weights = np.random.default_rng(seed).standard_normal((len(ids), DIM))
    table = np.random.default_rng(seed + 1).standard_normal((VOCAB, DIM))
    check_grads(lambda t: mg.reduce_sum(mg.sin(mg.nn.embedding_lookup(t, ids)) * weights),
                [table])


def test_embedding_lookup_shapes_max_norm_and_fetch_of_slices():
    table = mg.constant(np.arange(12.0).reshape(4, 3))
    ids = mg.constant(np.array([[0, 3], [3, 3]]))
    rows = mg.nn.embedding_lookup([table], ids, max_norm=1.0)
    grad, = mg.gradients(mg.reduce_sum(rows), [table])
    with mg.Session() as sess:
        got, slices, dense = sess.run([rows, grad, mg.convert_to_tensor(grad)])
    plain = np.arange(12.0).reshape(4, 3)[[[0, 3], [3, 3]]]
    norms = np.linalg.norm(plain, axis=-1, keepdims=True)
    np.testing.assert_allclose(got, plain / np.maximum(norms, 1.0))
    assert isinstance(slices, mg.IndexedSlicesValue)
    np.testing.assert_array_equal(slices.indices, [0, 3, 3, 3])
    np.testing.assert_array_equal(slices.dense_shape, [4, 3])
    assert slices.values.shape == (4, 3)
    np.testing.assert_allclose(dense.sum(axis=1)[[1, 2]], 0.0)
    with pytest.raises(NotImplementedError, match="sharded"):
        mg.nn.embedding_lookup([table, table], ids)


def test_sparse_and_dense_contributions_add_up():
    table = mg.constant(np.ones((4, 2)))
    ids = mg.constant(np.array([1, 1]))
    both, = mg.gradients(mg.reduce_sum(mg.gather(table, ids)) + mg.reduce_sum(table * 2), [table])
    two, = mg.gradients(mg.reduce_sum(mg.gather(table, ids)) + mg.reduce_sum(mg.gather(table, [2])),
                        [table])
    assert isinstance(two, mg.IndexedSlices) and not isinstance(both, mg.IndexedSlices)
    with mg.Session() as sess:
        dense_both, dense_two = sess.run([both, mg.convert_to_tensor(two)])
    np.testing.assert_allclose(dense_both[:, 0], [2, 4, 2, 2])
    np.testing.assert_allclose(dense_two[:, 0], [0, 2, 1, 0])
    assert mg.grad(mg.reduce_sum(mg.gather(table, ids)), table).shape == (4, 2)


def test_clip_by_global_norm_keeps_slices_sparse():
    table = mg.constant(np.ones((4, 2)))
    grad, = mg.gradients(mg.reduce_sum(mg.gather(table, [0, 0, 3]) * 3.0), [table])
    (clipped,), norm = mg.clip_by_global_norm([grad], 1.0)
    assert isinstance(clipped, mg.IndexedSlices)
    with mg.Session() as sess:
        values, got_norm = sess.run([clipped.values, norm])
    np.testing.assert_allclose(got_norm, np.sqrt(6 * 9.0))
    np.testing.assert_allclose(values, np.full((3, 2), 3.0 / np.sqrt(54.0)))


def test_scatter_ops_update_rows_and_return_the_new_value():
    var = mg.Variable(np.arange(8.0).reshape(4, 2), name="v")
    ids = mg.placeholder(mg.int64, [None])
    rows = mg.placeholder(mg.float64, [None, 2])
    add, sub, put = (mg.scatter_add(var, ids, rows), mg.scatter_sub(var, ids, rows),
                     mg.scatter_update(var, ids, rows))
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        expected = np.arange(8.0).reshape(4, 2)
        new = sess.run(add, {ids: [1, 1, 3], rows: np.ones((3, 2))})
        np.add.at(expected, [1, 1, 3], 1.0)
        np.testing.assert_array_equal(new, expected)
        np.testing.assert_array_equal(sess.run(var), expected)
        old, _ = sess.run([var, sub], {ids: [0], rows: [[5.0, 5.0]]})
        np.testing.assert_array_equal(old, expected)  # reads see the pre-run value
        expected[0] -= 5.0
        sess.run(put, {ids: [2], rows: [[9.0, 9.0]]})
        expected[2] = 9.0
        np.testing.assert_array_equal(sess.run(var), expected)


def test_bad_scatter_fails_the_whole_run():
    """An out-of-range row or misfit update is reported before any write lands."""
    var = mg.Variable(np.zeros((3, 2)), name="v")
    other = mg.Variable(np.zeros(2), name="w")
    ids = mg.placeholder(mg.int64, [None])
    step = mg.group(mg.assign(other, [1.0, 1.0]), mg.scatter_add(var, ids, mg.ones([2, 2],
                                                                                  mg.float64)))
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        with pytest.raises(mg.errors.InvalidArgumentError, match="out of range.*shape \\(3, 2\\)"):
            sess.run(step, {ids: [0, 5]})
        with pytest.raises(mg.errors.InvalidArgumentError, match="do not fit"):
            sess.run(step, {ids: [0, 1, 2]})
        np.testing.assert_array_equal(sess.run(other), [0.0, 0.0])
        np.testing.assert_array_equal(sess.run(var), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="do not fit"):
        mg.scatter_update(var, [0, 1], np.ones((3, 2)))
    with pytest.raises(TypeError, match="not a variable"):
        mg.scatter_add(mg.constant(np.zeros((3, 2))), [0], np.ones((1, 2)))


def test_unique_and_unsorted_segment_sum():
    x = mg.constant(np.array([4, 1, 4, 7, 1]))
    y, idx = mg.unique(x)
    summed = mg.unsorted_segment_sum(mg.constant(np.arange(5.0)), idx, mg.size(y))
    with mg.Session() as sess:
        got_y, got_idx, got_sum = sess.run([y, idx, summed])
    np.testing.assert_array_equal(got_y, [4, 1, 7])
    np.testing.assert_array_equal(got_idx, [0, 1, 0, 2, 1])
    np.testing.assert_array_equal(got_sum, [2.0, 5.0, 3.0])


def test_scatter_add_broadcasts_updates_over_rows_of_a_2d_index():
    var = mg.Variable(np.zeros((3, 2)), name="v")
    add = mg.scatter_add(var, [[0, 0], [2, 2]], np.array([1.0, 10.0]))
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        sess.run(add)
        np.testing.assert_array_equal(sess.run(var), [[2.0, 20.0], [0.0, 0.0], [2.0, 20.0]])
