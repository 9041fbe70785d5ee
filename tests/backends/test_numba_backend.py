"""The Numba backend against the NumPy reference: every op, random graphs, training steps,
errors that still name the user's op, and the backend registry.

Numba compiles each distinct fused DAG once per process (and caches it on disk), so example
counts stay small: most of the cost here is compilation.
"""
import importlib
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph import backends
from minigraph.compiler import compile_plan
from minigraph.errors import InvalidArgumentError
from minigraph.ops.fused import SAMPLE_DAG
from minigraph.ops.registry import REGISTRY, apply_op
from minigraph.testing import assert_backends_agree
from minigraph.testing.strategies import graphs, op_inputs, sampled_ops
from minigraph.runtime import VariableStore

from ..compiler.test_fusion_pass import FUSION, mixed_graphs
from ..compiler.util import program_of, run

config_module = importlib.import_module("minigraph.config")  # mg.config is the settings object

pytest.importorskip("numba")
from minigraph.backends import numba_cpu  # noqa: E402
from minigraph.compiler.pipeline import run_pipeline  # noqa: E402

BOTH = ("numpy", "numba")
OPS = sampled_ops()


def _gradients_defined(name: str) -> bool:
    opdef = REGISTRY[name]
    return opdef.differentiable and opdef.vjp is not None


@pytest.mark.parametrize("name", OPS)
@settings(deadline=None, max_examples=2)
@given(data=st.data())
def test_every_op_agrees_with_the_reference(name, data):
    inputs, attrs = data.draw(op_inputs(name))
    if REGISTRY[name].random and attrs.get("seed") is None:
        attrs = dict(attrs, seed=(1, 2))  # an unseeded stream differs between sessions
    assert_backends_agree(lambda *tensors: apply_op(name, list(tensors), attrs),
                          [np.asarray(a) for a in inputs], backends=BOTH,
                          grads=_gradients_defined(name))


@settings(deadline=None, max_examples=10)
@given(graphs(max_nodes=5, dtypes=("float64", "float32")))
def test_random_graphs_agree_with_the_reference(case):
    fn, inputs = case
    assert_backends_agree(fn, inputs, backends=BOTH)


