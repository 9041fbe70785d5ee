"""Learning-rate schedules vs the tf.compat.v1 formulas, and the global step helpers."""
import numpy as np
import pytest

import minigraph as mg
from minigraph import train

STEPS = [0, 1, 2, 3, 4, 5, 7, 10, 31]


def values_at(tensor, step, steps=STEPS):
    """``tensor`` evaluated with the global step ``step`` set to each of ``steps``."""
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        out = []
        for k in steps:
            step.load(k, sess)
            out.append(sess.run(tensor))
    return out


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay(staircase):
    step = train.get_or_create_global_step()
    lr = train.exponential_decay(0.1, step, decay_steps=3, decay_rate=0.5, staircase=staircase)
    assert lr.dtype == np.float32 and lr.get_shape() == ()
    for k, got in zip(STEPS, values_at(lr, step)):
        p = np.floor(k / 3) if staircase else k / 3
        np.testing.assert_allclose(got, 0.1 * 0.5 ** p, rtol=1e-6)
        assert got.dtype == np.float32


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay(staircase):
    step = train.get_or_create_global_step()
    lr = train.inverse_time_decay(0.2, step, decay_steps=4, decay_rate=0.3, staircase=staircase)
    for k, got in zip(STEPS, values_at(lr, step)):
        p = np.floor(k / 4) if staircase else k / 4
        np.testing.assert_allclose(got, 0.2 / (1 + 0.3 * p), rtol=1e-6)


def test_decay_in_float64_follows_the_learning_rate_tensor():
    step = train.get_or_create_global_step()
    lr = train.exponential_decay(mg.constant(0.1, dtype=mg.float64), step, 7, 0.96)
    assert lr.dtype == np.float64
    for k, got in zip(STEPS, values_at(lr, step)):
        np.testing.assert_allclose(got, 0.1 * 0.96 ** (k / 7), rtol=1e-13)


def test_decay_needs_a_global_step():
    with pytest.raises(ValueError, match="global_step is required for exponential_decay"):
        train.exponential_decay(0.1, None, 10, 0.5)
    with pytest.raises(ValueError, match="global_step is required for inverse_time_decay"):
        train.inverse_time_decay(0.1, None, 10, 0.5)


def test_piecewise_constant_on_the_global_step():
    step = train.get_or_create_global_step()
    lr = train.piecewise_constant(step, [10, 20], [1.0, 0.5, 0.1])
    steps = [0, 9, 10, 11, 19, 20, 21, 100]
    expected = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]
    got = values_at(lr, step, steps)
    np.testing.assert_allclose(got, expected, rtol=1e-7)
    assert lr.dtype == np.float32


def test_piecewise_constant_on_a_float_input():
    x = mg.placeholder(mg.float64, [])
    value = train.piecewise_constant(x, [0.5, 1.5, 2.5], [1, 2, 3, 4], name="pc")
    assert value.dtype == np.int32 and value.op.name == "pc"
    with mg.Session() as sess:
        got = [sess.run(value, {x: v}) for v in (-1.0, 0.5, 0.6, 1.5, 2.0, 2.5, 2.51, 9.0)]
    assert got == [1, 1, 2, 2, 3, 3, 4, 4]


def test_piecewise_constant_argument_errors():
    step = train.get_or_create_global_step()
    with pytest.raises(ValueError, match="1 less than the length of values"):
        train.piecewise_constant(step, [10, 20], [1.0, 0.5])
    with pytest.raises(ValueError, match="same dtype"):
        train.piecewise_constant(step, [10], [1.0, 2])


# -- global step -----------------------------------------------------------------------------


def test_create_global_step():
    assert train.get_global_step() is None
    with mg.name_scope("somewhere"):
        step = train.create_global_step()
    assert step.name == "global_step:0"
    assert step.dtype == np.int64 and step.get_shape() == ()
    assert not step.trainable and step not in mg.trainable_variables()
    assert step in mg.global_variables()
    assert mg.get_default_graph().get_collection("global_step") == [step]
    assert train.get_global_step() is step
    assert train.get_or_create_global_step() is step
    with pytest.raises(ValueError, match='"global_step" already exists'):
        train.create_global_step()
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        assert sess.run(step) == 0


def test_global_step_of_another_graph():
    other = mg.Graph()
    step = train.get_or_create_global_step(other)
    assert step.graph is other
    assert train.get_global_step() is None
    assert train.get_global_step(other) is step


def test_global_step_found_by_name():
    step = mg.Variable(np.int64(5), name="global_step", trainable=False)
    assert train.get_global_step() is step
    assert train.get_or_create_global_step() is step


def test_a_float_global_step_is_rejected():
    mg.Variable(0.0, name="global_step", trainable=False)
    with pytest.raises(TypeError, match="does not have integer type"):
        train.get_global_step()
