"""The ``fuse_elementwise`` pass: which nodes it groups, the DAGs it builds, and unchanged
results on the NumPy reference backend (which runs ``fused`` nodes through the DAG interpreter)."""
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.compiler.pipeline import DEFAULT_PASSES, run_pipeline
from minigraph.compiler.verify import verify
from minigraph.config import config

from .test_pipeline import graphs as pipeline_graphs
from .util import assert_same_results, ops, optimised, program_of

FUSION = DEFAULT_PASSES + ("fuse_elementwise", "dead_code")


def fused_program(fetches, fed=(), passes=FUSION):
    return optimised(program_of(fetches, fed), *passes)


def fused_nodes(program):
    return [node for node in program.nodes if node.op == "fused"]


def assert_fuses_and_agrees(fetches, fed, feeds, groups, passes=FUSION):
    """The program fuses into ``groups`` fused nodes and still computes the same values."""
    program = fused_program(fetches, fed, passes)
    verify(program)
    assert len(fused_nodes(program)) == groups, ops(program)
    assert_same_results(fetches, fed, feeds, passes=passes, rtol=1e-6)  # float32: ulps
    return program


def test_w3_formula_is_one_kernel_with_one_output():
    a, x, b = (mg.placeholder("float32", [5]) for _ in range(3))
    y = mg.tanh(a * x + b) * mg.sigmoid(x)
    feeds = [np.linspace(-2, 2, 5, dtype="float32") * k for k in (1, 2, 3)]
    program = assert_fuses_and_agrees([y], [a, x, b], feeds, groups=1)
    assert ops(program) == ["fused"]
    dag = program.nodes[0].attrs["dag"]
    assert len(dag.inputs) == 3 and len(dag.nodes) == 5 and len(dag.outputs) == 1
    assert program.nodes[0].origin is y.node


def test_values_used_outside_the_group_become_extra_outputs():
    x = mg.placeholder("float64", [2, 3])
    t = mg.tanh(x * 2.0)
    y = mg.exp(t) + 1.0
    projected = mg.matmul(t, mg.constant(np.ones((3, 1))))
    program = assert_fuses_and_agrees([y, projected], [x], [np.arange(6.0).reshape(2, 3) / 6], 1)
    (node,) = fused_nodes(program)
    assert [v.type.shape for v in node.outputs] == [(2, 3), (2, 3)]
    assert ops(program)[-1] == "matmul" and program.nodes[-1].inputs[0].node is node


def test_fetched_intermediates_are_outputs_too():
    x = mg.placeholder("float64", [4])
    t = mg.sin(x)
    y = mg.cos(t)
    program = assert_fuses_and_agrees([t, y], [x], [np.linspace(0, 1, 4)], groups=1)
    assert len(fused_nodes(program)[0].outputs) == 2


def test_no_group_leaves_and_reenters_through_an_unfused_node():
    x = mg.placeholder("float64", [2, 3])
    t = mg.exp(mg.tanh(x))
    scale = mg.reduce_sum(t, axis=1, keepdims=True)  # depends on t, feeds the next kernel
    y = mg.log(t / scale + 1.0)
    program = assert_fuses_and_agrees([y], [x], [np.arange(6.0).reshape(2, 3) / 3], groups=2)
    graph = program.to_networkx()
    assert nx.is_directed_acyclic_graph(graph)
    first, second = fused_nodes(program)
    assert any(v.node is first for s in graph.predecessors(second) for v in s.inputs)


def test_broadcast_inputs_keep_their_pattern():
    x = mg.placeholder("float64", [2, 3])
    row = mg.placeholder("float64", [3])
    col = mg.placeholder("float64", [2, 1])
    y = mg.tanh(x * row + col) - mg.constant(0.5, "float64")
    feeds = [np.arange(6.0).reshape(2, 3) / 6, np.array([1.0, -1.0, 2.0]), np.array([[0.5], [1]])]
    program = assert_fuses_and_agrees([y], [x, row, col], feeds, groups=1)
    patterns = sorted(i.pattern for i in fused_nodes(program)[0].attrs["dag"].inputs)
    assert patterns == [(False, False), (False, True), (True, False), (True, True)]


def test_bool_and_cast_members_fuse():
    x = mg.placeholder("float64", [6])
    positive = mg.greater(x, 0.0)
    mixed = mg.logical_and(positive, mg.less(x, 1.5))
    y = mg.where(mixed, x, mg.nn.leaky_relu(x, alpha=0.1))
    z = mg.cast(y, "float32") * mg.constant(2.0, "float32")
    program = assert_fuses_and_agrees([z, mixed], [x], [np.linspace(-2, 2, 6)], groups=1)
    dag = fused_nodes(program)[0].attrs["dag"]
    assert {n.dtype for n in dag.nodes} == {"bool", "float64", "float32"}
    assert any("0.1" in n.expr for n in dag.nodes) and any("cast_float32" in n.expr
                                                           for n in dag.nodes)


