"""The everyday TF1 ops of course scripts: linspace, multinomial/categorical, determinant, inverse,
diagonals, cumsum/cumprod, sequence_mask, top_k, in_top_k (values, errors, gradients), and
the older everyday ops they sit next to (identity, add_n, shape, size, rank, unique, any/all)."""
import numpy as np
import pytest

import minigraph as mg
import minigraph.random as mg_random
from minigraph.errors import InvalidArgumentError
from minigraph.testing import check_grads

RNG = np.random.default_rng(0)


def _run(fetches, feeds=None):
    with mg.Session() as sess:
        return sess.run(fetches, feeds or {})


def _well_conditioned(*shape):
    n = shape[-1]
    return RNG.uniform(-1, 1, shape) + (n + 1) * np.eye(n)


# -- the older everyday ops ----------------------------------------------------------------------


def test_identity_add_n_and_shape_queries():
    x = mg.placeholder(mg.float32, [None, 3])
    feed = {x: np.arange(6, dtype=np.float32).reshape(2, 3)}
    ident, total, shape, size, rank = _run(
        [mg.identity(x), mg.add_n([x, x, x]), mg.shape(x), mg.size(x), mg.rank(x)], feed)
    np.testing.assert_array_equal(ident, feed[x])
    np.testing.assert_array_equal(total, 3 * feed[x])
    assert shape.tolist() == [2, 3] and size == 6 and rank == 2
    (grad,) = mg.gradients(mg.reduce_sum(mg.add_n([x, mg.identity(x)])), [x])
    np.testing.assert_array_equal(_run(grad, feed), np.full((2, 3), 2, np.float32))


def test_unique_and_boolean_reductions():
    values, index = mg.unique(mg.constant([3, 1, 3, 2, 1]))
    b = mg.constant([[True, False, True], [False, False, False]])
    out = _run([values, index, mg.reduce_any(b), mg.reduce_all(b, axis=1),
                mg.reduce_any(b, axis=0, keepdims=True)])
    assert out[0].tolist() == [3, 1, 2] and out[1].tolist() == [0, 1, 0, 2, 1]
    assert out[2] and out[3].tolist() == [False, False]
    assert out[4].tolist() == [[True, False, True]]
    with pytest.raises(TypeError, match="bool"):
        mg.reduce_any(mg.constant([1.0]))


# -- linspace ------------------------------------------------------------------------------------


@pytest.mark.parametrize("num", [0, 1, 2, 7])
def test_linspace_matches_numpy_with_exact_ends(num):
    out = _run(mg.linspace(-1.5, 2.0, num))
    assert out.dtype == np.float32 and out.shape == (num,)
    np.testing.assert_allclose(out, np.linspace(-1.5, 2.0, num), rtol=1e-6)
    if num > 1:
        assert out[0] == np.float32(-1.5) and out[-1] == np.float32(2.0)


def test_linspace_int_bounds_give_float64_and_lin_space_is_an_alias():
    out = _run(mg.lin_space(0, 10, 5))
    assert out.dtype == np.float64 and out.tolist() == [0, 2.5, 5, 7.5, 10]
    assert mg.lin_space is mg.linspace


def test_linspace_broadcasts_bounds_along_a_new_axis():
    start, stop = np.array([0.0, 1.0]), np.array([[1.0], [2.0], [3.0]])
    for axis in (0, 1, -1):
        out = mg.linspace(start, stop, 3, axis=axis)
        expected = np.linspace(np.broadcast_to(start, (3, 2)), np.broadcast_to(stop, (3, 2)), 3,
                               axis=axis % 3)
        assert out.shape == expected.shape
        np.testing.assert_allclose(_run(out), expected, rtol=1e-12)


def test_linspace_with_a_num_tensor_has_a_dynamic_length():
    num = mg.placeholder(mg.int32, [])
    out = mg.linspace(0.0, 1.0, num)
    assert out.type.shape == (None,)
    np.testing.assert_allclose(_run(out, {num: 5}), np.linspace(0, 1, 5), rtol=1e-6)
    assert mg.linspace(0.0, 1.0, mg.constant(4)).type.shape == (4,)
    with pytest.raises(InvalidArgumentError, match="non-negative"):
        _run(out, {num: -1})


def test_linspace_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num must be non-negative"):
        mg.linspace(0.0, 1.0, -2)
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        mg.linspace(0.0, [1.0, 2.0], 3, axis=3)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        mg.linspace([0.0, 1.0], [1.0, 2.0, 3.0], 3)


def test_linspace_gradients():
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    start, stop = mg.constant(1.0, mg.float64), mg.constant(3.0, mg.float64)
    grads = mg.gradients(mg.reduce_sum(mg.linspace(start, stop, 4) * weights), [start, stop])
    np.testing.assert_allclose(_run(grads), [1 + 4 / 3 + 1, 2 / 3 + 2 + 4], rtol=1e-12)
    check_grads(lambda a, b: mg.linspace(a, b, 4, axis=-1),
                [RNG.normal(size=(2, 1)), RNG.normal(size=3)], order=2, seed=0)


