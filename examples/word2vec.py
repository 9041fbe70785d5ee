"""word2vec skip-gram with NCE loss, as in Stanford's CS20SI course (TF1 feed-loop style).

Embedding size 128 (32 for the small planted corpus), batch 128, 64 negatives drawn by the
log-uniform sampler over a vocabulary sorted by frequency (id 0 is UNK, then the most frequent
words), plain gradient descent. The embedding gradient is sparse (IndexedSlices), so each step
updates only the rows it touched.

Corpus: any UTF-8 text given by --corpus (lower-cased, split into words). Without one, a
generated corpus with planted structure: words belong to clusters and each sentence draws its
words from one cluster, so a trained embedding must put a word's cluster mates nearest -- the
summary reports that neighbour precision. Prints words/second and the nearest neighbours of
probe words at checkpoints; saves OUT/embeddings.npy, OUT/vocab.txt and OUT/loss.png.

  python examples/word2vec.py                      # planted-cluster corpus
  bible gen1:1-rev22:21 > kjv.txt && python examples/word2vec.py --corpus kjv.txt
"""
from __future__ import annotations

import collections
import re
import time
from pathlib import Path

import numpy as np
from _common import Tracker, backend_of, finish, make_parser, save_curves

import minigraph as mg

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def read_words(path: Path) -> list[str]:
    """The corpus as lower-case words (letters and inner apostrophes)."""
    return WORD.findall(path.read_text(encoding="utf-8").lower())


def planted_corpus(clusters: int, words_per_cluster: int, sentences: int, length: int,
                   rng: np.random.Generator) -> tuple[list[str], dict]:
    """Sentences each drawn from one cluster of words; returns the words and word -> cluster."""
    names = [[f"c{c}w{k}" for k in range(words_per_cluster)] for c in range(clusters)]
    words = []
    for c in rng.integers(0, clusters, size=sentences):
        words.extend(names[c][k] for k in rng.integers(0, words_per_cluster, size=length))
    return words, {w: c for c, group in enumerate(names) for w in group}


def build_vocabulary(words: list[str], size: int) -> tuple[np.ndarray, list[str]]:
    """Word ids by descending frequency (0 = UNK for words outside the ``size`` most common)."""
    common = collections.Counter(words).most_common(size - 1)
    vocab = ["UNK"] + [w for w, _ in common]
    index = {w: i for i, w in enumerate(vocab)}
    return np.array([index.get(w, 0) for w in words], np.int64), vocab


