"""Construction-time errors name the op, the node, the inputs' shapes/dtypes and the user's line."""
import sys

import numpy as np
import pytest

import minigraph as mg


def test_matmul_shape_error_message():
    x = mg.placeholder(mg.float32, [None, 784])
    w = mg.Variable(np.zeros((512, 10), np.float32))
    with mg.name_scope("dense"):
        line = sys._getframe().f_lineno + 2
        with pytest.raises(ValueError) as info:
            mg.matmul(x, w)
    assert str(info.value).startswith(
        f"matmul 'dense/MatMul' (test_errors.py:{line}): cannot multiply (?, 784) by (512, 10)")
    assert "(?, 784) float32" in str(info.value)


def test_broadcast_error_message():
    a = mg.placeholder(mg.float32, [3], name="a")
    b = mg.placeholder(mg.float32, [4], name="b")
    line = sys._getframe().f_lineno + 2
    with pytest.raises(ValueError) as info:
        a + b
    message = str(info.value)
    assert message.startswith(f"add 'Add' (test_errors.py:{line}):")
    assert "(3,) and (4,) cannot be broadcast" in message
    assert "[inputs: (3,) float32, (4,) float32]" in message


def test_dtype_errors_are_type_or_value_errors():
    with pytest.raises(ValueError, match="float tensor"):
        mg.exp(mg.constant([1, 2]))
    with pytest.raises(ValueError, match="bool"):
        mg.logical_and(mg.constant([1.0]), mg.constant([True]))
    with pytest.raises(TypeError, match="cannot use str"):
        mg.constant(1.0) + "a"
    with pytest.raises(TypeError):
        mg.placeholder("string")


def test_assign_shape_and_dtype_errors():
    v = mg.Variable(np.zeros(3, np.float32), name="v")
    with pytest.raises(ValueError, match="cannot assign a value of shape"):
        v.assign(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="cannot assign float data"):
        mg.Variable(np.zeros(3, np.int32)).assign([0.5, 1.0, 2.0])
