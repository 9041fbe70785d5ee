"""constant_folding: constant-only nodes and answered shape queries become constants."""
import numpy as np
import pytest

import minigraph as mg
from minigraph.compiler.passes import constant_folding
from minigraph.errors import InvalidArgumentError

from .util import assert_same_results, ops, optimised, program_of, run


def test_constant_chain_becomes_one_readonly_constant():
    y = (mg.constant([1.0, 2.0]) + mg.constant(3.0)) * mg.constant(2.0, dtype="float64")
    program = optimised(program_of([y]), "constant_folding", "dead_code")
    assert ops(program) == ["constant"]
    node = program.nodes[0]
    assert node.origin is y.node  # errors and listings still point at the user's multiply
    np.testing.assert_array_equal(node.attrs["value"], [8.0, 10.0])
    assert not node.attrs["value"].flags.writeable
    assert node.out_types[0].dtype == y.dtype


def test_only_the_constant_part_folds():
    x = mg.placeholder("float64", (2,))
    y = x * mg.exp(mg.constant(np.array([0.0, 1.0])))
    program = optimised(program_of([y], [x]), "constant_folding", "dead_code")
    assert sorted(ops(program)) == ["constant", "multiply"]
    assert_same_results([y], [x], [np.array([2.0, 3.0])])


def test_multi_output_ops_fold_to_one_constant_each():
    a, b = mg.split(mg.constant(np.arange(6.0)), 2)
    program = optimised(program_of([a, b]), "constant_folding", "dead_code")
    assert ops(program) == ["constant", "constant"]
    np.testing.assert_array_equal(run(program)[1], [3.0, 4.0, 5.0])


def test_random_and_stateful_ops_never_fold():
    noise = mg.random_normal([3], dtype="float64") * mg.constant(2.0, dtype="float64")
    v = mg.Variable(np.ones(3))
    program = optimised(program_of([noise, v * 2.0]), "constant_folding")
    assert {"random_normal", "variable"} <= set(ops(program))
    assert ops(program).count("multiply") == 2


def test_a_failing_reference_stays_a_runtime_error():
    loss = mg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=mg.constant([5]), logits=mg.constant(np.ones((1, 3))))
    program = optimised(program_of([loss]), "constant_folding")
    assert "sparse_softmax_cross_entropy_with_logits" in ops(program)
    with pytest.raises(InvalidArgumentError, match="label value of 5"):
        run(program)


def test_results_above_the_limit_are_not_folded(monkeypatch):
    monkeypatch.setattr(constant_folding, "FOLD_LIMIT", 10)
    small, big = mg.zeros([2, 5], dtype="float64"), mg.ones([3, 4], dtype="float64")
    program = optimised(program_of([small, big]), "constant_folding", "dead_code")
    assert ops(program).count("fill") == 1
    assert [v.shape for v in run(program)] == [(2, 5), (3, 4)]


def test_shape_queries_fold_from_static_shapes():
    x = mg.placeholder("float64", (None, 3))
    queries = [mg.rank(x), mg.dim(x, 0), mg.shape(mg.placeholder("float64", (2, 3)))]
    fed = [x, queries[2].node.inputs[0]]
    program = optimised(program_of(queries, fed), "constant_folding", "dead_code")
    assert sorted(ops(program)) == ["constant", "constant", "dim"]
    values = run(program, [np.zeros((4, 3)), np.zeros((2, 3))])
    assert [v.tolist() for v in values] == [2, 4, [2, 3]]
    assert [v.dtype for v in values] == [q.dtype for q in queries]
