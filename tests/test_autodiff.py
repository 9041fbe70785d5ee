"""Reverse-mode gradients: TF and Theano entry points, higher order, stop/custom gradients."""
import numpy as np
import pytest

import minigraph as mg
from minigraph.testing import check_grads


def run(fetches, feed=None):
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        return sess.run(fetches, feed)


def test_gradients_sum_over_ys_and_none_for_unconnected():
    x = mg.constant(3.0)
    z = mg.constant(5.0)
    y1, y2 = x * x, 2 * x
    gx, gz = mg.gradients([y1, y2], [x, z])
    assert gz is None
    assert run(gx) == 8.0
    (weighted,) = mg.gradients(y1, [x], grad_ys=[mg.constant(0.5)])
    assert run(weighted) == 3.0


def test_theano_grad_requires_scalar_cost_and_reports_disconnected():
    x, w = mg.vector("x"), mg.shared(np.ones(2, np.float32), name="w")
    with pytest.raises(TypeError, match="must be a scalar"):
        mg.grad(x * 2, x)
    lonely = mg.shared(np.float32(1.0), name="lonely")
    with pytest.raises(mg.errors.DisconnectedInputError, match="'lonely:0'"):
        mg.grad((x * w).sum(), [w, lonely])
    gw, gl = mg.grad((x * w).sum(), [w, lonely], disconnected_inputs="ignore")
    f = mg.function([x], [gw, gl])
    grads = f(np.array([3.0, 4.0], np.float32))
    np.testing.assert_allclose(grads[0], [3.0, 4.0])
    assert grads[1] == 0.0


def test_second_order_of_quadratic_is_two():
    u = mg.shared(20.0, name="u")
    cost = u * u + u + 1
    gu = mg.grad(cost, u)
    ggu = mg.grad(gu, u)
    first, second = mg.function([], [gu, ggu])()
    assert first == 41.0 and second == 2.0


def test_second_order_on_composite_expressions():
    def f(x, y):
        return mg.tanh(x * y) + mg.exp(x) * mg.sin(y) + (x * x).sum() * y
    rng = np.random.default_rng(1)
    check_grads(f, [rng.standard_normal((3, 2)), rng.standard_normal((2,))], order=2, seed=0)


def test_integer_and_bool_tensors_get_no_gradient():
    i = mg.constant([1, 2, 3])
    x = mg.constant([1.0, 2.0, 3.0])
    y = (mg.cast(i, mg.float32) * x).sum()
    gi, gx = mg.gradients(y, [i, x])
    assert gi is None and gx is not None


def test_broadcasting_is_undone_in_gradients():
    x = mg.placeholder(mg.float32, [None, 3])
    b = mg.Variable(np.zeros(3, np.float32))
    s = mg.Variable(np.float32(2.0))
    (gb, gs) = mg.gradients((x * s + b).sum(), [b, s])
    gb_val, gs_val = run([gb, gs], {x: np.ones((4, 3))})
    assert gb_val.shape == (3,) and gs_val.shape == ()
    np.testing.assert_allclose(gb_val, [4.0, 4.0, 4.0])
    assert gs_val == 12.0


def test_dynamic_broadcasting_is_undone_at_run_time():
    a = mg.placeholder(mg.float64, [None])
    c = mg.placeholder(mg.float64, [None])
    (ga,) = mg.gradients((a * c).sum(), [a])
    value = run(ga, {a: np.array([2.0]), c: np.array([1.0, 2.0, 3.0])})
    np.testing.assert_allclose(value, [6.0])


def test_stop_gradient_blocks():
    x = mg.constant(2.0)
    y = x * mg.stop_gradient(x * x)
    (g,) = mg.gradients(y, [x])
    assert run(g) == 4.0


def test_custom_gradient_shake_shake():
    """Forward mixes with a, backward with an independent random b (shake-shake)."""
    @mg.custom_gradient
    def shake(x1, x2):
        a = mg.random_uniform([], seed=1)
        b = mg.random_uniform([], seed=2)

        def grad(dy):
            return dy * b, dy * (1 - b)
        return a * x1 + (1 - a) * x2, grad

    x1, x2 = mg.constant([1.0, 2.0]), mg.constant([3.0, 5.0])
    out = shake(x1, x2)
    g1, g2 = mg.gradients(out.sum(), [x1, x2])
    value, d1, d2 = run([out, g1, g2])
    a = (value[0] - 3.0) / (1.0 - 3.0)
    np.testing.assert_allclose(value, a * np.array([1.0, 2.0]) + (1 - a) * np.array([3.0, 5.0]),
                               rtol=1e-5)
    np.testing.assert_allclose(d1 + d2, [1.0, 1.0], rtol=1e-6)
    assert d1[0] == d1[1] and not np.isclose(d1[0], a)  # b is drawn independently of a


def test_gradient_of_op_without_vjp_names_it():
    x = mg.constant([1.0, 2.0])
    y = mg.custom_gradient(lambda t: (t * 2, lambda dy: [dy, dy]))(x)
    with pytest.raises(ValueError, match="returned 2 gradients for 1 inputs"):
        mg.gradients(y, [x])
