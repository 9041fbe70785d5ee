"""TF1 initializers: values, statistics, fan computation, seeds and errors."""
import math

import numpy as np
import pytest

import minigraph as mg
from minigraph import initializers as init


def _run(*tensors):
    with mg.Session() as sess:
        return sess.run(list(tensors)) if len(tensors) > 1 else sess.run(tensors[0])


@pytest.mark.parametrize("dtype", [mg.float64, np.float64, "float64", "double"])
def test_constant_initializers_fill_and_accept_any_dtype_spelling(dtype):
    zeros = init.zeros_initializer()([2, 3], dtype=dtype)
    ones = init.ones_initializer(dtype=dtype)([2])
    fives = init.constant_initializer(5)([2, 2], dtype=dtype)
    table = init.constant_initializer([[1, 2], [3, 4]])([2, 2], dtype=dtype)
    assert all(isinstance(t, mg.Tensor) and t.dtype == mg.float64
               for t in (zeros, ones, fives, table))
    z, o, f, t = _run(zeros, ones, fives, table)
    np.testing.assert_array_equal(z, np.zeros((2, 3)))
    np.testing.assert_array_equal(o, [1, 1])
    np.testing.assert_array_equal(f, np.full((2, 2), 5.0))
    np.testing.assert_array_equal(t, [[1, 2], [3, 4]])


def test_default_dtype_is_floatx_and_int_dtypes_work():
    assert init.zeros_initializer()([1]).dtype == mg.float32
    assert init.constant_initializer(2)([3], dtype=mg.int32).dtype == mg.int32
    assert init.random_uniform_initializer(0, 10)([50], dtype="int64").dtype == mg.int64


def test_constant_initializer_rejects_values_that_do_not_fit():
    with pytest.raises(ValueError, match=r"a value of 3 elements cannot fill shape \(2, 2\)"):
        init.constant_initializer([1, 2, 3])([2, 2])
    with pytest.raises(TypeError, match="expected shape"):
        init.constant_initializer([1, 2, 3, 4], verify_shape=True)([2, 2])
    with pytest.raises(TypeError, match="not a tensor"):
        init.constant_initializer(mg.constant(1.0))


def test_random_normal_and_uniform_statistics():
    normal = init.random_normal_initializer(mean=1.5, stddev=2.0, seed=3)([400, 500])
    uniform = init.random_uniform_initializer(-1.0, 3.0, seed=3)([400, 500])
    ints = init.random_uniform_initializer(0, 5, seed=3)([100, 100], dtype=mg.int32)
    n, u, i = _run(normal, uniform, ints)
    assert n.dtype == np.float32 and abs(n.mean() - 1.5) < 0.02 and abs(n.std() - 2.0) < 0.02
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.02
    assert abs(u.std() - 4.0 / math.sqrt(12)) < 0.01
    assert set(np.unique(i)) == {0, 1, 2, 3, 4}


def test_truncated_normal_stays_within_two_stddevs():
    values = _run(init.truncated_normal_initializer(0.5, 0.1, seed=7)([400, 500]))
    assert values.min() >= 0.5 - 0.2 - 1e-6 and values.max() <= 0.5 + 0.2 + 1e-6
    assert abs(values.std() - 0.1 * init.TRUNCATED_NORMAL_STDDEV) < 0.002


@pytest.mark.parametrize("shape, fans", [
    ([], (1, 1)), ([7], (7, 7)), ([3, 5], (3, 5)), ([3, 3, 16, 32], (144, 288)),
    ([2, 3, 4, 5, 6], (120, 144)),
])
def test_fans_count_the_receptive_field_of_conv_kernels(shape, fans):
    assert init.compute_fans(shape) == fans


@pytest.mark.parametrize("shape", [[300, 200], [3, 3, 64, 128]])
def test_glorot_uniform_limit_comes_from_the_fans(shape):
    fan_in, fan_out = init.compute_fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    values = _run(init.glorot_uniform_initializer(seed=1)(shape))
    assert np.abs(values).max() <= limit and np.abs(values).max() > 0.99 * limit
    assert abs(values.std() - limit / math.sqrt(3)) < 0.02 * limit
    assert abs(values.mean()) < 0.02 * limit


