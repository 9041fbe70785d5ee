"""algebraic: each rule's rewritten form, and values unchanged."""
import numpy as np
import pytest

import minigraph as mg
from minigraph.compiler.pipeline import PASSES
from minigraph.ops.registry import apply_op

from .util import assert_same_results, ops, optimised, program_of

X = np.array([[1.5, -2.0, 0.25], [3.0, 0.5, -1.0]])


def _simplified(fetches, fed):
    """Program after algebraic + dead_code, and the rules that fired."""
    program, fired = PASSES["algebraic"](program_of(fetches, fed))
    return optimised(program, "dead_code"), fired


@pytest.mark.parametrize("build, rule", [
    (lambda x: x * 1.0, "multiply_by_one"), (lambda x: 1.0 * x, "multiply_by_one"),
    (lambda x: x + 0.0, "add_zero"), (lambda x: 0.0 + x, "add_zero"),
    (lambda x: x - 0.0, "subtract_zero"), (lambda x: x / 1.0, "divide_by_one"),
    (lambda x: x * np.ones((1, 3)), "multiply_by_one"), (lambda x: -(-x), "double_negation"),
    (mg.identity, "identity"), (mg.stop_gradient, "identity"),
])
def test_neutral_operations_disappear(build, rule):
    x = mg.placeholder("float64", (None, 3))
    y = build(x)
    program, fired = _simplified([y], [x])
    assert program.nodes == [] and program.outputs[0] == program.inputs[0].outputs[0]
    assert fired == [rule]
    assert_same_results([y], [x], [X])


@pytest.mark.parametrize("build", [
    lambda x: x * np.ones((2, 1, 3)),   # broadcasting adds an axis
    lambda x: x + np.zeros((4, 3)),     # broadcasting fixes the unknown dim
    lambda x: x * 0.0,                  # 0 * x is not 0 for inf and nan
    lambda x: 0.0 - x, lambda x: 1.0 / x, lambda x: x * 2.0,
])
def test_operations_that_change_something_stay(build):
    x = mg.placeholder("float64", (None, 3))
    y = build(x)
    program, fired = _simplified([y], [x])
    assert fired == [] and len(program.nodes) == 2


def test_unknown_rank_only_drops_scalar_neutrals():
    x = mg.placeholder("float64")
    program, _ = _simplified([x * 1.0, x * np.ones((1,))], [x])
    assert ops(program) == ["constant", "multiply"]


def test_transposes_compose():
    x = mg.placeholder("float64", (2, 3, 4))
    back = mg.transpose(mg.transpose(x))
    rotated = mg.transpose(mg.transpose(x, (1, 2, 0)), (1, 2, 0))
    program, fired = _simplified([back, rotated], [x])
    assert ops(program) == ["transpose"] and program.nodes[0].attrs["perm"] == (2, 0, 1)
    assert program.outputs[0] == program.inputs[0].outputs[0]
    assert {"transpose_of_transpose", "transpose_identity"} <= set(fired)
    assert_same_results([back, rotated], [x], [np.arange(24.0).reshape(2, 3, 4)])


def test_reshapes_collapse_and_vanish():
    x = mg.placeholder("float64", (2, 3))
    flat_then_grid = mg.reshape(mg.reshape(x, [-1]), [3, 2])
    round_trip = mg.reshape(mg.reshape(x, [6]), [2, 3])
    program, fired = _simplified([flat_then_grid, round_trip], [x])
    assert ops(program) == ["reshape"] and program.nodes[0].inputs[0].node.op == "input"
    assert program.outputs[1] == program.inputs[0].outputs[0]
    assert "reshape_to_same_shape" in fired
    assert_same_results([flat_then_grid, round_trip], [x], [X])


def test_cast_to_the_same_dtype_vanishes():
    x = mg.placeholder("float64", (3,))
    same = apply_op("cast", [x], {"dtype": np.dtype("float64")})
    other = mg.cast(x, "float32")
    program, fired = _simplified([same, other], [x])
    assert ops(program) == ["cast"] and fired == ["cast_to_same_dtype"]


@pytest.mark.parametrize("rank", [2, 3])
def test_matmul_absorbs_transposes_into_its_flags(rank):
    batch = (2,) * (rank - 2)
    swap = tuple(range(rank - 2)) + (rank - 1, rank - 2)
    a, b = mg.placeholder("float64", batch + (4, 3)), mg.placeholder("float64", batch + (4, 5))
    y = mg.matmul(mg.transpose(a, swap), mg.transpose(b, swap), transpose_b=True)
    program, fired = _simplified([y], [a, b])
    assert ops(program) == ["matmul"] and fired == ["matmul_transpose_flag"]
    assert program.nodes[0].attrs == {"transpose_a": True, "transpose_b": False}
    rng = np.random.default_rng(0)
    feeds = [rng.normal(size=batch + (4, 3)), rng.normal(size=batch + (4, 5))]
    assert_same_results([y], [a, b], feeds)


def test_matmul_keeps_transposes_of_batch_axes():
    a, b = mg.placeholder("float64", (2, 3, 4)), mg.placeholder("float64", (3, 4, 5))
    y = mg.matmul(mg.transpose(a, (1, 0, 2)), b)
    program, fired = _simplified([y], [a, b])
    assert ops(program) == ["transpose", "matmul"] and fired == []


def test_sum_to_and_broadcast_like_between_equal_static_shapes_vanish():
    x = mg.placeholder("float64", (2, 3))
    like = mg.placeholder("float64", (2, 3))
    grad = apply_op("sum_to", [apply_op("sum_to", [x, like], {}), like], {})
    spread = apply_op("broadcast_like", [x, like], {})
    program, fired = _simplified([grad, spread], [x, like])
    assert program.nodes == []
    assert set(fired) == {"sum_to_same_shape", "broadcast_to_same_shape"}


def test_repeated_sum_to_collapses():
    g, like = mg.placeholder("float64", (None, 3)), mg.placeholder("float64", (None, 3))
    once = apply_op("sum_to", [g, like], {})
    twice = apply_op("sum_to", [once, like], {})
    program, fired = _simplified([twice], [g, like])
    assert ops(program) == ["sum_to"] and fired == ["repeated_sum_to"]
