"""TF1 variable scopes and get_variable: names, reuse rules, defaults, per-graph stores."""
import numpy as np
import pytest

import minigraph as mg
from minigraph import initializers
from minigraph.variable_scope import (AUTO_REUSE, REGULARIZATION_LOSSES, VariableScope,
                                      get_variable, get_variable_scope, variable_scope)


def _values(*tensors):
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        return sess.run(list(tensors))


def test_get_variable_names_the_variable_after_the_scopes():
    with variable_scope("foo"):
        with variable_scope("bar"):
            v = get_variable("w", [2, 3])
    assert v.name == "foo/bar/w:0" and v.op.name == "foo/bar/w"
    assert v.get_shape().as_list() == [2, 3] and v.dtype == mg.float32
    assert mg.global_variables() == [v] and mg.trainable_variables() == [v]
    assert v.initializer.name == "foo/bar/w/Assign"


def test_ops_get_the_name_scope_but_variables_ignore_it():
    with mg.name_scope("ns"):
        with variable_scope("vs") as scope:
            c = mg.constant(1.0)
            v = get_variable("x", [1])
            with mg.name_scope("inner"):
                u = get_variable("u", [1])
    assert c.name == "ns/vs/Const:0" and scope.original_name_scope == "ns/vs/"
    assert (v.name, u.name) == ("vs/x:0", "vs/u:0")


def test_reopening_a_scope_shares_its_name_but_opens_a_fresh_name_scope():
    with variable_scope("foo") as foo:
        first = mg.constant(1.0)
    with variable_scope("foo") as again:
        second = mg.constant(1.0)
    with variable_scope(foo) as by_object:
        third = mg.constant(1.0)
    assert foo.name == again.name == by_object.name == "foo"
    assert [t.name for t in (first, second, third)] == ["foo/Const:0", "foo_1/Const:0",
                                                        "foo_2/Const:0"]
    assert again.original_name_scope == "foo_1/" and by_object.original_name_scope == "foo/"


def test_a_scope_object_is_entered_as_is_not_nested():
    with variable_scope("outer") as outer:
        pass
    with variable_scope("other"):
        with variable_scope(outer):
            v = get_variable("v", [1])
            c = mg.constant(0.0)
    assert v.name == "outer/v:0" and c.name == "other/outer/Const:0"


def test_reuse_returns_the_same_variable():
    with variable_scope("layer"):
        w = get_variable("w", [3, 2])
    with variable_scope("layer", reuse=True):
        assert get_variable("w", [3, 2]) is w
        assert get_variable("w") is w  # shape may be left out when reusing


def test_creating_twice_is_refused_naming_the_original_site():
    with variable_scope("foo"):
        get_variable("w", [2])
    with pytest.raises(ValueError, match=r"Variable foo/w already exists, disallowed\. Did you "
                       r"mean to set reuse=True or reuse=tf\.AUTO_REUSE in VarScope\? "
                       r"Originally defined at test_variable_scope\.py:\d+"):
        with variable_scope("foo"):
            get_variable("w", [2])


def test_reusing_a_missing_variable_is_refused():
    with pytest.raises(ValueError, match=r"^Variable foo/q does not exist, or was not created "
                       r"with tf\.get_variable\(\)\. Did you mean to set reuse=tf\.AUTO_REUSE"):
        with variable_scope("foo", reuse=True):
            get_variable("q", [2])


def test_plain_variables_are_not_in_the_get_variable_store():
    mg.Variable(np.zeros(2), name="foo/w")
    with pytest.raises(ValueError, match="was not created with tf.get_variable"):
        with variable_scope("foo", reuse=True):
            get_variable("w")


@pytest.mark.parametrize("shape, dtype, message", [
    ([2, 4], None, r"specified shape \(2, 4\) and found shape \(2, 3\)"),
    ([3], None, r"specified shape \(3,\) and found shape \(2, 3\)"),
    ([2, 3], mg.float64, "specified dtype float64 and found dtype float32"),
])
def test_sharing_with_another_shape_or_dtype_is_refused(shape, dtype, message):
    with variable_scope("foo"):
        get_variable("w", [2, 3])
    with pytest.raises(ValueError, match=r"Trying to share variable foo/w, but " + message):
        with variable_scope("foo", reuse=True):
            get_variable("w", shape, dtype=dtype)


def test_auto_reuse_creates_once_and_is_inherited():
    def tower():
        with variable_scope("tower", reuse=AUTO_REUSE):
            with variable_scope("dense"):
                return get_variable("w", [2])
    first, second = tower(), tower()
    assert first is second and first.name == "tower/dense/w:0"
    assert len(mg.global_variables()) == 1


