"""``placeholder_with_default`` and dtype spellings accepted by every dtype argument."""
import numpy as np
import pytest

import minigraph as mg


def test_the_default_flows_unless_fed():
    p = mg.placeholder_with_default(np.zeros((2, 3), np.float32), [None, 3], name="p")
    y = p * 2.0
    assert p.name == "p:0" and p.get_shape().as_list() == [None, 3] and p.dtype == mg.float32
    with mg.Session() as sess:
        np.testing.assert_array_equal(sess.run(y), np.zeros((2, 3)))
        np.testing.assert_array_equal(sess.run(y, {p: np.ones((4, 3))}), np.full((4, 3), 2.0))
        np.testing.assert_array_equal(sess.run(y, {"p:0": np.ones((1, 3))}), [[2.0, 2.0, 2.0]])
        with pytest.raises(ValueError, match=r"expects \(\?, 3\), got \(4, 2\)"):
            sess.run(y, {p: np.ones((4, 2))})


def test_a_training_flag_defaults_to_false():
    training = mg.placeholder_with_default(False, [], name="training")
    x = mg.constant([1.0, 2.0])
    y = mg.where(training, x * 10.0, x)
    with mg.Session() as sess:
        assert sess.run(y).tolist() == [1.0, 2.0]
        assert sess.run(y, {training: True}).tolist() == [10.0, 20.0]


def test_unknown_shape_and_tensor_defaults():
    seed = mg.Variable(np.arange(3.0), name="seed")
    p = mg.placeholder_with_default(seed * 1.0, None)
    assert p.type.shape is None
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        assert sess.run(p).tolist() == [0.0, 1.0, 2.0]
        assert sess.run(p, {p: np.ones((2, 2))}).shape == (2, 2)


def test_the_default_must_fit_the_shape():
    with pytest.raises(ValueError, match=r"placeholder_with_default 'PlaceholderWithDefault' .*"
                                         r"default value of shape \(2,\) does not fit the "
                                         r"placeholder's shape \(3,\)"):
        mg.placeholder_with_default([1.0, 2.0], [3])


def test_gradients_flow_to_the_default():
    x = mg.constant(np.ones((2, 3)))
    q = mg.placeholder_with_default(x, [None, 3])
    (grad,) = mg.gradients(mg.reduce_sum(q * q), [x])
    with mg.Session() as sess:
        np.testing.assert_array_equal(sess.run(grad), np.full((2, 3), 2.0))


SPELLINGS = [mg.float32, np.float32, np.dtype("float32"), "float32", "float", float]


@pytest.mark.parametrize("dtype", SPELLINGS, ids=repr)
def test_dtype_arguments_accept_every_spelling(dtype):
    from minigraph.initializers import glorot_uniform_initializer
    from minigraph.variable_scope import get_variable

    tensors = [
        mg.placeholder(dtype, [2]), mg.constant([1, 2], dtype=dtype),
        mg.Variable([1, 2], dtype=dtype), mg.zeros([2], dtype=dtype), mg.ones([2], dtype=dtype),
        mg.zeros_like(mg.constant([1, 2]), dtype=dtype), mg.cast(mg.constant([1, 2]), dtype),
        mg.random_normal([2], dtype=dtype), mg.random_uniform([2], dtype=dtype),
        mg.truncated_normal([2], dtype=dtype), mg.range(3, dtype=dtype),
        mg.one_hot(mg.constant([0, 1]), 3, dtype=dtype), mg.matrix("m", dtype=dtype),
        get_variable("v", [2], dtype=dtype), glorot_uniform_initializer(dtype=dtype)([2, 2]),
    ]
    assert all(t.dtype == np.float32 for t in tensors)


def test_tf_names_mean_what_they_mean_in_tf():
    assert mg.as_dtype("double") == mg.float64 and mg.as_dtype("half") == mg.float16
    assert mg.placeholder("float", [None, 784]).dtype == mg.float32  # old TF tutorials
    with pytest.raises(TypeError, match="cannot interpret 'blah' as a dtype"):
        mg.placeholder("blah")
    with pytest.raises(TypeError, match="unsupported dtype"):
        mg.constant(1, dtype=object)
