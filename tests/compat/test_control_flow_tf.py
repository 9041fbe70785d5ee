"""Where TensorFlow is installed: the same TF1 control-flow scripts (``cond``, ``case``,
``while_loop``, their gradients, shape invariants and static errors) run under tf.compat.v1
(v1 control flow) and under minigraph give the same numbers, structures and error types."""
from collections import namedtuple

import numpy as np
import pytest

import minigraph as mg

Pair = namedtuple("Pair", "a b")
RNG = np.random.default_rng(3)


@pytest.fixture(scope="module")
def tf1():
    tf = pytest.importorskip("tensorflow")
    v1 = tf.compat.v1
    v1.disable_eager_execution()
    v1.disable_control_flow_v2()  # TF1's own cond/while (singleton unpacking, error types)
    yield v1
    v1.enable_control_flow_v2()


def _run_tf(tf1, script, feeds):
    with tf1.Graph().as_default():
        placeholders, fetches = script(tf1)
        with tf1.Session() as sess:
            return sess.run(fetches, dict(zip(placeholders, feeds)))


def _run_mg(script, feeds):
    with mg.Graph().as_default():
        placeholders, fetches = script(mg)
        with mg.Session() as sess:
            return sess.run(fetches, dict(zip(placeholders, feeds)))


def _assert_same(tf1, script, feeds):
    theirs, ours = _run_tf(tf1, script, feeds), _run_mg(script, feeds)
    _compare(theirs, ours)


def _compare(theirs, ours):
    if isinstance(theirs, dict):
        assert sorted(theirs) == sorted(ours)
        for key in theirs:
            _compare(theirs[key], ours[key])
    elif isinstance(theirs, (list, tuple)):
        assert type(theirs) is type(ours) and len(theirs) == len(ours)
        for a, b in zip(theirs, ours):
            _compare(a, b)
    else:
        assert np.shape(theirs) == np.shape(ours)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


# -- scripts: each builds the same graph under ``lib`` (tf.compat.v1 or minigraph) -----------


def cond_script(lib):
    x, p = lib.placeholder(lib.float64, [3]), lib.placeholder(lib.bool, [])
    out = lib.cond(p, lambda: {"s": (lib.sin(x) * x, Pair(x * 2.0, lib.reduce_sum(x)))},
                   lambda: {"s": (lib.exp(x), Pair(-x, lib.reduce_sum(x * x)))})
    single = lib.cond(p, lambda: [x + 1.0], lambda: [x - 1.0])
    loss = lib.reduce_sum(out["s"][0] * out["s"][1].a) + out["s"][1].b * 3.0
    return (x, p), [out, single, lib.gradients(loss, [x])]


def case_script(lib):
    x = lib.placeholder(lib.float64, [])
    y = lib.case([(x > 1.0, lambda: x * x), (x > 0.0, lambda: lib.sin(x))],
                 default=lambda: x * 3.0)
    z = lib.case([(x > 1.0, lambda: x * x), (x < -1.0, lambda: -x)], default=lambda: x + 1.0,
                 exclusive=True)
    return (x,), [y, z, lib.gradients(y + z, [x])]


def newton_script(lib):
    a = lib.placeholder(lib.float64, [3])
    _, root = lib.while_loop(lambda k, y: lib.reduce_max(lib.abs(y * y - a)) > 1e-12,
                             lambda k, y: [k + 1, 0.5 * (y + a / y)], [lib.constant(0), a],
                             maximum_iterations=30)
    return (a,), [root, lib.gradients(lib.reduce_sum(root * root * root), [a])]


def squaring_script(lib):
    x = lib.placeholder(lib.float64, [])
    n, y = lib.while_loop(lambda n, v: v < 10.0, lambda n, v: (n + 1, v * v),
                          (lib.constant(0), x))
    return (x,), [n, y, lib.gradients(y, [x])]


