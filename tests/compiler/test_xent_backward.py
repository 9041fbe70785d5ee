"""``fuse_xent_backward``: a cross-entropy and the softmax of its logits become one op."""
import numpy as np
import pytest

import minigraph as mg
from minigraph.compiler.pipeline import DEFAULT_PASSES, run_pipeline

from .util import assert_same_results, ops, program_of, run

PASSES = DEFAULT_PASSES + ("fuse_xent_backward", "dead_code")
RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 5))
LABELS = RNG.integers(0, 4, 6)
ONE_HOT = np.eye(4)[LABELS]


def _model(sparse: bool, batch=6):
    """Placeholders, the mean loss of a linear softmax classifier and its gradient."""
    x = mg.placeholder(mg.float64, [batch, 5])
    w = mg.constant(RNG.standard_normal((5, 4)))
    logits = mg.matmul(x, w)
    if sparse:
        t = mg.placeholder(mg.int64, [batch])
        loss = mg.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits=logits)
    else:
        t = mg.placeholder(mg.float64, [batch, 4])
        loss = mg.nn.softmax_cross_entropy_with_logits_v2(labels=t, logits=logits)
    loss = mg.reduce_mean(loss)
    return [x, t], [loss, mg.gradients(loss, [w])[0]]


def _feeds(sparse):
    return [X, LABELS if sparse else ONE_HOT]


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("batch", [6, None])
def test_loss_and_gradient_softmax_fuse(sparse, batch):
    with mg.Graph().as_default():
        fed, fetches = _model(sparse, batch)
        program = run_pipeline(program_of(fetches, fed), PASSES)
        fused = "fused_sparse_softmax_cross_entropy" if sparse else "fused_softmax_cross_entropy"
        assert ops(program).count(fused) == 1
        assert "softmax" not in ops(program)
        assert not any(op.endswith("with_logits") for op in ops(program))
        assert_same_results(fetches, fed, _feeds(sparse), passes=PASSES, rtol=1e-12)


def test_forward_softmax_before_the_loss_fuses_when_labels_are_ready():
    """A user's softmax (prediction) of the same logits, computed before the loss."""
    with mg.Graph().as_default():
        x, t = mg.placeholder(mg.float64, [6, 5]), mg.placeholder(mg.int64, [6])
        logits = mg.matmul(x, mg.constant(RNG.standard_normal((5, 4))))
        probs = mg.nn.softmax(logits)
        loss = mg.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits=logits)
        fetches = [probs, loss]
        program = run_pipeline(program_of(fetches, [x, t]), PASSES)
        assert ops(program).count("fused_sparse_softmax_cross_entropy") == 1
        assert_same_results(fetches, [x, t], [X, LABELS], passes=PASSES, rtol=1e-12)


def test_labels_computed_after_the_softmax_do_not_fuse():
    """The fused node would take the softmax's place, before its labels exist."""
    with mg.Graph().as_default():
        x = mg.placeholder(mg.float64, [6, 4])
        probs = mg.nn.softmax(x)
        labels = mg.nn.softmax(probs * 2.0, axis=-1)
        loss = mg.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=x)
        program = run_pipeline(program_of([probs, loss], [x]), PASSES)
        assert "fused_softmax_cross_entropy" not in ops(program)
        np.testing.assert_allclose(run(program, [ONE_HOT])[1],
                                   run(program_of([probs, loss], [x]), [ONE_HOT])[1])


def test_other_axes_and_other_logits_are_left_alone():
    with mg.Graph().as_default():
        x, y = mg.placeholder(mg.float64, [6, 4]), mg.placeholder(mg.float64, [6, 4])
        across = mg.nn.softmax(x, axis=0)
        other = mg.nn.softmax(x + 1.0)
        loss = mg.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x)
        columns = mg.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x, axis=0)
        program = run_pipeline(program_of([across, other, loss, columns], [x, y]), PASSES)
        assert "fused_softmax_cross_entropy" not in ops(program)


def test_numba_backend_agrees_with_the_pass():
    """The numba kernels of the fused ops give the reference values of the unfused graph."""
    pytest.importorskip("numba")
    from minigraph.backends.numba_cpu import NumbaBackend
    from minigraph.runtime import VariableStore

    for sparse in (True, False):
        with mg.Graph().as_default():
            fed, fetches = _model(sparse)
            program = program_of(fetches, fed)
            want = run(program, _feeds(sparse))
            lowered = NumbaBackend().lower(run_pipeline(program, PASSES))
            got = lowered.run(_feeds(sparse), VariableStore())
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w, rtol=1e-12)
