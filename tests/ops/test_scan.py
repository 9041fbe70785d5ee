"""``mg.scan``: forward values against NumPy loops, errors, gradients (BPTT, truncated BPTT)
and the compiled loop (one body compile, no per-step graph work). Runs on ``--backend``."""
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.compiler import compile_plan
from minigraph.errors import InvalidArgumentError
from minigraph.testing import check_grads

RNG = np.random.default_rng(7)
FEW = settings(max_examples=3, deadline=None)


def _run(fetches, feeds=None):
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        return sess.run(fetches, feeds or {})


def _np_rnn(x, h0, w, b=0.0):
    h, out = h0, []
    for x_t in x:
        h = np.tanh(x_t + h @ w + b)
        out.append(h)
    return np.array(out).reshape((len(x),) + np.shape(h0))


# -- forward ------------------------------------------------------------------------------------


def test_cumulative_sum_matches_numpy():
    x = mg.placeholder(mg.float64, [None, 3])
    sums, updates = mg.scan(lambda x_t, acc: acc + x_t, sequences=x,
                            outputs_info=mg.zeros([3], mg.float64))
    value = RNG.standard_normal((6, 3))
    assert isinstance(updates, OrderedDict) and not updates
    np.testing.assert_allclose(_run(sums, {x: value}), np.cumsum(value, axis=0))


def test_tanh_rnn_with_captured_weights():
    w_value, b_value = RNG.standard_normal((4, 4)) * 0.5, RNG.standard_normal(4)
    w = mg.Variable(w_value)
    b = mg.constant(b_value)
    x, h0 = mg.placeholder(mg.float64, [None, 2, 4]), mg.placeholder(mg.float64, [2, 4])
    hs, _ = mg.scan(lambda x_t, h: mg.tanh(x_t + mg.matmul(h, w) + b), sequences=x,
                    outputs_info=h0)
    xv, hv = RNG.standard_normal((7, 2, 4)), RNG.standard_normal((2, 4))
    np.testing.assert_allclose(_run(hs, {x: xv, h0: hv}), _np_rnn(xv, hv, w_value, b_value))


def test_body_nodes_stay_out_of_the_outer_program():
    x, h0 = mg.placeholder(mg.float64, [None, 3]), mg.placeholder(mg.float64, [3])
    hs, _ = mg.scan(lambda x_t, h: mg.tanh(x_t * h), sequences=x, outputs_info=h0)
    plan = compile_plan([hs], [x, h0], mg.config.backend)
    assert [n.op for n in plan.program.nodes] == ["scan"]


def test_several_outputs_and_outputs_not_fed_back():
    x = mg.placeholder(mg.float64, [None, 2])

    def step(x_t, total):
        return [x_t * 2.0, total + x_t, mg.reduce_sum(x_t)]
    (doubled, totals, sums), _ = mg.scan(step, sequences=x,
                                         outputs_info=[None, mg.zeros([2], mg.float64), None])
    value = RNG.standard_normal((5, 2))
    got = _run([doubled, totals, sums], {x: value})
    np.testing.assert_allclose(got[0], 2 * value)
    np.testing.assert_allclose(got[1], np.cumsum(value, axis=0))
    np.testing.assert_allclose(got[2], value.sum(axis=1))


def test_outputs_info_none_means_no_feedback_and_return_list():
    x = mg.placeholder(mg.float64, [None])
    out, _ = mg.scan(lambda x_t: x_t ** 2, sequences=[x], return_list=True)
    assert isinstance(out, list) and len(out) == 1
    np.testing.assert_allclose(_run(out[0], {x: np.arange(4.0)}), np.arange(4.0) ** 2)


def test_sequence_taps_and_output_taps():
    x = mg.placeholder(mg.float64, [None])
    fib_init = mg.constant(np.array([0.0, 1.0]))

    def step(x_prev, x_next, f2, f1):
        return x_next - x_prev, f2 + f1
    (diffs, fib), _ = mg.scan(step, sequences=dict(input=x, taps=[-1, 1]),
                              outputs_info=[None, dict(initial=fib_init, taps=[-2, -1])])
    value = RNG.standard_normal(8)
    got = _run([diffs, fib], {x: value})
    np.testing.assert_allclose(got[0], value[2:] - value[:-2])
    np.testing.assert_allclose(got[1], [1, 2, 3, 5, 8, 13])


