"""TF1 Session semantics: defaults, fetch structures, feeds, casting, errors, variable storage."""
import collections
import sys

import numpy as np
import pytest

import minigraph as mg


def test_session_is_default_inside_with_and_closes():
    with mg.Session() as sess:
        assert mg.get_default_session() is sess
    assert mg.get_default_session() is None
    with pytest.raises(mg.errors.ClosedSessionError):
        sess.run(mg.constant(1.0))


def test_interactive_session_installs_itself():
    sess = mg.InteractiveSession()
    try:
        assert mg.get_default_session() is sess
        assert (mg.constant(2.0) * 3).eval() == 6.0
    finally:
        sess.close()
    assert mg.get_default_session() is None


def test_fetch_structures_are_preserved():
    a, b = mg.constant(1.0), mg.constant(2.0)
    Pair = collections.namedtuple("Pair", "first second")
    with mg.Session() as sess:
        out = sess.run({"a": a, "nested": [b, (a, Pair(a, b))], "op": mg.no_op()})
        assert out["a"] == 1.0 and out["op"] is None
        assert isinstance(out["nested"][1], tuple)
        pair = out["nested"][1][1]
        assert isinstance(pair, Pair) and (pair.first, pair.second) == (1.0, 2.0)
        assert sess.run(a.name) == 1.0
        assert sess.run(a.op.name) is None  # an op name fetches the op: no value


def test_fetching_a_variable_and_ops():
    v = mg.Variable([1.0, 2.0], name="v")
    with mg.Session() as sess:
        assert sess.run(mg.global_variables_initializer()) is None
        np.testing.assert_allclose(sess.run(v), [1.0, 2.0])
        assert sess.run(v.initializer) is None
        new = sess.run(v.assign_add([1.0, 1.0]))
        np.testing.assert_allclose(new, [2.0, 3.0])
        np.testing.assert_allclose(sess.run(v), [2.0, 3.0])


def test_feeds_by_tensor_and_name_with_casting():
    x = mg.placeholder(mg.float32, [None, 2], name="X")
    y = x * 2
    with mg.Session() as sess:
        out = sess.run(y, {x: np.random.randn(3, 2)})  # float64 data into float32 is fine
        assert out.dtype == np.float32
        np.testing.assert_allclose(sess.run(y, {"X:0": [[1, 2]]}), [[2.0, 4.0]])
        np.testing.assert_allclose(sess.run(y, {"X": [[1, 2]]}), [[2.0, 4.0]])
        # any tensor may be fed, not only placeholders
        np.testing.assert_allclose(sess.run(y + 1, {y: [[0.0, 0.0]]}), [[1.0, 1.0]])


@pytest.mark.parametrize("value, pattern", [
    (np.array([1.5, 2.5]), "placeholder 'idx' expects int32, cannot feed a value of dtype float64"),
    (["a", "b"], "placeholder 'idx' expects int32"),
    ([[1, 2], [3]], "placeholder 'idx' expects int32"),
])
def test_uncastable_feeds_raise_type_error(value, pattern):
    idx = mg.placeholder(mg.int32, [None], name="idx")
    with mg.Session() as sess, pytest.raises(TypeError, match=pattern):
        sess.run(idx + 1, {idx: value})


def test_feed_shape_mismatch_names_the_placeholder():
    x = mg.placeholder(mg.float32, [None, 784], name="X")
    with mg.Session() as sess:
        with pytest.raises(ValueError, match=r"placeholder 'X' expects \(\?, 784\), got "
                                             r"\(128, 785\)"):
            sess.run(x * 2, {x: np.zeros((128, 785))})


def test_unfed_placeholder_error_names_it_and_the_fetch():
    line = sys._getframe().f_lineno + 1
    x = mg.placeholder(mg.float32, [None, 3], name="inputs")
    loss = mg.reduce_sum(x * 2, name="loss")
    with mg.Session() as sess, pytest.raises(mg.errors.PlaceholderNotFedError) as info:
        sess.run(loss)
    message = str(info.value)
    for part in ("'inputs'", "float32", "(?, 3)", "'loss:0'", f"test_session.py:{line}"):
        assert part in message


