"""Candidate samplers and accidental hits (TF1 ``tf.nn.*_candidate_sampler`` semantics).

A sampler draws ``num_sampled`` class ids from a base distribution P over ``[0, range_max)``
and reports the *expected count* of each true and sampled id, computed as TensorFlow's
RangeSampler does (float32): ``P(k) * num_sampled`` when every draw was kept (always so with
``unique=False``), else ``1 - (1 - P(k))**num_tries`` where ``num_tries`` is how many draws
the rejection loop of ``unique=True`` took to find ``num_sampled`` distinct ids.
The random stream is NumPy's, not TF's Philox: same distributions, different numbers.
"""
from __future__ import annotations

import functools
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..graph import TensorType
from ..tensor import convert_to_tensor
from ._samples import rng_from
from .elementwise import cast
from .random import seed_attr
from .registry import InferError, apply_op, defop

FLT_MAX = float(np.finfo(np.float32).max)  # the weight TF gives an accidental hit is -FLT_MAX
_MAX_TRIES = 1 << 26  # TF aborts past 2**31 tries; we give up sooner with an error

CandidateSamplerOutput = namedtuple(
    "CandidateSamplerOutput", ["sampled_candidates", "true_expected_count",
                               "sampled_expected_count"])
AccidentalHits = namedtuple("AccidentalHits", ["indices", "ids", "weights"])

# -- base distributions: (draw(rng, n), probability(values)) -------------------------------------


def _log_uniform(range_max):
    """P(k) = log((k + 2) / (k + 1)) / log(range_max + 1), drawn as floor(e^(u log(R+1))) - 1."""
    log_range = np.log1p(range_max)

    def draw(rng, n):
        return (np.exp(rng.random(n) * log_range).astype(np.int64) - 1) % range_max

    def probability(values):
        v = values.astype(np.float64)
        return (np.log((v + 2.0) / (v + 1.0)) / log_range).astype(np.float32)
    return draw, probability


def _uniform(range_max):
    """P(k) = 1 / range_max."""
    def draw(rng, n):
        return rng.integers(0, range_max, size=n, dtype=np.int64)

    def probability(values):
        return np.full(values.shape, 1.0 / range_max, dtype=np.float32)
    return draw, probability


@functools.lru_cache(maxsize=16)
def unigram_table(unigrams: tuple, distortion: float, num_reserved_ids: int, num_shards: int,
                  shard: int):
    """``(weights, total)`` of one shard, as TF's FixedUnigramSampler builds them (float32).

    Reserved ids of the shard come first with weight 0; then every unigram whose id (counted
    from the number of reserved ids kept) falls in the shard, raised to ``distortion``.
    """
    reserved = len(range(shard, num_reserved_ids, num_shards))
    ids = reserved + np.arange(len(unigrams))
    kept = np.asarray(unigrams, np.float32)[ids % num_shards == shard].astype(np.float64)
    kept = (kept ** np.float64(np.float32(distortion))).astype(np.float32)  # pow in double
    total = np.add.accumulate(kept, dtype=np.float32)[-1] if kept.size else np.float32(0)
    return np.concatenate([np.zeros(reserved, np.float32), kept]), np.float32(total)


def _fixed_unigram(range_max, **table_attrs):
    """P(k) = weights[k] / total, drawn by inverting the cumulative weights."""
    weights, total = unigram_table(**table_attrs)
    cumulative = np.cumsum(weights, dtype=np.float64)

    def draw(rng, n):
        found = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
        return np.minimum(found, len(weights) - 1).astype(np.int64)

    def probability(values):
        return (weights[values] / total).astype(np.float32)
    return draw, probability


DISTRIBUTIONS = {"log_uniform_candidate_sampler": _log_uniform,
                 "uniform_candidate_sampler": _uniform,
                 "fixed_unigram_candidate_sampler": _fixed_unigram}

# -- the sampling loop and expected counts -------------------------------------------------------


