"""Device random numbers and device-safe references of the cupy backend.

Without a GPU the run path goes through ``fake_cupy`` (its random generator is NumPy's, so a
seeded op draws the CPU backends' numbers there); with one (marker ``gpu``) the statistics
are checked on the device. Also: the stand-in's allowlist refuses NumPy functions CuPy lacks.
"""
import numpy as np
import pytest

import minigraph as mg
from minigraph.backends import cupy_device, cupy_kernels
from minigraph.compiler import compile_plan

from . import fake_cupy
from .test_cupy_backend import assert_same_training, fake_device, train

GPU = cupy_device.unavailable_reason() is None
DEVICES = ["stand-in", pytest.param("gpu", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not GPU, reason="no GPU")])]
RANDOM_OPS = ("random_normal", "random_uniform", "truncated_normal", "multinomial")


@pytest.fixture(params=DEVICES)
def device(request):
    """Run the cupy backend on the stand-in (or on the GPU where there is one)."""
    if request.param == "gpu":
        yield None
        return
    with fake_device(fused="reference") as fake:
        yield fake


@pytest.fixture
def fake_gpu():
    with fake_device(fused="reference") as fake:
        yield fake


def _sess():
    return mg.Session(backend="cupy")


# -- random numbers on the device ------------------------------------------------------------


def test_device_samples_have_their_distributions(device):
    n = 40000
    normal = mg.random_normal([n], mean=1.5, stddev=2.0, dtype=mg.float64)
    uniform = mg.random_uniform([n], minval=-1.0, maxval=3.0, dtype=mg.float32)
    truncated = mg.truncated_normal([n], mean=-1.0, stddev=0.5, dtype=mg.float64)
    ints = mg.random_uniform([n], minval=-2, maxval=5, dtype=mg.int32)
    got = _sess().run([normal, uniform, truncated, ints])
    assert [g.dtype for g in got] == [np.float64, np.float32, np.float64, np.int32]
    x, u, t, i = got
    assert abs(x.mean() - 1.5) < 0.05 and abs(x.std() - 2.0) < 0.05
    assert u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.03 and abs(u.std() - 4 / 12 ** 0.5) < 0.03
    # a standard normal truncated at two standard deviations has std 0.8796
    assert np.all(np.abs(t + 1.0) <= 1.0) and abs(t.mean() + 1.0) < 0.01
    assert abs(t.std() - 0.5 * 0.8796) < 0.01
    assert set(np.unique(i)) == set(range(-2, 5))


def test_device_multinomial_follows_the_softmax(device):
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 1.0]]))
    logits[1, 2] = -np.inf
    draws = _sess().run(mg.multinomial(logits, 20000, seed=4))
    assert draws.shape == (2, 20000) and draws.dtype == np.int64
    np.testing.assert_allclose(np.bincount(draws[0], minlength=3) / 20000, [0.1, 0.2, 0.7],
                               atol=0.015)
    assert not np.any(draws[1] == 2)  # an impossible class


def test_seeded_ops_repeat_per_session_and_draw_afresh_per_run(device):
    mg.set_random_seed(7)
    x = mg.random_normal([5], dtype=mg.float64)
    y = mg.random_uniform([5], seed=3)
    first, second = _sess(), _sess()
    runs = [first.run([x, y]) for _ in range(3)]
    np.testing.assert_array_equal(second.run([x, y])[0], runs[0][0])
    np.testing.assert_array_equal(second.run([x, y])[1], runs[1][1])
    assert not np.array_equal(runs[0][0], runs[1][0])
    assert not np.array_equal(runs[1][1], runs[2][1])


def test_unseeded_ops_differ_between_sessions(device):
    x = mg.random_normal([8])
    assert not np.array_equal(_sess().run(x), _sess().run(x))


def test_the_stand_in_draws_the_seeded_numbers_of_the_cpu(fake_gpu):
    mg.set_random_seed(11)
    ops = [mg.random_normal([4]), mg.truncated_normal([2, 3], dtype=mg.float64),
           mg.random_uniform([3], maxval=9, dtype=mg.int64),
           mg.multinomial(np.zeros((2, 5)), 6)]
    for got, want in zip(_sess().run(ops), mg.Session(backend="numpy").run(ops)):
        np.testing.assert_array_equal(got, want)


