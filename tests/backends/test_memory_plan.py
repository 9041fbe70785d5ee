"""The memory plan: buffer reuse, in-place updates, and what must never be overwritten."""
import tracemalloc

import numpy as np
from hypothesis import given, settings

import minigraph as mg
from minigraph.testing.graphs import graphs


def _mlp(backend, optimizer, batch=64, hidden=256):
    """A static-shape MLP training step (every op has a writing kernel on numba)."""
    rng = np.random.default_rng(0)
    graph = mg.Graph()
    with graph.as_default():
        x = mg.placeholder("float32", (batch, 784))
        t = mg.placeholder("float32", (batch, 10))
        w1 = mg.Variable(rng.normal(0, 0.05, (784, hidden)).astype("float32"))
        w2 = mg.Variable(rng.normal(0, 0.05, (hidden, 10)).astype("float32"))
        h = mg.nn.relu(mg.matmul(x, w1))
        loss = mg.reduce_mean(mg.square(mg.matmul(h, w2) - t))
        train = optimizer().minimize(loss)
        init = mg.global_variables_initializer()
    sess = mg.Session(graph=graph, backend=backend)
    sess.run(init)
    feeds = {x: rng.normal(size=(batch, 784)).astype("float32"),
             t: rng.normal(size=(batch, 10)).astype("float32")}
    return sess, sess.make_callable([loss, train], [x, t]), feeds, (w1, w2)


def _bound_step(sess):
    """The bound program of the session's (only) plan with feeds."""
    plan = next(p for (targets, fed), p in sess._plans.items() if fed)
    return next(iter(plan._bound.values()))


def _peak_bytes_of_one_step(step, feeds) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        step(*feeds.values())
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_a_steady_state_training_step_allocates_no_intermediate_buffers():
    hidden_bytes = 64 * 256 * 4
    peaks = {}
    for backend in ("numba", "numpy"):
        _, step, feeds, _ = _mlp(backend, lambda: mg.train.MomentumOptimizer(0.01, 0.9))
        for _ in range(3):
            step(*feeds.values())
        peaks[backend] = _peak_bytes_of_one_step(step, feeds)
    assert peaks["numba"] < hidden_bytes // 4, peaks
    assert peaks["numpy"] > hidden_bytes, peaks  # the reference allocates every intermediate


def test_optimizer_updates_run_in_place_and_match_the_reference():
    results = {}
    for backend in ("numba", "numpy"):
        sess, step, feeds, weights = _mlp(backend, lambda: mg.train.AdamOptimizer(0.01))
        storage = [sess.store.values[w.node] for w in weights]
        before = sess.run(list(weights))
        losses = [step(*feeds.values())[0] for _ in range(3)]
        after = sess.run(list(weights))
        assert all(not np.array_equal(b, a) for b, a in zip(before, after))
        if backend == "numba":
            assert all(s is sess.store.values[w.node] for s, w in zip(storage, weights))
            plan = _bound_step(sess).plan
            written = [{p.var for p in map(plan.placement.get, node.outputs)}
                       for node in plan.commit_kernels]
            for w in weights:  # one kernel updates the variable and its two Adam slots
                assert sum(w.node in vars_ for vars_ in written) == 1
                assert next(len(v) for v in written if w.node in v) == 3
        results[backend] = losses + after
    for got, want in zip(results["numba"], results["numpy"]):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-6)


def test_fetched_variable_values_are_pre_run_snapshots():
    v = mg.Variable(np.arange(4.0))
    update = v.assign(v * 2.0 + 1.0)
    sess = mg.Session(backend="numba")
    sess.run(v.initializer)
    old, _ = sess.run([v, update])
    kept = old.copy()
    new = sess.run(v)
    sess.run(update)
    np.testing.assert_array_equal(old, kept)
    np.testing.assert_array_equal(old, np.arange(4.0))
    np.testing.assert_array_equal(new, np.arange(4.0) * 2 + 1)


def test_a_read_write_cycle_between_updates_still_swaps_correctly():
    a, b = mg.Variable(np.array([1.0, 2.0])), mg.Variable(np.array([3.0, 4.0]))
    swap = mg.group(a.assign(a * 0.0 + b), b.assign(b * 0.0 + a))
    sess = mg.Session(backend="numba")
    sess.run(mg.global_variables_initializer())
    sess.run(swap)
    np.testing.assert_array_equal(sess.run(a), [3.0, 4.0])
    np.testing.assert_array_equal(sess.run(b), [1.0, 2.0])


