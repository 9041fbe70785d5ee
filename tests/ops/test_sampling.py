"""Candidate samplers and accidental hits: shapes, ranges, uniqueness, TF's expected-count
formulas (exact float32 arithmetic and against empirical frequencies), seeds, errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.ops.registry import REGISTRY
from minigraph.ops.sampling import FLT_MAX, expected_count, unigram_table

SAMPLERS = {"log_uniform": mg.nn.log_uniform_candidate_sampler,
            "uniform": mg.nn.uniform_candidate_sampler}


def _log_uniform_p(k, range_max):
    return np.log((k + 2.0) / (k + 1.0)) / np.log(range_max + 1.0)


def _classes(rows, num_true, range_max, seed=0):
    return np.random.default_rng(seed).integers(0, range_max, (rows, num_true)).astype(np.int64)


def _tries(count, p):
    """The ``num_tries`` that ``-expm1(t * log1p(-p)) == count`` solves for (float64)."""
    return np.log1p(-count.astype(np.float64)) / np.log1p(-p.astype(np.float64))


# -- shapes, dtypes, ranges ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
@pytest.mark.parametrize("unique", [False, True])
def test_shapes_dtypes_and_ranges(kind, unique):
    classes = mg.placeholder(mg.int64, (None, 2))
    out = SAMPLERS[kind](classes, 2, 7, unique, 9, seed=1)
    assert [t.get_shape() for t in out] == [(7,), (None, 2), (7,)]
    assert [t.dtype for t in out] == [mg.int64, mg.float32, mg.float32]
    sampled, true_count, sampled_count = mg.Session().run(out, {classes: _classes(5, 2, 9)})
    assert sampled.dtype == np.int64 and sampled.shape == (7,)
    assert true_count.shape == (5, 2) and true_count.dtype == np.float32
    assert sampled_count.shape == (7,) and sampled_count.dtype == np.float32
    assert sampled.min() >= 0 and sampled.max() < 9
    if unique:
        assert len(set(sampled.tolist())) == 7


def test_int32_classes_accepted_and_named_outputs():
    out = mg.nn.log_uniform_candidate_sampler(mg.constant([[1], [2]], dtype=mg.int32), 1, 3,
                                              False, 5)
    assert out.sampled_candidates.dtype == mg.int64
    assert out.true_expected_count.get_shape() == (2, 1)
    assert out.sampled_expected_count.get_shape() == (3,)


def test_unique_can_take_the_whole_range_and_zero_samples():
    sampled, _, counts = mg.Session().run(
        mg.nn.log_uniform_candidate_sampler(_classes(2, 1, 6), 1, 6, True, 6, seed=2))
    assert sorted(sampled.tolist()) == list(range(6)) and np.all(counts > 0)
    sampled, true_count, counts = mg.Session().run(
        mg.nn.uniform_candidate_sampler(_classes(2, 1, 6), 1, 0, True, 6))
    assert sampled.shape == (0,) and counts.shape == (0,)
    np.testing.assert_array_equal(true_count, np.zeros((2, 1), np.float32))  # p * 0 tries


# -- expected counts: TF's arithmetic ------------------------------------------------------------


def test_log_uniform_counts_with_replacement_are_p_times_num_sampled():
    classes = np.arange(20, dtype=np.int64).reshape(-1, 1)
    sampled, true_count, counts = mg.Session().run(
        mg.nn.log_uniform_candidate_sampler(classes, 1, 8, False, 20, seed=3))
    p = _log_uniform_p(np.arange(20.0), 20).astype(np.float32)
    np.testing.assert_array_equal(true_count[:, 0], p * np.float32(8))
    np.testing.assert_array_equal(counts, p[sampled] * np.float32(8))


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_unique_counts_use_the_number_of_tries(kind):
    classes = np.arange(30, dtype=np.int64).reshape(-1, 1)
    sampled, true_count, counts = mg.Session().run(SAMPLERS[kind](classes, 1, 12, True, 30,
                                                                  seed=4))
    p = (_log_uniform_p(np.arange(30.0), 30) if kind == "log_uniform"
         else np.full(30, 1 / 30)).astype(np.float32)
    tries = np.round(_tries(true_count[:, 0], p))
    num_tries = int(tries[-1])
    assert num_tries > 12 and np.all(tries[true_count[:, 0] < 0.99] == num_tries)
    np.testing.assert_array_equal(true_count[:, 0], expected_count(p, 12, num_tries))
    np.testing.assert_array_equal(counts, expected_count(p[sampled], 12, num_tries))


def test_expected_count_helper_matches_tf_formula():
    p = np.array([0.5, 0.01, 1e-6], np.float32)
    np.testing.assert_array_equal(expected_count(p, 4, 4), p * np.float32(4))
    np.testing.assert_allclose(expected_count(p, 4, 9), 1 - (1 - p.astype(np.float64)) ** 9,
                               rtol=1e-5)
    assert expected_count(p, 4, 9).dtype == np.float32


def _inclusion_frequency(op, attrs, classes, runs):
    """Mean over ``runs`` draws of "class k was sampled" and of its reported expected count."""
    ref, rng = REGISTRY[op].ref, np.random.default_rng(5)
    hits, reported = np.zeros(classes.size), np.zeros(classes.size)
    for _ in range(runs):
        sampled, true_count, _ = ref(classes, rng=rng, seed=None, **attrs)
        hits += np.bincount(sampled, minlength=attrs["range_max"])[classes[:, 0]]
        reported += true_count[:, 0]
    return hits / runs, reported / runs


@pytest.mark.parametrize("op", ["log_uniform_candidate_sampler", "uniform_candidate_sampler"])
def test_counts_with_replacement_match_empirical_frequencies(op):
    classes = np.arange(12, dtype=np.int64).reshape(-1, 1)
    attrs = {"num_true": 1, "num_sampled": 5, "unique": False, "range_max": 12}
    frequency, reported = _inclusion_frequency(op, attrs, classes, 4000)
    np.testing.assert_allclose(frequency, reported, atol=0.04)


@pytest.mark.parametrize("op", ["log_uniform_candidate_sampler", "uniform_candidate_sampler"])
def test_unique_counts_match_empirical_frequencies_where_tf_approximation_holds(op):
    """TF's unique counts are approximate (``p * n`` is used when no draw was rejected), so
    compare on classes of small probability, where they are close to the inclusion rate."""
    classes = np.arange(10, 40, dtype=np.int64).reshape(-1, 1)
    attrs = {"num_true": 1, "num_sampled": 6, "unique": True, "range_max": 200}
    frequency, reported = _inclusion_frequency(op, attrs, classes, 4000)
    np.testing.assert_allclose(frequency, reported, atol=0.015)


def test_fixed_unigram_counts_match_empirical_frequencies():
    params = {"unigrams": (5.0, 1.0, 3.0, 0.5, 2.0, 8.0), "distortion": 0.75,
              "num_reserved_ids": 2, "num_shards": 1, "shard": 0}
    classes = np.arange(8, dtype=np.int64).reshape(-1, 1)
    attrs = {"num_true": 1, "num_sampled": 3, "unique": False, "range_max": 8, **params}
    frequency, reported = _inclusion_frequency("fixed_unigram_candidate_sampler", attrs, classes,
                                               4000)
    np.testing.assert_allclose(frequency, reported, atol=0.04)
    assert frequency[0] == frequency[1] == 0  # reserved ids are never drawn


# -- fixed unigram: distortion, reserved ids, shards ---------------------------------------------


def test_unigram_distortion_and_reserved_ids():
    unigrams = [4.0, 1.0, 9.0]
    classes = np.arange(5, dtype=np.int64).reshape(-1, 1)
    for distortion in (1.0, 0.5, 0.0):
        _, true_count, _ = mg.Session().run(mg.nn.fixed_unigram_candidate_sampler(
            classes, 1, 2, False, 5, distortion=distortion, num_reserved_ids=2,
            unigrams=unigrams, seed=6))
        w = np.array(unigrams) ** distortion
        np.testing.assert_allclose(true_count[:, 0], 2 * np.r_[0, 0, w / w.sum()], rtol=1e-6)


def test_unigram_default_distortion_is_one():
    _, true_count, _ = mg.Session().run(mg.nn.fixed_unigram_candidate_sampler(
        np.array([[0], [1]], np.int64), 1, 1, False, 2, unigrams=[1.0, 3.0]))
    np.testing.assert_allclose(true_count[:, 0], [0.25, 0.75])


def test_unigram_shards_count_ids_from_the_shards_reserved_ids_as_tf():
    weights, total = unigram_table((1.0, 2.0, 3.0, 4.0, 5.0), 1.0, 3, 2, 1)
    # shard 1 of 2 keeps reserved id 1; TF then numbers the unigrams from 1 (the number of
    # reserved ids it kept), so it keeps unigrams 0, 2 and 4 (ids 1, 3, 5)
    np.testing.assert_array_equal(weights, [0.0, 1.0, 3.0, 5.0])
    assert total == 9.0
    sampled = mg.Session().run(mg.nn.fixed_unigram_candidate_sampler(
        [[1]], 1, 50, False, 4, num_reserved_ids=3, num_shards=2, shard=1,
        unigrams=[1.0, 2.0, 3.0, 4.0, 5.0], seed=7).sampled_candidates)
    assert set(sampled.tolist()) == {1, 2, 3}


def test_unigram_vocab_file(tmp_path):
    vocab = tmp_path / "vocab.csv"
    vocab.write_text("the,4\ncat,1\nsat,3\n")
    _, true_count, _ = mg.Session().run(mg.nn.fixed_unigram_candidate_sampler(
        np.arange(3, dtype=np.int64).reshape(-1, 1), 1, 1, False, 3, vocab_file=str(vocab)))
    np.testing.assert_allclose(true_count[:, 0], [0.5, 0.125, 0.375])


# -- seeds ---------------------------------------------------------------------------------------


def test_seeded_sampler_repeats_in_new_sessions_and_advances_between_runs():
    out = mg.nn.log_uniform_candidate_sampler(_classes(3, 1, 50), 1, 10, True, 50, seed=8)
    first = [mg.Session().run(out.sampled_candidates) for _ in range(2)]
    np.testing.assert_array_equal(first[0], first[1])
    sess = mg.Session()
    runs = [sess.run(out.sampled_candidates) for _ in range(3)]
    assert any(not np.array_equal(runs[0], r) for r in runs[1:])


def test_graph_seed_makes_unseeded_samplers_reproducible():
    mg.set_random_seed(11)
    out = mg.nn.uniform_candidate_sampler(_classes(3, 1, 50), 1, 10, False, 50)
    np.testing.assert_array_equal(mg.Session().run(out[0]), mg.Session().run(out[0]))


# -- errors --------------------------------------------------------------------------------------


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="int64 or int32"):
        mg.nn.log_uniform_candidate_sampler(mg.constant([[1.0]]), 1, 2, False, 5)
    with pytest.raises(ValueError, match="num_true=2"):
        mg.nn.log_uniform_candidate_sampler(_classes(2, 1, 5), 2, 2, False, 5)
    with pytest.raises(ValueError, match="matrix"):
        mg.nn.uniform_candidate_sampler(np.array([1, 2], np.int64), 1, 2, False, 5)
    with pytest.raises(ValueError, match="range is too small"):
        mg.nn.uniform_candidate_sampler(_classes(2, 1, 5), 1, 6, True, 5)
    with pytest.raises(ValueError, match="range_max >= 1"):
        mg.nn.uniform_candidate_sampler(_classes(2, 1, 5), 1, 1, False, 0)
    classes = mg.placeholder(mg.int64, (None, 1))
    out = mg.nn.log_uniform_candidate_sampler(classes, 1, 2, False, 5)
    with pytest.raises(mg.errors.InvalidArgumentError, match=r"out of range \[0, 5\)"):
        mg.Session().run(out, {classes: [[5]]})


def test_unigram_arguments_are_checked():
    with pytest.raises(ValueError, match="must equal the number of weights"):
        mg.nn.fixed_unigram_candidate_sampler([[0]], 1, 1, False, 4, unigrams=[1.0, 2.0])
    with pytest.raises(ValueError, match="exactly one of vocab_file and unigrams"):
        mg.nn.fixed_unigram_candidate_sampler([[0]], 1, 1, False, 2)
    with pytest.raises(ValueError, match="non-negative"):
        mg.nn.fixed_unigram_candidate_sampler([[0]], 1, 1, False, 2, unigrams=[1.0, -2.0])
    with pytest.raises(ValueError, match="2 distinct"):
        mg.nn.fixed_unigram_candidate_sampler([[0]], 1, 2, True, 3, num_reserved_ids=2,
                                              unigrams=[1.0])


# -- accidental hits -----------------------------------------------------------------------------


def _hits_oracle(true_classes, sampled):
    """TF's loop: the position map keeps the last occurrence of each sampled id."""
    position = {int(v): j for j, v in enumerate(sampled)}
    found = [(i, position[int(c)]) for i, row in enumerate(true_classes) for c in row
             if int(c) in position]
    return [i for i, _ in found], [j for _, j in found]