def test_members_of_different_shapes_form_separate_groups():
    v = mg.placeholder("float64", [3])
    m = mg.placeholder("float64", [2, 3])
    small = mg.exp(mg.sin(v))                     # shape (3,)
    big = mg.tanh(m + small) * 3.0                # shape (2, 3)
    feeds = [np.array([0.1, 0.2, 0.3]), np.ones((2, 3))]
    program = assert_fuses_and_agrees([big], [v, m], feeds, groups=2)
    assert [n.out_types[0].shape for n in fused_nodes(program)] == [(3,), (2, 3)]


def test_float16_values_are_left_alone():
    x = mg.placeholder("float16", [3])  # the code generators do not take float16
    program = fused_program([mg.exp(mg.sin(x)) * 2.0], [x])
    assert "fused" not in ops(program)


def test_unknown_dims_fuse_with_the_broadcasts_their_known_sizes_decide():
    x, row, col = (mg.placeholder("float32", s) for s in ([None, 3], [3], [None, 1]))
    y = mg.tanh(x * row + col)
    total = mg.reduce_sum(y * y, axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    for batch in (4, 1, 0):
        feeds = [rng.uniform(-1, 1, s).astype("float32") for s in ((batch, 3), (3,), (batch, 1))]
        program = assert_fuses_and_agrees([y, total], [x, row, col], feeds, groups=1)
    dag = fused_nodes(program)[0].attrs["dag"]
    assert [i.pattern for i in dag.inputs] == [(True, True), (False, True), (True, False)]
    assert [(o.reduce, o.axes) for o in dag.outputs] == [(None, None), ("sum", (1,))]
    assert ops(program) == ["fused", "expand_reduced"]


def test_max_over_an_unknown_dim_stays_outside():
    x = mg.placeholder("float64", [None, 3])
    program = fused_program([mg.reduce_max(mg.exp(x) * 2.0, axis=0)], [x])
    assert ops(program)[-2:] == ["fused", "reduce_max"]


def test_single_elementwise_nodes_become_one_member_kernels():
    x = mg.placeholder("float64", [3])
    program = fused_program([mg.nn.softmax(mg.exp(x))], [x])
    assert ops(program) == ["fused", "softmax"]
    assert [n.expr for n in program.nodes[0].attrs["dag"].nodes] == ["exp(x0)"]


def test_a_reduction_of_one_elementwise_node_is_a_group():
    x = mg.placeholder("float64", [3])
    assert ops(fused_program([mg.reduce_sum(mg.exp(x))], [x])) == ["fused"]
    assert ops(fused_program([mg.reduce_sum(x)], [x])) == ["reduce_sum"]


def test_reductions_become_kernel_outputs_without_storing_their_operand():
    x, y = mg.placeholder("float64", [2, 3]), mg.placeholder("float64", [3])
    loss = mg.reduce_sum(mg.square(x - y))
    feeds = [np.arange(6.0).reshape(2, 3), np.array([1.0, 0.0, -1.0])]
    program = assert_fuses_and_agrees([loss], [x, y], feeds, 1)
    assert ops(program) == ["fused"]
    (out,) = program.nodes[0].attrs["dag"].outputs
    assert out.reduce == "sum" and out.axes is None


def test_keepdims_reductions_are_reshaped_and_feedback_stays_outside():
    x = mg.placeholder("float32", [2, 3])
    t = mg.exp(x * 0.5)
    peak = mg.reduce_max(t, axis=1, keepdims=True)
    y = t / peak  # reads the reduction: cannot join the group that computes it
    feeds = [np.arange(6.0, dtype="float32").reshape(2, 3)]
    program = assert_fuses_and_agrees([y, mg.reduce_min(t, axis=0)], [x], feeds, 2)
    first, second = fused_nodes(program)
    outputs = first.attrs["dag"].outputs
    assert [(o.reduce, o.axes) for o in outputs] == [(None, None), ("max", (1,)), ("min", (0,))]
    assert "expand_reduced" in ops(program)
    assert [n.expr for n in second.attrs["dag"].nodes] == ["x0 / x1"]  # a later, own kernel


@pytest.mark.parametrize("reduce, x_shape", [
    (lambda b: mg.reduce_sum(b), (3,)),  # a bool sum counts in int64
    (lambda b: mg.reduce_max(mg.cast(b, "float64") * 2.0, axis=0), (0, 2)),  # max of nothing
    (lambda b: mg.reduce_sum(mg.cast(b, "float64") * 2.0, axis=()), (3,)),  # reduces nothing
])
def test_reductions_the_kernels_cannot_compute_stay_outside(reduce, x_shape):
    x = mg.placeholder("float64", x_shape)
    program = fused_program([reduce(mg.logical_not(x > 0.0))], [x])
    dags = [n.attrs["dag"] for n in fused_nodes(program)]
    assert all(o.reduce is None for dag in dags for o in dag.outputs)


def test_state_writes_read_fused_values():
    v = mg.Variable(np.array([1.0, 2.0]))
    bump = mg.assign(v, mg.tanh(v * 0.5) + 1.0)
    program = fused_program([bump])
    assert ops(program).count("fused") == 1 and program.writes[v.node].op == "assign"
    with mg.Session(backend="numpy") as sess:
        sess.run(v.initializer)
        sess.run(bump)
        np.testing.assert_allclose(sess.run(v), np.tanh(np.array([1.0, 2.0]) * 0.5) + 1)


def test_debug_mode_verifies_fused_types(monkeypatch):
    monkeypatch.setattr(config, "debug", True)
    x = mg.placeholder("float32", [2, 2])
    y = mg.sigmoid(x) * x + 1.0
    program = run_pipeline(program_of([y, mg.reduce_max(y * y, axis=0, keepdims=True)], [x]),
                           FUSION)
    assert ops(program) == ["constant", "fused", "expand_reduced"]


@settings(deadline=None, max_examples=30)
@given(pipeline_graphs())
def test_fuzzed_elementwise_graphs_keep_their_results(case):
    fetches, fed, feeds = case
    verify(fused_program(fetches, fed))
    assert_same_results(fetches, fed, feeds, passes=FUSION)


_SHAPES = [(2, 3), (3,), (2, 1), ()]


@st.composite
def mixed_graphs(draw):
    """Elementwise steps interleaved with unfusible ones (reductions kept broadcastable, matmul,
    softmax) whose results flow back into later elementwise steps: the cycle hazard."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    shapes = draw(st.lists(st.sampled_from(_SHAPES), min_size=1, max_size=3))
    fed = [mg.placeholder("float64", s) for s in shapes]
    feeds = [rng.uniform(-1, 1, s) for s in shapes]
    pool = list(fed)
    for _ in range(draw(st.integers(2, 12))):
        x = draw(st.sampled_from(pool))
        kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce", "matmul", "softmax"]))
        if kind == "unary":
            pool.append(draw(st.sampled_from([mg.tanh, mg.sin, mg.sigmoid, mg.square]))(x))
        elif kind == "binary":
            y = draw(st.sampled_from(pool))
            pool.append(draw(st.sampled_from([mg.add, mg.multiply, mg.subtract]))(x, y))
        elif kind == "reduce" and x.ndim:
            pool.append(mg.reduce_sum(x, axis=-1, keepdims=True))
        elif kind == "matmul" and x.ndim == 2:
            pool.append(mg.matmul(x, mg.constant(np.full((x.shape[1], 1), 0.5))))
        elif kind == "softmax" and x.ndim:
            pool.append(mg.nn.softmax(x))
    return pool[len(fed):] or [fed[0] * 1.0], fed, feeds


@settings(deadline=None, max_examples=60)
@given(case=mixed_graphs())
def test_fusion_around_unfusible_nodes_stays_acyclic_and_correct(case):
    fetches, fed, feeds = case
    program = fused_program(fetches, fed)
    verify(program)
    assert nx.is_directed_acyclic_graph(program.to_networkx())
    assert_same_results(fetches, fed, feeds, passes=FUSION)


def test_unknown_dims_run_on_the_numba_backend_and_broadcast_at_run_time():
    pytest.importorskip("numba")
    x, z = mg.placeholder("float32", [None, 3]), mg.placeholder("float32", [None, 3])
    y = mg.tanh(x * z + 1.0)
    fetches = [y, mg.reduce_sum(y, axis=0)]
    rng = np.random.default_rng(1)
    for batch in (5, 1, 0):
        feeds = {t: rng.uniform(-1, 1, (batch, 3)).astype("float32") for t in (x, z)}
        want = mg.Session(backend="numpy").run(fetches, feeds)
        for got, expected in zip(mg.Session(backend="numba").run(fetches, feeds), want):
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    feeds = {x: rng.uniform(-1, 1, (4, 3)).astype("float32"), z: np.ones((1, 3), "float32")}
    want = mg.Session(backend="numpy").run(fetches, feeds)  # an unknown dim of 1 broadcasts
    for got, expected in zip(mg.Session(backend="numba").run(fetches, feeds), want):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
