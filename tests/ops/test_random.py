"""Random ops: shapes and dtypes, TF1 seeding across runs and sessions, bounds and statistics."""
import numpy as np
import pytest

import minigraph as mg
from minigraph.ops.random import DEFAULT_GRAPH_SEED

N = 10_000
OPS = [mg.random_normal, mg.truncated_normal, mg.random_uniform]


def _runs(t, runs):
    """``runs`` consecutive values of ``t`` in one fresh session."""
    sess = mg.Session()
    return [sess.run(t) for _ in range(runs)]


# -- shapes and dtypes ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_static_shape_and_dtype(op, dtype):
    t = op([2, 0, 3], dtype=dtype)
    assert t.get_shape() == (2, 0, 3) and t.dtype == dtype
    value = mg.Session().run(t)
    assert value.shape == (2, 0, 3) and value.dtype == dtype
    assert mg.Session().run(op([], dtype=dtype)).shape == ()


def test_default_dtype_is_float32_as_in_tf1():
    assert all(op([1]).dtype == mg.float32 for op in OPS)


def test_shape_from_an_int_vector_tensor():
    dims = mg.placeholder(mg.int32, (2,))
    t = mg.random_normal(dims)
    assert t.get_shape() == (None, None)
    assert mg.Session().run(t, {dims: [3, 5]}).shape == (3, 5)
    unknown = mg.placeholder(mg.int64, None)
    u = mg.random_uniform(unknown)
    assert u.get_shape() is None
    assert mg.Session().run(u, {unknown: [4]}).shape == (4,)


def test_shape_mixing_ints_and_scalar_tensors():
    x = mg.placeholder(mg.float32, (None, 3))
    t = mg.truncated_normal([x.shape[0], 7])
    assert t.get_shape() == (None, 7)
    assert mg.Session().run(t, {x: np.zeros((5, 3))}).shape == (5, 7)


def test_constant_shape_tensor_is_static():
    assert mg.random_normal(mg.constant([2, 3])).get_shape() == (2, 3)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="maxval must be given"):
        mg.random_uniform([2], dtype=mg.int32)
    with pytest.raises(ValueError, match="minval < maxval"):
        mg.random_uniform([2], minval=1.0, maxval=1.0)
    with pytest.raises(ValueError, match="float type"):
        mg.random_normal([2], dtype=mg.int32)
    with pytest.raises(ValueError, match="negative dimension"):
        mg.random_normal([2, -1])
    with pytest.raises(TypeError, match="Python number"):
        mg.random_normal([2], mean=mg.constant(1.0))
    dims = mg.placeholder(mg.int32, (1,))
    with pytest.raises(mg.errors.InvalidArgumentError, match="non-negative"):
        mg.Session().run(mg.random_normal(dims), {dims: [-3]})


def test_random_ops_have_no_gradient():
    dims = mg.placeholder(mg.int32, (1,))
    x = mg.placeholder(mg.float64, (3,))
    t = mg.random_normal([3], dtype=mg.float64) * x
    (g,) = mg.gradients(t, [x])
    assert g is not None
    assert mg.gradients(mg.random_normal(dims), [dims]) == [None]


# -- seeding (TF1 semantics) ---------------------------------------------------------------------


@pytest.mark.parametrize("op", OPS)
def test_graph_seed_repeats_in_new_sessions_and_advances_between_runs(op):
    mg.set_random_seed(42)
    t = op([5], seed=None)
    (a1, a2), (b1, b2) = _runs(t, 2), _runs(t, 2)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)


def test_same_graph_seed_and_construction_give_the_same_numbers_in_another_graph():
    values = []
    for _ in range(2):
        g = mg.Graph()
        with g.as_default():
            mg.set_random_seed(7)
            a, b = mg.random_normal([4]), mg.random_uniform([4])
            values.append(mg.Session(graph=g).run([a, b]))
    np.testing.assert_array_equal(values[0][0], values[1][0])
    np.testing.assert_array_equal(values[0][1], values[1][1])
    assert not np.array_equal(values[0][0], values[0][1])


def test_seed_attr_follows_tf1_rules():
    assert mg.random_normal([1]).node.attrs["seed"] is None
    assert mg.random_normal([1], seed=5).node.attrs["seed"] == (DEFAULT_GRAPH_SEED, 5)
    mg.set_random_seed(3)
    t = mg.random_normal([1])
    graph_seed, op_seed = t.node.attrs["seed"]
    assert graph_seed == 3 and op_seed == t.node.id
    assert mg.random_normal([1], seed=9).node.attrs["seed"] == (3, 9)


def test_op_seed_alone_is_reproducible():
    a = mg.random_uniform([6], seed=11)
    b = mg.random_uniform([6], seed=11)
    first, second = _runs([a, b], 1), _runs([a, b], 1)
    np.testing.assert_array_equal(first[0][0], second[0][0])
    np.testing.assert_array_equal(first[0][0], first[0][1])


def test_unseeded_ops_differ_between_sessions():
    t = mg.random_normal([20])
    assert not np.array_equal(_runs(t, 1)[0], _runs(t, 1)[0])


# -- distributions -------------------------------------------------------------------------------


def test_random_normal_statistics():
    v = mg.Session().run(mg.random_normal([N], mean=3.0, stddev=2.0, seed=1))
    assert abs(v.mean() - 3.0) < 0.1 and abs(v.std() - 2.0) < 0.1


def test_truncated_normal_bounds_and_statistics():
    v = mg.Session().run(mg.truncated_normal([N], mean=-1.0, stddev=0.5, dtype=mg.float64,
                                             seed=2))
    assert v.min() >= -2.0 and v.max() <= 0.0
    assert abs(v.mean() + 1.0) < 0.05
    assert abs(v.std() - 0.5 * 0.8796) < 0.05  # std of a normal truncated at 2 sigma


def test_random_uniform_float_range_and_statistics():
    v = mg.Session().run(mg.random_uniform([N], minval=-2.0, maxval=4.0, seed=3))
    assert v.min() >= -2.0 and v.max() < 4.0
    assert abs(v.mean() - 1.0) < 0.15 and abs(v.std() - 6 / np.sqrt(12)) < 0.1
    unit = mg.Session().run(mg.random_uniform([N], seed=4))
    assert unit.min() >= 0.0 and unit.max() < 1.0


@pytest.mark.parametrize("dtype", [mg.int32, mg.int64])
def test_random_uniform_integers_cover_a_half_open_range(dtype):
    v = mg.Session().run(mg.random_uniform([N], minval=-3, maxval=4, dtype=dtype, seed=5))
    assert v.dtype == dtype
    assert set(np.unique(v).tolist()) == set(range(-3, 4))