def skipgram_pairs(ids: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (center, context) pair with the context within ``window`` words of the center."""
    centers, contexts = [], []
    for offset in range(1, window + 1):
        centers += [ids[:-offset], ids[offset:]]
        contexts += [ids[offset:], ids[:-offset]]
    return np.concatenate(centers), np.concatenate(contexts)


class SkipGram:
    """The graph: embedding lookup, NCE loss, gradient descent, and cosine neighbours."""

    def __init__(self, vocab_size: int, embed: int, num_sampled: int, lr: float, seed: int):
        mg.set_random_seed(seed)
        self.centers = mg.placeholder(mg.int64, [None], name="center_words")
        self.targets = mg.placeholder(mg.int64, [None, 1], name="target_words")
        self.embeddings = mg.Variable(mg.random_uniform([vocab_size, embed], -1.0, 1.0),
                                      name="embed_matrix")
        nce_weight = mg.Variable(mg.truncated_normal([vocab_size, embed],
                                                     stddev=1.0 / embed ** 0.5), name="nce_weight")
        nce_bias = mg.Variable(mg.zeros([vocab_size]), name="nce_bias")
        embedded = mg.nn.embedding_lookup(self.embeddings, self.centers, name="embed")
        self.loss = mg.reduce_mean(mg.nn.nce_loss(
            weights=nce_weight, biases=nce_bias, labels=self.targets, inputs=embedded,
            num_sampled=num_sampled, num_classes=vocab_size), name="loss")
        self.train = mg.train.GradientDescentOptimizer(lr).minimize(self.loss)
        self.probes = mg.placeholder(mg.int64, [None], name="probes")
        normalized = mg.nn.l2_normalize(self.embeddings, 1)
        self.similarity = mg.matmul(mg.nn.embedding_lookup(normalized, self.probes), normalized,
                                    transpose_b=True)


def nearest(similarity: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` most similar ids for each row, skipping the word itself (the best match)."""
    return np.argsort(-similarity, axis=1)[:, 1:k + 1]


def cluster_precision(neighbours: np.ndarray, probe_ids, vocab, cluster_of) -> float:
    """Fraction of the neighbours that share their probe's planted cluster."""
    hits = [cluster_of.get(vocab[n]) == cluster_of[vocab[p]]
            for p, row in zip(probe_ids, neighbours) for n in row]
    return float(np.mean(hits))


def main(argv=None):
    parser = make_parser(__doc__, "word2vec")
    parser.add_argument("--corpus", type=Path, help="UTF-8 text file (default: planted clusters)")
    parser.add_argument("--vocab-size", type=int, default=50000)
    parser.add_argument("--embed", type=int, default=None,
                        help="embedding size (128; 32 for the 200-word planted corpus)")
    parser.add_argument("--batch", type=int, default=128, help="batch size (128)")
    parser.add_argument("--num-sampled", type=int, default=64, help="NCE negatives (64)")
    parser.add_argument("--window", type=int, default=1, help="skip window (1)")
    parser.add_argument("--lr", type=float, default=1.0, help="learning rate (1.0)")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps (default 20000; 3000 for the planted corpus)")
    parser.add_argument("--report-every", type=int, default=None,
                        help="steps between neighbour reports (default: 4 per run)")
    parser.add_argument("--probes", default="god,king,water,day,said,jesus,israel,heaven",
                        help="comma-separated probe words for a --corpus run")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    cluster_of = {}
    if args.corpus is not None:
        words = read_words(args.corpus)
        steps = args.steps or (200 if args.quick else 20000)
    else:
        clusters, per_cluster = (6, 8) if args.quick else (20, 10)
        words, cluster_of = planted_corpus(clusters, per_cluster, 4000 if args.quick else 40000,
                                           8, rng)
        steps = args.steps or (300 if args.quick else 3000)
    ids, vocab = build_vocabulary(words, args.vocab_size)
    centers, contexts = skipgram_pairs(ids, args.window)
    print(f"corpus: {len(words)} words, vocabulary {len(vocab)}, {len(centers)} skip-gram pairs, "
          f"backend {backend_of(args)}", flush=True)
    num_sampled = min(args.num_sampled, len(vocab) - 1)
    embed = args.embed or (32 if cluster_of else 128)
    model = SkipGram(len(vocab), embed, num_sampled, args.lr, args.seed)
    if cluster_of:
        probe_ids = np.array([vocab.index(w) for w in vocab if w in cluster_of])
    else:
        probe_ids = np.array([vocab.index(w) for w in args.probes.split(",") if w in vocab])
    report_every = args.report_every or max(steps // 4, 1)
    sess = mg.Session(backend=backend_of(args))
    sess.run(mg.global_variables_initializer())
    step_fn = sess.make_callable([model.loss, model.train], [model.centers, model.targets])
    tracker = Tracker(steps, "word2vec", disable=args.no_progress)
    order, cursor, pairs_done, train_time = rng.permutation(len(centers)), 0, 0, 0.0
    for step in range(1, steps + 1):
        if cursor + args.batch > len(order):
            order, cursor = rng.permutation(len(centers)), 0
        batch = order[cursor:cursor + args.batch]
        cursor += args.batch
        start = time.perf_counter()
        loss, _ = step_fn(centers[batch], contexts[batch, None])
        train_time += time.perf_counter() - start if step > 1 else 0.0
        pairs_done += len(batch) if step > 1 else 0
        tracker(loss)
        if step % report_every == 0 or step == steps:
            similarity = sess.run(model.similarity, {model.probes: probe_ids[:8]})
            tracker.bar.write(f"step {step}: loss {tracker.running:.3f}, "
                              f"{pairs_done / max(train_time, 1e-9):,.0f} words/s")
            for p, row in zip(probe_ids[:8], nearest(similarity, 5)):
                tracker.bar.write(f"  {vocab[p]}: {', '.join(vocab[n] for n in row)}")
    timing = tracker.close()
    embeddings = sess.run(model.embeddings)
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "embeddings.npy", embeddings)
    (args.out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    save_curves(args.out / "loss.png", {"NCE loss": tracker.losses}, "word2vec skip-gram (NCE)",
                logy=False, smoothing=0.98)
    fields = {"steps": steps, "final_loss": float(np.mean(tracker.losses[-100:])),
              "words_per_s": pairs_done / max(train_time, 1e-9), "step_ms": timing["step_ms"],
              "time_s": timing["time_s"],
              "vocab": len(vocab), "backend": backend_of(args)}
    if cluster_of:
        similarity = sess.run(model.similarity, {model.probes: probe_ids})
        fields["neighbour_precision"] = cluster_precision(nearest(similarity, 5), probe_ids,
                                                          vocab, cluster_of)
    finish("word2vec", args.out, fields)


if __name__ == "__main__":
    main()