# -- multinomial / categorical -------------------------------------------------------------------


def test_multinomial_draws_from_the_softmax_and_never_impossible_classes():
    with np.errstate(divide="ignore"):
        logits = np.log([[0.2, 0.8, 0.0], [0.5, 0.0, 0.5]])
    out = mg.multinomial(logits, 4000, seed=1)
    assert out.dtype == mg.int64 and out.type.shape == (2, 4000)
    draws = _run(out)
    freq = np.stack([np.bincount(row, minlength=3) / 4000 for row in draws])
    np.testing.assert_allclose(freq, np.exp(logits), atol=0.03)
    assert (freq[np.isinf(logits)] == 0).all()


def test_multinomial_seeds_repeat_across_sessions_and_runs_differ():
    mg.set_random_seed(5)
    out = mg.multinomial(mg.zeros([2, 10]), 20, seed=3)
    with mg.Session() as sess:
        first, second = sess.run(out), sess.run(out)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(_run(out), first)


def test_multinomial_without_a_finite_logit_returns_num_classes_as_tf():
    out = mg.multinomial(mg.constant([[-np.inf, -np.inf]]), 3, output_dtype=mg.int32)
    assert out.dtype == mg.int32
    assert _run(out).tolist() == [[2, 2, 2]]


def test_multinomial_rejects_bad_arguments():
    with pytest.raises(ValueError, match="matrix"):
        mg.multinomial(mg.constant([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match="float"):
        mg.multinomial(mg.constant([[0, 1]]), 3)
    with pytest.raises(ValueError, match="int32 or int64"):
        mg.multinomial(mg.zeros([1, 2]), 3, output_dtype=mg.float32)
    with pytest.raises(TypeError, match="num_samples"):
        mg.multinomial(mg.zeros([1, 2]), mg.placeholder(mg.int32, []))


def test_random_namespace_categorical_and_short_names():
    out = mg_random.categorical(mg.zeros([3, 4]), 5, seed=2)
    assert out.dtype == mg.int64 and out.type.shape == (3, 5)
    assert mg_random.categorical(mg.zeros([1, 4]), 2, dtype=mg.int32).dtype == mg.int32
    values = _run(out)
    assert values.min() >= 0 and values.max() < 4
    assert mg_random.normal is mg.random_normal and mg_random.uniform is mg.random_uniform
    assert mg_random.truncated_normal is mg.truncated_normal
    assert mg_random.set_random_seed is mg.set_random_seed
    for name in mg_random.__all__:
        assert callable(getattr(mg_random, name)), name


# -- determinant and inverse ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 0, 0), (1, 1)])
def test_determinant_and_inverse_match_numpy(shape):
    x = _well_conditioned(*shape)
    det, inv, inv_t = _run([mg.matrix_determinant(x), mg.matrix_inverse(x),
                            mg.matrix_inverse(x, adjoint=True)])
    np.testing.assert_allclose(det, np.linalg.det(x), rtol=1e-10)
    np.testing.assert_allclose(inv, np.linalg.inv(x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(inv_t, np.swapaxes(np.linalg.inv(x), -1, -2), rtol=1e-10,
                               atol=1e-12)


def test_determinant_and_inverse_keep_float32():
    x = _well_conditioned(3, 3).astype(np.float32)
    det, inv = _run([mg.matrix_determinant(x), mg.matrix_inverse(x)])
    assert det.dtype == inv.dtype == np.float32


def test_determinant_and_inverse_gradients():
    x = _well_conditioned(2, 3, 3)
    check_grads(mg.matrix_determinant, [x], order=2, seed=0)
    check_grads(mg.matrix_inverse, [x], order=2, seed=1)
    check_grads(lambda a: mg.matrix_inverse(a, adjoint=True), [x], order=2, seed=2)


def test_determinant_and_inverse_errors():
    with pytest.raises(ValueError, match="square"):
        mg.matrix_determinant(mg.zeros([2, 3]))
    with pytest.raises(ValueError, match="rank >= 2"):
        mg.matrix_inverse(mg.zeros([3]))
    with pytest.raises(ValueError, match="float"):
        mg.matrix_determinant(mg.constant(np.eye(2, dtype=np.int32)))
    with pytest.raises(InvalidArgumentError, match="not invertible"):
        _run(mg.matrix_inverse(np.zeros((2, 2))))


# -- diagonals -----------------------------------------------------------------------------------


def test_diag_and_diag_part_are_tf_rank_doubling_ops():
    d = np.arange(1.0, 5.0).reshape(2, 2)
    full = mg.diag(d)
    assert full.type.shape == (2, 2, 2, 2)
    value, back = _run([full, mg.diag_part(full)])
    np.testing.assert_array_equal(value.reshape(4, 4), np.diag(d.ravel()))
    np.testing.assert_array_equal(back, d)
    assert _run(mg.diag([1, 2])).tolist() == [[1, 0], [0, 2]]
    check_grads(mg.diag, [d], order=2, seed=0)
    check_grads(mg.diag_part, [RNG.normal(size=(2, 3, 2, 3))], seed=1)


def test_diag_errors():
    with pytest.raises(ValueError, match="rank >= 1"):
        mg.diag(3.0)
    with pytest.raises(ValueError, match="even"):
        mg.diag_part(mg.zeros([2, 2, 2]))
    with pytest.raises(ValueError, match=r"\[D1..Dk, D1..Dk\]"):
        mg.diag_part(mg.zeros([2, 3]))


def test_matrix_diag_part_and_set_diag_on_batched_rectangles():
    x = RNG.normal(size=(2, 3, 4))
    d = RNG.normal(size=(2, 3))
    diag, part, replaced = _run([mg.matrix_diag(d), mg.matrix_diag_part(x),
                                 mg.matrix_set_diag(x, d)])
    np.testing.assert_array_equal(diag, np.stack([np.diag(row) for row in d]))
    np.testing.assert_array_equal(part, np.diagonal(x, axis1=-2, axis2=-1))
    expected = x.copy()
    expected[:, np.arange(3), np.arange(3)] = d
    np.testing.assert_array_equal(replaced, expected)
    check_grads(mg.matrix_diag, [d], order=2, seed=0)
    check_grads(mg.matrix_diag_part, [x], order=2, seed=1)
    check_grads(mg.matrix_set_diag, [x, d], order=2, seed=2)
    with pytest.raises(ValueError, match="diagonal must have shape"):
        mg.matrix_set_diag(x, np.zeros((2, 4)))


# -- cumsum / cumprod ----------------------------------------------------------------------------


def _naive_scan(x, axis, exclusive, reverse, product):
    """Loop-by-loop TF semantics, for checking the vectorised reference."""
    moved = np.moveaxis(x, axis, -1)
    out = np.empty_like(moved)
    n = moved.shape[-1]
    for j in range(n):
        lo, hi = ((j + 1, n) if exclusive else (j, n)) if reverse else \
            ((0, j) if exclusive else (0, j + 1))
        part = moved[..., lo:hi]
        out[..., j] = np.prod(part, axis=-1) if product else np.sum(part, axis=-1)
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumsum_and_cumprod_match_tf_semantics(exclusive, reverse, axis):
    x = RNG.uniform(0.5, 1.5, size=(3, 4))
    for fn, product in ((mg.cumsum, False), (mg.cumprod, True)):
        out = _run(fn(x, axis, exclusive=exclusive, reverse=reverse))
        np.testing.assert_allclose(out, _naive_scan(x, axis, exclusive, reverse, product),
                                   rtol=1e-12)


def test_cumsum_keeps_int_dtypes_and_empty_axes():
    out = _run(mg.cumsum(mg.constant([1, 2, 3]), exclusive=True, reverse=True))
    assert out.dtype == np.int32 and out.tolist() == [5, 3, 0]
    assert _run(mg.cumprod(np.zeros((2, 0)), axis=1, exclusive=True)).shape == (2, 0)


def test_cumsum_errors():
    with pytest.raises(ValueError, match="bool"):
        mg.cumsum(mg.constant([True, False]))
    with pytest.raises(ValueError, match="rank >= 1"):
        mg.cumsum(3.0)
    with pytest.raises(ValueError, match="out of range"):
        mg.cumprod(mg.zeros([2, 2]), axis=2)


def test_cumsum_and_cumprod_gradients():
    x = RNG.uniform(0.5, 1.5, size=(2, 3))
    for exclusive in (False, True):
        for reverse in (False, True):
            kw = {"axis": 1, "exclusive": exclusive, "reverse": reverse}
            check_grads(lambda t: mg.cumsum(t, **kw), [x], order=2, seed=0)
            check_grads(lambda t: mg.cumprod(t, **kw), [x], order=2, seed=1)


def test_cumprod_gradient_is_zero_at_a_zero_as_tf():
    x = mg.constant([2.0, 0.0, 3.0])
    (grad,) = mg.gradients(mg.reduce_sum(mg.cumprod(x)), [x])
    np.testing.assert_array_equal(_run(grad), [1.0, 0.0, 0.0])


# -- sequence_mask -------------------------------------------------------------------------------


def test_sequence_mask_defaults_to_the_longest_length():
    lengths = mg.placeholder(mg.int32, [None])
    mask = mg.sequence_mask(lengths)
    assert mask.dtype == mg.bool and mask.type.shape == (None, None)
    assert _run(mask, {lengths: [1, 3, 0]}).tolist() == [
        [True, False, False], [True, True, True], [False, False, False]]
    assert _run(mask, {lengths: np.zeros(0, np.int32)}).shape == (0, 0)


def test_sequence_mask_with_maxlen_and_dtype():
    mask = mg.sequence_mask([[1, 3], [2, -1]], 2, dtype=mg.float32)
    assert mask.type.shape == (2, 2, 2) and mask.dtype == mg.float32
    np.testing.assert_array_equal(_run(mask), [[[1, 0], [1, 1]], [[1, 1], [0, 0]]])
    maxlen = mg.placeholder(mg.int64, [])
    dynamic = mg.sequence_mask([2, 0], maxlen)
    assert dynamic.type.shape == (2, None)
    assert _run(dynamic, {maxlen: 3}).tolist() == [[True, True, False], [False, False, False]]
    assert mg.sequence_mask([1], mg.constant(4)).type.shape == (1, 4)
    assert _run(mg.sequence_mask(3)).tolist() == [True, True, True]


def test_sequence_mask_errors():
    with pytest.raises(ValueError, match="integers"):
        mg.sequence_mask([1.5, 2.0])
    with pytest.raises(ValueError, match="non-negative"):
        mg.sequence_mask([1, 2], -1)


# -- top_k and in_top_k --------------------------------------------------------------------------


def test_top_k_breaks_ties_by_lower_index():
    values, indices = mg.nn.top_k([[1.0, 3.0, 3.0, 1.0, 2.0], [5, 4, 3, 2, 1]], 3)
    assert indices.dtype == mg.int32 and values.type.shape == (2, 3)
    v, i = _run([values, indices])
    assert v.tolist() == [[3, 3, 2], [5, 4, 3]] and i.tolist() == [[1, 2, 4], [0, 1, 2]]
    result = mg.nn.top_k(mg.constant([1, 3, 2]), k=2)
    assert _run(result.values).tolist() == [3, 2] and _run(result.indices).tolist() == [1, 2]


def test_top_k_edge_cases():
    v, i = _run(list(mg.nn.top_k([1.0, np.nan, 2.0], 2)))
    assert np.isnan(v[0]) and v[1] == 2 and i.tolist() == [1, 2]
    assert _run(mg.nn.top_k([1.0, 2.0], 0).values).shape == (0,)
    with pytest.raises(ValueError, match="last dimension >= k = 3"):
        mg.nn.top_k([1.0, 2.0], 3)
    with pytest.raises(ValueError, match="rank|last dimension"):
        mg.nn.top_k(3.0)
    x = mg.placeholder(mg.float32, [None, None])
    with pytest.raises(InvalidArgumentError, match="last dimension"):
        _run(mg.nn.top_k(x, 3).values, {x: np.zeros((2, 2))})


def test_top_k_gradient_reaches_the_chosen_entries():
    x = mg.constant([[1.0, 3.0, 3.0, 1.0, 2.0]])
    (grad,) = mg.gradients(mg.reduce_sum(mg.nn.top_k(x, 3).values * [1.0, 2.0, 3.0]), [x])
    assert _run(grad).tolist() == [[0, 1, 2, 0, 3]]
    distinct = RNG.permutation(24).reshape(2, 3, 4) * 0.1
    check_grads(lambda t: mg.nn.top_k(t, 2).values, [distinct], order=2, seed=0)


def test_in_top_k_counts_ties_as_tf():
    scores = [[1.0, 3.0, 3.0, 1.0]] * 4
    assert _run(mg.nn.in_top_k(scores, [0, 1, 2, 3], 1)).tolist() == [False, True, True, False]
    assert _run(mg.nn.in_top_k(scores, [0, 1, 2, 3], 3)).tolist() == [True] * 4
    assert _run(mg.nn.in_top_k([[1.0, np.inf, 3.0]] * 2, [1, 2], 3)).tolist() == [False] * 2
    assert _run(mg.nn.in_top_k([[1.0, 2.0, 3.0]] * 2, [5, -1], 3)).tolist() == [False] * 2
    assert _run(mg.nn.in_top_k([[1.0, 2.0, 3.0]], [2], 0)).tolist() == [False]


def test_in_top_k_errors():
    with pytest.raises(ValueError, match="matrix"):
        mg.nn.in_top_k([1.0, 2.0], [0], 1)
    with pytest.raises(ValueError, match="one row per target"):
        mg.nn.in_top_k(np.zeros((2, 3)), [0, 1, 2], 1)
    with pytest.raises(ValueError, match="int32 or int64"):
        mg.nn.in_top_k(np.zeros((1, 3)), [0.0], 1)
