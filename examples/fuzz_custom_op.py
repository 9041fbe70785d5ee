"""How to write a custom op or a custom gradient and fuzz it in your own pytest suite.

Run it with:  python -m pytest examples/fuzz_custom_op.py

1. ``swish`` is a new op: one ``mg.defop`` entry with a shape rule, a NumPy reference, a
   gradient built from existing ops and a sample rule that tells the fuzzers what valid inputs
   look like. Its gradient is checked against finite differences on hypothesis inputs.
2. ``log1pexp`` uses ``@mg.custom_gradient`` to give a stable formula a stable gradient.
"""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.testing import check_grads, strategies

# -- 1. a custom op ---------------------------------------------------------------------------


def _swish_ref(x):
    return x / (1 + np.exp(-x))


def _swish_vjp(node, dys):
    x, = node.inputs
    s = mg.sigmoid(x)
    return [dys[0] * (s + x * s * (1 - s))]


def _swish_sample(draw):
    """Any float64 array: swish is smooth everywhere."""
    shape = draw(strategies.shapes(max_dims=3, max_side=4))
    return [draw(strategies.arrays("float64", shape))], {}


mg.defop("swish", lambda types: types[0], _swish_ref, vjp=_swish_vjp, kind="elementwise",
         scalar="x0 / (1 + exp(-x0))", sample=_swish_sample)


def swish(x, name=None):
    """The user-facing one-liner."""
    return mg.apply_op("swish", [mg.convert_to_tensor(x)], {}, name=name)


@settings(max_examples=30, deadline=None)
@given(case=strategies.op_inputs("swish"))
def test_swish_gradient_matches_finite_differences(case):
    inputs, attrs = case
    check_grads(swish, inputs, order=2)


@settings(max_examples=30, deadline=None)
@given(case=strategies.op_inputs("swish"))
def test_swish_forward_matches_reference(case):
    (x,), _ = case
    with mg.Session() as sess:
        np.testing.assert_allclose(sess.run(swish(x)), _swish_ref(x))


# -- 2. a custom gradient ---------------------------------------------------------------------


@mg.custom_gradient
def log1pexp(x):
    """log(1 + e^x), with the gradient written as sigmoid(x) so it never overflows."""
    y = mg.softplus(x)
    return y, lambda dy: dy * mg.sigmoid(x)


@settings(max_examples=30, deadline=None)
@given(x=strategies.arrays("float64", st.tuples(st.integers(0, 5)),
                           elements=mg.testing.Domain(-30.0, 30.0)))
def test_log1pexp_gradient(x):
    check_grads(log1pexp, [x])


def test_log1pexp_gradient_is_finite_for_huge_inputs():
    x = mg.constant([-1e4, 0.0, 1e4], dtype=mg.float64)
    (g,) = mg.gradients(log1pexp(x), [x])
    with mg.Session() as sess:
        np.testing.assert_allclose(sess.run(g), [0.0, 0.5, 1.0])