def test_go_backwards_iterates_from_the_end():
    x = mg.placeholder(mg.float64, [None])
    sums, _ = mg.scan(lambda x_t, acc: acc + x_t, sequences=x,
                      outputs_info=mg.constant(0.0, mg.float64), go_backwards=True)
    value = RNG.standard_normal(5)
    np.testing.assert_allclose(_run(sums, {x: value}), np.cumsum(value[::-1]))


def test_n_steps_without_sequences_and_non_sequences():
    a = mg.placeholder(mg.float64, [2])
    powers, _ = mg.scan(lambda p, factor: p * factor, outputs_info=mg.ones([2], mg.float64),
                        non_sequences=a, n_steps=4)
    np.testing.assert_allclose(_run(powers, {a: np.array([2.0, 3.0])}),
                               [[2, 3], [4, 9], [8, 27], [16, 81]])


def test_n_steps_tensor_limits_the_sequences():
    x, n = mg.placeholder(mg.float64, [None]), mg.placeholder(mg.int32, [])
    out, _ = mg.scan(lambda x_t: x_t + 1.0, sequences=x, n_steps=n)
    np.testing.assert_allclose(_run(out, {x: np.arange(5.0), n: 3}), [1, 2, 3])
    np.testing.assert_allclose(_run(out, {x: np.arange(2.0), n: 3}), [1, 2])
    assert _run(out, {x: np.arange(5.0), n: 0}).shape == (0,)


def test_variable_created_inside_fn_lands_in_the_graph():
    x = mg.placeholder(mg.float64, [None])

    def step(x_t, h):
        scale = mg.Variable(np.float64(0.5), name="scale")
        return h * scale + x_t
    hs, _ = mg.scan(step, sequences=x, outputs_info=mg.constant(0.0, mg.float64))
    assert [v.name for v in mg.global_variables()] == ["scale:0"]
    assert len(mg.trainable_variables()) == 1
    value = RNG.standard_normal(4)
    expected, h = [], 0.0
    for x_t in value:
        h = 0.5 * h + x_t
        expected.append(h)
    np.testing.assert_allclose(_run(hs, {x: value}), expected)


def test_function_with_updates_from_scan():
    counter = mg.shared(np.float64(1.0), name="counter")
    x = mg.placeholder(mg.float64, [None])
    out, updates = mg.scan(lambda x_t: x_t * counter, sequences=x)
    updates[counter] = counter + 1.0
    f = mg.function([x], out, updates=updates)
    np.testing.assert_allclose(f(np.arange(3.0)), [0, 1, 2])
    np.testing.assert_allclose(f(np.arange(3.0)), [0, 2, 4])


def test_session_run_with_integer_mask_sequence():
    x, mask = mg.placeholder(mg.float64, [None, 3]), mg.placeholder(mg.bool, [None])
    hs, _ = mg.scan(lambda x_t, m, h: mg.where(m, h + x_t, h), sequences=[x, mask],
                    outputs_info=mg.zeros([3], mg.float64))
    xv, mv = RNG.standard_normal((4, 3)), np.array([True, False, True, True])
    np.testing.assert_allclose(_run(hs, {x: xv, mask: mv}), np.cumsum(xv * mv[:, None], axis=0))


def test_scan_of_constants_survives_the_compiler():
    seq = mg.constant(np.arange(4.0))
    out, _ = mg.scan(lambda x_t, h: h + x_t, sequences=seq, outputs_info=mg.constant(1.0,
                                                                                      mg.float64))
    np.testing.assert_allclose(_run(out), 1 + np.cumsum(np.arange(4.0)))


def test_random_op_independent_of_steps_is_hoisted():
    x = mg.placeholder(mg.float64, [None, 3])
    noise = mg.random_uniform([3], dtype=mg.float64)
    out, _ = mg.scan(lambda x_t: x_t * 0.0 + noise, sequences=x)
    got = _run(out, {x: np.zeros((4, 3))})
    assert np.all(got == got[0])


