"""``mg.cond``, ``mg.case`` and ``mg.while_loop``: forward values against Python, only the taken
branch running, nesting, errors, shape invariants, the compiled bodies (no per-iteration graph
work) and gradients (both branches, data-dependent loops). Runs on ``--backend``."""
from collections import namedtuple

import numpy as np
import pytest

import minigraph as mg
from minigraph.compiler import compile_plan
from minigraph.errors import InvalidArgumentError
from minigraph.testing import check_grads

RNG = np.random.default_rng(11)
Pair = namedtuple("Pair", "a b")


def _run(fetches, feeds=None):
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        return sess.run(fetches, feeds or {})


# -- cond: forward --------------------------------------------------------------------------


@pytest.mark.parametrize("taken", [True, False])
def test_cond_returns_the_taken_branch(taken):
    x, p = mg.placeholder(mg.float64, [None]), mg.placeholder(mg.bool, [])
    y = mg.cond(p, lambda: mg.sin(x) * 2.0, lambda: x - 1.0)
    value = RNG.standard_normal(4)
    expected = np.sin(value) * 2.0 if taken else value - 1.0
    np.testing.assert_allclose(_run(y, {x: value, p: taken}), expected)


def test_cond_keeps_nested_structures():
    x, p = mg.placeholder(mg.float64, [2]), mg.placeholder(mg.bool, [])
    out = mg.cond(p, lambda: {"s": (x, Pair(x * 2.0, mg.reduce_sum(x)))},
                  lambda: {"s": (x * 0.0, Pair(-x, mg.constant(7.0, mg.float64)))})
    assert isinstance(out["s"][1], Pair)
    got = _run(out, {x: np.array([1.0, 2.0]), p: False})
    np.testing.assert_allclose(got["s"][1].a, [-1.0, -2.0])
    assert got["s"][1].b == 7.0


def test_strict_keeps_singletons_and_non_strict_unpacks_them():
    p = mg.placeholder(mg.bool, [])
    loose = mg.cond(p, lambda: [mg.constant(1.0)], lambda: [mg.constant(2.0)])
    strict = mg.cond(p, lambda: [mg.constant(1.0)], lambda: [mg.constant(2.0)], strict=True)
    assert isinstance(loose, mg.Tensor) and isinstance(strict, list)
    assert _run(loose, {p: False}) == 2.0


def test_static_shape_is_the_most_specific_compatible_one():
    p, x = mg.placeholder(mg.bool, []), mg.placeholder(mg.float32, [None, 3])
    assert mg.cond(p, lambda: mg.zeros([2, 3]), lambda: mg.ones([2, 3])).type.shape == (2, 3)
    assert mg.cond(p, lambda: mg.zeros([2, 3]), lambda: x).type.shape == (None, 3)
    assert mg.cond(p, lambda: mg.zeros([2, 3]), lambda: mg.zeros([3])).type.shape is None


def test_python_bool_pred_calls_the_branch():
    x = mg.placeholder(mg.float64, [])
    y = mg.cond(True, lambda: x + 1.0, lambda: x - 1.0)
    assert y.node.op == "add"
    assert mg.cond(np.bool_(False), lambda: [x], lambda: [x * 3.0]).node.op == "multiply"


def test_only_the_taken_branch_runs():
    table = mg.constant(np.arange(6.0).reshape(3, 2))
    i, p = mg.placeholder(mg.int64, []), mg.placeholder(mg.bool, [])
    row = mg.cond(p, lambda: mg.gather(table, i), lambda: mg.zeros([2], mg.float64))
    np.testing.assert_allclose(_run(row, {i: 7, p: False}), [0.0, 0.0])
    np.testing.assert_allclose(_run(row, {i: 1, p: True}), [2.0, 3.0])
    with pytest.raises(InvalidArgumentError, match=r"cond 'cond/Cond' \(test_control_flow.py:"
                                                   r"\d+\), true branch"):
        _run(row, {i: 7, p: True})


