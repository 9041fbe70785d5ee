"""nce_loss and sampled_softmax_loss against an independent NumPy version of TF1's
_compute_sampled_logits (float64, fixed negatives), accidental hits, shards and gradients."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.testing import check_grads

FLT_MAX = float(np.finfo(np.float32).max)

# -- NumPy reference -----------------------------------------------------------------------------


def reference_logits(W, b, labels, x, sampled, true_count, sampled_count, remove_hits):
    """TF1's sampled logits and targets, written out with loops where that is clearer."""
    num_true = labels.shape[1]
    true_logits = np.einsum("bd,btd->bt", x, W[labels]) + b[labels] - np.log(true_count)
    sampled_logits = x @ W[sampled].T + b[sampled]
    if remove_hits:
        last = {int(v): j for j, v in enumerate(sampled)}
        for i, row in enumerate(labels):
            for c in row:
                if int(c) in last:
                    sampled_logits[i, last[int(c)]] = sampled_logits[i, last[int(c)]] - FLT_MAX
    sampled_logits = sampled_logits - np.log(sampled_count)
    targets = np.concatenate([np.full(labels.shape, 1.0 / num_true),
                              np.zeros(sampled_logits.shape)], 1)
    return np.concatenate([true_logits, sampled_logits], 1), targets


def reference_nce(*args):
    z, t = reference_logits(*args)
    return np.sum(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))), axis=1)


def reference_softmax(*args):
    z, t = reference_logits(*args)
    shifted = z - z.max(axis=1, keepdims=True)
    return -np.sum(t * (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))), axis=1)


LOSSES = {"nce": (mg.nn.nce_loss, reference_nce),
          "softmax": (mg.nn.sampled_softmax_loss, reference_softmax)}


def _problem(seed, batch=3, dim=4, num_classes=7, num_true=2, num_sampled=5, unique=False):
    rng = np.random.default_rng(seed)
    W, b = rng.standard_normal((num_classes, dim)), rng.standard_normal(num_classes)
    x = rng.standard_normal((batch, dim))
    labels = rng.integers(0, num_classes, (batch, num_true))
    sampled = (rng.permutation(num_classes)[:num_sampled] if unique
               else rng.integers(0, num_classes, num_sampled))
    true_count = rng.uniform(0.1, 1.0, (batch, num_true))
    sampled_count = rng.uniform(0.1, 1.0, num_sampled)
    return W, b, labels, x, (sampled, true_count, sampled_count)


# -- values --------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("remove_hits", [False, True])
@pytest.mark.parametrize("num_true", [1, 2])
def test_loss_matches_numpy_reference(loss, remove_hits, num_true):
    fn, reference = LOSSES[loss]
    for seed in range(4):
        W, b, labels, x, values = _problem(seed, num_true=num_true)
        out = fn(W, b, labels, x, 5, 7, num_true=num_true, sampled_values=values,
                 remove_accidental_hits=remove_hits)
        assert out.get_shape() == (3,) and out.dtype == mg.float64
        expected = reference(W, b, labels, x, *values, remove_hits)
        np.testing.assert_allclose(mg.Session().run(out), expected, rtol=1e-12)


def test_accidental_hits_remove_exactly_the_last_duplicate_of_a_true_class():
    W, b, _, x, _ = _problem(0)
    labels = np.array([[3, 3], [1, 2], [0, 6]])
    values = (np.array([3, 5, 3, 2, 4]), np.ones((3, 2)), np.ones(5))
    z, _ = reference_logits(W, b, labels, x, *values, True)
    removed = np.argwhere(z < -1e38).tolist()
    assert removed == [[0, 2 + 2], [1, 2 + 3]]  # the second 3 of row 0, the 2 of row 1
    for loss, (fn, reference) in LOSSES.items():
        out = fn(W, b, labels, x, 5, 7, num_true=2, sampled_values=values,
                 remove_accidental_hits=True)
        value = mg.Session().run(out)
        assert np.all(np.isfinite(value)), loss
        np.testing.assert_allclose(value, reference(W, b, labels, x, *values, True), rtol=1e-12)


def test_float32_inputs_and_int32_labels():
    W, b, labels, x, (sampled, true_count, sampled_count) = _problem(1)
    values = (sampled.astype(np.int32), true_count.astype(np.float32),
              sampled_count.astype(np.float32))
    out = mg.nn.nce_loss(W.astype(np.float32), b.astype(np.float32), labels.astype(np.int32),
                         x.astype(np.float32), 5, 7, num_true=2, sampled_values=values)
    assert out.dtype == mg.float32
    expected = reference_nce(W, b, labels, x, sampled, values[1].astype(np.float64),
                             values[2].astype(np.float64), False)
    np.testing.assert_allclose(mg.Session().run(out), expected, rtol=1e-5)


def test_default_sampler_is_log_uniform_unique_over_num_classes():
    W, b, labels, x, _ = _problem(2)
    mg.set_random_seed(5)
    loss = mg.nn.sampled_softmax_loss(W, b, labels, x, 4, 7, num_true=2)
    (node,) = [n for n in mg.get_default_graph().nodes
               if n.op == "log_uniform_candidate_sampler"]
    assert node.attrs["unique"] and node.attrs["range_max"] == 7 and node.attrs["num_sampled"] == 4
    value, sampled, true_count, sampled_count = mg.Session().run([loss] + list(node.outputs))
    assert len(set(sampled.tolist())) == 4
    values = (sampled, true_count.astype(np.float64), sampled_count.astype(np.float64))
    np.testing.assert_allclose(value, reference_softmax(W, b, labels, x, *values, True),
                               rtol=1e-6)


