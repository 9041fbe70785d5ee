"""The cupy GPU backend where there is no GPU, and against the NumPy reference where there is.

Without a GPU (always run):
- lowering and ``explain(backend='cupy')`` report every generated kernel's CUDA source;
- every kernel source the test graphs generate (a training MLP, softmax cross-entropy,
  word2vec, the random-graph fuzzer's graphs and every registry op's sample, with gradients)
  compiles with nvcc for sm_90 (one nvcc call per batch, cached; a failing source is then
  compiled alone so the failure shows it with nvcc's message);
- asking for the GPU raises one ``DeviceUnavailableError``; ``allow_fallback`` warns once and
  runs on the CPU (subprocesses with ``MINIGRAPH_FLAGS``);
- the run path -- device store, feeds, fetches, the runner's device globals, every kernel's
  launch arguments, host ops, row updates, CUDA-graph capture and replay -- runs on a strict
  NumPy-backed stand-in for CuPy (``fake_cupy``): fused kernels through the host harness (or
  the DAG interpreter in the op sweep), hand kernels through NumPy emulations of their entries.

With a GPU (marker ``gpu``): the same graphs on the real device against the reference.
"""
import contextlib
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from kernels.cupy.nvcc import NvccError, compile_ptx, nvcc_path
from minigraph import backends
from minigraph.backends import DeviceUnavailableError, cupy_device, cupy_kernels
from minigraph.backends.cupy_kernels import MissingKernelError
from minigraph.compiler import compile_plan
from minigraph.errors import InvalidArgumentError
from minigraph.ops.registry import REGISTRY, apply_op
from minigraph.testing import assert_backends_agree
from minigraph.testing.strategies import graphs, op_inputs, sampled_ops
from minigraph.testing.tracing import trace

from .standin import fake_device

GPU = cupy_device.unavailable_reason() is None
needs_nvcc = pytest.mark.skipif(nvcc_path() is None, reason="nvcc is not installed")
no_gpu_here = pytest.mark.skipif(GPU, reason="checks the behaviour without a GPU")
config_module = sys.modules["minigraph.config"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- graphs ---------------------------------------------------------------------------------------


def mlp_graph(dtype=np.float64, batch=8, optimizer=None):
    """A two-layer MLP training step: (fetches, feed dict)."""
    rng = np.random.default_rng(0)
    x = mg.placeholder(dtype, [None, 5], name="x")
    t = mg.placeholder(mg.int64, [None], name="t")
    w1 = mg.Variable((rng.standard_normal((5, 4)) * 0.5).astype(dtype), name="w1")
    b1 = mg.Variable(np.zeros(4, dtype), name="b1")
    w2 = mg.Variable((rng.standard_normal((4, 3)) * 0.5).astype(dtype), name="w2")
    logits = mg.matmul(mg.sigmoid(mg.matmul(x, w1) + b1), w2)
    loss = mg.reduce_mean(mg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=t, logits=logits)) + 1e-3 * mg.nn.l2_loss(w1)
    accuracy = mg.reduce_mean(mg.cast(mg.equal(mg.argmax(logits, 1), t), dtype))
    train = (optimizer or mg.train.AdamOptimizer(0.1)).minimize(loss)
    feeds = {x: rng.standard_normal((batch, 5)).astype(dtype), t: rng.integers(0, 3, batch)}
    return [loss, accuracy, train], feeds, [w1, b1, w2]


