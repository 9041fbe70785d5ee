"""The cupy backend's run path on the stand-in, cases found by running whole suites on it:
scalar feeds into a replayed CUDA graph, and shared variables written outside any run."""
import numpy as np
import pytest

import minigraph as mg

from .standin import fake_device


@pytest.fixture
def fake_gpu():
    with fake_device(fused="reference") as fake:
        yield fake


def test_scalar_feeds_are_copied_into_a_replayed_graph(fake_gpu):
    x, rate = mg.placeholder(mg.float64, [3]), mg.placeholder(mg.float64, [])
    w = mg.Variable(np.zeros(3))
    loss = mg.reduce_sum((w - x) ** 2)
    train = mg.train.GradientDescentOptimizer(rate).minimize(loss)
    with mg.Session(backend="cupy") as sess:
        sess.run(mg.global_variables_initializer())
        for step in range(5):  # warm-up, capture, replays
            sess.run(train, {x: np.arange(3.0), rate: 0.1 * (step + 1)})
        got = sess.run(w)
    want = np.zeros(3)
    for step in range(5):
        want -= 0.1 * (step + 1) * 2 * (want - np.arange(3.0))
    np.testing.assert_allclose(got, want)


def test_shared_variables_written_outside_a_run_land_in_their_container(fake_gpu):
    shared = mg.shared(np.arange(3.0), name="w")
    sess = mg.Session(backend="cupy")
    sess.store.commit_value(shared.node, np.full(3, 7.0))
    np.testing.assert_array_equal(shared.get_value(), np.full(3, 7.0))
    np.testing.assert_array_equal(sess.run(shared * 2.0), np.full(3, 14.0))


def test_a_replayed_training_step_allocates_no_device_memory(fake_gpu, monkeypatch):
    from .test_cupy_backend import mlp_graph

    fetches, feeds, _ = mlp_graph(np.float32, batch=16)
    created = []
    init = fake_gpu.FakeArray.__init__
    monkeypatch.setattr(fake_gpu.FakeArray, "__init__",
                        lambda self, data: (created.append(data.shape), init(self, data))[1])
    with mg.Session(backend="cupy") as sess:
        sess.run(mg.global_variables_initializer())
        for _ in range(3):  # eager warm-up runs, then the capture
            sess.run(fetches, feeds)
        graphs, created[:] = fake_gpu.LAUNCHES["graphs"], []
        for _ in range(3):
            sess.run(fetches, feeds)
    assert fake_gpu.LAUNCHES["graphs"] - graphs == 3 and created == []