def test_branch_bodies_stay_out_of_the_outer_program():
    x, p = mg.placeholder(mg.float64, [None]), mg.placeholder(mg.bool, [])
    y = mg.cond(p, lambda: mg.tanh(x) * 3.0, lambda: mg.exp(x))
    plan = compile_plan([y], [x, p], mg.config.backend)
    assert [n.op for n in plan.program.nodes] == ["cond"]


def test_branches_returning_outer_tensors_and_constants():
    x, p = mg.placeholder(mg.float64, [2]), mg.placeholder(mg.bool, [])
    y = mg.cond(p, lambda: x, lambda: np.array([5.0, 6.0]))
    np.testing.assert_allclose(_run(y, {x: np.ones(2), p: True}), [1, 1])
    np.testing.assert_allclose(_run(y, {x: np.ones(2), p: False}), [5, 6])


def test_captured_and_created_variables():
    w = mg.Variable(np.array([1.0, 2.0]), name="w")
    p = mg.placeholder(mg.bool, [])

    def true_fn():
        scale = mg.Variable(np.float64(3.0), name="scale")
        return w * scale
    y = mg.cond(p, true_fn, lambda: w + 1.0)
    assert sorted(v.name.rsplit("/", 1)[-1] for v in mg.global_variables()) == [
        "scale:0", "w:0"]
    np.testing.assert_allclose(_run(y, {p: True}), [3.0, 6.0])
    np.testing.assert_allclose(_run(y, {p: False}), [2.0, 3.0])


def test_session_and_function_usage():
    x, p = mg.placeholder(mg.float64, [None]), mg.placeholder(mg.bool, [])
    y = mg.cond(p, lambda: x * 2.0, lambda: x * 3.0)
    f = mg.function([x, p], y)
    np.testing.assert_allclose(f(np.ones(2), True), [2, 2])
    np.testing.assert_allclose(f(np.ones(3), False), [3, 3, 3])


# -- cond: errors -----------------------------------------------------------------------------


def test_mismatched_branches_are_refused():
    x, p = mg.placeholder(mg.float64, [2]), mg.placeholder(mg.bool, [])
    with pytest.raises(TypeError, match=r"same nested structure \(tuple vs list\)"):
        mg.cond(p, lambda: (x, x), lambda: [x, x])
    with pytest.raises(TypeError, match="tuple of 2 vs 1 elements"):
        mg.cond(p, lambda: (x, x), lambda: (x,), strict=True)
    with pytest.raises(TypeError, match="float64 from true_fn but float32 from false_fn"):
        mg.cond(p, lambda: x, lambda: mg.cast(x, mg.float32))
    with pytest.raises(TypeError, match="true_fn must be callable"):
        mg.cond(p, None, lambda: x)
    with pytest.raises(ValueError, match="must return a value"):
        mg.cond(p, lambda: None, lambda: x)


def test_bad_predicates_are_refused():
    x = mg.placeholder(mg.float64, [2])
    with pytest.raises(ValueError, match="pred must be a scalar bool tensor"):
        mg.cond(x > 0.0, lambda: x, lambda: x)
    with pytest.raises(ValueError, match="pred must be a scalar bool tensor"):
        mg.cond(x[0], lambda: x, lambda: x)


def test_state_writes_inside_a_branch_are_refused():
    v = mg.Variable(np.zeros(2))
    p = mg.placeholder(mg.bool, [])
    with pytest.raises(ValueError, match="cond: fn must not change state inside the cond"):
        mg.cond(p, lambda: mg.assign(v, v + 1.0), lambda: v + 0.0)


# -- case ---------------------------------------------------------------------------------------


def _case_graph(default=None, **kwargs):
    x = mg.placeholder(mg.float64, [])
    pairs = [(x > 0.0, lambda: x + 1.0), (x < -5.0, lambda: x - 1.0)]
    return x, mg.case(pairs, default=default and (lambda: default(x)), **kwargs)