def test_reuse_is_inherited_and_false_cannot_undo_it():
    with variable_scope("a") as a:
        with variable_scope("b"):
            w = get_variable("w", [1])
    with variable_scope("a", reuse=True):
        with variable_scope("b", reuse=False) as b:
            assert b.reuse is True
            assert get_variable("w") is w
    with variable_scope(a) as reopened:
        assert reopened.reuse is False  # a scope object keeps its own reuse, not the parent's
    with variable_scope("a", reuse=True):
        with variable_scope("b", reuse=AUTO_REUSE) as b:
            assert b.reuse is AUTO_REUSE


def test_reuse_variables_switches_the_current_scope_to_reuse():
    with variable_scope("rnn") as scope:
        w = get_variable("w", [2])
        scope.reuse_variables()
        assert get_variable_scope().reuse is True
        assert get_variable("w", [2]) is w
        with variable_scope("cell") as inner:
            assert inner.reuse is True
    assert get_variable_scope().reuse is False and get_variable_scope().name == ""


def test_default_names_are_made_unique_per_parent_scope():
    names = []
    for _ in range(2):
        with variable_scope(None, default_name="layer") as scope:
            names.append((scope.name, mg.constant(0.0).name))
    for _ in range(2):
        with variable_scope("net"):
            with variable_scope(None, default_name="layer") as scope:
                names.append((scope.name, mg.constant(0.0).name))
    with variable_scope("given", default_name="ignored") as scope:
        names.append((scope.name, mg.constant(0.0).name))
    assert names == [("layer", "layer/Const:0"), ("layer_1", "layer_1/Const:0"),
                     ("net/layer", "net/layer/Const:0"), ("net/layer", "net_1/layer/Const:0"),
                     ("given", "given/Const:0")]


def test_bad_scope_arguments_raise():
    with pytest.raises(TypeError, match="If default_name is None then name_or_scope is required"):
        with variable_scope(None):
            pass
    with pytest.raises(ValueError, match="reuse=True cannot be used without a name_or_scope"):
        with variable_scope(None, default_name="d", reuse=True):
            pass
    with pytest.raises(TypeError, match="must be a string or VariableScope"):
        with variable_scope(3):
            pass


def test_the_scope_initializer_and_dtype_apply_to_nested_scopes():
    with variable_scope("i", initializer=initializers.constant_initializer(3.0),
                        dtype="float64"):
        with variable_scope("j"):
            v = get_variable("v", [2])
            u = get_variable("u", [2], initializer=initializers.ones_initializer())
    assert v.name == "i/j/v:0" and v.dtype == mg.float64
    np.testing.assert_array_equal(_values(v, u), [[3.0, 3.0], [1.0, 1.0]])


def test_default_initializer_is_glorot_uniform_for_floats_and_zeros_for_ints():
    w = get_variable("w", [300, 200])
    i = get_variable("i", [3], dtype=np.int32)
    b = get_variable("b", [2], dtype=mg.bool)
    w_value, i_value, b_value = _values(w, i, b)
    limit = np.sqrt(6.0 / 500)
    assert np.abs(w_value).max() <= limit and np.abs(w_value).max() > 0.95 * limit
    assert i_value.dtype == np.int32 and not i_value.any() and not b_value.any()


def test_initializers_given_as_values_set_shape_and_dtype():
    v = get_variable("v", initializer=[1, 2])
    t = get_variable("t", initializer=mg.constant(np.arange(6.0).reshape(2, 3)))
    assert (v.dtype, v.get_shape().as_list()) == (mg.int32, [2])
    assert (t.dtype, t.get_shape().as_list()) == (mg.float64, [2, 3])
    np.testing.assert_array_equal(_values(v)[0], [1, 2])
    with pytest.raises(ValueError, match="If initializer is a constant, do not specify shape."):
        get_variable("c", [2], initializer=np.zeros(2))
    with pytest.raises(ValueError, match="Initializer type 'float32' and explicit dtype "
                                         "'float64' don't match"):
        get_variable("d", initializer=np.zeros(2, np.float32), dtype=mg.float64)


def test_missing_or_partial_shapes_are_explained():
    with pytest.raises(ValueError, match=r"Variable s did not get an initializer, so its "
                                         r"`shape` argument must be specified\."):
        get_variable("s")
    with pytest.raises(ValueError, match=r"Shape of a new variable \(p\) must be fully "
                                         r"defined, but instead was \(\?, 2\)"):
        get_variable("p", [None, 2])
    v = get_variable("fn", initializer=lambda: mg.zeros([3]))
    assert v.get_shape().as_list() == [3]