def test_nested_scan():
    x = mg.placeholder(mg.float64, [None, None])

    def row_sums(row, acc):
        inner, _ = mg.scan(lambda v, a: a + v, sequences=row, outputs_info=acc)
        return inner[-1]
    out, _ = mg.scan(row_sums, sequences=x, outputs_info=mg.constant(0.0, mg.float64))
    value = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(_run(out, {x: value}), np.cumsum(value.sum(axis=1)))


# -- errors -------------------------------------------------------------------------------------


def test_recurrent_type_mismatch_names_scan_types_and_line():
    x = mg.placeholder(mg.float64, [None, 3])
    with pytest.raises(ValueError, match=r"scan.*test_scan.py.*\(3,\) float32.*float64"):
        mg.scan(lambda x_t, h: x_t + 1.0, sequences=x, outputs_info=mg.zeros([3], mg.float32))
    with pytest.raises(ValueError, match=r"recurrent output 0.*\(4,\) float64"):
        mg.scan(lambda x_t, h: x_t, sequences=x, outputs_info=mg.zeros([4], mg.float64))


@pytest.mark.parametrize("fn, kwargs, error, pattern", [
    (lambda x_t: {"a": x_t}, {}, TypeError, "returned a dict"),
    (lambda x_t: (x_t, x_t), {"outputs_info": [None]}, ValueError, "returned 2 outputs"),
    (lambda x_t: [], {}, ValueError, "at least one output"),
])
def test_bad_step_functions(fn, kwargs, error, pattern):
    x = mg.placeholder(mg.float64, [None, 3])
    with pytest.raises(error, match=pattern):
        mg.scan(fn, sequences=x, **kwargs)


def test_bad_arguments():
    x = mg.placeholder(mg.float64, [None, 3])
    with pytest.raises(ValueError, match="n_steps must be given"):
        mg.scan(lambda h: h, outputs_info=x)
    with pytest.raises(ValueError, match="scalar"):
        mg.scan(lambda s: s, sequences=mg.constant(1.0))
    with pytest.raises(ValueError, match="taps must be negative"):
        mg.scan(lambda x_t, h: h, sequences=x, outputs_info=dict(initial=x, taps=[0]))
    with pytest.raises(ValueError, match="truncate_gradient"):
        mg.scan(lambda x_t: x_t, sequences=x, truncate_gradient=0)


def test_state_writes_inside_the_body_are_refused():
    v = mg.Variable(np.zeros(3))
    x = mg.placeholder(mg.float64, [None, 3])
    with pytest.raises(ValueError, match="must not change state"):
        mg.scan(lambda x_t: mg.assign(v, x_t), sequences=x)


def test_run_time_error_names_scan_and_step():
    table = mg.constant(np.arange(6.0).reshape(3, 2))
    idx = mg.placeholder(mg.int64, [None])
    rows, _ = mg.scan(lambda i: mg.gather(table, i), sequences=idx)
    with pytest.raises(InvalidArgumentError, match=r"scan 'scan/Scan' \(test_scan.py:\d+\), "
                                                   r"step 2"):
        _run(rows, {idx: np.array([0, 2, 7, 1])})


def test_step_value_fetched_outside_the_loop_is_a_clear_error():
    x = mg.placeholder(mg.float64, [None])
    inner = []
    mg.scan(lambda x_t: inner.append(x_t * 2.0) or inner[-1], sequences=x)
    with pytest.raises(RuntimeError, match="per-step value of scan 'scan'"):
        _run(inner[0], {x: np.arange(3.0)})


def test_second_order_gradient_is_refused():
    x = mg.placeholder(mg.float64, [None])
    out, _ = mg.scan(lambda x_t: x_t ** 2, sequences=x)
    (g,) = mg.gradients(mg.reduce_sum(out), [x])
    with pytest.raises(NotImplementedError, match="second-order gradients through scan"):
        mg.gradients(mg.reduce_sum(g * g), [x])


# -- gradients ----------------------------------------------------------------------------------


