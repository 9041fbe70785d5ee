"""Where TensorFlow is installed: the everyday ops against tf.compat.v1 on the same inputs
(values, dtypes and the gradients of a fixed random projection of every float output)."""
import numpy as np
import pytest

import minigraph as mg
import minigraph.random as mg_random

tf = pytest.importorskip("tensorflow")
tf1 = tf.compat.v1
RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _graph_mode():
    tf1.disable_eager_execution()


def _evaluate(lib, build, args, weights=None):
    """``build(lib, *constants)``'s outputs and, given ``weights`` for its float outputs, the
    gradients of ``sum(weights * outputs)`` for the float inputs."""
    graph = lib.Graph()
    with graph.as_default():
        inputs = [lib.constant(a) for a in args]
        out = build(lib, *inputs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        fetches = list(outs)
        floats = [o for o in outs if o.dtype in (lib.float32, lib.float64)]
        wrt = [t for t, a in zip(inputs, args) if np.asarray(a).dtype.kind == "f"]
        if weights is not None and floats and wrt:
            objective = lib.add_n([lib.reduce_sum(o * lib.constant(w.astype(o.dtype.name)))
                                   for o, w in zip(floats, weights)])
            fetches += [lib.convert_to_tensor(g) for g in lib.gradients(objective, wrt)]
        with lib.Session(graph=graph) as sess:
            return sess.run(fetches)


def _compare(build, args, grads=True, rtol=1e-6, atol=1e-6):
    """Run ``build`` under both libraries; compare values, dtypes and projected gradients."""
    theirs = _evaluate(tf1, build, args)
    weights = [RNG.normal(size=np.shape(v)) for v in theirs if np.asarray(v).dtype.kind == "f"]
    if grads:
        theirs = _evaluate(tf1, build, args, weights)
    ours = _evaluate(mg, build, args, weights if grads else None)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    return ours


def _square(*shape, dtype=np.float64):
    n = shape[-1]
    return (RNG.uniform(-1, 1, shape) + (n + 1) * np.eye(n)).astype(dtype)


# -- the older everyday ops ----------------------------------------------------------------------


def test_identity_add_n_size_rank_unique_and_logical_reductions():
    x = RNG.normal(size=(2, 3))
    _compare(lambda lib, t: [lib.identity(t), lib.add_n([t, t, lib.identity(t)])], [x])
    _compare(lambda lib, t: [lib.rank(t)], [x], grads=False)
    _compare(lambda lib, t: list(lib.unique(t)), [np.array([3, 1, 3, 2, 1], np.int32)])
    b = np.array([[True, False, True], [False, False, False]])
    _compare(lambda lib, t: [lib.reduce_any(t), lib.reduce_all(t, axis=1),
                             lib.reduce_any(t, axis=0, keepdims=True)], [b])


def test_shape_and_size_values_match_tf():
    # minigraph's shape/size default to int64 (TF: int32); the values agree
    x = np.zeros((2, 3, 0))
    ours = _evaluate(mg, lambda lib, t: [lib.shape(t), lib.size(t)], [x])
    theirs = _evaluate(tf1, lambda lib, t: [lib.shape(t), lib.size(t)], [x])
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


# -- linspace ------------------------------------------------------------------------------------


@pytest.mark.parametrize("num", [0, 1, 2, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linspace(num, dtype):
    start, stop = np.array(-1.5, dtype), np.array(2.25, dtype)
    build = lambda lib, a, b: lib.linspace(a, b, num)
    values = _compare(build, [start, stop], rtol=1e-6)[0]
    np.testing.assert_array_equal(values, _evaluate(tf1, build, [start, stop])[0])  # bitwise


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_linspace_nd_and_int_bounds(axis):
    start, stop = RNG.normal(size=2), RNG.normal(size=(3, 1))
    _compare(lambda lib, a, b: lib.linspace(a, b, 4, axis=axis), [start, stop], rtol=1e-12)
    _compare(lambda lib: lib.linspace(0, 10, 5), [], grads=False)


# -- multinomial / categorical (same distribution, different streams) ----------------------------


def test_multinomial_shapes_dtypes_and_frequencies():
    logits = np.log(np.array([[0.2, 0.8, 1e-300], [0.5, 1e-300, 0.5]]))
    for dtype in (None, "int32"):
        ours = _evaluate(mg, lambda lib, t: lib.multinomial(t, 3000, seed=1, output_dtype=dtype),
                         [logits])[0]
        theirs = _evaluate(tf1, lambda lib, t: lib.multinomial(t, 3000, seed=1,
                                                               output_dtype=dtype), [logits])[0]
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(np.bincount(a, minlength=3) / 3000,
                                       np.bincount(b, minlength=3) / 3000, atol=0.05)


def test_categorical_without_a_finite_logit_matches_tf():
    logits = np.array([[-np.inf, -np.inf], [np.nan, 0.0]], np.float32)
    ours = _evaluate(mg, lambda lib, t: mg_random.categorical(t, 4), [logits])[0]
    theirs = _evaluate(tf1, lambda lib, t: lib.random.categorical(t, 4), [logits])[0]
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == theirs.dtype


# -- determinant and inverse ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1), (2, 0, 0)])
def test_determinant_and_inverse(shape):
    x = _square(*shape)
    _compare(lambda lib, t: [lib.matrix_determinant(t), lib.matrix_inverse(t),
                             lib.matrix_inverse(t, adjoint=True)], [x], rtol=1e-10, atol=1e-12)


def test_determinant_and_inverse_float32():
    _compare(lambda lib, t: [lib.matrix_determinant(t), lib.matrix_inverse(t)],
             [_square(2, 3, 3, dtype=np.float32)], rtol=1e-4, atol=1e-5)


# -- diagonals -----------------------------------------------------------------------------------


def test_diag_and_diag_part():
    _compare(lambda lib, t: lib.diag(t), [RNG.normal(size=(2, 3))])
    _compare(lambda lib, t: lib.diag_part(t), [RNG.normal(size=(3, 2, 3, 2))])
    _compare(lambda lib, t: lib.diag(t), [np.array([1, 2], np.int32)])


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 4), (2, 4, 3), (0, 2, 2)])
def test_matrix_diag_diag_part_and_set_diag(shape):
    x = RNG.normal(size=shape)
    d = RNG.normal(size=shape[:-2] + (min(shape[-2:]),))
    _compare(lambda lib, t, u: [lib.matrix_diag(u), lib.matrix_diag_part(t),
                                lib.matrix_set_diag(t, u)], [x, d])