@settings(deadline=None, max_examples=10)
@given(mixed_graphs())
def test_fused_reductions_agree_with_the_reference(case):
    fetches, fed, feeds = case
    program = program_of(fetches, fed)
    lowered = numba_cpu.NumbaBackend().lower(run_pipeline(program, FUSION))
    for got, want in zip(lowered.run(feeds, VariableStore()), run(program, feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def _quadratic(backend, steps=8):
    with mg.Graph().as_default():
        u = mg.Variable(20.0, name="u")
        cost = u * u + u + 1
        train = mg.train.GradientDescentOptimizer(0.3).minimize(cost)
        with mg.Session(backend=backend) as sess:
            sess.run(mg.global_variables_initializer())
            return [sess.run([cost, u, train])[:2] for _ in range(steps)]


def test_quadratic_descends_identically():
    np.testing.assert_allclose(_quadratic("numba"), _quadratic("numpy"), rtol=1e-6)


def _mlp(backend, batch, steps=3):
    """Loss and parameters after ``steps`` Adam steps on a two-layer sigmoid/softmax MLP."""
    rng = np.random.default_rng(0)
    X, labels = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    with mg.Graph().as_default():
        x = mg.placeholder(mg.float64, [batch, 5])
        t = mg.placeholder(mg.int64, [batch])
        w1 = mg.Variable(rng.standard_normal((5, 4)) * 0.5, name="w1")
        b1 = mg.Variable(np.zeros(4), name="b1")
        w2 = mg.Variable(rng.standard_normal((4, 3)) * 0.5, name="w2")
        hidden = mg.sigmoid(mg.matmul(x, w1) + b1)
        logits = mg.matmul(hidden, w2)
        loss = mg.reduce_mean(mg.nn.sparse_softmax_cross_entropy_with_logits(
            labels=t, logits=logits)) + 1e-3 * mg.nn.l2_loss(w1)
        train = mg.train.AdamOptimizer(0.1).minimize(loss)
        with mg.Session(backend=backend) as sess:
            sess.run(mg.global_variables_initializer())
            losses = [sess.run([loss, train], {x: X, t: labels})[0] for _ in range(steps)]
            return losses + sess.run([w1, b1, w2])


@pytest.mark.parametrize("batch", [8, None])
def test_mlp_training_steps_match(batch):
    for got, want in zip(_mlp("numba", batch), _mlp("numpy", batch)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_training_graph_is_fused():
    with mg.Graph().as_default():
        x = mg.placeholder(mg.float32, [4, 3])
        w = mg.Variable(np.ones((3, 2), np.float32))
        y = mg.tanh(mg.matmul(x, w) + 1.0) * 2.0
        train = mg.train.GradientDescentOptimizer(0.1).minimize(mg.reduce_sum(y * y))
        plan = compile_plan([y, train], [x], "numba")
    ops = [node.op for node in plan.program.nodes]
    assert ops.count("fused") >= 2 and "tanh" not in ops


def test_runtime_errors_name_the_op_and_the_user_line():
    x = mg.placeholder(mg.float64, [None, None])
    y = mg.matmul(x, mg.constant(np.ones((3, 2)))) * 2.0
    indices = mg.placeholder(mg.int64, [2])
    line = sys._getframe().f_lineno + 1
    picked = mg.gather(mg.exp(mg.sin(mg.constant(np.ones((3, 2))))), indices)
    with mg.Session(backend="numba") as sess:
        with pytest.raises(ValueError, match=r"matmul .*test_numba_backend\.py:\d+"):
            sess.run(y, {x: np.ones((2, 4))})
        with pytest.raises(InvalidArgumentError, match=rf"gather .*test_numba_backend.py:{line}"):
            sess.run(picked, {indices: np.array([0, 7])})


def test_a_failed_run_writes_no_variable():
    v = mg.Variable(np.array([1.0, 2.0]))
    indices = mg.placeholder(mg.int64, [1])
    bump = mg.assign(v, mg.tanh(v) * 2.0 + 1.0)
    bad = mg.gather(v * 2.0 + 1.0, indices)
    with mg.Session(backend="numba") as sess:
        sess.run(v.initializer)
        with pytest.raises(InvalidArgumentError):
            sess.run([bump, bad], {indices: np.array([5])})
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0])


def test_an_op_without_kernel_is_refused_loudly(monkeypatch):
    monkeypatch.delitem(numba_cpu.KERNELS, "matmul")
    y = mg.matmul(mg.placeholder(mg.float64, [2, 2]), mg.constant(np.eye(2)))
    with pytest.raises(numba_cpu.MissingKernelError, match="no kernel for op 'matmul'"):
        mg.Session(backend="numba").run(y, {y.op.inputs[0]: np.eye(2)})


def test_fused_kernels_are_compiled_once_per_dag():
    first = numba_cpu.compile_fused(SAMPLE_DAG)
    assert numba_cpu.compile_fused(first.dag) is first


def test_numba_is_the_default_and_flags_select_the_reference(monkeypatch):
    assert "numba" in backends.available_backends()
    assert backends.get_backend("numba").passes[-2:] == ("fuse_elementwise", "dead_code")
    monkeypatch.setattr(config_module, "config", config_module._Config(""))
    assert backends.default_backend() == "numba" and mg.Session().backend == "numba"
    monkeypatch.setattr(config_module, "config", config_module._Config("backend=numpy"))
    assert backends.default_backend() == "numpy" and mg.Session().backend == "numpy"


def test_missing_numba_is_one_clear_error(monkeypatch):
    monkeypatch.delitem(backends._BACKENDS, "numba")
    for module in ("minigraph.backends.numba_cpu", "kernels.numba.fusion"):
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "numba", None)
    with pytest.raises(backends.BackendUnavailableError, match="needs the 'numba' package"):
        backends.get_backend("numba")
    assert "numba" not in backends.available_backends()
    assert "numpy" in backends.available_backends()
