"""The default pipeline: same results as the unoptimised program on fuzzed graphs, state and
random semantics kept, debug-mode verification and logging."""
import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.backends.numpy_ref import NumpyBackend
from minigraph.compiler.ir import IRNode
from minigraph.compiler.pipeline import DEFAULT_PASSES, PASSES, run_pipeline
from minigraph.compiler.rewrite import Rewriter
from minigraph.compiler.verify import verify
from minigraph.config import config
from minigraph.graph import TensorType
from minigraph.ops.registry import REGISTRY, apply_op
from minigraph.runtime import VariableStore
from minigraph.testing.strategies import op_inputs, sampled_ops

from .util import assert_same_results, ops, optimised, program_of, run

SHAPES = [(2, 3), (3,), (1, 3), (), (2, 1)]
UNARY = [
    mg.tanh, mg.sigmoid, mg.sin, mg.negative, mg.softplus, mg.identity, mg.stop_gradient,
    lambda x: x * 1.0, lambda x: 0.0 + x, lambda x: x - 0.0, lambda x: x / 1.0,
    lambda x: -(-x), lambda x: x * np.ones((1,) * max(x.ndim, 0)),
    lambda x: mg.log(1.0 + mg.exp(mg.tanh(x))), lambda x: mg.log(mg.sigmoid(mg.tanh(x))),
    lambda x: mg.log(mg.softmax(mg.tanh(x))) if x.ndim else x,
    lambda x: mg.transpose(mg.transpose(x)), lambda x: mg.reshape(mg.reshape(x, [-1]), x.shape),
    lambda x: mg.cast(mg.cast(x, "float32"), "float64"),
]
BINARY = [mg.add, mg.subtract, mg.multiply, mg.maximum, lambda a, b: a * 0.5 + b]