# -- cumsum / cumprod ----------------------------------------------------------------------------


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumsum_and_cumprod(exclusive, reverse, axis):
    x = RNG.normal(size=(3, 4))
    x[1, 2] = 0.0  # TF's cumprod gradient is div_no_nan at zeros; ours matches it
    _compare(lambda lib, t: [lib.cumsum(t, axis, exclusive=exclusive, reverse=reverse),
                             lib.cumprod(t, axis, exclusive=exclusive, reverse=reverse)],
             [x], rtol=1e-10, atol=1e-12)


def test_cumsum_int_and_float32():
    _compare(lambda lib, t: lib.cumsum(t, exclusive=True, reverse=True),
             [np.array([1, 2, 3], np.int32)])
    _compare(lambda lib, t: lib.cumsum(t, 1), [RNG.normal(size=(2, 5)).astype(np.float32)],
             rtol=1e-5)


# -- sequence_mask -------------------------------------------------------------------------------


@pytest.mark.parametrize("lengths, maxlen", [([1, 3, 0], None), ([[1, 3], [2, -1]], 2),
                                             ([2, 0], 4), (3, None), ([], None)])
@pytest.mark.parametrize("dtype", ["bool", "float32", "int32"])
def test_sequence_mask(lengths, maxlen, dtype):
    lengths = np.array(lengths, np.int32)
    _compare(lambda lib, t: lib.sequence_mask(t, maxlen, dtype=getattr(lib, dtype)), [lengths],
             grads=False)


# -- top_k and in_top_k --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_top_k_with_ties(k):
    x = RNG.integers(0, 3, size=(2, 3, 5)).astype(np.float64)  # many ties
    _compare(lambda lib, t: list(lib.nn.top_k(t, k)), [x])


def test_top_k_int_and_nan():
    _compare(lambda lib, t: list(lib.nn.top_k(t, 2)), [np.array([1, 3, 2, 3], np.int32)])
    _compare(lambda lib, t: list(lib.nn.top_k(t, 2)), [np.array([1.0, np.nan, 2.0])],
             grads=False)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_in_top_k(k):
    predictions = RNG.integers(0, 3, size=(6, 4)).astype(np.float32)  # ties at the k-th place
    predictions[4, 1], predictions[5, 2] = np.inf, np.nan
    targets = np.array([0, 1, 2, 3, 1, -1], np.int32)
    _compare(lambda lib, p, t: lib.nn.in_top_k(p, t, k), [predictions, targets], grads=False)
    _compare(lambda lib, p, t: lib.nn.in_top_k(p, t, k),
             [predictions[:4], np.array([0, 1, 2, 7], np.int64)], grads=False)