def test_case_first_true_predicate_wins_else_default():
    x, y = _case_graph(default=lambda x: x * 0.0 + 42.0)
    assert [_run(y, {x: v}) for v in (1.0, -10.0, -1.0)] == [2.0, -11.0, 42.0]
    x, y = _case_graph(default=lambda x: x * 0.0, exclusive=True)
    assert _run(y, {x: -10.0}) == -11.0


def test_case_without_default_and_exclusive_errors():
    x, y = _case_graph()
    assert _run(y, {x: -10.0}) == -11.0
    with pytest.raises(InvalidArgumentError, match="none of the conditions is true"):
        _run(y, {x: -1.0})
    x = mg.placeholder(mg.float64, [])
    y = mg.case([(x > 0.0, lambda: x), (x > 5.0, lambda: -x)], default=lambda: x * 0.0,
                exclusive=True)
    assert _run(y, {x: 1.0}) == 1.0
    with pytest.raises(InvalidArgumentError, match="exclusive=True, but 2 conditions are true"):
        _run(y, {x: 10.0})


def test_case_with_a_dict_a_single_pair_and_bad_arguments():
    x = mg.placeholder(mg.float64, [])
    y = mg.case({x > 0.0: lambda: [x * 2.0], x <= 0.0: lambda: [x * 3.0]})
    assert isinstance(y, mg.Tensor) and _run(y, {x: -1.0}) == -3.0
    single = mg.case([(x > 0.0, lambda: x * 2.0)])
    assert _run(single, {x: 2.0}) == 4.0
    with pytest.raises(InvalidArgumentError, match="none of the conditions"):
        _run(single, {x: -2.0})
    with pytest.raises(TypeError, match="not a \\(pred, fn\\) pair"):
        mg.case([x > 0.0])
    with pytest.raises(TypeError, match="not callable"):
        mg.case([(x > 0.0, x)])


# -- while_loop: forward ----------------------------------------------------------------------


def test_while_loop_counts_and_accumulates():
    n = mg.placeholder(mg.int32, [])
    i, total = mg.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + mg.cast(i, mg.float64)),
                             [mg.constant(0), mg.constant(0.0, mg.float64)])
    assert _run([i, total], {n: 5}) == [5, 10.0]
    assert _run([i, total], {n: 0}) == [0, 0.0]


def test_single_loop_var_and_return_same_structure():
    x = mg.constant(1.0, mg.float64)
    single = mg.while_loop(lambda v: v < 100.0, lambda v: v * 3.0, [x])
    assert isinstance(single, mg.Tensor) and _run(single) == 243.0
    same = mg.while_loop(lambda v: v < 100.0, lambda v: [v * 3.0], [x], return_same_structure=True)
    assert isinstance(same, list) and _run(same[0]) == 243.0


def test_nested_loop_vars_and_python_numbers():
    init = (mg.constant(0), Pair(mg.constant(1.0, mg.float64), mg.constant(np.ones(2))))

    def body(i, pair):
        return i + 1, Pair(pair.a * 2.0, pair.b + 1)  # a plain 1 takes the loop var's dtype
    i, pair = mg.while_loop(lambda i, pair: i < 3, body, init)
    assert isinstance(pair, Pair)
    got = _run([i, pair.a, pair.b])
    assert got[0] == 3 and got[1] == 8.0
    np.testing.assert_allclose(got[2], [4.0, 4.0])


@pytest.mark.parametrize("limit", [2, "tensor"])
def test_maximum_iterations(limit):
    m = mg.placeholder(mg.int32, []) if limit == "tensor" else limit
    out = mg.while_loop(lambda v: v < 1e9, lambda v: v * 2.0, [mg.constant(1.0, mg.float64)],
                        maximum_iterations=m)
    assert _run(out, {m: 2} if limit == "tensor" else {}) == 4.0