def test_uninitialized_variable_error_names_it():
    v = mg.Variable(1.0, name="weights")
    with mg.Session() as sess, pytest.raises(mg.errors.FailedPreconditionError,
                                             match="uninitialized variable 'weights'"):
        sess.run(v + 1)


def test_two_sessions_hold_independent_values_but_shared_is_shared():
    v = mg.Variable(0.0)
    s = mg.shared(np.float32(0.0))
    bump = [v.assign_add(1.0), s.assign_add(1.0)]
    one, two = mg.Session(), mg.Session()
    for sess in (one, two):
        sess.run(mg.global_variables_initializer())
    one.run(bump)
    one.run(bump)
    two.run(bump)
    assert one.run(v) == 2.0 and two.run(v) == 1.0
    assert s.get_value() == 3.0 and one.run(s) == 3.0 and two.run(s) == 3.0


def test_all_reads_see_values_from_before_the_run():
    a, b = mg.Variable(1.0), mg.Variable(2.0)
    swap = mg.group(a.assign(b), b.assign(a))
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        sess.run(swap)
        assert sess.run([a, b]) == [2.0, 1.0]


def test_failed_run_leaves_every_variable_unchanged():
    v = mg.Variable([1.0, 2.0], name="v")
    idx = mg.placeholder(mg.int32, [None], name="idx")
    bad = mg.gather(v, idx)  # out-of-range ids fail only at run time
    step = mg.group(v.assign_add([10.0, 10.0]), bad)
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        with pytest.raises(mg.errors.InvalidArgumentError):
            sess.run(step, {idx: [5]})
        np.testing.assert_allclose(sess.run(v), [1.0, 2.0])
        sess.run(step, {idx: [1]})
        np.testing.assert_allclose(sess.run(v), [11.0, 12.0])


def test_assigning_a_variable_twice_in_one_run_is_refused():
    v = mg.Variable(0.0, name="v")
    with mg.Session() as sess, pytest.raises(ValueError, match="assigned twice"):
        sess.run([v.assign(1.0), v.assign(2.0)])


def test_runtime_errors_name_the_op_and_site():
    a = mg.placeholder(mg.float32, [None, None], name="a")
    b = mg.placeholder(mg.float32, [None, None], name="b")
    line = sys._getframe().f_lineno + 1
    product = mg.matmul(a, b, name="product")
    with mg.Session() as sess, pytest.raises(mg.errors.InvalidArgumentError) as info:
        sess.run(product, {a: np.ones((2, 3)), b: np.ones((4, 5))})
    message = str(info.value)
    assert "matmul 'product'" in message and f"test_session.py:{line}" in message
    assert "(2, 3) float32" in message and "(4, 5) float32" in message


def test_make_callable_runs_with_positional_feeds():
    x = mg.placeholder(mg.float32, [None])
    v = mg.Variable(1.0)
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        step = sess.make_callable([x * v, v.assign_add(1.0)], [x])
        out, new = step([1.0, 2.0])
        np.testing.assert_allclose(out, [1.0, 2.0])
        assert new == 2.0
        out, _ = step([1.0, 2.0])
        np.testing.assert_allclose(out, [2.0, 4.0])


def test_variable_load_and_shared_set_value_checks():
    v = mg.Variable(np.zeros(2, np.float32))
    s = mg.shared(np.zeros(3, np.float32), name="s")
    with mg.Session() as sess:
        v.load([1.0, 2.0], sess)
        np.testing.assert_allclose(sess.run(v), [1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        s.set_value(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="lose precision"):
        s.set_value(np.array([0.1, 0.2, 0.3]))
    s.set_value(np.array([1.0, 2.0, 3.0]))  # exactly representable: fine
    np.testing.assert_allclose(s.get_value(), [1.0, 2.0, 3.0])
