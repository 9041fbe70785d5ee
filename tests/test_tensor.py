"""Tensor handles: operators, dtype policy, static and symbolic shapes, NumPy-like methods."""
import numpy as np
import pytest

import minigraph as mg


def run(fetches, feed=None):
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        return sess.run(fetches, feed)


def test_arithmetic_operators_and_reflections():
    a = mg.constant(np.array([1.0, 2.0, 4.0], np.float32))
    b = np.array([2.0, 2.0, 2.0], np.float32)
    results = run([a + 1, 1 + a, a - b, b - a, a * 2, 2 * a, a / 2, 8 / a, a // 3, 7 // a,
                   a % 3, 7 % a, a ** 2, 2 ** a, -a, abs(-a)])
    av = np.array([1.0, 2.0, 4.0], np.float32)
    expected = [av + 1, 1 + av, av - b, b - av, av * 2, 2 * av, av / 2, 8 / av, av // 3,
                7 // av, av % 3, 7 % av, av ** 2, 2 ** av, -av, abs(av)]
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)
        assert got.dtype == np.float32


def test_comparisons_and_logical_operators_give_bool():
    a = mg.constant([1, 2, 3])
    lt, le, gt, ge = run([a < 2, a <= 2, a > 2, a >= 2])
    np.testing.assert_array_equal(lt, [True, False, False])
    np.testing.assert_array_equal(ge, [False, True, True])
    assert lt.dtype == np.bool_
    both, either, negated = run([(a > 1) & (a < 3), (a < 2) | (a > 2), ~(a > 1)])
    np.testing.assert_array_equal(both, [False, True, False])
    np.testing.assert_array_equal(either, [True, False, True])
    np.testing.assert_array_equal(negated, [True, False, False])


def test_matmul_operator():
    a = mg.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    b = np.ones((3, 2), np.float32)
    np.testing.assert_allclose(run(a @ b), np.arange(6).reshape(2, 3) @ b)
    np.testing.assert_allclose(run(b.T @ a.T), b.T @ np.arange(6).reshape(2, 3).T)


def test_dtype_policy_no_silent_float64_upcast():
    x = mg.placeholder(mg.float32, [None])
    assert (x * 2.5).dtype == mg.float32
    assert (x + np.ones(3)).dtype == mg.float32  # NumPy float64 data adopts the tensor dtype
    assert (x + 1).dtype == mg.float32
    i = mg.placeholder(mg.int32, [None])
    assert (i + 1).dtype == mg.int32
    assert (i * 0.5).dtype == mg.float32  # float value with an int tensor -> floatX
    assert (i / 2).dtype == mg.float32
    d = mg.placeholder(mg.float64, [None])
    assert (x + d).dtype == mg.float64  # two tensors: the wider one
    assert (i + x).dtype == mg.float32


def test_constant_dtypes_follow_tf():
    assert mg.constant(1.5).dtype == mg.float32
    assert mg.constant(3).dtype == mg.int32
    assert mg.constant(np.array([1.5])).dtype == mg.float64
    assert mg.constant(2**40).dtype == mg.int64
    assert mg.constant(1, dtype=mg.float64).dtype == mg.float64
    np.testing.assert_array_equal(run(mg.constant(7, shape=[2, 2])), np.full((2, 2), 7))


def test_static_and_symbolic_shapes():
    W = mg.Variable(np.zeros((3, 4), np.float32))
    assert W.shape == (3, 4)
    assert W.shape[0] + 1 == 4
    y = mg.placeholder(mg.int32, [None])
    n = y.shape[0]
    assert isinstance(n, mg.Tensor) and n.dtype == mg.int64
    x = mg.placeholder(mg.float32, [None, 5])
    assert x.get_shape().as_list() == [None, 5]
    assert x.shape[1] == 5
    r = mg.arange(y.shape[0])
    values = run([r, n + 1, mg.shape(x)], {y: [4, 5, 6], x: np.zeros((2, 5))})
    np.testing.assert_array_equal(values[0], [0, 1, 2])
    assert values[1] == 4
    np.testing.assert_array_equal(values[2], [2, 5])


def test_numpy_like_methods():
    data = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
    x = mg.constant(data)
    got = run([x.sum(), x.sum(axis=0), x.mean(axis=1, keepdims=True), x.max(), x.min(axis=1),
               x.prod(axis=0), x.T, x.reshape(4, 3), x.reshape([2, -1]), x.transpose(1, 0),
               x.astype(mg.int32), x.argmax(axis=1), x.argmin(axis=0), x.dot(np.ones(4))])
    want = [data.sum(), data.sum(0), data.mean(1, keepdims=True), data.max(), data.min(1),
            data.prod(0), data.T, data.reshape(4, 3), data.reshape(2, -1), data.T,
            data.astype(np.int32), data.argmax(1), data.argmin(0), data @ np.ones(4)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    assert x.ndim == 2 and x.dtype == mg.float32 and x.op.type == "constant"
    assert x.graph is mg.get_default_graph()


def test_eval_uses_default_session_and_requires_one():
    x = mg.constant([1.0, 2.0]) * 2
    with mg.Session():
        np.testing.assert_allclose(x.eval(), [2.0, 4.0])
    with pytest.raises(ValueError, match="no default session"):
        x.eval()
    sess = mg.Session()
    np.testing.assert_allclose(x.eval(session=sess), [2.0, 4.0])


def test_tensor_as_python_bool_is_refused():
    with pytest.raises(TypeError, match="Python bool"):
        bool(mg.constant(1.0) > 0)


def test_indexing_forms():
    data = np.arange(24, dtype=np.float32).reshape(4, 6)
    x = mg.constant(data)
    i = mg.placeholder(mg.int32, [])
    rows = mg.placeholder(mg.int32, [None])
    cols = mg.placeholder(mg.int32, [None])
    got = run([x[1], x[-1, 2:5], x[:, None, 1], x[..., 3], x[1:i], x[i], x[rows, cols],
               x[:, cols], x[mg.arange(3), cols]],
              {i: 3, rows: [0, 2, 3], cols: [5, 0, 1]})
    r, c = np.array([0, 2, 3]), np.array([5, 0, 1])
    want = [data[1], data[-1, 2:5], data[:, None, 1], data[..., 3], data[1:3], data[3],
            data[r, c], data[:, c], data[np.arange(3), c]]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