def test_buffers_are_reused_along_a_chain():
    x = mg.placeholder("float64", (1000,))
    y = x
    for _ in range(6):  # matmul-free chain broken by reductions so nothing fuses away
        y = mg.exp(y - mg.reduce_max(y)) + mg.reduce_mean(y)
    sess = mg.Session(backend="numba")
    sess.run(y, {x: np.zeros(1000)})
    bound = _bound_step(sess)
    planned = [p for p in bound.plan.placement.values() if p.kind == "buffer"]
    assert len(bound.plan.buffers) < len(planned)


@settings(deadline=None)
@given(graphs(max_nodes=6))
def test_random_graphs_never_overwrite_feeds_or_earlier_fetches(graph):
    fn, inputs = graph
    g = mg.Graph()
    with g.as_default():
        tensors = [mg.placeholder(a.dtype, a.shape) for a in inputs]
        out = fn(*tensors)
        outputs = out if isinstance(out, list) else [out]
        grads = [d for d in mg.gradients(mg.add_n([mg.reduce_sum(o) for o in outputs]), tensors)
                 if d is not None]
        fetches = outputs + grads
        feeds = [a.copy() for a in inputs]
        sess = mg.Session(graph=g, backend="numba")
        first = sess.run(fetches, dict(zip(tensors, feeds)))
        kept = [f.copy() for f in first]
        second = sess.run(fetches, dict(zip(tensors, feeds)))
        reference = mg.Session(graph=g, backend="numpy").run(fetches, dict(zip(tensors, inputs)))
    for fed, original in zip(feeds, inputs):
        np.testing.assert_array_equal(fed, original)
    for a, k, s, r in zip(first, kept, second, reference):
        np.testing.assert_array_equal(a, k)
        np.testing.assert_array_equal(a, s)
        np.testing.assert_allclose(a, r, rtol=1e-9, atol=1e-12)


def test_a_dropped_fetched_result_is_reused_and_a_kept_one_is_never_touched():
    x = mg.placeholder("float64", (10_000,))
    f = mg.function([x], mg.tanh(x) * 2.0, backend="numba")
    ones = np.ones(10_000)
    address = f(ones).ctypes.data
    assert f(ones).ctypes.data == address  # the previous result was dropped: reused
    addresses = set()
    y = f(ones)
    for _ in range(6):  # a loop keeping its latest result alternates two arrays
        y = f(ones)
        addresses.add(y.ctypes.data)
    assert len(addresses) == 2
    kept = f(ones)
    view = f(ones)[:10]  # a view keeps its base alive too
    assert kept.ctypes.data != view.ctypes.data
    f(2 * ones)
    np.testing.assert_array_equal(kept, np.tanh(ones) * 2.0)
    np.testing.assert_array_equal(view, np.tanh(ones[:10]) * 2.0)


@settings(deadline=None)
@given(graphs(max_nodes=5))
def test_random_training_steps_update_variables_as_the_reference_does(graph):
    """Variables read by several steps and updated in place by others, fetched before and after:
    every backend sees pre-run values and ends with the reference's values."""
    fn, inputs = graph
    results = {}
    for backend in ("numba", "numpy"):
        with mg.Graph().as_default():
            variables = [mg.Variable(a.copy()) for a in inputs]
            out = fn(*variables)
            loss = mg.add_n([mg.reduce_sum(o) for o in (out if isinstance(out, list) else [out])])
            train = mg.train.MomentumOptimizer(0.01, 0.5).minimize(loss)
            sess = mg.Session(backend=backend)
            sess.run(mg.global_variables_initializer())
            history = [sess.run([loss, train] + variables)[2:] for _ in range(2)]
            results[backend] = history + [sess.run(variables)]
    for got, want in zip(results["numba"], results["numpy"]):
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_reshape_back_to_a_fed_shape_is_planned_statically():
    """``flatten``'s gradient reshapes to ``shape(x)``: once the fed shape is bound the shape
    folds, the reshape takes it as a static attr, and nothing after it needs a dynamic size."""
    x = mg.placeholder(mg.float64, [None, 4, 4, 2])
    w = mg.Variable(np.ones((32, 3)))
    loss = mg.reduce_sum(mg.matmul(mg.layers.flatten(x * 2.0), w) ** 2)
    (gx,) = mg.gradients(loss, [x])
    bound = mg.compiler.compile_plan([loss, gx], [x], "numba").bind(((5, 4, 4, 2),))
    kinds = {bound.plan.placement[v].kind for n in bound.plan.order for v in n.outputs}
    assert "dynamic" not in kinds
    assert bound.types[bound.program.outputs[1]].shape == (5, 4, 4, 2)