def rnn_script(lib):
    h0, w = lib.placeholder(lib.float64, [2, 3]), lib.placeholder(lib.float64, [3, 3])
    b = lib.placeholder(lib.float64, [3])
    i, h = lib.while_loop(lambda i, h: i < 100,
                          lambda i, h: [i + 1, lib.tanh(lib.matmul(h, w) + b)],
                          [lib.constant(0), h0], maximum_iterations=5)
    return (h0, w, b), [i, h, lib.gradients(lib.reduce_sum(h * h), [h0, w, b])]


def growing_script(lib):
    x, w = lib.placeholder(lib.float64, [2]), lib.placeholder(lib.float64, [])
    out = lib.while_loop(lambda v: lib.size(v) < 16, lambda v: lib.concat([v, lib.sin(v * w)], 0),
                         [x], shape_invariants=[lib.TensorShape([None])])
    return (x, w), [out, lib.gradients(lib.reduce_sum(out * out), [x, w])]


def nested_script(lib):
    x = lib.placeholder(lib.float64, [2])

    def body(i, v):
        return i + 1, lib.cond(lib.reduce_sum(v) > 0.0, lambda: v * 0.5 + 1.0,
                               lambda: lib.sin(v) * 2.0)
    _, looped = lib.while_loop(lambda i, v: i < 5, body, [lib.constant(0), x])
    branched = lib.cond(x[0] > 0.0,
                        lambda: lib.while_loop(lambda v: lib.reduce_sum(v) < 20.0,
                                               lambda v: v * 1.7, [x]),
                        lambda: x * 2.0)
    return (x,), [looped, branched, lib.gradients(lib.reduce_sum(looped * branched), [x])]


# -- duals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pred", [True, False])
def test_cond_matches_tensorflow(tf1, pred):
    _assert_same(tf1, cond_script, [RNG.standard_normal(3), pred])


@pytest.mark.parametrize("x", [2.0, 0.5, -0.5, -3.0])
def test_case_matches_tensorflow(tf1, x):
    _assert_same(tf1, case_script, [x])


@pytest.mark.parametrize("script, feeds", [
    (newton_script, [np.array([2.0, 9.0, 0.5])]),
    (squaring_script, [1.5]),
    (squaring_script, [12.0]),
    (rnn_script, [RNG.standard_normal((2, 3)), RNG.standard_normal((3, 3)) * 0.5,
                  RNG.standard_normal(3)]),
    (growing_script, [np.array([0.3, -0.8]), 0.9]),
    (nested_script, [np.array([0.3, -0.2])]),
    (nested_script, [np.array([-0.3, 0.6])]),
])
def test_while_loop_matches_tensorflow(tf1, script, feeds):
    _assert_same(tf1, script, feeds)


def test_exclusive_case_violation_is_a_run_time_error_in_both(tf1):
    def script(lib):
        x = lib.placeholder(lib.float64, [])
        return (x,), lib.case([(x > 0.0, lambda: x), (x > 1.0, lambda: -x)],
                              default=lambda: x * 0.0, exclusive=True)
    with pytest.raises(tf1.errors.InvalidArgumentError):
        _run_tf(tf1, script, [2.0])
    with pytest.raises(mg.errors.InvalidArgumentError):
        _run_mg(script, [2.0])


@pytest.mark.parametrize("build, error", [
    (lambda lib, x: lib.cond(x[0] > 0.0, lambda: (x, x), lambda: [x, x]), TypeError),
    (lambda lib, x: lib.while_loop(lambda v: lib.size(v) < 8, lambda v: lib.concat([v, v], 0),
                                   [x]), ValueError),
    (lambda lib, x: lib.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1,),
                                   [lib.constant(0), x]), ValueError),
])
def test_static_errors_match_tensorflow(tf1, build, error):
    with tf1.Graph().as_default():
        with pytest.raises(error):
            build(tf1, tf1.placeholder(tf1.float64, [2]))
    with mg.Graph().as_default():
        with pytest.raises(error):
            build(mg, mg.placeholder(mg.float64, [2]))