@pytest.mark.parametrize("shape", [[300, 200], [3, 3, 64, 128]])
def test_glorot_normal_stddev_comes_from_the_fans(shape):
    fan_in, fan_out = init.compute_fans(shape)
    stddev = math.sqrt(2.0 / (fan_in + fan_out))
    values = _run(init.glorot_normal_initializer(seed=2)(shape))
    assert abs(values.std() - stddev) < 0.02 * stddev
    assert np.abs(values).max() <= 2 * stddev / init.TRUNCATED_NORMAL_STDDEV + 1e-6


@pytest.mark.parametrize("mode, fan", [("fan_in", 400), ("fan_out", 250), ("fan_avg", 325)])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_scaling_gives_scale_over_fan(mode, fan, distribution):
    initializer = init.variance_scaling_initializer(2.0, mode, distribution, seed=5,
                                                    dtype=mg.float64)
    values = _run(initializer([400, 250]))
    assert values.dtype == np.float64
    assert abs(values.var() - 2.0 / fan) < 0.03 * 2.0 / fan
    if distribution == "uniform":
        assert np.abs(values).max() <= math.sqrt(6.0 / fan)


def test_named_variance_scaling_variants():
    he = init.he_normal().get_config()
    assert (he["scale"], he["mode"], he["distribution"]) == (2.0, "fan_in", "truncated_normal")
    assert init.lecun_uniform().get_config()["distribution"] == "uniform"
    assert init.he_uniform().scale == 2.0 and init.lecun_normal().scale == 1.0


def test_float_only_initializers_refuse_int_dtypes():
    with pytest.raises(ValueError, match="expected to be floating point. Received: int32"):
        init.random_normal_initializer(dtype=mg.int32)
    with pytest.raises(ValueError, match="floating point"):
        init.glorot_uniform_initializer()([2, 2], dtype="int32")


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": 0.0}, "must be a positive float"), ({"mode": "fan_max"}, "invalid `mode`"),
    ({"distribution": "cauchy"}, "invalid `distribution`"),
])
def test_variance_scaling_checks_its_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        init.variance_scaling_initializer(**kwargs)


def test_op_seeds_repeat_across_graphs_and_sessions_and_graph_seeds_apply():
    def draw(graph_seed, op_seed):
        with mg.Graph().as_default():
            if graph_seed is not None:
                mg.set_random_seed(graph_seed)
            return _run(init.random_normal_initializer(seed=op_seed)([5]))

    np.testing.assert_array_equal(draw(None, 4), draw(None, 4))
    np.testing.assert_array_equal(draw(1, None), draw(1, None))
    assert not np.array_equal(draw(None, 4), draw(None, 5))
    assert not np.array_equal(draw(1, None), draw(2, None))


def test_initializers_feed_variables_through_global_variables_initializer():
    mg.set_random_seed(0)
    w = mg.Variable(init.glorot_uniform_initializer()([4, 3]), name="w")
    b = mg.Variable(lambda: init.zeros_initializer()([3]), name="b")
    with mg.Session() as sess:
        sess.run(init.global_variables())
        first = sess.run(w)
    with mg.Session() as sess:
        sess.run(init.variables([w, b]))
        np.testing.assert_array_equal(sess.run(w), first)
        np.testing.assert_array_equal(sess.run(b), np.zeros(3))


def test_tf2_style_aliases_and_configs():
    assert init.zeros is init.zeros_initializer is init.Zeros
    assert init.glorot_uniform is init.glorot_uniform_initializer
    clone = type(init.random_uniform(-2, 2, seed=9)).from_config(
        init.random_uniform(-2, 2, seed=9).get_config())
    assert clone.get_config() == {"minval": -2, "maxval": 2, "seed": 9, "dtype": None}
    assert repr(init.ones(dtype="float64")) == "Ones(dtype='float64')"
    assert init.GlorotUniform.from_config(init.glorot_uniform(seed=3).get_config()).seed == 3


def test_identity_initializer():
    np.testing.assert_array_equal(_run(init.identity(gain=2.0)([2, 3])), 2 * np.eye(2, 3))
    with pytest.raises(ValueError, match="2-D shape"):
        init.identity()([2])