def test_accidental_hits_example():
    classes = np.array([[1, 3], [3, 3], [0, 2]], np.int64)
    indices, ids, weights = mg.Session().run(mg.nn.compute_accidental_hits(
        classes, np.array([3, 1, 3, 2, 7], np.int64), num_true=2))
    np.testing.assert_array_equal(indices, [0, 0, 1, 1, 2])
    np.testing.assert_array_equal(ids, [1, 2, 2, 2, 3])
    np.testing.assert_array_equal(weights, np.full(5, -FLT_MAX, np.float32))
    assert (indices.dtype, ids.dtype, weights.dtype) == (np.int32, np.int64, np.float32)


@settings(max_examples=15)
@given(rows=st.integers(0, 4), num_true=st.integers(1, 3), num_sampled=st.integers(0, 6),
       seed=st.integers(0, 1000))
def test_accidental_hits_match_tf_loop(rows, num_true, num_sampled, seed):
    rng = np.random.default_rng(seed)
    classes, sampled = rng.integers(0, 6, (rows, num_true)), rng.integers(0, 6, num_sampled)
    indices, ids, _ = REGISTRY["compute_accidental_hits"].ref(classes, sampled, num_true=num_true)
    expected_indices, expected_ids = _hits_oracle(classes, sampled)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(ids, expected_ids)


def test_accidental_hits_shapes_are_dynamic():
    hits = mg.nn.compute_accidental_hits(mg.constant([[1]], dtype=mg.int32),
                                         mg.constant([1, 2], dtype=mg.int64), 1)
    assert [t.get_shape() for t in hits] == [(None,), (None,), (None,)]
    with pytest.raises(ValueError, match="num_true=2"):
        mg.nn.compute_accidental_hits(np.array([[1]], np.int64), np.array([1], np.int64), 2)