def test_nce_default_keeps_accidental_hits_and_softmax_removes_them():
    W, b, _, x, _ = _problem(3)
    labels = np.array([[1, 2], [0, 4], [5, 6]])
    values = (np.array([1, 3, 4, 0, 6]), np.full((3, 2), 0.5), np.full(5, 0.5))
    nce = mg.Session().run(mg.nn.nce_loss(W, b, labels, x, 5, 7, num_true=2,
                                          sampled_values=values))
    softmax = mg.Session().run(mg.nn.sampled_softmax_loss(W, b, labels, x, 5, 7, num_true=2,
                                                          sampled_values=values))
    np.testing.assert_allclose(nce, reference_nce(W, b, labels, x, *values, False), rtol=1e-12)
    np.testing.assert_allclose(softmax, reference_softmax(W, b, labels, x, *values, True),
                               rtol=1e-12)


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_sharded_weights_follow_the_partition_strategy(strategy):
    W, b, labels, x, values = _problem(4, num_classes=7)
    rows = {"mod": [np.arange(p, 7, 3) for p in range(3)],
            "div": [np.arange(0, 3), np.arange(3, 5), np.arange(5, 7)]}[strategy]
    shards = [W[r] for r in rows]
    out = mg.nn.nce_loss(shards, b, labels, x, 5, 7, num_true=2, sampled_values=values,
                         partition_strategy=strategy)
    np.testing.assert_allclose(mg.Session().run(out),
                               reference_nce(W, b, labels, x, *values, False), rtol=1e-12)


def test_bad_arguments_raise_clear_errors():
    W, b, labels, x, values = _problem(5)
    with pytest.raises(TypeError, match="labels must be integer"):
        mg.nn.nce_loss(W, b, labels.astype(float), x, 5, 7, num_true=2, sampled_values=values)
    with pytest.raises(ValueError, match="'mod' partitioning"):
        mg.nn.nce_loss([W[:3], W[3:]], b, labels, x, 5, 7, num_true=2, sampled_values=values)
    with pytest.raises(ValueError, match="partition_strategy must be"):
        mg.nn.nce_loss([W[:4], W[4:]], b, labels, x, 5, 7, num_true=2, sampled_values=values,
                       partition_strategy="hash")


# -- gradients -----------------------------------------------------------------------------------


def test_sampled_values_get_no_gradient():
    W, b, labels, x, (sampled, true_count, sampled_count) = _problem(6)
    counts = mg.constant(true_count), mg.constant(sampled_count)
    loss = mg.nn.sampled_softmax_loss(W, b, labels, x, 5, 7, num_true=2,
                                      sampled_values=(sampled, *counts))
    assert mg.gradients(mg.reduce_sum(loss), list(counts)) == [None, None]


@pytest.mark.parametrize("loss", sorted(LOSSES))
@settings(max_examples=6)
@given(batch=st.integers(1, 3), dim=st.integers(1, 3), num_classes=st.integers(2, 6),
       num_true=st.integers(1, 2), data=st.data())
def test_gradients_for_weights_biases_and_inputs(loss, batch, dim, num_classes, num_true, data):
    num_sampled = data.draw(st.integers(1, num_classes))
    remove_hits = data.draw(st.booleans())
    W, b, labels, x, values = _problem(data.draw(st.integers(0, 100)), batch, dim, num_classes,
                                       num_true, num_sampled)
    fn = LOSSES[loss][0]

    def build(W, b, x):
        return fn(W, b, labels, x, num_sampled, num_classes, num_true=num_true,
                  sampled_values=values, remove_accidental_hits=remove_hits)

    check_grads(build, [W, b, x], seed=0)


def test_unknown_batch_and_dim_are_fed_at_run_time():
    W, b, labels, x, values = _problem(7)
    tensors = [mg.placeholder(mg.float64, (None, None)), mg.placeholder(mg.float64, (None,)),
               mg.placeholder(mg.int64, (None, 2)), mg.placeholder(mg.float64, (None, 4))]
    counts = mg.placeholder(mg.float64, (None, 2))
    out = mg.nn.sampled_softmax_loss(*tensors, 5, 7, num_true=2,
                                     sampled_values=(values[0], counts, values[2]))
    assert out.get_shape() == (None,)
    feed = dict(zip(tensors + [counts], [W, b, labels, x, values[1]]))
    np.testing.assert_allclose(mg.Session().run(out, feed),
                               reference_softmax(W, b, labels, x, *values, True), rtol=1e-12)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_sgd_on_the_sampled_loss_lowers_it(loss):
    mg.set_random_seed(0)  # nce_loss takes no seed (TF1); the graph seed fixes its stream
    W, b, labels, x, _ = _problem(8, num_classes=20)
    weights, biases = mg.Variable(W), mg.Variable(b)
    objective = mg.reduce_mean(LOSSES[loss][0](weights, biases, labels, x, 5, 20, num_true=2))
    step = mg.train.GradientDescentOptimizer(0.5).minimize(objective)
    sess = mg.Session()
    sess.run(mg.global_variables_initializer())
    before = np.mean([sess.run(objective) for _ in range(20)])
    for _ in range(100):
        sess.run(step)
    assert np.mean([sess.run(objective) for _ in range(20)]) < before