def xent_graph():
    """Dense softmax cross-entropy with softmax / log-softmax outputs, trained by momentum."""
    rng = np.random.default_rng(1)
    x = mg.placeholder(mg.float32, [None, 6], name="x")
    y = mg.placeholder(mg.float32, [None, 4], name="y")
    w = mg.Variable(rng.standard_normal((6, 4)).astype(np.float32), name="w")
    logits = mg.matmul(x, w)
    loss = mg.reduce_mean(mg.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = mg.train.MomentumOptimizer(0.1, 0.9).minimize(loss)
    labels = rng.uniform(0.1, 1, (5, 4)).astype(np.float32)
    feeds = {x: rng.standard_normal((5, 6)).astype(np.float32),
             y: labels / labels.sum(axis=1, keepdims=True)}
    return [loss, mg.nn.softmax(logits), mg.nn.log_softmax(logits), train], feeds, [w]


def word2vec_graph():
    """Skip-gram with NCE: embedding gather, sampled logits, sparse gradient rows."""
    rng = np.random.default_rng(2)
    mg.set_random_seed(3)  # the same negative samples in every session
    center = mg.placeholder(mg.int64, [8], name="center")
    context = mg.placeholder(mg.int64, [8, 1], name="context")
    emb = mg.Variable(rng.uniform(-1, 1, (20, 4)), name="emb")
    nce_w = mg.Variable(rng.standard_normal((20, 4)) * 0.3, name="nce_w")
    nce_b = mg.Variable(np.zeros(20), name="nce_b")
    loss = mg.reduce_mean(mg.nn.nce_loss(nce_w, nce_b, context, mg.nn.embedding_lookup(emb, center),
                                         num_sampled=4, num_classes=20))
    train = mg.train.GradientDescentOptimizer(0.5).minimize(loss)
    feeds = {center: rng.integers(0, 20, 8), context: rng.integers(0, 20, (8, 1))}
    return [loss, train], feeds, [emb, nce_w, nce_b]


GRAPHS = {"mlp": mlp_graph, "xent": xent_graph, "word2vec": word2vec_graph}


def traced(fn, arrays, grads=True):
    """``fn`` on placeholders like ``arrays`` (in the default graph), plus the gradients of
    the sum of its float outputs: (fetches, feed dict)."""
    tensors, outputs = trace(fn, arrays)
    fetches = list(outputs)
    wrt = [t for t in tensors if t.dtype.kind == "f"]
    floats = [o for o in outputs if o.dtype.kind == "f"]
    if grads and wrt and floats:
        total = mg.add_n([mg.reduce_sum(o) for o in floats])
        fetches += [mg.convert_to_tensor(g) for g in mg.gradients(total, wrt) if g is not None]
    return fetches, dict(zip(tensors, arrays))


@contextlib.contextmanager
def host_ops():
    """``MINIGRAPH_FLAGS=host_ops=True`` inside the block."""
    saved, config_module.config.host_ops = config_module.config.host_ops, True
    try:
        yield
    finally:
        config_module.config.host_ops = saved


def lowered_sources(fetches, feeds) -> dict:
    """Name -> CUDA source of every kernel the cupy backend runs for ``fetches`` (ops without
    a kernel opted in to the host)."""
    with host_ops(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        plan = compile_plan(list(fetches), list(feeds), "cupy")
        bound = plan.bind(tuple(np.shape(v) for v in feeds.values()))
    return bound.kernel_sources()


def assert_compiles(sources: dict) -> None:
    """All ``sources`` compile for sm_90 (together; alone to report a failure)."""
    unique = sorted(set(sources.values()))
    try:
        compile_ptx("\n".join(unique), arch="sm_90")
    except NvccError:
        failures = []
        for name, source in sorted(sources.items()):
            try:
                compile_ptx(source, arch="sm_90")
            except NvccError as err:
                failures.append(f"kernel {name}:\n{err}")
        pytest.fail("\n\n".join(failures) or "the sources compile alone but not together")


# -- lowering and explain without a GPU ----------------------------------------------------------


def test_cupy_is_registered_and_listed_only_where_it_runs():
    assert backends.get_backend("cupy").name == "cupy"
    assert ("cupy" in backends.available_backends()) == GPU


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_explain_reports_the_cuda_source_of_every_kernel(name):
    fetches, feeds, _ = GRAPHS[name]()
    report = mg.Session(backend="numpy").explain(fetches, feeds, backend="cupy")
    assert report.backend == "cupy" and report.fusion_groups
    assert {g.name for g in report.fusion_groups} <= set(report.kernels)
    hand = set(report.kernels) - {g.name for g in report.fusion_groups}
    expected = {"mlp": "mg_sparse_xent", "xent": "mg_xent", "word2vec": "mg_gather"}[name]
    assert any(k.startswith(expected) for k in hand), hand
    for kernel, source in report.kernels.items():
        assert 'extern "C" __global__' in source, kernel
    assert "== kernels ==" in str(report)


@needs_nvcc
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_the_kernels_of_training_graphs_compile(name):
    fetches, feeds, _ = GRAPHS[name]()
    sources = lowered_sources(fetches, feeds)
    assert sources
    assert_compiles(sources)


@needs_nvcc
@settings(deadline=None, max_examples=12)
@given(graphs(max_nodes=5, dtypes=("float64", "float32")))
def test_the_kernels_of_random_graphs_compile(case):
    fn, inputs = case
    with mg.Graph().as_default():
        assert_compiles(lowered_sources(*traced(fn, inputs)))


@needs_nvcc
@settings(deadline=None, max_examples=1)
@given(data=st.data())
def test_the_kernels_of_every_registry_op_compile(data):
    """Each op's sample with gradients, lowered for the GPU; all sources compiled together."""
    sources = {}
    for name in sampled_ops():
        inputs, attrs = data.draw(op_inputs(name), label=name)
        with mg.Graph().as_default():
            fetches, feeds = traced(lambda *ts: apply_op(name, list(ts), attrs),
                                    [np.asarray(a) for a in inputs], _has_gradient(name))
            sources.update(lowered_sources(fetches, feeds))
    assert len(sources) > 50
    assert_compiles(sources)


def _has_gradient(name: str) -> bool:
    opdef = REGISTRY[name]
    return opdef.differentiable and opdef.vjp is not None


def test_an_op_without_kernel_is_refused_at_lowering():
    x = mg.placeholder(mg.float16, [1, 4, 4, 1])  # the conv kernels take float32/64
    y = mg.nn.conv2d(x, mg.constant(np.ones((2, 2, 1, 1), np.float16)), [1, 1, 1, 1], "SAME")
    with pytest.raises(MissingKernelError, match=r"no kernel for op 'conv2d'.*host_ops=True"):
        compile_plan([y], [x], "cupy").bind(((1, 4, 4, 1),))


# -- no GPU: one clear error, or the CPU with allow_fallback ---------------------------------

_SCRIPT = """
import warnings, numpy as np, minigraph as mg
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    for _ in range(2):
        x = mg.placeholder(mg.float64, [2])
        with mg.Session() as sess:
            print(sess.backend, sess.run(mg.reduce_sum(x * 2.0), {x: np.ones(2)}))
print("warnings:", sum("allow_fallback=True" in str(w.message) for w in caught))
"""


def _run_script(script: str, flags: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MINIGRAPH_FLAGS=flags, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


@no_gpu_here
def test_device_cuda_without_a_gpu_is_one_clear_error():
    done = _run_script(_SCRIPT, "device=cuda")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("minigraph.backends.DeviceUnavailableError: the 'cupy' backend needs "
                           "CuPy and an NVIDIA GPU: "), done.stderr
    assert "cupy_backends" not in done.stderr and "CUDARuntimeError" not in done.stderr


@no_gpu_here
def test_allow_fallback_warns_once_and_runs_on_the_cpu():
    done = _run_script(_SCRIPT, "device=cuda,allow_fallback=True,backend=numpy")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["numpy 4.0", "numpy 4.0", "warnings: 1"]


@no_gpu_here
def test_running_a_cupy_session_without_a_gpu_raises_the_same_error():
    x = mg.placeholder(mg.float64, [2])
    sess = mg.Session(backend="cupy")
    with pytest.raises(DeviceUnavailableError, match="needs CuPy and an NVIDIA GPU: "):
        sess.run(x * 2.0, {x: np.ones(2)})
    assert sess.explain(x * 2.0, {x: np.ones(2)}).kernels  # lowering still works


def test_device_flags_parse():
    parsed = config_module._Config("device=gpu,allow_fallback=0,host_ops,cuda_graphs=no")
    assert (parsed.device, parsed.allow_fallback, parsed.host_ops, parsed.cuda_graphs) == (
        "cuda", False, True, False)
    with pytest.raises(ValueError, match="MINIGRAPH_FLAGS: device must be 'cpu' or 'cuda'"):
        config_module._Config("device=tpu")
    with pytest.raises(ValueError, match="allow_fallback must be True or False"):
        config_module._Config("allow_fallback=maybe")


# -- the run path on a strict stand-in for CuPy ---------------------------------------------------


@pytest.fixture
def fake_gpu():
    with fake_device(fused="reference") as fake:
        yield fake


def train(build, backend, steps=4, fetch_to="host"):
    """Fetched values of ``steps`` runs of a graph from ``GRAPHS`` and its final variables."""
    with mg.Graph().as_default():
        fetches, feeds, variables = build()
        with mg.Session(backend=backend) as sess:
            sess.run(mg.global_variables_initializer())
            runs = [sess.run(fetches, feeds, fetch_to=fetch_to) for _ in range(steps)]
            return runs, sess.run(variables)


def assert_same_training(got, want, rtol=1e-9, atol=1e-12):
    (got_runs, got_vars), (want_runs, want_vars) = got, want
    for g, w in zip(got_runs, want_runs):
        for a, b in zip(g, w):
            if b is not None:
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    for a, b in zip(got_vars, want_vars):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@needs_nvcc
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_training_on_the_stand_in_matches_the_reference(name):
    """Training steps; the MLP's fused kernels run as generated code (the host harness)."""
    with fake_device(fused="harness" if name == "mlp" else "reference") as fake:
        before = fake.LAUNCHES["graphs"]
        want, got = train(GRAPHS[name], "numpy"), train(GRAPHS[name], "cupy")
        replays = fake.LAUNCHES["graphs"] - before
    rtol, atol = (1e-5, 1e-6) if name == "xent" else (1e-9, 1e-12)
    assert_same_training(got, want, rtol, atol)
    # word2vec samples on the host and updates rows after the step: no CUDA graph there
    assert replays == (0 if name == "word2vec" else 2)


def test_fetches_stay_on_the_device_and_device_feeds_are_not_copied(fake_gpu):
    x = mg.placeholder(mg.float64, [None, 3])
    y = mg.reduce_sum(mg.tanh(x) * 2.0, axis=1)
    sess = mg.Session(backend="cupy")
    fed = fake_gpu.array(np.arange(6.0).reshape(2, 3))
    (out,) = sess.run([y], {x: fed}, fetch_to="device")
    assert isinstance(out, fake_gpu.FakeArray)
    np.testing.assert_allclose(out.get(), np.tanh(np.arange(6.0).reshape(2, 3)).sum(1) * 2)
    assert sess._lowering.convert_feed(x, fed) is fed
    with pytest.raises(ValueError, match="fetch_to must be 'host' or 'device'"):
        sess.run(y, {x: fed}, fetch_to="gpu")


def test_cuda_graphs_replay_until_storage_changes_and_can_be_turned_off(fake_gpu, monkeypatch):
    v = mg.Variable(np.ones(3), name="v")
    bump = mg.assign(v, v * 2.0 + 1.0)
    sess = mg.Session(backend="cupy")
    sess.run(v.initializer)
    start = fake_gpu.LAUNCHES["graphs"]
    values = [sess.run(bump) for _ in range(4)]
    assert fake_gpu.LAUNCHES["graphs"] - start == 2
    np.testing.assert_array_equal(values[-1], np.full(3, 31.0))
    v.load(np.zeros(3), sess)  # same shape: copied into the captured storage, still replayed
    np.testing.assert_array_equal(sess.run(bump), np.ones(3))
    assert fake_gpu.LAUNCHES["graphs"] - start == 3
    monkeypatch.setattr(config_module.config, "cuda_graphs", False)
    eager = mg.Session(backend="cupy")
    eager.run(v.initializer)
    for _ in range(4):
        eager.run(bump)
    assert fake_gpu.LAUNCHES["graphs"] - start == 3
    np.testing.assert_array_equal(eager.run(v), np.full(3, 31.0))


@pytest.mark.parametrize("dtype", ["float32", "int64", "int16"])
def test_scatter_rows_update_device_variables_in_place(fake_gpu, dtype):
    """Row updates after the step: repeated and negative ids accumulate (the hand kernel; an
    int16 variable goes through ``add.at``)."""
    def run(backend):
        with mg.Graph().as_default():
            v = mg.Variable(np.arange(12).reshape(4, 3).astype(dtype))
            ids = mg.placeholder(mg.int32, [None])
            rows = mg.placeholder(dtype, [None, 3])
            add, sub = mg.scatter_add(v, ids, rows), mg.scatter_sub(v, ids, rows[:, :1])
            feed = {ids: np.array([1, -1, 1]), rows: np.arange(9).reshape(3, 3).astype(dtype)}
            with mg.Session(backend=backend) as sess:
                sess.run(v.initializer)
                sess.run(add.op, feed)  # the value unread: rows updated after the step
                sess.run(sub.op, feed)
                return sess.run(v)
    np.testing.assert_array_equal(run("cupy"), run("numpy"))


def test_errors_name_the_user_op_and_a_failed_run_writes_nothing(fake_gpu):
    v = mg.Variable(np.array([1.0, 2.0]), name="v")
    ids = mg.placeholder(mg.int64, [1])
    bump = mg.assign(v, mg.tanh(v) * 2.0 + 1.0)
    line = sys._getframe().f_lineno + 1
    bad = mg.scatter_add(mg.Variable(np.zeros((2, 2)), name="rows"), ids, np.ones((1, 2)))
    x = mg.placeholder(mg.float64, [None, None])
    y = mg.matmul(x, mg.constant(np.ones((3, 2))))
    with mg.Session(backend="cupy") as sess:
        sess.run(mg.global_variables_initializer())
        with pytest.raises(InvalidArgumentError, match=rf"scatter_add .*py:{line}.*out of range"):
            sess.run([bump.op, bad.op], {ids: np.array([5])})
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0])
        with pytest.raises(ValueError, match=r"matmul .*test_cupy_backend\.py:\d+"):
            sess.run(y, {x: np.ones((2, 4))})


def test_host_ops_run_on_the_host_with_a_warning(fake_gpu):
    x = mg.placeholder(mg.float16, [1, 4, 4, 1])  # the conv kernels take float32/64
    y = mg.nn.conv2d(x, mg.constant(np.ones((2, 2, 1, 1), np.float16)), [1, 1, 1, 1], "SAME")
    feed = {x: np.arange(16, dtype=np.float16).reshape(1, 4, 4, 1)}
    cupy_kernels._WARNED.discard("conv2d")
    with host_ops(), pytest.warns(RuntimeWarning, match="no kernel for op 'conv2d'.*host_ops"):
        got = mg.Session(backend="cupy").run(y, feed)
    np.testing.assert_allclose(got, mg.Session(backend="numpy").run(y, feed))


def test_functions_and_shared_variables_run_through_host_values(fake_gpu):
    w = mg.shared(np.ones(3), name="w")
    x = mg.placeholder(mg.float64, [3])
    step = mg.function([x], mg.reduce_sum(w * x), updates={w: w - 0.5 * x}, backend="cupy")
    assert step(np.arange(3.0)) == 3.0
    np.testing.assert_allclose(w.get_value(), [1.0, 0.5, 0.0])
    assert step(np.ones(3)) == 1.5


@settings(deadline=None, max_examples=8)
@given(graphs(max_nodes=5, dtypes=("float64", "float32")))
def test_random_graphs_on_the_stand_in_agree_with_the_reference(case):
    fn, inputs = case
    with fake_device(fused="reference"), host_ops(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # e.g. reduce_prod's gradient
        assert_backends_agree(fn, inputs, backends=("numpy", "cupy"))


NO_KERNEL = frozenset()
"""Sampled ops with neither a device kernel nor a device-safe reference yet: they run only
with ``host_ops=True``."""
HOST_GRADIENTS: dict = {}
"""Ops whose gradient needs an op of ``NO_KERNEL``."""


@pytest.mark.parametrize("name", sampled_ops())
@settings(deadline=None, max_examples=4)
@given(data=st.data())
def test_every_op_on_the_stand_in_agrees_with_the_reference(name, data):
    """Each registry op's sample, values and gradients: hand kernels' launch arguments, array
    kernels on strict device arrays, host ops; fused groups by the DAG interpreter. Ops of
    ``NO_KERNEL`` run with ``host_ops=True`` (and the sample graph's other ops on the device)."""
    inputs, attrs = data.draw(op_inputs(name))
    if REGISTRY[name].random and attrs.get("seed") is None:
        attrs = dict(attrs, seed=(1, 2))
    opt_in = host_ops() if name in NO_KERNEL or name in HOST_GRADIENTS else \
        contextlib.nullcontext()
    with fake_device(fused="reference"), opt_in, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_backends_agree(lambda *ts: apply_op(name, list(ts), attrs),
                              [np.asarray(a) for a in inputs], backends=("numpy", "cupy"),
                              grads=_has_gradient(name))


def test_ops_without_kernels_need_the_opt_in():
    tables = set(cupy_kernels.KERNELS) | cupy_kernels.ARRAY_OPS | cupy_kernels.HOST_OPS
    assert not NO_KERNEL & tables and set(HOST_GRADIENTS.values()) <= NO_KERNEL


# -- on a GPU --------------------------------------------------------------------------------------

gpu = pytest.mark.gpu
needs_gpu = pytest.mark.skipif(not GPU, reason=f"no GPU: {cupy_device.unavailable_reason()}")


@gpu
@needs_gpu
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_training_on_the_gpu_matches_the_reference(name):
    want, got = train(GRAPHS[name], "numpy", steps=6), train(GRAPHS[name], "cupy", steps=6)
    rtol, atol = (1e-4, 1e-5) if name == "xent" else (1e-9, 1e-11)
    assert_same_training(got, want, rtol, atol)


@gpu
@needs_gpu
def test_cuda_graph_replay_matches_eager_steps_on_the_gpu(monkeypatch):
    replayed = train(mlp_graph, "cupy", steps=8)
    monkeypatch.setattr(config_module.config, "cuda_graphs", False)
    assert_same_training(train(mlp_graph, "cupy", steps=8), replayed, 1e-12, 1e-14)


@gpu
@needs_gpu
def test_device_fetches_and_feeds_on_the_gpu():
    import cupy

    x = mg.placeholder(mg.float32, [None, 3])
    y = mg.nn.softmax(x * 2.0)
    fed = cupy.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    out = mg.Session(backend="cupy").run(y, {x: fed}, fetch_to="device")
    assert isinstance(out, cupy.ndarray)
    np.testing.assert_allclose(out.get(), mg.Session(backend="numpy").run(y, {x: fed.get()}),
                               rtol=1e-6)


@gpu
@needs_gpu
@settings(deadline=None, max_examples=15)
@given(graphs(max_nodes=5, dtypes=("float64", "float32")))
def test_random_graphs_on_the_gpu_agree_with_the_reference(case):
    fn, inputs = case
    assert_backends_agree(fn, inputs, backends=("numpy", "cupy"))


@gpu
@needs_gpu
@pytest.mark.parametrize("name", sampled_ops())
@settings(deadline=None, max_examples=3)
@given(data=st.data())
def test_every_op_on_the_gpu_agrees_with_the_reference(name, data):
    inputs, attrs = data.draw(op_inputs(name))
    if REGISTRY[name].random and attrs.get("seed") is None:
        attrs = dict(attrs, seed=(1, 2))
    if REGISTRY[name].random and name not in cupy_kernels.HOST_OPS:
        # CuPy's generators draw other numbers than NumPy's: same shapes and dtypes here, the
        # distributions are checked in test_cupy_ops.py
        fetches, feeds = traced(lambda *ts: apply_op(name, list(ts), attrs),
                                [np.asarray(a) for a in inputs], grads=False)
        want, got = (mg.Session(backend=b).run(fetches, feeds) for b in ("numpy", "cupy"))
        assert [(w.shape, w.dtype) for w in want] == [(g.shape, g.dtype) for g in got]
        return
    with host_ops():
        assert_backends_agree(lambda *ts: apply_op(name, list(ts), attrs),
                              [np.asarray(a) for a in inputs], backends=("numpy", "cupy"),
                              grads=_has_gradient(name))
