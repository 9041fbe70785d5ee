"""Loops and branches on the cupy backend, without a GPU (the strict stand-in ``fake_cupy``):
a scan RNN, ``cond`` and ``while_loop`` train to the reference's numbers, their arrays stay on
the device, and each scan step is a replayed CUDA graph. The loop and branch suites run whole
on the stand-in too: ``pytest --backend cupy-standin tests/ops/test_scan.py
tests/ops/test_control_flow.py`` (CI does)."""
import numpy as np
import pytest

import minigraph as mg
from minigraph.backends.cupy_runtime import body_sources

from . import fake_cupy
from .standin import fake_device
from .test_cupy_backend import assert_compiles, lowered_sources, needs_nvcc


@pytest.fixture
def fake_gpu():
    with fake_device(fused="reference") as fake:
        yield fake


def _rnn_step():
    """A tanh RNN over a fed sequence trained by GD: (fetches, feeds, variables)."""
    rng = np.random.default_rng(0)
    x, h0 = mg.placeholder(mg.float64, [None, 2, 3]), mg.placeholder(mg.float64, [2, 3])
    w = mg.Variable(rng.standard_normal((3, 3)) * 0.5, name="w")
    hs, _ = mg.scan(lambda x_t, h: mg.tanh(x_t + mg.matmul(h, w)), sequences=x,
                    outputs_info=h0)
    loss = mg.reduce_sum(hs[-1] ** 2)
    train = mg.train.GradientDescentOptimizer(0.1).minimize(loss)
    feeds = {x: rng.standard_normal((6, 2, 3)), h0: rng.standard_normal((2, 3))}
    return [loss, hs, train], feeds, [w]


def _branchy_step():
    """``cond`` and ``while_loop`` with gradients, trained by GD."""
    v = mg.Variable(np.array([0.3, -0.2, 0.5]), name="v")
    p = mg.placeholder(mg.bool, [])
    y = mg.cond(p, lambda: mg.sin(v) * 2.0, lambda: v ** 2)
    _, z = mg.while_loop(lambda i, s: i < 4, lambda i, s: (i + 1, mg.tanh(s) + v), [0, y])
    loss = mg.reduce_sum(z ** 2)
    train = mg.train.GradientDescentOptimizer(0.05).minimize(loss)
    return [loss, z, train], {p: True}, [v]


def _train(build, backend, steps=4):
    with mg.Graph().as_default():
        fetches, feeds, variables = build()
        with mg.Session(backend=backend) as sess:
            sess.run(mg.global_variables_initializer())
            runs = [sess.run(fetches, feeds, fetch_to="device" if backend == "cupy" else "host")
                    for _ in range(steps)]
            return runs, sess.run(variables)


@pytest.mark.parametrize("build", [_rnn_step, _branchy_step], ids=["scan", "cond_while"])
def test_loops_train_as_on_the_reference(fake_gpu, build):
    (got_runs, got_vars), (want_runs, want_vars) = _train(build, "cupy"), _train(build, "numpy")
    for got, want in zip(got_runs, want_runs):
        for a, b in zip(got[:2], want[:2]):
            assert isinstance(a, fake_gpu.ndarray)  # computed and left on the device
            np.testing.assert_allclose(a.get(), b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_vars[0], want_vars[0], rtol=1e-10, atol=1e-12)


def test_each_scan_step_is_a_replayed_cuda_graph(fake_gpu):
    fetches, feeds, _ = _rnn_step()
    with mg.Session(backend="cupy") as sess:
        sess.run(mg.global_variables_initializer())
        for _ in range(2):
            sess.run(fetches, feeds)
        before = fake_cupy.LAUNCHES["graphs"]
        sess.run(fetches, feeds)
    assert fake_cupy.LAUNCHES["graphs"] - before == 2 * 6  # forward and backward, per step


def test_a_function_with_a_scan_keeps_its_state_across_calls(fake_gpu):
    acc = mg.shared(np.zeros(3), name="acc")
    x = mg.placeholder(mg.float64, [None, 3])
    sums, _ = mg.scan(lambda x_t, s: s + x_t, sequences=x, outputs_info=acc)
    step = mg.function([x], sums[-1], updates={acc: sums[-1]}, backend="cupy")
    np.testing.assert_allclose(step(np.ones((4, 3))), np.full(3, 4.0))
    np.testing.assert_allclose(step(np.ones((2, 3))), np.full(3, 6.0))
    np.testing.assert_allclose(acc.get_value(), np.full(3, 6.0))


def test_step_errors_name_the_loop_and_the_users_line(fake_gpu):
    x = mg.placeholder(mg.float64, [None, 2])
    h0 = mg.placeholder(mg.float64, [None])
    hs, _ = mg.scan(lambda x_t, h: x_t * h, sequences=x, outputs_info=h0)
    where = r"scan 'scan/Scan' \(test_cupy_loops.py:\d+\): recurrent output 0"
    with pytest.raises(mg.errors.InvalidArgumentError, match=where):
        mg.Session(backend="cupy").run(hs, {x: np.ones((3, 2)), h0: np.ones(3)})


@needs_nvcc
def test_the_kernels_of_loop_bodies_are_listed_and_compile():
    """``explain`` (and the nvcc check) see the kernels of scan, cond and while_loop bodies
    and of their gradients, generated before any step is bound."""
    sources = {}
    for build in (_rnn_step, _branchy_step):
        with mg.Graph().as_default():
            fetches, feeds, _ = build()
            sources.update(lowered_sources(fetches, feeds))
    bodies = {name for name in sources if name.startswith("fused")}
    assert len(bodies) >= 4  # forward and backward steps, branches, loop bodies
    assert_compiles(sources)
    with mg.Graph().as_default():
        fetches, feeds, _ = _rnn_step()
        report = mg.Session(backend="numpy").explain(fetches[0], feeds, backend="cupy")
    in_bodies = {name for node in report.program.nodes for name in body_sources(node)}
    assert in_bodies and in_bodies <= set(report.kernels)
