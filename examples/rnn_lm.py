"""RNN language model of the classic NumPy/Theano tutorial, with scan (BPTT).

The tutorial's model: vocabulary 8000 (most frequent words, the rest UNKNOWN_TOKEN, sentences
wrapped in SENTENCE_START / SENTENCE_END), hidden size 100, ``s_t = tanh(U x_t + W s_{t-1})``,
``o_t = softmax(V s_t)``, written with ``mg.scan`` over the words (``--cell rnn``); ``--cell
lstm|gru`` swap in TF1's cells through ``mg.nn.dynamic_rnn`` (also built on scan). Sentences
train in minibatches padded to their batch's longest (the loss counts real words only), with
SGD; the learning rate halves whenever the loss on a fixed sample rises, as in the tutorial.
Prints the initial loss next to log(vocabulary) (what uniform predictions score), then
generates sentences.

Corpus: any UTF-8 text (--corpus, split into sentences at . ! ?); by default the docstrings of
the Python standard library, read from its source files -- English prose present wherever
Python is, so nothing is downloaded.
"""
from __future__ import annotations

import ast
import collections
import re
import sysconfig
from pathlib import Path

import numpy as np
from _common import Tracker, backend_of, finish, make_parser, save_curves

import minigraph as mg

START, END, UNKNOWN = "SENTENCE_START", "SENTENCE_END", "UNKNOWN_TOKEN"
SENTENCE = re.compile(r"[^.!?]+[.!?]")
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|[,;:]")


def stdlib_docstrings(limit_files: int | None = None) -> str:
    """The docstrings of the standard library's modules, classes and functions."""
    root = Path(sysconfig.get_paths()["stdlib"])
    texts = []
    files = sorted(p for p in root.glob("*.py"))[:limit_files]
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    texts.append(" ".join(doc.split()))
    return "\n".join(texts)


def sentences_of(text: str, min_words: int = 3, max_words: int = 25) -> list[list[str]]:
    """Lower-cased word lists of the text's sentences of a trainable length."""
    found = []
    for sentence in SENTENCE.findall(text.lower()):
        words = WORD.findall(sentence)
        if min_words <= len(words) <= max_words:
            found.append(words)
    return found


def vocabulary(sentences, size: int) -> list[str]:
    """The ``size - 3`` most frequent words, then the three special tokens."""
    counts = collections.Counter(w for s in sentences for w in s)
    return [w for w, _ in counts.most_common(size - 3)] + [UNKNOWN, START, END]


def encode(sentences, vocab) -> list[np.ndarray]:
    """Each sentence as ids ``[START, words..., END]`` (unknown words as UNKNOWN_TOKEN)."""
    index = {w: i for i, w in enumerate(vocab)}
    unknown = index[UNKNOWN]
    return [np.array([index[START]] + [index.get(w, unknown) for w in s] + [index[END]], np.int64)
            for s in sentences]


def batches(encoded, batch_size: int, rng: np.random.Generator):
    """Minibatches of sentences of similar length: (inputs, targets, mask), time-major."""
    order = sorted(rng.permutation(len(encoded)), key=lambda i: len(encoded[i]))
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    for k in rng.permutation(len(groups)):
        yield pad([encoded[i] for i in groups[k]])