def _rnn_builder(**scan_kwargs):
    def build(x, h0, w):
        hs, _ = mg.scan(lambda x_t, h: mg.tanh(x_t + mg.matmul(h, w)), sequences=x,
                        outputs_info=h0, **scan_kwargs)
        return hs
    return build


@FEW
@given(steps=st.integers(1, 5), batch=st.integers(1, 2), units=st.integers(1, 3),
       truncate=st.sampled_from([-1, 5, 9]))
def test_rnn_gradients_match_finite_differences(steps, batch, units, truncate):
    """Truncation at or beyond the sequence length is the full gradient (shorter truncation is
    checked against a NumPy truncated BPTT below)."""
    args = [RNG.standard_normal((steps, batch, units)), RNG.standard_normal((batch, units)),
            RNG.standard_normal((units, units)) * 0.5]
    check_grads(_rnn_builder(truncate_gradient=truncate), args, seed=0)


def test_long_rnn_gradient():
    args = [RNG.standard_normal((24, 2, 3)), RNG.standard_normal((2, 3)),
            RNG.standard_normal((3, 3)) * 0.4]
    check_grads(_rnn_builder(), args, seed=1)


@pytest.mark.parametrize("kwargs", [{"go_backwards": True}, {"n_steps": 3}])
def test_gradients_with_options(kwargs):
    args = [RNG.standard_normal((5, 1, 2)), RNG.standard_normal((1, 2)),
            RNG.standard_normal((2, 2)) * 0.5]
    check_grads(_rnn_builder(**kwargs), args, seed=2)


def test_gradients_through_taps_outputs_and_non_sequences():
    def build(x, init, a):
        def step(x_prev, x_now, h2, h1, scale):
            new = mg.tanh(scale * h2 + h1 * x_now) + x_prev
            return [new * 2.0, new]
        (doubled, hs), _ = mg.scan(step, sequences=dict(input=x, taps=[-1, 0]),
                                   outputs_info=[None, dict(initial=init, taps=[-2, -1])],
                                   non_sequences=a)
        return [doubled, hs]
    check_grads(build, [RNG.standard_normal((5, 2)), RNG.standard_normal((2, 2)),
                        RNG.standard_normal(2)], seed=3)


def test_gradient_of_a_variable_captured_by_the_closure():
    w_value = RNG.standard_normal((3, 3)) * 0.5
    w = mg.Variable(w_value)
    x, h0 = mg.placeholder(mg.float64, [None, 3]), mg.placeholder(mg.float64, [3])
    hs, _ = mg.scan(lambda x_t, h: mg.tanh(x_t + mg.reshape(mg.matmul(mg.reshape(h, [1, 3]), w),
                                                             [3])), sequences=x, outputs_info=h0)
    (gw,) = mg.gradients(mg.reduce_sum(hs), [w])
    xv, hv = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    _, dw, _ = _np_truncated_bptt(xv, hv, w_value, np.ones((4, 3)), truncate=4)
    np.testing.assert_allclose(_run(gw, {x: xv, h0: hv}), dw, rtol=1e-10, atol=1e-12)


def _np_truncated_bptt(x, h0, w, dh, truncate):
    """Reference BPTT of ``sum(dh * hs)`` for ``h_t = tanh(x_t + h_{t-1} w)`` through the last
    ``truncate`` steps only: (dx, dw, dh0)."""
    hs = _np_rnn(x, h0, w)
    prev = np.concatenate([h0[None], hs[:-1]])
    n = len(x)
    dx, dw, carried = np.zeros_like(x), np.zeros_like(w), np.zeros_like(h0)
    for t in range(n - 1, n - 1 - min(n, truncate), -1):
        dpre = (carried + dh[t]) * (1 - hs[t] ** 2)
        dx[t] = dpre
        dw += np.outer(prev[t], dpre) if prev.ndim == 2 else prev[t].T @ dpre
        carried = dpre @ w.T
    return dx, dw, carried if truncate >= n else np.zeros_like(h0)