def test_shape_invariants_let_a_loop_variable_grow():
    x = mg.constant(np.array([1.0]))
    out = mg.while_loop(lambda v: mg.size(v) < 8, lambda v: mg.concat([v, v * 2.0], 0), [x],
                        shape_invariants=[mg.TensorShape([None])])
    assert out.type.shape == (None,)
    np.testing.assert_allclose(_run(out), [1, 2, 2, 4, 2, 4, 4, 8])
    with pytest.raises(ValueError, match=r"enters the loop with shape \(1,\), but has shape "
                                         r"\(2,\) after one iteration.*shape_invariants"):
        mg.while_loop(lambda v: mg.size(v) < 8, lambda v: mg.concat([v, v], 0), [x])
    with pytest.raises(ValueError, match="not compatible with its initial shape"):
        mg.while_loop(lambda v: True, lambda v: v, [x], shape_invariants=[[2]])


def test_shape_invariant_is_checked_at_run_time_when_inference_cannot():
    idx = mg.placeholder(mg.int64, [None])
    out = mg.while_loop(lambda i, v: i < 2, lambda i, v: (i + 1, mg.gather(v, idx)),
                        [mg.constant(0), mg.constant(np.arange(2.0))])
    np.testing.assert_allclose(_run(out[1], {idx: [1, 0]}), [0.0, 1.0])
    with pytest.raises(InvalidArgumentError, match=r"loop variable 1 after iteration 0 has "
                                                   r"shape \(3,\), outside its shape invariant"):
        _run(out, {idx: [1, 0, 1]})


def test_body_is_not_run_when_the_condition_is_false_at_once():
    table = mg.constant(np.arange(3.0))
    out = mg.while_loop(lambda i, v: i < 0, lambda i, v: (i + 1, mg.gather(table, i + 9)),
                        [mg.constant(0, mg.int64), mg.constant(0.0, mg.float64)])
    assert list(_run(out)) == [0, 0.0]


def test_captured_variables_in_cond_and_body():
    limit, step = mg.Variable(np.float64(10.0)), mg.Variable(np.float64(3.0))
    out = mg.while_loop(lambda v: v < limit, lambda v: v + step, [mg.constant(0.0, mg.float64)])
    assert _run(out) == 12.0


def test_random_draws_are_fresh_every_iteration():
    def body(i, acc):
        return i + 1, mg.concat([acc, mg.random_uniform([1], dtype=mg.float64)], 0)
    out = mg.while_loop(lambda i, acc: i < 4, body, [mg.constant(0), mg.zeros([0], mg.float64)],
                        shape_invariants=[mg.TensorShape([]), mg.TensorShape([None])])
    draws = _run(out[1])
    assert draws.shape == (4,) and len(set(draws.tolist())) == 4


def test_while_loop_with_function():
    x = mg.placeholder(mg.float64, [])
    f = mg.function([x], mg.while_loop(lambda v: v < 50.0, lambda v: v * v, [x]))
    assert f(2.0) == 256.0 and f(10.0) == 100.0


# -- while_loop: errors -----------------------------------------------------------------------


def test_while_loop_errors():
    i0, x0 = mg.constant(0), mg.constant(1.0, mg.float64)
    with pytest.raises(ValueError, match=r"structure of loop_vars \(list of 2 vs 1 elements\)"):
        mg.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1,), [i0, x0])
    with pytest.raises(TypeError, match=r"body returns float32 for loop variable 1"):
        mg.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, mg.cast(x, mg.float32)), [i0, x0])
    with pytest.raises(TypeError, match="cond must return a scalar bool tensor"):
        mg.while_loop(lambda i, x: x, lambda i, x: (i + 1, x), [i0, x0])
    with pytest.raises(TypeError, match="must be callable"):
        mg.while_loop(None, lambda i: i, [i0])
    with pytest.raises(ValueError, match="while_loop: fn must not change state"):
        v = mg.Variable(np.float64(0.0))
        mg.while_loop(lambda x: x < 3.0, lambda x: mg.assign_add(v, x), [x0])