def _draw_unique(draw, rng, num_sampled):
    """TF's rejection loop: draw until ``num_sampled`` distinct ids; ``(ids, num_tries)``.

    Draws come in growing chunks; the ids kept are the first occurrences, in draw order, and
    ``num_tries`` counts the draws up to the last one kept, exactly as one-at-a-time drawing.
    """
    if num_sampled == 0:
        return np.zeros(0, np.int64), 0
    draws, chunk = np.zeros(0, np.int64), max(2 * num_sampled, 16)
    while draws.size < _MAX_TRIES:
        draws = np.concatenate([draws, draw(rng, chunk)])
        first = np.sort(np.unique(draws, return_index=True)[1])
        if first.size >= num_sampled:
            return draws[first[:num_sampled]], int(first[num_sampled - 1]) + 1
        chunk *= 2
    raise ValueError(f"unique sampling found only {first.size} of {num_sampled} distinct ids in "
                     f"{draws.size} draws")


def expected_count(p: np.ndarray, num_sampled: int, num_tries: int) -> np.ndarray:
    """TF's ExpectedCountHelper in float32: ``p * n`` if no draw was rejected, else
    ``-expm1(num_tries * log1p(-p))``."""
    if num_tries == num_sampled:
        return p * np.float32(num_sampled)
    return -np.expm1(np.float32(num_tries) * np.log1p(-p))


def _check_matrix(true_classes, num_true):
    if true_classes.ndim != 2 or true_classes.shape[1] != num_true:
        raise ValueError(f"true_classes must be a [batch_size, num_true={num_true}] matrix, got "
                         f"shape {true_classes.shape}")


def _check_true_classes(true_classes, num_true, range_max):
    _check_matrix(true_classes, num_true)
    bad = true_classes[(true_classes < 0) | (true_classes >= range_max)]
    if bad.size:
        raise ValueError(f"true class {int(bad[0])} out of range [0, {range_max})")


def _sampler_ref(op):
    def ref(true_classes, *, num_true, num_sampled, unique, range_max, seed, rng, **params):
        _check_true_classes(true_classes, num_true, range_max)
        draw, probability = DISTRIBUTIONS[op](range_max, **params)
        if unique:
            sampled, tries = _draw_unique(draw, rng, num_sampled)
        else:
            sampled, tries = draw(rng, num_sampled), num_sampled
        return (sampled, expected_count(probability(true_classes), num_sampled, tries),
                expected_count(probability(sampled), num_sampled, tries))
    return ref