@st.composite
def graphs(draw):
    """Placeholders, constants (some neutral) and a random DAG of ops over them, with repeats;
    every op's result is fetched, so no rewrite target is pruned before the rules see it.
    Constants appear only as second operands: constant-only chains would just fold."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    fed, feeds, constants, steps = [], [], [], []
    for shape in draw(st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3)):
        fed.append(mg.placeholder("float64", shape))
        feeds.append(rng.uniform(-2, 2, size=shape))
    for shape in draw(st.lists(st.sampled_from(SHAPES), max_size=2)):
        kind = draw(st.sampled_from(["ones", "zeros", "random"]))
        value = {"ones": np.ones, "zeros": np.zeros}.get(kind, lambda s: rng.uniform(-2, 2, s))
        constants.append(mg.constant(value(shape), dtype="float64"))
    pool = list(fed)
    for _ in range(draw(st.integers(1, 10))):
        if steps and draw(st.integers(0, 3)) == 0:
            fn, args = draw(st.sampled_from(steps))  # the same computation again, for cse
        elif draw(st.booleans()):
            fn, args = draw(st.sampled_from(UNARY)), [draw(st.sampled_from(pool))]
        else:
            fn = draw(st.sampled_from(BINARY))
            args = [draw(st.sampled_from(pool)), draw(st.sampled_from(pool + constants))]
        steps.append((fn, args))
        pool.append(fn(*args))
    return pool[len(fed):], fed, feeds


@settings(deadline=None)
@given(graphs())
def test_default_passes_keep_results_of_fuzzed_graphs(case):
    fetches, fed, feeds = case
    assert_same_results(fetches, fed, feeds)


_DETERMINISTIC = [n for n in sampled_ops() if not REGISTRY[n].random]


@pytest.mark.parametrize("name", _DETERMINISTIC)
@settings(deadline=None, max_examples=5)
@given(data=st.data())
def test_every_op_folded_or_fed_gives_the_reference_result(name, data):
    inputs, attrs = data.draw(op_inputs(name))
    inputs = [np.asarray(a) for a in inputs]
    folded = apply_op(name, [mg.constant(a, dtype=a.dtype) for a in inputs], attrs)
    fed = [mg.placeholder(a.dtype, a.shape) for a in inputs]
    twice = [apply_op(name, fed, attrs), apply_op(name, fed, attrs)]
    fetches = [t for out in [folded, *twice]
               for t in (out if isinstance(out, (list, tuple)) else [out])]
    before, after = assert_same_results(fetches, fed, inputs, rtol=0)
    for want, got in zip(before, after):
        np.testing.assert_array_equal(got, want)


def _train(loss_of, optimizer, passes):
    """Loss and written variable values, by name, for three steps of ``optimizer``."""
    x = mg.placeholder("float64", (4, 3))
    w = mg.Variable(np.linspace(-1.0, 1.0, 9).reshape(3, 3), name="w")
    loss = loss_of(mg.matmul(x, w))
    train = optimizer.minimize(loss)
    store = VariableStore()
    NumpyBackend().lower(program_of([mg.global_variables_initializer()])).run([], store)
    step = NumpyBackend().lower(run_pipeline(program_of([loss, train], [x]), passes))
    history = []
    for _ in range(3):
        values = step.run([np.arange(12.0).reshape(4, 3) / 10], store)
        history.append([values[0]] + [store.values[v].copy()
                                      for v in sorted(store.values, key=lambda v: v.name)])
    return history


@pytest.mark.parametrize("make_optimizer", [
    lambda: mg.train.GradientDescentOptimizer(0.1), lambda: mg.train.AdamOptimizer(0.01),
    lambda: mg.train.MomentumOptimizer(0.1, 0.9),
])
def test_optimizer_steps_are_unchanged(make_optimizer):
    def loss_of(logits):
        probs = mg.softmax(mg.transpose(mg.transpose(logits)) * 1.0)
        return mg.reduce_mean(-mg.reduce_sum(np.eye(4, 3) * mg.log(probs), axis=1)) + 0.0

    with mg.Graph().as_default():
        plain = _train(loss_of, make_optimizer(), ())
    with mg.Graph().as_default():
        fast = _train(loss_of, make_optimizer(), DEFAULT_PASSES)
    for want, got in zip(plain, fast):
        assert len(got) == len(want) > 1
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-9)


def test_random_ops_are_neither_folded_nor_merged_and_keep_their_streams():
    mg.get_default_graph().seed = 3
    draws = [mg.random_normal([4], dtype="float64") for _ in range(2)]
    shaped = mg.random_uniform(mg.shape(mg.constant(np.zeros((2, 3)))), dtype="float64")
    fetches = draws + [shaped * 1.0]
    program = program_of(fetches)
    fast = optimised(program)
    assert ops(fast).count("random_normal") == 2 and "random_uniform" in ops(fast)
    before, after = run(program, store=VariableStore()), run(fast, store=VariableStore())
    assert not np.array_equal(after[0], after[1])
    for want, got in zip(before, after):
        np.testing.assert_array_equal(got, want)


def test_assignments_read_values_from_before_the_run():
    v = mg.Variable(np.array([1.0, 2.0]))
    bump = mg.assign_add(v, mg.constant(np.ones(2)) * 1.0)
    program = program_of([v * 1.0, bump])
    for candidate in (program, optimised(program)):
        store = VariableStore()
        store.write(v.node, np.array([1.0, 2.0]))
        values = NumpyBackend().lower(candidate).run([], store)
        np.testing.assert_array_equal(values[0], [1.0, 2.0])
        np.testing.assert_array_equal(store.values[v.node], [2.0, 3.0])


def test_passes_never_change_the_program_they_are_given():
    x = mg.placeholder("float64", (2, 3))
    y = mg.log(mg.softmax(mg.transpose(mg.transpose(x)) * 1.0)) + mg.constant(0.0, "float64")
    program = program_of([y, y * 2.0], [x])
    snapshot = [(n, n.op, n.inputs, dict(n.attrs)) for n in program.nodes]
    outputs = list(program.outputs)
    optimised(program)
    assert [(n, n.op, n.inputs, dict(n.attrs)) for n in program.nodes] == snapshot
    assert program.outputs == outputs


def test_debug_mode_verifies_and_logs_every_pass(monkeypatch, caplog):
    monkeypatch.setattr(config, "debug", True)
    x = mg.placeholder("float64", (3,))
    program = program_of([(x * 1.0) + (x * 1.0)], [x])
    with caplog.at_level(logging.INFO, logger="minigraph.compiler"):
        run_pipeline(program, DEFAULT_PASSES)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == len(DEFAULT_PASSES)
    assert "pass cse fired: merge_constants, merge_equal_nodes" in messages
    assert "pass algebraic fired: multiply_by_one" in messages
    assert "pass constant_folding fired: nothing" in messages


def test_debug_mode_catches_a_broken_pass(monkeypatch):
    monkeypatch.setattr(config, "debug", True)

    def drop_first_node(program):
        program = type(program)(program.inputs, program.nodes[1:], program.outputs,
                                program.writes)
        return program, ["drop"]

    monkeypatch.setitem(PASSES, "broken", drop_first_node)
    x = mg.placeholder("float64", (3,))
    with pytest.raises(AssertionError, match="after pass 'broken'.*not computed before"):
        run_pipeline(program_of([mg.sin(mg.exp(x))], [x]), ["broken"])


def test_verify_rejects_declared_types_the_inputs_contradict():
    x = mg.placeholder("float64", (3,))
    program = program_of([mg.sin(x)], [x])
    sin = program.nodes[0]
    program.nodes[0] = IRNode("sin", sin.inputs, {}, [TensorType((4,), np.dtype("float64"))],
                              sin.origin)
    program.outputs = [program.nodes[0].outputs[0]]
    with pytest.raises(AssertionError, match="declares \\(4,\\) float64 but its inputs give"):
        verify(program)


def test_a_rule_changing_a_type_is_refused():
    x = mg.placeholder("float64", (3,))
    program = program_of([mg.reduce_sum(x)], [x])

    def wrong(node, rewriter):
        return ("wrong", node.inputs[0]) if node.op == "reduce_sum" else None

    with pytest.raises(AssertionError, match="rule 'wrong' replaced reduce_sum"):
        Rewriter(wrong).run(program)


def test_unknown_pass_names_are_reported():
    with pytest.raises(ValueError, match="unknown compiler pass 'fusion'"):
        run_pipeline(program_of([mg.constant(1.0)]), ["fusion"])
