"""Where TensorFlow is installed: tf.compat.v1's sampled losses, candidate samplers and
accidental hits against minigraph's on the same negatives (values and gradients)."""
import numpy as np
import pytest

import minigraph as mg
from minigraph.ops.sampling import expected_count, unigram_table

tf = pytest.importorskip("tensorflow")
tf1 = tf.compat.v1

LOSSES = ["nce_loss", "sampled_softmax_loss"]


def _problem(seed, dtype, num_true, unique, batch=4, dim=3, num_classes=9, num_sampled=6):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((num_classes, dim)).astype(dtype)
    b = rng.standard_normal(num_classes).astype(dtype)
    x = rng.standard_normal((batch, dim)).astype(dtype)
    labels = rng.integers(0, num_classes, (batch, num_true)).astype(np.int64)
    sampled = (rng.permutation(num_classes)[:num_sampled] if unique
               else rng.integers(0, num_classes, num_sampled)).astype(np.int64)
    counts = (rng.uniform(0.05, 1.5, (batch, num_true)).astype(dtype),
              rng.uniform(0.05, 1.5, num_sampled).astype(dtype))
    return W, b, labels, x, (sampled, *counts)


def _loss_and_grads(lib, loss, W, b, labels, x, values, **kw):
    """The loss and its gradients for W, b and x, built and run under ``lib``."""
    graph = lib.Graph()
    with graph.as_default():
        params = [lib.Variable(v) for v in (W, b, x)]
        out = getattr(lib.nn, loss)(params[0], params[1], labels, params[2], len(values[0]),
                                    W.shape[0], sampled_values=tuple(lib.constant(v)
                                                                     for v in values), **kw)
        grads = [lib.convert_to_tensor(g) for g in lib.gradients(lib.reduce_sum(out), params)]
        with lib.Session(graph=graph) as sess:
            sess.run(lib.global_variables_initializer())
            return sess.run([out] + grads)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("num_true", [1, 2])
@pytest.mark.parametrize("remove_hits", [False, True])
def test_sampled_losses_match_tensorflow(loss, dtype, num_true, remove_hits):
    tf1.disable_eager_execution()
    for seed, unique in [(0, True), (1, False), (2, False)]:
        W, b, labels, x, values = _problem(seed, dtype, num_true, unique)
        kw = {"num_true": num_true, "remove_accidental_hits": remove_hits}
        theirs = _loss_and_grads(tf1, loss, W, b, labels, x, values, **kw)
        ours = _loss_and_grads(mg, loss, W, b, labels, x, values, **kw)
        tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12,
                                                                          "atol": 1e-12}
        for a, b_ in zip(ours, theirs):
            assert a.dtype == b_.dtype
            np.testing.assert_allclose(a, b_, **tol)


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_sharded_weights_match_tensorflow(strategy):
    tf1.disable_eager_execution()
    W, b, labels, x, values = _problem(3, np.float64, 1, False, num_classes=8)
    results = []
    for lib in (tf1, mg):
        graph = lib.Graph()
        with graph.as_default():
            shards = [lib.constant(s) for s in (np.array_split(W, 3) if strategy == "div"
                                                else [W[p::3] for p in range(3)])]
            out = lib.nn.nce_loss(shards, b, labels, x, 6, 8, sampled_values=values,
                                  partition_strategy=strategy)
            with lib.Session(graph=graph) as sess:
                results.append(sess.run(out))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)


def test_accidental_hits_match_tensorflow():
    tf1.disable_eager_execution()
    rng = np.random.default_rng(4)
    for _ in range(5):
        classes = rng.integers(0, 6, (5, 2)).astype(np.int64)
        sampled = rng.integers(0, 6, 7).astype(np.int64)
        with tf1.Session(graph=tf1.Graph()) as sess:
            theirs = sess.run(tf1.nn.compute_accidental_hits(classes, sampled, 2))
        ours = mg.Session().run(mg.nn.compute_accidental_hits(classes, sampled, 2))
        for a, b in zip(ours, theirs):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def _tf_sampler(name, classes, num_sampled, unique, range_max, **kw):
    with tf1.Session(graph=tf1.Graph()) as sess:
        return sess.run(getattr(tf1.nn, name)(classes, 1, num_sampled, unique, range_max, **kw))


def _log_uniform_p(range_max):
    v = np.arange(range_max, dtype=np.float64)
    return (np.log((v + 2.0) / (v + 1.0)) / np.log1p(range_max)).astype(np.float32)


@pytest.mark.parametrize("unique", [False, True])
def test_log_uniform_expected_counts_use_tf_arithmetic(unique):
    """TF's counts for its own draws follow our formula (float32 libm may differ by 1 ulp)."""
    tf1.disable_eager_execution()
    classes = np.arange(300, dtype=np.int64).reshape(-1, 1)
    sampled, true_count, sampled_count = _tf_sampler("log_uniform_candidate_sampler", classes,
                                                     40, unique, 300)
    p = _log_uniform_p(300)
    tries = 40
    if unique:
        tries = int(np.round(np.log1p(-np.float64(true_count[-1, 0])) / np.log1p(-p[-1])))
    np.testing.assert_allclose(true_count[:, 0], expected_count(p, 40, tries), rtol=3e-7)
    np.testing.assert_allclose(sampled_count, expected_count(p[sampled], 40, tries), rtol=3e-7)


@pytest.mark.parametrize("reserved, num_shards, shard, distortion",
                         [(0, 1, 0, 1.0), (2, 1, 0, 0.75), (3, 2, 1, 0.5), (1, 3, 0, 0.0)])
def test_unigram_probabilities_match_tensorflow(reserved, num_shards, shard, distortion):
    tf1.disable_eager_execution()
    unigrams = [1.5, 2.0, 3.0, 0.4, 5.0, 6.0, 7.0, 8.0, 9.0, 0.3]
    kw = {"num_reserved_ids": reserved, "num_shards": num_shards, "shard": shard,
          "distortion": distortion, "unigrams": unigrams}
    weights, total = unigram_table(tuple(unigrams), distortion, reserved, num_shards, shard)
    classes = np.arange(len(weights), dtype=np.int64).reshape(-1, 1)
    theirs = _tf_sampler("fixed_unigram_candidate_sampler", classes, 5, False, len(weights), **kw)
    np.testing.assert_array_equal(theirs[1][:, 0], (weights / total) * np.float32(5))
    ours = mg.Session().run(mg.nn.fixed_unigram_candidate_sampler(classes, 1, 5, False,
                                                                  len(weights), **kw))
    np.testing.assert_array_equal(ours[1], theirs[1])