def _hits_ref(true_classes, sampled, num_true):
    """Each true class that was sampled, as (row, position of its *last* occurrence, -FLT_MAX)."""
    _check_matrix(true_classes, num_true)
    values, first_reversed = np.unique(sampled[::-1], return_index=True)
    last = sampled.size - 1 - first_reversed
    flat = true_classes.reshape(-1)
    slot = np.minimum(np.searchsorted(values, flat), max(values.size - 1, 0))
    found = np.flatnonzero(values[slot] == flat) if values.size else np.zeros(0, np.int64)
    return ((found // num_true).astype(np.int32), last[slot[found]].astype(np.int64),
            np.full(found.size, -FLT_MAX, np.float32))


# -- shape/dtype rules ---------------------------------------------------------------------------


def _check_classes_type(t: TensorType, num_true: int):
    if t.dtype != dtypes.int64:
        raise InferError(f"true_classes must be int64, got {t.dtype}")
    if t.shape is not None and (len(t.shape) != 2 or t.shape[1] not in (None, num_true)):
        raise InferError(f"true_classes must be a [batch_size, num_true={num_true}] matrix, got "
                         f"shape {t.describe()}")


def _infer_sampler(types, num_true, num_sampled, **_):
    (classes,) = types
    _check_classes_type(classes, num_true)
    batch = classes.shape[0] if classes.shape is not None else None
    return [TensorType((num_sampled,), dtypes.int64),
            TensorType((batch, num_true), dtypes.float32),
            TensorType((num_sampled,), dtypes.float32)]


def _infer_hits(types, num_true):
    classes, sampled = types
    _check_classes_type(classes, num_true)
    if sampled.dtype != dtypes.int64 or (sampled.shape is not None and len(sampled.shape) != 1):
        raise InferError(f"sampled_candidates must be an int64 vector, got {sampled.describe()}")
    return [TensorType((None,), dtypes.int32), TensorType((None,), dtypes.int64),
            TensorType((None,), dtypes.float32)]


# -- sample rules --------------------------------------------------------------------------------


def _unigram_params(draw):
    from hypothesis import strategies as st

    num_shards = draw(st.integers(1, 2))
    size = draw(st.integers(num_shards, num_shards + 4))  # every shard keeps a unigram
    unigrams = tuple(float(w) for w in np.round(rng_from(draw).uniform(0.1, 3.0, size), 2))
    return {"unigrams": unigrams, "distortion": draw(st.sampled_from([1.0, 0.75, 0.0])),
            "num_reserved_ids": draw(st.integers(0, 2)), "num_shards": num_shards,
            "shard": draw(st.integers(0, num_shards - 1))}


def _sampler_sample(op):
    def sample(draw):
        from hypothesis import strategies as st

        params = _unigram_params(draw) if op == "fixed_unigram_candidate_sampler" else {}
        weights = unigram_table(**params)[0] if params else None
        range_max = len(weights) if params else draw(st.integers(1, 8))
        reachable = int(np.count_nonzero(weights)) if params else range_max
        unique = draw(st.booleans())
        num_true = draw(st.integers(1, 2))
        classes = rng_from(draw).integers(0, range_max, (draw(st.integers(0, 3)), num_true))
        attrs = {"num_true": num_true, "unique": unique, "range_max": range_max,
                 "num_sampled": draw(st.integers(0, reachable if unique else 6)),
                 "seed": draw(st.one_of(st.none(), st.tuples(st.integers(0, 99),
                                                             st.integers(0, 99))))}
        return [classes.astype(np.int64)], {**attrs, **params}
    return sample


def _hits_sample(draw):
    from hypothesis import strategies as st

    rng, num_true = rng_from(draw), draw(st.integers(1, 2))
    classes = rng.integers(0, 5, (draw(st.integers(0, 4)), num_true))
    sampled = rng.integers(0, 5, draw(st.integers(0, 6)))
    return [classes.astype(np.int64), sampled.astype(np.int64)], {"num_true": num_true}


# -- registration --------------------------------------------------------------------------------

for _op in DISTRIBUTIONS:
    defop(_op, _infer_sampler, _sampler_ref(_op), kind="random", differentiable=False,
          stateful=True, random=True, sample=_sampler_sample(_op),
          doc="candidate ids drawn for sampled losses, with their expected counts")
defop("compute_accidental_hits", _infer_hits, _hits_ref, kind="nn", differentiable=False,
      sample=_hits_sample, extra={"value_dependent_shape": True},
      doc="positions where a sampled candidate equals a true class (weight -FLT_MAX)")

# -- public functions ----------------------------------------------------------------------------


def _int64_classes(true_classes, what="true_classes"):
    t = convert_to_tensor(true_classes)
    if not dtypes.is_integer(t.dtype):
        raise TypeError(f"{what} must be int64 or int32 class ids, got {t.dtype}")
    return t if t.dtype == dtypes.int64 else cast(t, dtypes.int64)


def _sampler_attrs(num_true, num_sampled, unique, range_max):
    num_true, num_sampled, range_max = int(num_true), int(num_sampled), int(range_max)
    if num_true < 1 or num_sampled < 0 or range_max < 1:
        raise ValueError(f"need num_true >= 1, num_sampled >= 0 and range_max >= 1, got "
                         f"{num_true}, {num_sampled}, {range_max}")
    if unique and num_sampled > range_max:
        raise ValueError(f"Sampler's range is too small: cannot draw {num_sampled} distinct ids "
                         f"from range_max={range_max}")
    return {"num_true": num_true, "num_sampled": num_sampled, "unique": bool(unique),
            "range_max": range_max}


def _candidate_sampler(op, true_classes, attrs, seed, name) -> CandidateSamplerOutput:
    classes = _int64_classes(true_classes)
    attrs = {**attrs, "seed": seed_attr(classes.graph, seed)}
    return CandidateSamplerOutput(*apply_op(op, [classes], attrs, name=name))


def log_uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max,
                                  seed=None, name=None) -> CandidateSamplerOutput:
    """Ids drawn from the log-uniform (Zipfian) distribution over ``[0, range_max)``."""
    attrs = _sampler_attrs(num_true, num_sampled, unique, range_max)
    return _candidate_sampler("log_uniform_candidate_sampler", true_classes, attrs, seed, name)


def uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max,
                              seed=None, name=None) -> CandidateSamplerOutput:
    """Ids drawn uniformly from ``[0, range_max)``."""
    attrs = _sampler_attrs(num_true, num_sampled, unique, range_max)
    return _candidate_sampler("uniform_candidate_sampler", true_classes, attrs, seed, name)


def _read_vocab_file(path: str) -> tuple:
    """Unigram weights from a CSV vocabulary file: the last field of every line."""
    with open(path) as f:
        lines = f.read().splitlines()
    try:
        return tuple(float(line.split(",")[-1]) for line in lines)
    except ValueError as err:
        raise ValueError(f"fixed_unigram_candidate_sampler: wrong vocabulary format in {path!r}: "
                         f"{err}") from None


def _unigram_attrs(vocab_file, unigrams, distortion, num_reserved_ids, num_shards, shard):
    if bool(vocab_file) == bool(len(unigrams)):
        raise ValueError("fixed_unigram_candidate_sampler: give exactly one of vocab_file and "
                         "unigrams")
    weights = _read_vocab_file(vocab_file) if vocab_file else tuple(float(w) for w in unigrams)
    if not all(np.isfinite(w) and w >= 0 for w in weights):
        raise ValueError("fixed_unigram_candidate_sampler: unigram weights must be finite and "
                         "non-negative")
    if not 0 <= int(shard) < int(num_shards):
        raise ValueError(f"fixed_unigram_candidate_sampler: need 0 <= shard < num_shards, got "
                         f"shard={shard}, num_shards={num_shards}")
    return {"unigrams": weights, "distortion": float(distortion),
            "num_reserved_ids": int(num_reserved_ids), "num_shards": int(num_shards),
            "shard": int(shard)}


def fixed_unigram_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max,
                                    vocab_file="", distortion=1.0, num_reserved_ids=0,
                                    num_shards=1, shard=0, unigrams=(), seed=None,
                                    name=None) -> CandidateSamplerOutput:
    """Ids drawn with probability proportional to ``unigrams[k] ** distortion`` (ids below
    ``num_reserved_ids`` get weight 0); ``range_max`` must equal the shard's vocabulary size."""
    attrs = _sampler_attrs(num_true, num_sampled, unique, range_max)
    params = _unigram_attrs(vocab_file, unigrams, distortion, num_reserved_ids, num_shards, shard)
    weights = unigram_table(**params)[0]
    if len(weights) != attrs["range_max"]:
        raise ValueError(f"fixed_unigram_candidate_sampler: range_max={range_max} must equal the "
                         f"number of weights of this shard ({len(weights)})")
    if np.count_nonzero(weights) < (attrs["num_sampled"] if unique else min(1, num_sampled)):
        raise ValueError(f"fixed_unigram_candidate_sampler: only {np.count_nonzero(weights)} ids "
                         f"have positive weight, cannot draw {num_sampled}"
                         f"{' distinct' if unique else ''} ids")
    return _candidate_sampler("fixed_unigram_candidate_sampler", true_classes,
                              {**attrs, **params}, seed, name)


def compute_accidental_hits(true_classes, sampled_candidates, num_true, seed=None,
                            name=None) -> AccidentalHits:
    """``(indices, ids, weights)``: for each true class of row ``indices[i]`` that was sampled,
    ``ids[i]`` is its (last) position in ``sampled_candidates`` and ``weights[i]`` -FLT_MAX."""
    classes = _int64_classes(true_classes)
    sampled = _int64_classes(sampled_candidates, "sampled_candidates")
    return AccidentalHits(*apply_op("compute_accidental_hits", [classes, sampled],
                                    {"num_true": int(num_true)}, name=name))


__all__ = ["log_uniform_candidate_sampler", "uniform_candidate_sampler",
           "fixed_unigram_candidate_sampler", "compute_accidental_hits"]