def pad(sentences) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (all but the last id) and targets (all but the first), zero-padded, with a mask."""
    steps = max(len(s) for s in sentences) - 1
    inputs = np.zeros((steps, len(sentences)), np.int64)
    targets = np.zeros_like(inputs)
    mask = np.zeros(inputs.shape, np.float32)
    for b, s in enumerate(sentences):
        inputs[:len(s) - 1, b], targets[:len(s) - 1, b], mask[:len(s) - 1, b] = s[:-1], s[1:], 1
    return inputs, targets, mask


class LanguageModel:
    """Training graph (loss over a padded batch) and a one-step graph for generation."""

    def __init__(self, vocab_size: int, hidden: int, cell: str, bptt: int, clip_norm: float,
                 seed: int):
        mg.set_random_seed(seed)
        self.words = mg.placeholder(mg.int64, [None, None], name="words")  # [time, batch]
        self.targets = mg.placeholder(mg.int64, [None, None], name="targets")
        self.mask = mg.placeholder(mg.float32, [None, None], name="mask")
        self.lr = mg.placeholder(mg.float32, [], name="learning_rate")
        bound = 1.0 / np.sqrt(vocab_size)
        # U's columns are the inputs' one-hot projections, kept as rows for the lookup.
        self.U = mg.Variable(mg.random_uniform([vocab_size, hidden], -bound, bound), name="U")
        self.V = mg.Variable(mg.random_uniform([hidden, vocab_size], -1 / np.sqrt(hidden),
                                               1 / np.sqrt(hidden)), name="V")
        self.cell = cell
        if cell == "rnn":
            self.W = mg.Variable(mg.random_uniform([hidden, hidden], -1 / np.sqrt(hidden),
                                                   1 / np.sqrt(hidden)), name="W")
        else:
            make = {"lstm": mg.nn.rnn_cell.BasicLSTMCell, "gru": mg.nn.rnn_cell.GRUCell}[cell]
            self.rnn_cell = make(hidden)
        states = self._states(mg.nn.embedding_lookup(self.U, self.words), bptt)
        logits = mg.matmul(mg.reshape(states, [-1, hidden]), self.V)
        xent = mg.nn.sparse_softmax_cross_entropy_with_logits(
            labels=mg.reshape(self.targets, [-1]), logits=logits)
        self.loss = mg.reduce_sum(xent * mg.reshape(self.mask, [-1])) / mg.reduce_sum(self.mask)
        optimizer = mg.train.GradientDescentOptimizer(self.lr)
        grads, variables = zip(*optimizer.compute_gradients(self.loss))
        clipped, _ = mg.clip_by_global_norm(list(grads), clip_norm)  # tames exploding BPTT
        self.train = optimizer.apply_gradients(zip(clipped, variables))
        self._generation_step(hidden)

    def _states(self, embedded, bptt: int):
        """Hidden states ``[time, batch, hidden]`` from the embedded words ``[time, batch, h]``."""
        if self.cell == "rnn":
            batch = mg.shape(embedded)[1]
            s0 = mg.zeros(mg.stack([batch, mg.shape(self.W)[0]]), mg.float32)
            states, _ = mg.scan(lambda x_t, s_prev: mg.tanh(x_t + mg.matmul(s_prev, self.W)),
                                sequences=embedded, outputs_info=s0, truncate_gradient=bptt)
            return states
        states, _ = mg.nn.dynamic_rnn(self.rnn_cell, embedded, dtype=mg.float32, time_major=True)
        return states

    def _generation_step(self, hidden: int):
        """``probs, new_state = step(word, state)`` for one sentence, sharing the weights."""
        self.word = mg.placeholder(mg.int64, [1], name="word")
        x = mg.nn.embedding_lookup(self.U, self.word)
        if self.cell == "rnn":
            self.state = [mg.placeholder(mg.float32, [1, hidden], name="state")]
            new_state = [mg.tanh(x + mg.matmul(self.state[0], self.W))]
            output = new_state[0]
        else:
            zero = self.rnn_cell.zero_state(1, mg.float32)
            flat = mg.nn.rnn_cell.flatten(zero)
            self.state = [mg.placeholder(mg.float32, [1, hidden], name=f"state{i}")
                          for i in range(len(flat))]
            output, packed = self.rnn_cell(x, mg.nn.rnn_cell.pack_sequence_as(zero, self.state))
            new_state = mg.nn.rnn_cell.flatten(packed)
        self.probs = mg.nn.softmax(mg.matmul(output, self.V))
        self.new_state = new_state


def generate(sess, model, vocab, rng, max_words: int = 25) -> str:
    """Sample a sentence word by word, never emitting UNKNOWN_TOKEN (as the tutorial does)."""
    index = {w: i for i, w in enumerate(vocab)}
    word = index[START]
    state = [np.zeros(s.type.shape, np.float32) for s in model.state]
    words = []
    for _ in range(max_words):
        feed = {model.word: [word], **dict(zip(model.state, state))}
        probs, *state = sess.run([model.probs] + model.new_state, feed)
        p = probs[0].astype(np.float64)
        p[index[UNKNOWN]] = 0.0
        word = rng.choice(len(p), p=p / p.sum())
        if word == index[END]:
            break
        words.append(vocab[word])
    return " ".join(words)


def mean_loss(sess, model, sample) -> float:
    """Per-word loss over ``sample`` (a list of padded batches), weighted by words."""
    total = words = 0.0
    for inputs, targets, mask in sample:
        loss = sess.run(model.loss, {model.words: inputs, model.targets: targets,
                                     model.mask: mask})
        total += loss * mask.sum()
        words += mask.sum()
    return float(total / words)


def main(argv=None):
    parser = make_parser(__doc__, "rnn_lm")
    parser.add_argument("--corpus", type=Path, help="UTF-8 text (default: stdlib docstrings)")
    parser.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="rnn")
    parser.add_argument("--vocab-size", type=int, default=None, help="vocabulary (8000)")
    parser.add_argument("--hidden", type=int, default=None, help="hidden size (100)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (4)")
    parser.add_argument("--batch", type=int, default=8, help="sentences per batch (8)")
    parser.add_argument("--lr", type=float, default=None,
                        help="SGD learning rate (0.5 for rnn, 1.0 for lstm/gru)")
    parser.add_argument("--bptt", type=int, default=-1,
                        help="truncate BPTT to this many steps (-1: full, the default)")
    parser.add_argument("--clip", type=float, default=5.0,
                        help="clip the gradients' global norm to this (5.0)")
    parser.add_argument("--sentences", type=int, default=None,
                        help="use at most this many sentences (default: all; 300 with --quick)")
    parser.add_argument("--generate", type=int, default=5, help="sentences to generate (5)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    text = (args.corpus.read_text(encoding="utf-8") if args.corpus
            else stdlib_docstrings(40 if args.quick else None))
    sentences = sentences_of(text)
    rng.shuffle(sentences)
    sentences = sentences[:args.sentences or (300 if args.quick else None)]
    vocab = vocabulary(sentences, args.vocab_size or (300 if args.quick else 8000))
    encoded = encode(sentences, vocab)
    hidden = args.hidden or (16 if args.quick else 100)
    epochs = args.epochs or (2 if args.quick else 4)
    lr = args.lr or (0.5 if args.cell == "rnn" else 1.0)
    print(f"corpus: {len(sentences)} sentences, {sum(len(s) for s in encoded)} tokens, vocabulary "
          f"{len(vocab)}, cell {args.cell}, hidden {hidden}, backend {backend_of(args)}",
          flush=True)
    model = LanguageModel(len(vocab), hidden, args.cell, args.bptt, args.clip, args.seed)
    sess = mg.Session(backend=backend_of(args))
    sess.run(mg.global_variables_initializer())
    probe = list(batches(encoded[:min(len(encoded), 20 * args.batch)], args.batch, rng))
    initial = mean_loss(sess, model, probe)
    print(f"initial loss {initial:.4f}, log(vocabulary) = {np.log(len(vocab)):.4f}", flush=True)
    steps_per_epoch = -(-len(encoded) // args.batch)
    tracker = Tracker(epochs * steps_per_epoch, f"rnn_lm ({args.cell})", args.no_progress)
    evaluations, previous = [initial], initial
    for epoch in range(1, epochs + 1):
        for inputs, targets, mask in batches(encoded, args.batch, rng):
            loss, _ = sess.run([model.loss, model.train], {
                model.words: inputs, model.targets: targets, model.mask: mask, model.lr: lr})
            tracker(loss)
        current = mean_loss(sess, model, probe)
        evaluations.append(current)
        if current > previous:
            lr /= 2
            tracker.bar.write(f"epoch {epoch}: loss rose to {current:.4f}; learning rate -> {lr}")
        else:
            tracker.bar.write(f"epoch {epoch}: loss {current:.4f}")
        previous = current
    timing = tracker.close()
    for _ in range(args.generate):
        print("generated:", generate(sess, model, vocab, rng), flush=True)
    save_curves(args.out / "loss.png", {f"{args.cell} minibatch loss": tracker.losses},
                f"RNN language model ({args.cell}, hidden {hidden})", logy=False, smoothing=0.95)
    finish("rnn_lm", args.out, {
        "cell": args.cell, "initial_loss": initial, "log_vocab": float(np.log(len(vocab))),
        "final_loss": evaluations[-1], "epochs": epochs, "step_ms": timing["step_ms"],
        "time_s": timing["time_s"], "backend": backend_of(args)})


if __name__ == "__main__":
    main()
