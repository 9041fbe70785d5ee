"""explain: the optimised program, fired rules, fusion groups and kernel source of a compile."""
import logging

import numpy as np
import pytest

import minigraph as mg
from minigraph.backends import default_backend
from minigraph.compiler.explain import explain
from minigraph.compiler.pipeline import summarize
from minigraph.config import config
from minigraph.errors import PlaceholderNotFedError

SECTIONS = ("optimised graph", "passes", "fusion groups", "buffer plan", "runner", "kernels")


def _two_groups():
    """Two fusible chains split by a matmul: two fused nodes on an optimising backend."""
    x = mg.placeholder("float64", (4, 3), name="x")
    h = mg.matmul(mg.tanh(x * 2.0 + 1.0), mg.constant([[1.0], [2.0], [3.0]], "float64"))
    return x, mg.sigmoid(h) * h


def test_numba_report_has_a_group_and_compilable_kernel_per_fused_node():
    pytest.importorskip("numba")
    x, y = _two_groups()
    report = explain(y, [x], backend="numba")
    fused = [node for node in report.program.nodes if node.op == "fused"]
    assert len(fused) == len(report.fusion_groups) == len(report.kernels) == 2
    assert [g.node for g in report.fusion_groups] == fused
    assert list(report.kernels) == [g.name for g in report.fusion_groups] == ["fused_0", "fused_1"]
    first = report.fusion_groups[0]
    assert first.expressions == ["v3 = v0 * v1", "v4 = v3 + v2", "v5 = tanh(v4)"]
    assert first.outputs == fused[0].outputs and "test_explain.py:" in first.origin
    for group in report.fusion_groups:
        source = report.kernels[group.name]
        compile(source, group.name, "exec")
        assert all(" ".join(node.expr.split()) in source for node in group.node.attrs["dag"].nodes)
    assert "tanh(x0)" in report.kernels["fused_0"]


def test_report_prints_every_section_and_the_rules_fired():
    pytest.importorskip("numba")
    x, y = _two_groups()
    report = explain([y], [x], backend="numba")
    text = str(report)
    titles = [line for line in text.splitlines() if line.startswith("== ")]
    assert [t.strip("= ").split(" (")[0] for t in titles] == list(SECTIONS)
    assert "numba backend" in titles[0]
    assert ("fuse_elementwise", ["fuse_elementwise", "fuse_elementwise"]) in report.passes
    assert "fuse_elementwise: fuse_elementwise x2" in text
    assert "fused(%0, " in text and "{dag=<3 ops, 1 outputs>}" in text
    assert "fused_1: %" in text and "  v0 = %" in text and "@njit" in text


def test_numpy_backend_runs_no_passes_and_generates_no_kernels():
    x, y = _two_groups()
    report = explain(y, [x], backend="numpy")
    assert report.passes == [] and report.fusion_groups == [] and report.kernels == {}
    assert [node.op for node in report.program.inputs] == ["input"]
    assert " = tanh(%" in str(report) and str(report).count("(none)") == 4


def test_the_default_backend_and_fetched_ops_and_variables():
    v = mg.Variable(2.0, name="v")
    step = mg.assign_add(v, 1.0).op
    report = explain([v, step])
    assert report.backend == default_backend()
    assert "write: 'v' <- %" in str(report) and "outputs: %" in str(report)
    with pytest.raises(TypeError, match="cannot fetch or feed"):
        explain(3.0)


def test_an_unfed_placeholder_raises_as_a_session_does():
    x, y = _two_groups()
    with pytest.raises(PlaceholderNotFedError, match="placeholder 'x'"):
        explain(y)


def test_a_fed_intermediate_cuts_the_program():
    _, y = _two_groups()
    h = y.node.inputs[1]
    report = explain(y, [h], backend="numpy")
    assert len(report.program.inputs) == 1 and "input 'MatMul:0'" in str(report)


def test_debug_flag_logs_the_same_rules_as_the_report(caplog, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(config, "debug", True)
    x = mg.placeholder("float64", (2,), name="x")
    with caplog.at_level(logging.INFO, logger="minigraph.compiler"):
        report = explain(x * 1.0, [x], backend="numba")
    assert ("algebraic", ["multiply_by_one"]) in report.passes
    for name, fired in report.passes:
        assert f"pass {name} fired: {summarize(fired)}" in caplog.text


def test_session_explain_shows_the_buffer_plan_for_the_fed_shapes():
    pytest.importorskip("numba")
    x = mg.placeholder("float32", (None, 3))
    w = mg.Variable(np.ones((3, 2), "float32"))
    loss = mg.reduce_sum(mg.square(mg.matmul(x, w)))
    train = mg.train.MomentumOptimizer(0.1, 0.9).minimize(loss)
    sess = mg.Session(backend="numba")
    report = sess.explain([loss, train], {x: np.zeros((5, 3), "float32")})
    assert "buffer 0: (5, 2) float32" in str(report)
    assert "in place: fused writes variable 'Variable'" in str(report)
    assert "def run(feeds, store):" in report.runner
    with pytest.raises(ValueError, match="unknown dims; pass feed_shapes"):
        explain([loss], [x], backend="numba")
