"""Theano-style functions: inputs, outputs, updates, givens, dtype rules and atomic updates."""
import numpy as np
import pytest

import minigraph as mg


def test_single_output_and_list_output():
    x, y = mg.vector("x"), mg.vector("y")
    f = mg.function([x, y], x + y)
    g = mg.function([x, y], [x + y, x * y])
    out = f(np.ones(2, np.float32), np.ones(2, np.float32))
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [2.0, 2.0])
    both = g(np.ones(2, np.float32), np.full(2, 3, np.float32))
    assert isinstance(both, list) and len(both) == 2
    np.testing.assert_allclose(both[1], [3.0, 3.0])


def test_updates_are_computed_from_old_values_and_applied_together():
    a = mg.shared(np.float32(1.0), name="a")
    b = mg.shared(np.float32(2.0), name="b")
    swap = mg.function([], a + b, updates=[(a, b), (b, a)])
    assert swap() == 3.0
    assert (a.get_value(), b.get_value()) == (2.0, 1.0)
    count = mg.shared(0, name="count")
    inc = mg.function([], count, updates={count: count + 1})
    assert [inc() for _ in range(3)] == [0, 1, 2]
    assert count.get_value() == 3


def test_lossy_input_downcast_raises_unless_allowed():
    x = mg.fvector("x")
    f = mg.function([x], x * 2)
    with pytest.raises(TypeError, match="input 'x' of dtype float32 got a float64 value"):
        f(np.array([0.1, 0.2]))
    np.testing.assert_allclose(f([1.0, 2.0]), [2.0, 4.0])  # Python data cast losslessly
    np.testing.assert_allclose(f(np.array([1, 2], np.int8)), [2.0, 4.0])  # safe cast
    loose = mg.function([x], x * 2, allow_input_downcast=True)
    np.testing.assert_allclose(loose(np.array([0.1, 0.2])), [0.2, 0.4], rtol=1e-6)
    s = mg.fscalar("s")
    assert mg.function([s], s + 1)(0.1) == np.float32(0.1) + 1  # Python float -> floatX


def test_update_dtype_must_match():
    w = mg.shared(np.zeros(2, np.float32), name="w")
    with pytest.raises(TypeError, match="update for shared variable 'w:0' has dtype float64"):
        mg.function([], updates=[(w, mg.cast(w, mg.float64) + 1)])


def test_givens_replace_a_tensor():
    data = mg.shared(np.arange(10, dtype=np.float32), name="data")
    index = mg.iscalar("index")
    x = mg.vector("x")
    f = mg.function([index], x.sum(), givens={x: data[index * 2:(index + 1) * 2]})
    assert f(0) == 1.0 and f(3) == 13.0


def test_unused_input_is_reported_like_theano():
    x, y = mg.vector("x"), mg.vector("y")
    with pytest.raises(ValueError, match="not used"):
        mg.function([x, y], x * 2)
    f = mg.function([x, y], x * 2, on_unused_input="ignore")
    np.testing.assert_allclose(f([1.0], [5.0]), [2.0])


def test_failed_call_changes_no_shared_variable():
    w = mg.shared(np.ones(2, np.float32), name="w")
    idx = mg.ivector("idx")
    f = mg.function([idx], w[idx], updates=[(w, w * 3)])
    with pytest.raises(mg.errors.InvalidArgumentError):
        f(np.array([7], np.int32))
    np.testing.assert_allclose(w.get_value(), [1.0, 1.0])
    f(np.array([1], np.int32))
    np.testing.assert_allclose(w.get_value(), [3.0, 3.0])


def test_wrong_argument_count():
    x = mg.vector("x")
    with pytest.raises(TypeError, match="takes 1 arguments, got 2"):
        mg.function([x], x)([1.0], [2.0])
