"""W4: one training step of the tutorial's RNN language model (``s_t = tanh(U x_t + W s_{t-1})``,
``o_t = softmax(V s_t)``, vocabulary 8000, hidden 100, batch 32, 20 steps, SGD) -- scan and BPTT.
W5: one word2vec skip-gram step (embedding 128, batch 128, 64 negatives, NCE, SGD) with sparse
row updates. Both against PyTorch eager (on the GPU when there is one), with the same weights
and, for W5, the same negatives (passed as ``sampled_values``), so every row can be checked."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

import minigraph as mg

from .. import peers
from ..harness import Case, Impl

VOCAB, HIDDEN, BATCH, STEPS, LR = 8000, 100, 32, 20, 0.5
W2V_VOCAB, EMBED, W2V_BATCH, NEGATIVES, W2V_LR = 10000, 128, 128, 64, 1.0


@dataclass(frozen=True)
class RnnProblem:
    words: np.ndarray    # [time, batch] ids
    targets: np.ndarray  # [time, batch] ids
    params: list         # U [vocab, hidden], W [hidden, hidden], V [hidden, vocab]

    @classmethod
    def make(cls, quick: bool) -> "RnnProblem":
        rng = np.random.default_rng(0)
        vocab = 500 if quick else VOCAB
        ids = rng.integers(0, vocab, size=(STEPS + 1, BATCH))
        scale = np.float32(1 / np.sqrt(HIDDEN))
        params = [rng.uniform(-0.05, 0.05, (vocab, HIDDEN)).astype(np.float32),
                  (rng.uniform(-1, 1, (HIDDEN, HIDDEN)) * scale).astype(np.float32),
                  (rng.uniform(-1, 1, (HIDDEN, vocab)) * scale).astype(np.float32)]
        return cls(ids[:-1], ids[1:], params)


def rnn_cases(quick: bool, backends: list[str]) -> list[Case]:
    p = RnnProblem.make(quick)
    impls = [Impl(f"minigraph[{b}] make_callable", partial(mg_rnn, p, b)) for b in backends]
    if peers.has("torch"):
        impls.append(Impl(f"torch eager ({_torch_device()})", partial(torch_rnn, p)))
    return [Case("W4 RNN LM step", f"vocab {len(p.params[0])}, hidden {HIDDEN}, batch {BATCH}, "
                 f"{STEPS} steps, SGD {LR}; time per training step", "ms", impls,
                 reference=impls[0].name, rtol=1e-3, atol=1e-6)]


def w2v_cases(quick: bool, backends: list[str]) -> list[Case]:
    p = W2vProblem.make(quick)
    impls = [Impl(f"minigraph[{b}] make_callable", partial(mg_w2v, p, b)) for b in backends]
    if peers.has("torch"):
        impls.append(Impl(f"torch eager ({_torch_device()})", partial(torch_w2v, p)))
    return [Case("W5 word2vec step", f"vocab {len(p.params[0])}, embed {EMBED}, batch "
                 f"{W2V_BATCH}, {NEGATIVES} negatives (NCE), SGD {W2V_LR}; time per step", "ms",
                 impls, reference=impls[0].name, rtol=1e-3, atol=1e-6)]


def _torch_device() -> str:
    torch = peers.torch()
    return "cuda" if torch.cuda.is_available() else "cpu"


def _changes(result, initial):
    """Each parameter's change from its initial value (what the agreement check compares)."""
    return lambda: [np.asarray(q) - q0 for q, q0 in zip(result(), initial)]


def _mg_sgd_step(graph, loss, lr, backend, feeds: dict, variables, initial):
    """``(step, result)`` running SGD on ``loss`` in a session of ``graph`` with ``feeds``
    (placeholder -> array), timed to the device's end of work."""
    with graph.as_default():
        train = mg.train.GradientDescentOptimizer(lr).minimize(loss)
        sess = mg.Session(graph=graph, backend=backend)
        sess.run(mg.global_variables_initializer())
        run = sess.make_callable(train, list(feeds))
    sync, arrays = peers.device_synchronizer(backend), list(feeds.values())

    def step():
        run(*arrays)
        sync()
    return step, _changes(lambda: sess.run(list(variables)), initial)


def _torch_sgd_step(loss_of, params, lr, initial):
    """``(step, result)`` for PyTorch eager: ``loss_of()``'s gradients applied to ``params``."""
    torch = peers.torch()

    def step():
        grads = torch.autograd.grad(loss_of(), params)
        with torch.no_grad():
            for param, grad in zip(params, grads):
                param -= lr * grad
        if params[0].is_cuda:
            torch.cuda.synchronize()
    return step, _changes(lambda: [a.detach().cpu().numpy() for a in params], initial)