def test_trainable_and_collections():
    frozen = get_variable("frozen", [1], trainable=False)
    local = get_variable("local", [1], collections=["local_variables"])
    assert mg.global_variables() == [frozen]
    assert mg.trainable_variables() == [local]
    assert mg.get_default_graph().get_collection("local_variables") == [local]


def test_regularizers_add_losses_to_the_collection():
    with variable_scope("r", regularizer=lambda w: 0.5 * mg.reduce_sum(w * w)):
        w = get_variable("w", initializer=np.array([1.0, 2.0]))
        get_variable("b", [1], regularizer=lambda b: None)
    (loss,) = mg.get_default_graph().get_collection(REGULARIZATION_LOSSES)
    assert loss.name.startswith("r/w/Regularizer/")
    assert _values(loss, w)[0] == pytest.approx(2.5)


def test_control_dependencies_do_not_reach_the_initializer():
    x = mg.constant(1.0)
    with mg.control_dependencies([x]):
        v = get_variable("v", [2])
    assert v.initializer.control_inputs == () and v.op.control_inputs == ()


def test_each_graph_has_its_own_store_and_scope():
    with variable_scope("shared"):
        outer = get_variable("w", [1])
    graph = mg.Graph()
    with graph.as_default():
        assert mg.global_variables() == [] and get_variable_scope().name == ""
        with variable_scope("shared"):
            inner = get_variable("w", [1])  # no "already exists": a fresh store
        assert inner.graph is graph and inner is not outer
    mg.reset_default_graph()
    with variable_scope("shared"):
        assert get_variable("w", [1]).graph is mg.get_default_graph()


def test_values_choose_the_graph():
    graph = mg.Graph()
    with graph.as_default():
        c = mg.constant(1.0)
    with variable_scope("v", values=[c]):
        assert mg.get_default_graph() is graph
        assert mg.constant(2.0).name == "v/Const:0"
    assert mg.get_default_graph() is not graph


def test_root_scope_and_scope_object_api():
    root = get_variable_scope()
    assert isinstance(root, VariableScope) and root.name == "" and root.reuse is False
    with variable_scope(root, reuse=True) as scope:
        assert scope.name == "" and scope.reuse is True
        assert mg.constant(0.0).name == "Const:0"  # the root opens no name scope
    with variable_scope("s", dtype=mg.float64) as s:
        assert repr(s) == "<minigraph.VariableScope 's' reuse=False>" and s.dtype == mg.float64
        w = s.get_variable("w", [1])
    assert w.name == "s/w:0" and s.global_variables() == [w]
    with variable_scope("noaux", auxiliary_name_scope=False) as scope:
        assert mg.constant(0.0).name == "Const_1:0" and scope.original_name_scope == ""


def test_shared_towers_compute_with_the_same_weights():
    x = mg.placeholder(mg.float32, [None, 3])

    def dense(inputs):
        w = get_variable("w", [3, 2], initializer=initializers.random_normal_initializer(seed=1))
        b = get_variable("b", [2], initializer=initializers.zeros_initializer())
        return mg.matmul(inputs, w) + b

    with variable_scope("model"):
        first = dense(x)
    with variable_scope("model", reuse=True):
        second = dense(2 * x)
    assert len(mg.trainable_variables()) == 2
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        a, b = sess.run([first, second], {x: np.ones((4, 3))})
    np.testing.assert_allclose(b, 2 * a, rtol=1e-6)


def test_get_variable_trains():
    with variable_scope("lin"):
        w = get_variable("w", initializer=np.zeros((2, 1), np.float32))
    x = mg.constant(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
    y = mg.constant(np.array([[1.0], [2.0]], np.float32))
    loss = mg.reduce_mean(mg.square(mg.matmul(x, w) - y))
    train = mg.train.GradientDescentOptimizer(0.05).minimize(loss)
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        before = sess.run(loss)
        for _ in range(20):
            sess.run(train)
        assert sess.run(loss) < 0.1 * before


def test_an_error_inside_a_scope_restores_the_outer_scopes():
    with pytest.raises(RuntimeError):
        with mg.name_scope("ns"), variable_scope("broken", reuse=True):
            raise RuntimeError("boom")
    assert get_variable_scope().name == "" and get_variable_scope().reuse is False
    assert mg.constant(0.0).name == "Const:0"


def test_value_initializers_build_no_node_outside_their_initializer_scope():
    with variable_scope("s"):
        get_variable("v", initializer=np.ones(2, np.float32), dtype="float32")
    assert all(n.name.startswith("s/v") for n in mg.get_default_graph().get_operations())