@FEW
@given(steps=st.integers(2, 8), truncate=st.integers(1, 9), backwards=st.booleans())
def test_truncated_gradients_match_numpy_bptt(steps, truncate, backwards):
    x, h0 = RNG.standard_normal((steps, 2, 3)), RNG.standard_normal((2, 3))
    w, dh = RNG.standard_normal((3, 3)) * 0.5, RNG.standard_normal((steps, 2, 3))
    xs, h0s, ws = (mg.placeholder(mg.float64, a.shape) for a in (x, h0, w))
    hs = _rnn_builder(truncate_gradient=truncate, go_backwards=backwards)(xs, h0s, ws)
    grads = mg.gradients(mg.reduce_sum(hs * dh), [xs, ws, h0s])
    got = _run(grads, {xs: x, h0s: h0, ws: w})
    dx, dw, dh0 = _np_truncated_bptt(x[::-1] if backwards else x, h0, w, dh, truncate)
    for g, expected in zip(got, [dx[::-1] if backwards else dx, dw, dh0]):
        np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-12)


def test_sparse_gradient_of_a_table_read_inside_the_body():
    table_value = RNG.standard_normal((5, 3))
    table = mg.Variable(table_value)
    idx = mg.placeholder(mg.int64, [None])
    hs, _ = mg.scan(lambda i, h: h + mg.gather(table, i), sequences=idx,
                    outputs_info=mg.zeros([3], mg.float64))
    (g,) = mg.gradients(mg.reduce_sum(hs), [table])
    expected = np.zeros((5, 3))
    for t, i in enumerate([0, 2, 2, 4]):
        expected[i] += 4 - t  # row read at step t reaches every later output
    np.testing.assert_allclose(_run(mg.convert_to_tensor(g), {idx: np.array([0, 2, 2, 4])}),
                               expected)


def test_nested_scan_gradient():
    def build(x):
        def row(r, acc):
            inner, _ = mg.scan(lambda v, q: mg.tanh(q * v + 0.3), sequences=r, outputs_info=acc)
            return inner[-1]
        out, _ = mg.scan(row, sequences=x, outputs_info=mg.constant(0.5, mg.float64))
        return out
    check_grads(build, [RNG.standard_normal((3, 4))], seed=4)


def test_gradient_replays_the_forward_random_draws():
    x = mg.placeholder(mg.float64, [None, None])  # the draw's shape depends on the step
    out, _ = mg.scan(lambda x_t: x_t * mg.random_uniform(mg.shape(x_t), dtype=mg.float64),
                     sequences=x)
    (gx,) = mg.gradients(mg.reduce_sum(out), [x])
    value = RNG.uniform(1, 2, (5, 4))
    got, grad = _run([out, gx], {x: value})
    np.testing.assert_allclose(grad, got / value)
    assert not np.allclose(grad, grad[0])  # a fresh draw per step


def test_unused_sequence_tail_gets_zero_gradient():
    x = mg.placeholder(mg.float64, [5])
    out, _ = mg.scan(lambda x_t: x_t * 3.0, sequences=x, n_steps=2)
    (gx,) = mg.gradients(mg.reduce_sum(out), [x])
    np.testing.assert_allclose(_run(gx, {x: np.ones(5)}), [3, 3, 0, 0, 0])


# -- the compiled loop --------------------------------------------------------------------------


def test_body_is_compiled_once_and_never_per_step(compile_counts):
    counts = compile_counts
    x, h0 = mg.placeholder(mg.float64, [None, 3]), mg.placeholder(mg.float64, [3])
    hs, _ = mg.scan(lambda x_t, h: mg.tanh(x_t + h), sequences=x, outputs_info=h0)
    (gx,) = mg.gradients(mg.reduce_sum(hs), [x])
    feeds = {x: RNG.standard_normal((12, 3)), h0: np.zeros(3)}
    with mg.Session() as sess:
        sess.run([hs, gx], feeds)
        assert counts == {"bind": 3, "compile": 2}  # outer program, forward and backward body
        sess.run([hs, gx], feeds)
        sess.run([hs, gx], {x: RNG.standard_normal((30, 3)), h0: np.zeros(3)})
    assert counts == {"bind": 4, "compile": 2}  # a new sequence length rebinds the outer only