def test_random_ops_are_not_captured_into_a_cuda_graph(fake_gpu):
    v = mg.Variable(np.zeros(3), name="v")
    step = mg.assign_add(v, mg.random_normal([3], dtype=mg.float64, seed=5))
    sess = _sess()
    sess.run(v.initializer)
    start = fake_gpu.LAUNCHES["graphs"]
    values = [sess.run(step).copy() for _ in range(5)]
    assert fake_gpu.LAUNCHES["graphs"] == start  # every step ran eagerly
    assert len({tuple(np.round(np.diff(values, axis=0)[k], 12)) for k in range(4)}) == 4
    for name in RANDOM_OPS:
        assert cupy_kernels.KERNELS[name] is cupy_kernels._uncaptured
    plan = compile_plan([step], [], "cupy")
    bound = plan.bind(())
    assert not bound.capturable
    assert not [k for n, k in bound.kernels.items()
                if n.op == "random_normal" and getattr(k, "capturable", False)]


def test_functions_outside_sessions_continue_their_streams(fake_gpu):
    x = mg.random_normal([4], seed=2)
    draw = mg.function([], x, backend="cupy")
    first, second = draw(), draw()
    assert not np.array_equal(first, second)
    third = draw()
    assert not np.array_equal(second, third)
    host = mg.function([], x, backend="numpy")  # the host stream of the same seed
    np.testing.assert_array_equal(host(), first)


def _dropout_mlp():
    """An MLP trained with dropout on its hidden layer (seeded)."""
    rng = np.random.default_rng(3)
    mg.set_random_seed(5)
    x = mg.placeholder(mg.float64, [None, 5], name="x")
    t = mg.placeholder(mg.int64, [None], name="t")
    w1 = mg.Variable(rng.standard_normal((5, 8)) * 0.5, name="w1")
    w2 = mg.Variable(rng.standard_normal((8, 3)) * 0.5, name="w2")
    hidden = mg.nn.dropout(mg.nn.relu(mg.matmul(x, w1)), keep_prob=0.6)
    loss = mg.reduce_mean(mg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=t, logits=mg.matmul(hidden, w2)))
    train_op = mg.train.GradientDescentOptimizer(0.3).minimize(loss)
    feeds = {x: rng.standard_normal((16, 5)), t: rng.integers(0, 3, 16)}
    return [loss, train_op], feeds, [w1, w2]


def test_dropout_training_on_the_stand_in_matches_the_reference(fake_gpu):
    start = fake_gpu.LAUNCHES["graphs"]
    got = train(_dropout_mlp, "cupy", steps=5)
    assert fake_gpu.LAUNCHES["graphs"] == start  # dropout's mask is drawn eagerly
    want = train(_dropout_mlp, "numpy", steps=5)
    assert_same_training(got, want)
    losses = [float(run[0]) for run in got[0]]
    assert len(set(losses)) == 5


# -- device-safe references --------------------------------------------------------------------


def test_ops_sized_by_device_values_are_not_captured(fake_gpu):
    n = mg.placeholder(mg.int32, [])
    lengths = mg.placeholder(mg.int64, [None])
    static = mg.sequence_mask(lengths, maxlen=4)
    dynamic = mg.sequence_mask(lengths)
    filled = mg.fill(mg.stack([n, 2]), 1.5)
    feeds = {n: np.int32(3), lengths: np.array([0, 2, 3])}
    plan = compile_plan([static, dynamic, filled], list(feeds), "cupy")
    bound = plan.bind(((), (3,)))
    flags = {node.op + ("" if node.attrs.get("maxlen") is None else "4"):
             getattr(k, "capturable", False) for node, k in bound.kernels.items()
             if node.op in ("sequence_mask", "fill")}
    assert flags == {"sequence_mask4": True, "sequence_mask": False, "fill": False}
    for got, want in zip(_sess().run([static, dynamic, filled], feeds),
                         mg.Session(backend="numpy").run([static, dynamic, filled], feeds)):
        np.testing.assert_array_equal(got, want)


def test_range_runs_on_the_host_by_design(fake_gpu):
    limit = mg.placeholder(mg.int64, [])
    r = mg.range(2, limit, 3)
    np.testing.assert_array_equal(_sess().run(r, {limit: 11}), [2, 5, 8])
    assert "range" in cupy_kernels.HOST_OPS


# -- the stand-in's allowlist ------------------------------------------------------------------


def test_the_stand_in_refuses_numpy_functions_cupy_lacks():
    a = fake_cupy.array(np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match=r"CuPy has no numpy\.result_type"):
        np.result_type(a)
    with pytest.raises(TypeError, match=r"CuPy has no numpy\.multiply\.at"):
        np.multiply.at(a, fake_cupy.array(np.array([0])), 2.0)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    np.testing.assert_array_equal(np.linalg.det(a[:, :2]).get(), np.linalg.det(
        np.arange(6.0).reshape(2, 3)[:, :2]))
    np.add.at(a, fake_cupy.array(np.array([0, 0])), 1.0)
    np.testing.assert_array_equal(a.get()[0], [2.0, 3.0, 4.0])
