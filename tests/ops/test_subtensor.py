"""inc_subtensor / set_subtensor: forward vs NumPy, gradients, errors, Theano and TF usage."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.testing import check_grads
from minigraph.testing.strategies import shapes

FEW = settings(max_examples=10, deadline=None)

A = np.arange(24, dtype=np.float64).reshape(4, 6) / 7.0
# (description, key) pairs; each key indexes a 4x6 array the same way in NumPy and minigraph.
KEYS = [
    ("slice step", (slice(1, None, 2),)),
    ("negative step", (slice(None, None, -1), slice(1, 4))),
    ("negative int", (-1,)),
    ("int and strided slice", (1, slice(None, None, 2))),
    ("ellipsis, newaxis", (Ellipsis, None, 0)),
    ("repeated rows", (np.array([0, 0, 2, -4]),)),
    ("two arrays repeating", (np.array([0, 0, 3]), np.array([1, 1, -1]))),
    ("slice then array", (slice(1, None), np.array([2, 2, 0]))),
    ("2-d index array", (np.array([[1, 1], [3, 0]]), slice(None, None, 3))),
    ("empty slice", (slice(3, 1),)),
]


def _run(*fetches, feed=None):
    with mg.Session() as sess:
        return sess.run(list(fetches), feed_dict=feed)


def _expected(a, key, y, mode):
    out = a.copy()
    region = out[key].shape
    if mode == "set":
        out[key] = y
    else:
        np.add.at(out, key, np.broadcast_to(y, region))
    return out


def _values_for(region_shape):
    """A full value, one broadcast along the leading axes, and a scalar."""
    full = np.linspace(-1, 1, int(np.prod(region_shape))).reshape(region_shape)
    row = np.linspace(0.5, 1.5, region_shape[-1]) if region_shape else full
    return [full, row, np.float64(2.5)]


@pytest.mark.parametrize("mode", ["inc", "set"])
@pytest.mark.parametrize("name,key", KEYS, ids=[k[0] for k in KEYS])
def test_forward_matches_numpy(name, key, mode):
    a = mg.constant(A)
    update = mg.inc_subtensor if mode == "inc" else mg.set_subtensor
    ys = _values_for(A[key].shape)
    results = _run(*(update(a[key], y) for y in ys))
    for y, got in zip(ys, results):
        np.testing.assert_allclose(got, _expected(A, key, y, mode))


@pytest.mark.parametrize("mode", ["inc", "set"])
def test_index_tensors_fed_at_run_time(mode):
    a, rows = mg.placeholder(mg.float64, (None, 6)), mg.placeholder(mg.int64, (None,))
    start, y = mg.placeholder(mg.int64, ()), mg.placeholder(mg.float64, (None, None))
    update = mg.inc_subtensor if mode == "inc" else mg.set_subtensor
    out = update(a[rows, start:], y)
    feed_rows, value = np.array([3, 1, 3]), np.ones((3, 4))
    got, = _run(out, feed={a: A, rows: feed_rows, start: 2, y: value})
    np.testing.assert_allclose(got, _expected(A, (feed_rows, slice(2, None)), value, mode))


def test_scalar_index_tensor_acts_as_an_int():
    k = mg.placeholder(mg.int32, ())
    got, = _run(mg.inc_subtensor(mg.constant(A)[k, 1:3], 1.0), feed={k: -2})
    np.testing.assert_allclose(got, _expected(A, (-2, slice(1, 3)), 1.0, "inc"))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_results_are_regions(axis):
    indices = np.array([[2, 0], [2, 2]])
    x = mg.gather(mg.constant(A), indices, axis=axis)
    key = (indices,) if axis == 0 else (slice(None), indices)
    inc, put = _run(mg.inc_subtensor(x, 0.5), mg.set_subtensor(x, -1.0))
    np.testing.assert_allclose(inc, _expected(A, key, 0.5, "inc"))
    np.testing.assert_allclose(put, _expected(A, key, -1.0, "set"))


def test_repeated_indices_accumulate_for_inc_and_last_write_wins_for_set():
    a = mg.constant(np.zeros(4))
    idx = np.array([1, 1, 1, 3])
    inc, put = _run(mg.inc_subtensor(a[idx], [1.0, 2.0, 3.0, 4.0]),
                    mg.set_subtensor(a[idx], [1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(inc, [0.0, 6.0, 0.0, 4.0])
    np.testing.assert_allclose(put, [0.0, 3.0, 0.0, 4.0])


def test_ignore_duplicates_increments_each_element_once():
    a = mg.constant(np.zeros(4))
    got, = _run(mg.inc_subtensor(a[[1, 1, 3]], [1.0, 2.0, 4.0], ignore_duplicates=True))
    expected = np.zeros(4)
    expected[[1, 1, 3]] += [1.0, 2.0, 4.0]
    np.testing.assert_allclose(got, expected)


def test_inputs_are_never_modified():
    a, y = mg.placeholder(mg.float64, (4, 6)), mg.placeholder(mg.float64, (3, 6))
    fed_a, fed_y = A.copy(), np.ones((3, 6))
    out = mg.inc_subtensor(a[[0, 0, 1]], y) + mg.set_subtensor(a[1:], y)
    _run(out, a * 1.0, feed={a: fed_a, y: fed_y})
    np.testing.assert_array_equal(fed_a, A)
    np.testing.assert_array_equal(fed_y, np.ones((3, 6)))


def test_dtypes_follow_the_indexed_tensor():
    a32 = mg.constant(A.astype(np.float32))
    assert mg.inc_subtensor(a32[0], 1.5).dtype == mg.float32
    assert mg.set_subtensor(a32[0], mg.constant(np.ones(6))).dtype == mg.float32
    counts = mg.constant(np.zeros(3, np.int64))
    got, = _run(mg.inc_subtensor(counts[[0, 0, 2]], 1))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, [2, 0, 1])


# -- gradients -------------------------------------------------------------------------------------


@st.composite
def _region_case(draw):
    """A float64 array, a key mixing a (repeating) index array and a strided slice, and a value
    broadcasting to the region."""
    shape = tuple(max(d, 1) for d in draw(shapes(2, 2, 1, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    rows = rng.integers(-shape[0], shape[0], size=draw(st.integers(1, 4)))
    step = draw(st.sampled_from([1, 2, -1]))
    key = (rows, slice(None, None, step))
    region = np.empty(shape)[key].shape
    y_shape = region[1:] if draw(st.booleans()) else (region[0], 1)
    return rng.uniform(-1, 1, shape), key, rng.uniform(-1, 1, y_shape)


@pytest.mark.parametrize("update", [mg.inc_subtensor, mg.set_subtensor])
@FEW
@given(case=_region_case())
def test_gradients_match_finite_differences(update, case):
    a, key, y = case
    check_grads(lambda a_, y_: mg.tanh(update(a_[key], y_ * y_)), [a, y], seed=0)


@pytest.mark.parametrize("update", [mg.inc_subtensor, mg.set_subtensor])
def test_second_order_gradients(update):
    rng = np.random.default_rng(1)
    a, y = rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, (3,))
    key = (np.array([2, 0, 2]), slice(None))
    check_grads(lambda a_, y_: mg.sin(update(a_[key], y_ * a_[0])), [a, y], order=2, seed=0)


def test_set_gradient_ignores_overwritten_values():
    a, y = mg.constant(np.zeros(3)), mg.constant(np.array([1.0, 2.0, 3.0]))
    out = mg.set_subtensor(a[[0, 0, 2]], y) * mg.constant(np.array([10.0, 20.0, 30.0]))
    da, dy = _run(*mg.gradients(mg.reduce_sum(out), [a, y]))
    np.testing.assert_allclose(da, [0.0, 20.0, 0.0])
    np.testing.assert_allclose(dy, [0.0, 10.0, 30.0])


# -- errors ----------------------------------------------------------------------------------------


def test_x_must_be_an_indexing_result():
    a = mg.placeholder(mg.float32, (3,), name="a")
    with pytest.raises(TypeError, match="'a:0' is the output of op 'placeholder'"):
        mg.inc_subtensor(a, 1.0)
    with pytest.raises(TypeError, match="output of op 'add'"):
        mg.set_subtensor(a[1:] + 1.0, 0.0)
    with pytest.raises(TypeError, match="got a ndarray"):
        mg.inc_subtensor(np.zeros(3), 1.0)


def test_value_must_broadcast_to_the_region():
    a = mg.placeholder(mg.float32, (4, 3))
    with pytest.raises(ValueError, match=r"shape \(2,\) does not broadcast to the indexed region "
                                         r"of shape \(2, 3\)"):
        mg.inc_subtensor(a[1:3], np.ones(2, np.float32))
    with pytest.raises(ValueError, match="does not broadcast"):
        mg.set_subtensor(a[0], np.ones((2, 3), np.float32))


def test_mismatch_found_at_run_time_is_a_clear_error():
    a, y = mg.placeholder(mg.float64, (4, 3)), mg.placeholder(mg.float64, (None,))
    out = mg.inc_subtensor(a[[0, 1]], y)
    with pytest.raises(ValueError, match="does not broadcast"):
        _run(out, feed={a: np.zeros((4, 3)), y: np.ones(2)})


def test_float_value_into_an_int_tensor_is_refused():
    counts = mg.constant(np.zeros(3, np.int64))
    with pytest.raises(TypeError, match="dtype float64 into a tensor of dtype int64"):
        mg.inc_subtensor(counts[0], 0.5)


# -- usage -----------------------------------------------------------------------------------------


def test_theano_sparse_row_update_in_function():
    W = mg.shared(np.ones((5, 3)), name="W")
    idx, g_rows = mg.lvector("idx"), mg.dmatrix("g_rows")
    lr = 0.5
    step = mg.function([idx, g_rows], W[idx].sum(),
                       updates=[(W, mg.inc_subtensor(W[idx], -lr * g_rows))])
    rows, grads = np.array([4, 1, 4]), np.arange(9.0).reshape(3, 3)
    assert step(rows, grads) == pytest.approx(9.0)
    expected = np.ones((5, 3))
    np.add.at(expected, rows, -lr * grads)
    np.testing.assert_allclose(W.get_value(), expected)


def test_embedding_gradient_step_with_theano_grad():
    E = mg.shared(np.linspace(-1, 1, 12).reshape(4, 3), name="E")
    ids = mg.lvector("ids")
    rows = E[ids]
    cost = mg.reduce_sum(rows * rows)
    g_rows = mg.grad(cost, rows)
    train = mg.function([ids], cost, updates=[(E, mg.inc_subtensor(rows, -0.1 * g_rows))])
    before = E.get_value()
    train(np.array([2, 2, 0]))
    expected = before.copy()
    np.add.at(expected, [2, 2, 0], -0.1 * 2 * before[[2, 2, 0]])
    np.testing.assert_allclose(E.get_value(), expected)


def test_tf_style_assign_in_session():
    W = mg.Variable(np.arange(6.0).reshape(3, 2), name="W")
    clear = mg.assign(W, mg.set_subtensor(W[1:], 0.0))
    bump = mg.assign(W, mg.inc_subtensor(W[:, -1], [10.0, 20.0, 30.0]))
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        sess.run(clear)
        np.testing.assert_allclose(sess.run(W), [[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
        sess.run(bump)
        np.testing.assert_allclose(sess.run(W), [[0.0, 11.0], [0.0, 20.0], [0.0, 30.0]])