def mg_rnn(p: RnnProblem, backend: str):
    graph = mg.Graph()
    with graph.as_default():
        words = mg.placeholder(mg.int64, [STEPS, BATCH])
        targets = mg.placeholder(mg.int64, [STEPS, BATCH])
        u, w, v = (mg.Variable(a.copy(), name=n) for a, n in zip(p.params, "UWV"))
        s0 = mg.zeros([BATCH, HIDDEN], mg.float32)
        states, _ = mg.scan(lambda x_t, s: mg.tanh(x_t + mg.matmul(s, w)),
                            sequences=mg.nn.embedding_lookup(u, words), outputs_info=s0)
        logits = mg.matmul(mg.reshape(states, [-1, HIDDEN]), v)
        loss = mg.reduce_mean(mg.nn.sparse_softmax_cross_entropy_with_logits(
            labels=mg.reshape(targets, [-1]), logits=logits))
    return _mg_sgd_step(graph, loss, LR, backend, {words: p.words, targets: p.targets},
                        (u, w, v), p.params)


def torch_rnn(p: RnnProblem):
    torch = peers.torch()
    device = _torch_device()
    u, w, v = (torch.tensor(a, device=device, requires_grad=True) for a in p.params)
    words = torch.tensor(p.words, device=device)
    targets = torch.tensor(p.targets, device=device).reshape(-1)

    def loss():
        s, states = torch.zeros(BATCH, HIDDEN, device=device), []
        embedded = u[words]
        for t in range(STEPS):
            s = torch.tanh(embedded[t] + s @ w)
            states.append(s)
        logits = torch.stack(states).reshape(-1, HIDDEN) @ v
        return torch.nn.functional.cross_entropy(logits, targets)
    return _torch_sgd_step(loss, [u, w, v], LR, p.params)


@dataclass(frozen=True)
class W2vProblem:
    centers: np.ndarray   # [batch]
    contexts: np.ndarray  # [batch, 1]
    sampled: np.ndarray   # [negatives], unique ids
    params: list          # embeddings, nce weights, nce biases

    @classmethod
    def make(cls, quick: bool) -> "W2vProblem":
        rng = np.random.default_rng(1)
        vocab = 1000 if quick else W2V_VOCAB
        params = [rng.uniform(-1, 1, (vocab, EMBED)).astype(np.float32),
                  (rng.standard_normal((vocab, EMBED)) / np.sqrt(EMBED)).astype(np.float32),
                  np.zeros(vocab, np.float32)]
        return cls(rng.integers(0, vocab, W2V_BATCH), rng.integers(0, vocab, (W2V_BATCH, 1)),
                   rng.choice(vocab, NEGATIVES, replace=False), params)

    def expected_counts(self):
        """Log-uniform expected counts of the true and sampled ids (fixed, as inputs)."""
        vocab = len(self.params[0])

        def q(ids):
            ids = ids.astype(np.float64)
            p = (np.log(ids + 2) - np.log(ids + 1)) / np.log(vocab + 1)
            return (p * NEGATIVES).astype(np.float32)
        return q(self.contexts), q(self.sampled)


def mg_w2v(p: W2vProblem, backend: str):
    true_count, sampled_count = p.expected_counts()
    graph = mg.Graph()
    with graph.as_default():
        centers = mg.placeholder(mg.int64, [W2V_BATCH])
        contexts = mg.placeholder(mg.int64, [W2V_BATCH, 1])
        table, weights, biases = (mg.Variable(a.copy(), name=n)
                                  for a, n in zip(p.params, ("embed", "nce_w", "nce_b")))
        sampled = (mg.constant(p.sampled), mg.constant(true_count), mg.constant(sampled_count))
        loss = mg.reduce_mean(mg.nn.nce_loss(
            weights, biases, contexts, mg.nn.embedding_lookup(table, centers), NEGATIVES,
            len(p.params[0]), sampled_values=sampled))
    return _mg_sgd_step(graph, loss, W2V_LR, backend, {centers: p.centers, contexts: p.contexts},
                        (table, weights, biases), p.params)


def torch_w2v(p: W2vProblem):
    """TF1's nce_loss written out (logits minus log expected counts, sigmoid cross-entropy,
    summed per example), with sparse embedding gradients applied as row updates."""
    torch = peers.torch()
    device = _torch_device()
    table, weights, biases = (torch.tensor(a, device=device, requires_grad=True)
                              for a in p.params)
    true_count, sampled_count = (torch.tensor(c, device=device) for c in p.expected_counts())
    centers = torch.tensor(p.centers, device=device)
    contexts = torch.tensor(p.contexts[:, 0], device=device)
    sampled = torch.tensor(p.sampled, device=device)
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def loss():
        x = table[centers]
        true_logits = ((x * weights[contexts]).sum(1) + biases[contexts]
                       - torch.log(true_count[:, 0]))
        sampled_logits = x @ weights[sampled].T + biases[sampled] - torch.log(sampled_count)
        return (bce(true_logits, torch.ones_like(true_logits), reduction="none")
                + bce(sampled_logits, torch.zeros_like(sampled_logits),
                      reduction="none").sum(1)).mean()
    return _torch_sgd_step(loss, [table, weights, biases], W2V_LR, p.params)