def test_loop_values_fetched_outside_the_loop_are_a_clear_error():
    seen = []
    mg.while_loop(lambda v: v < 3.0, lambda v: seen.append(v * 2.0) or seen[-1],
                  [mg.constant(1.0, mg.float64)])
    with pytest.raises(RuntimeError, match="per-step value of while_loop 'while'"):
        _run(seen[0])


# -- nesting ------------------------------------------------------------------------------------


def _collatz_steps(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def test_cond_inside_while_loop():
    n0 = mg.placeholder(mg.int64, [])
    _, steps = mg.while_loop(
        lambda n, k: mg.not_equal(n, 1),
        lambda n, k: (mg.cond(mg.equal(n % 2, 0), lambda: n // 2, lambda: 3 * n + 1), k + 1),
        [n0, mg.constant(0)])
    for value in (1, 6, 27):
        assert _run(steps, {n0: value}) == _collatz_steps(value)


def test_while_loop_inside_cond_and_nested_loops():
    p, x = mg.placeholder(mg.bool, []), mg.placeholder(mg.float64, [])

    def doubling():
        return mg.while_loop(lambda v: v < 100.0, lambda v: v * 2.0, [x])

    def table_sum():  # sum over i < 3, j < 4 of (i + j)
        def outer(i, acc):
            inner = mg.while_loop(lambda j, a: j < 4, lambda j, a: (j + 1, a + i + j),
                                  [mg.constant(0), acc])
            return i + 1, inner[1]
        return mg.cast(mg.while_loop(lambda i, a: i < 3, outer,
                                     [mg.constant(0), mg.constant(0)])[1], mg.float64)
    y = mg.cond(p, doubling, table_sum)
    assert _run(y, {p: True, x: 3.0}) == 192.0
    assert _run(y, {p: False, x: 3.0}) == 30.0


# -- the compiled bodies ------------------------------------------------------------------------


def test_bodies_compile_once_and_never_per_iteration(compile_counts):
    counts = compile_counts
    x, n = mg.placeholder(mg.float64, [3]), mg.placeholder(mg.int32, [])
    _, y = mg.while_loop(lambda i, v: i < n, lambda i, v: (i + 1, mg.tanh(v) + 1.0),
                         [mg.constant(0), x])
    with mg.Session() as sess:
        sess.run(y, {x: np.zeros(3), n: 5})
        assert counts == {"bind": 3, "compile": 2}  # outer program, condition, body
        sess.run(y, {x: np.zeros(3), n: 40})
    assert counts == {"bind": 3, "compile": 2}


# -- gradients ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_gradients_through_either_branch(sign):
    def build(x, w):
        return mg.cond(x[0] > 0.0, lambda: mg.tanh(x * w) * mg.reduce_sum(w),
                       lambda: mg.sin(x) + w * w * x)
    x = RNG.standard_normal(3)
    x[0] = 2.0 * sign
    check_grads(build, [x, RNG.standard_normal(3)], seed=0)


def test_cond_gradient_of_outer_values_that_depend_on_each_other():
    def build(x):
        h = x * 2.0  # captured next to x, which it depends on
        return mg.cond(mg.reduce_sum(x) > -100.0, lambda: h * x + h, lambda: x)
    check_grads(build, [RNG.standard_normal(3)], seed=1)


def test_cond_second_order_gradients():
    def build(x):
        return mg.cond(x[0] > 0.0, lambda: mg.reduce_sum(mg.sin(x) * x * x),
                       lambda: mg.reduce_sum(mg.exp(x)))
    check_grads(build, [np.array([1.0, 0.3, -0.7])], order=2, seed=2)
    check_grads(build, [np.array([-1.0, 0.3, -0.7])], order=2, seed=3)


def test_cond_gradient_replays_the_forward_random_draws():
    x, p = mg.placeholder(mg.float64, [4]), mg.placeholder(mg.bool, [])
    y = mg.cond(p, lambda: x * mg.random_uniform([4], dtype=mg.float64), lambda: x)
    (g,) = mg.gradients(mg.reduce_sum(y), [x])
    value = RNG.uniform(1, 2, 4)
    got, grad = _run([y, g], {x: value, p: True})
    np.testing.assert_allclose(grad, got / value)
    np.testing.assert_allclose(_run(g, {x: value, p: False}), np.ones(4))


def test_case_gradient():
    def build(x):
        return mg.case([(x[0] > 1.0, lambda: x * x), (x[0] > 0.0, lambda: mg.sin(x))],
                       default=lambda: x * 3.0)
    for first in (2.0, 0.5, -1.0):
        check_grads(build, [np.array([first, 0.4])], seed=4)


def test_repeated_squaring_gradient():
    """``x ** (2 ** n)`` with ``n`` set by the data: square until the value exceeds 10."""
    def build(x):
        return mg.while_loop(lambda v: v < 10.0, lambda v: v * v, [x])
    for start in (1.5, 2.5, 11.0):
        check_grads(build, [np.array(start)], seed=5)
    x = mg.placeholder(mg.float64, [])
    (g,) = mg.gradients(build(x), [x])
    assert _run(g, {x: 1.5}) == pytest.approx(8 * 1.5 ** 7)  # 1.5 -> 2.25 -> 5.06 -> 25.6


def test_newton_square_root_gradient():
    def build(a):
        return mg.while_loop(lambda k, y: k < 8, lambda k, y: (k + 1, 0.5 * (y + a / y)),
                             [mg.constant(0), a])[1]
    check_grads(build, [np.array([2.0, 9.0, 0.5])], seed=6)
    a = mg.placeholder(mg.float64, [3])
    (g,) = mg.gradients(mg.reduce_sum(build(a)), [a])
    np.testing.assert_allclose(_run(g, {a: [2.0, 9.0, 0.5]}), 0.5 / np.sqrt([2.0, 9.0, 0.5]))


def test_rnn_like_loop_gradient_with_captured_weights_and_max_iterations():
    def build(h0, w, b):
        return mg.while_loop(lambda i, h: i < 100, lambda i, h: (i + 1, mg.tanh(
            mg.matmul(h, w) + mg.exp(b))), [mg.constant(0), h0], maximum_iterations=4)[1]
    check_grads(build, [RNG.standard_normal((2, 3)), RNG.standard_normal((3, 3)) * 0.5,
                        RNG.standard_normal(3)], seed=7)


def test_gradient_of_a_growing_loop_variable():
    def build(x, w):
        return mg.while_loop(lambda v: mg.size(v) < 8, lambda v: mg.concat([v, v * w], 0), [x],
                             shape_invariants=[mg.TensorShape([None])])
    check_grads(build, [RNG.standard_normal(2), np.array(0.7)], seed=8)


def test_gradients_through_nested_control_flow():
    def cond_in_loop(x):
        def body(i, v):
            return i + 1, mg.cond(mg.reduce_sum(v) > 0.0, lambda: v * 0.5 + 1.0,
                                  lambda: mg.sin(v) * 2.0)
        return mg.while_loop(lambda i, v: i < 5, body, [mg.constant(0), x])[1]

    def loop_in_cond(x):
        return mg.cond(x[0] > 0.0, lambda: mg.while_loop(lambda v: mg.reduce_sum(v) < 20.0,
                                                         lambda v: v * 1.7, [x]),
                       lambda: x * 2.0)
    check_grads(cond_in_loop, [np.array([0.3, -0.2])], seed=9)
    check_grads(loop_in_cond, [np.array([1.0, 0.5])], seed=10)


def test_gradient_replays_the_loop_random_draws():
    x = mg.placeholder(mg.float64, [3])
    out = mg.while_loop(lambda i, v: i < 3,
                        lambda i, v: (i + 1, v * mg.random_uniform([3], 1.0, 2.0, mg.float64)),
                        [mg.constant(0), x])[1]
    (g,) = mg.gradients(mg.reduce_sum(out), [x])
    value = RNG.uniform(1, 2, 3)
    got, grad = _run([out, g], {x: value})
    np.testing.assert_allclose(grad, got / value)


def test_loop_gradient_options_and_limits():
    x = mg.placeholder(mg.float64, [])
    frozen = mg.while_loop(lambda v: v < 10.0, lambda v: v * v, [x], back_prop=False)
    assert mg.gradients(frozen, [x]) == [None]
    out = mg.while_loop(lambda v: v < 10.0, lambda v: v * v, [x])
    (g,) = mg.gradients(out, [x])
    assert _run(g, {x: 20.0}) == 1.0  # no iteration: the identity
    with pytest.raises(NotImplementedError, match="second-order gradients through while_loop"):
        mg.gradients(g, [x])


def test_loop_gradients_with_passthrough_and_zero_iterations():
    x, w, n = (mg.placeholder(mg.float64, [2]), mg.placeholder(mg.float64, []),
               mg.placeholder(mg.int32, []))
    _, kept, scaled = mg.while_loop(lambda i, a, b: i < n, lambda i, a, b: (i + 1, a, b * w),
                                    [mg.constant(0), x, x])
    grads = mg.gradients(mg.reduce_sum(kept * 2.0) + mg.reduce_sum(scaled), [x, w])
    feeds = {x: np.array([1.0, 2.0]), w: 2.0}
    gx, gw = _run(grads, {**feeds, n: 0})
    np.testing.assert_allclose(gx, [3.0, 3.0])
    assert gw == 0.0
    gx, gw = _run(grads, {**feeds, n: 3})
    np.testing.assert_allclose(gx, [10.0, 10.0])  # 2 + w ** 3
    assert gw == 36.0  # 3 w ** 2 * sum(x)


@pytest.mark.parametrize("construct", ["scan_in_cond", "cond_in_scan", "while_in_scan"])
def test_gradients_mixing_scan_and_control_flow(construct):
    def scan_in_cond(x, w):
        def branch():
            h = mg.tanh(w)
            out, _ = mg.scan(lambda x_t, s: s * h + x_t, sequences=x,
                             outputs_info=mg.zeros([2], mg.float64))
            return out[-1]
        return mg.cond(mg.reduce_sum(w) > -100.0, branch, lambda: w)

    def cond_in_scan(x, w):
        out, _ = mg.scan(lambda x_t, s: mg.cond(mg.reduce_sum(x_t) > 0.0, lambda: s * w + x_t,
                                                lambda: mg.sin(s) - x_t),
                         sequences=x, outputs_info=mg.zeros([2], mg.float64))
        return out

    def while_in_scan(x, w):
        def step(x_t, s):
            return mg.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, mg.tanh(v * w + x_t)),
                                 [mg.constant(0), s])[1]
        out, _ = mg.scan(step, sequences=x, outputs_info=mg.zeros([2], mg.float64))
        return out
    build = {"scan_in_cond": scan_in_cond, "cond_in_scan": cond_in_scan,
             "while_in_scan": while_in_scan}[construct]
    check_grads(build, [RNG.standard_normal((4, 2)), RNG.standard_normal(2)], seed=12)


def test_control_flow_under_outer_control_dependencies():
    counter = mg.Variable(np.float64(0.0))
    bump = mg.assign_add(counter, 1.0)
    p = mg.placeholder(mg.bool, [])
    with mg.control_dependencies([bump]):
        y = mg.cond(p, lambda: counter + 10.0, lambda: counter - 10.0)
        z = mg.while_loop(lambda v: v < 3.0, lambda v: v + 1.0, [mg.constant(0.0, mg.float64)])
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        assert sess.run([y, z], {p: True}) == [10.0, 3.0]  # reads see the value before the run
        assert sess.run(counter) == 1.0
