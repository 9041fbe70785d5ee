"""Graph construction: default graphs, names and scopes, immutability, creation sites, dtypes."""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigraph as mg


def test_default_graph_and_as_default():
    g = mg.Graph()
    outer = mg.get_default_graph()
    with g.as_default():
        c = mg.constant(1.0)
        assert mg.get_default_graph() is g
    assert c.graph is g
    assert mg.get_default_graph() is outer


def test_reset_default_graph_gives_a_new_graph():
    first = mg.get_default_graph()
    mg.constant(1.0)
    mg.reset_default_graph()
    assert mg.get_default_graph() is not first
    assert mg.get_default_graph().get_operations() == []


def test_unique_names_within_scopes():
    a = mg.placeholder(mg.float32, [None, 3])
    w = mg.constant(np.ones((3, 2), np.float32))
    with mg.name_scope("dense"):
        first = mg.matmul(a, w)
        second = mg.matmul(a, w)
    with mg.name_scope("dense"):
        third = mg.matmul(a, w)
    assert first.op.name == "dense/MatMul"
    assert second.op.name == "dense/MatMul_1"
    assert third.op.name == "dense_1/MatMul"
    assert first.name == "dense/MatMul:0"
    named = mg.add(a, 1.0, name="total")
    again = mg.add(a, 1.0, name="total")
    assert (named.op.name, again.op.name) == ("total", "total_1")


def test_nodes_are_immutable():
    c = mg.constant(1.0)
    with pytest.raises(AttributeError, match="immutable"):
        c.op.inputs = ()


def test_node_records_user_creation_site():
    line = sys._getframe().f_lineno + 1
    x = mg.placeholder(mg.float32, [2])
    assert x.op.site == f"test_graph.py:{line}"


def test_lookup_by_name():
    x = mg.placeholder(mg.float32, [2], name="X")
    g = mg.get_default_graph()
    assert g.get_tensor_by_name("X:0") == x
    assert g.get_operation_by_name("X") is x.op
    with pytest.raises(KeyError, match="no operation named 'Y'"):
        g.get_operation_by_name("Y")


def test_dtypes_are_numpy_dtypes():
    assert mg.float32 == np.float32 and mg.int64 == np.int64 and mg.bool == np.bool_
    for name in ("float16", "float32", "float64", "int8", "int32", "int64", "uint8"):
        assert getattr(mg, name) == np.dtype(name)
    assert mg.config.floatX == "float32"
    assert mg.scalar().dtype == mg.float32 and mg.ivector().dtype == mg.int32
    assert mg.matrix().get_shape().as_list() == [None, None]
    assert mg.tensor4().ndim == 4


def test_floatx_flag_from_environment():
    code = ("import minigraph as mg; print(mg.config.floatX, mg.constant(1.5).dtype, "
            "mg.scalar().dtype)")
    env = dict(os.environ, MINIGRAPH_FLAGS="floatX=float64")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["float64", "float64", "float64"]


def test_collections_and_variable_lists():
    v = mg.Variable(1.0, name="v")
    frozen = mg.Variable(2.0, trainable=False, name="frozen")
    assert mg.global_variables() == [v, frozen]
    assert mg.trainable_variables() == [v]
