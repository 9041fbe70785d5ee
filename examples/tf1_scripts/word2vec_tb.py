"""word2vec skip-gram with NCE loss in the TF1 course style (CS20SI lecture 4), with name
scopes, a loss summary and the graph written for TensorBoard by ``tf.summary.FileWriter``.

The TF1 original downloads text8; this copy reads any UTF-8 text (``--corpus``, default: the
Python standard library's docstrings) and builds the (center, target) batches in NumPy.
Nothing else changed: the script runs unmodified under ``import tensorflow.compat.v1 as tf``.
"""
import argparse
import ast
import collections
import os
import re
import sysconfig
import tempfile
from pathlib import Path

import numpy as np

import minigraph as tf  # the TF1 original: import tensorflow as tf

# -- data loading (changed: any text, batches built in NumPy) -----------------------------------
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="a few steps, for tests")
parser.add_argument("--corpus", type=Path, help="UTF-8 text (default: stdlib docstrings)")
parser.add_argument("--logdir", default=os.path.join(tempfile.gettempdir(), "word2vec_graph"))
args = parser.parse_args()


def read_words():
    if args.corpus:
        return re.findall(r"[a-z]+", args.corpus.read_text(encoding="utf-8").lower())
    words = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:40 if args.quick
                                                                          else None]:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                words += re.findall(r"[a-z]+", (ast.get_docstring(node) or "").lower())
    return words


VOCAB_SIZE = 2000 if args.quick else 10000
BATCH_SIZE = 128
EMBED_SIZE = 128
SKIP_WINDOW = 1
NUM_SAMPLED = 64
LEARNING_RATE = 1.0
NUM_TRAIN_STEPS = 200 if args.quick else 20000
SKIP_STEP = 50 if args.quick else 2000

words = read_words()
counts = collections.Counter(words).most_common(VOCAB_SIZE - 1)
index = {w: i + 1 for i, (w, _) in enumerate(counts)}  # 0 is UNK
ids = np.array([index.get(w, 0) for w in words], np.int32)
rng = np.random.default_rng(0)


def batch_gen():
    while True:
        centers = rng.integers(SKIP_WINDOW, len(ids) - SKIP_WINDOW, size=BATCH_SIZE)
        offsets = rng.choice([o for o in range(-SKIP_WINDOW, SKIP_WINDOW + 1) if o],
                             size=BATCH_SIZE)
        yield ids[centers], ids[centers + offsets][:, None]


# -- the TF1 script ------------------------------------------------------------------------------
def word2vec(batch_gen):
    """Build the graph for word2vec model and train it."""
    with tf.name_scope("data"):
        center_words = tf.placeholder(tf.int32, shape=[BATCH_SIZE], name="center_words")
        target_words = tf.placeholder(tf.int32, shape=[BATCH_SIZE, 1], name="target_words")

    with tf.name_scope("embedding_matrix"):
        embed_matrix = tf.Variable(tf.random_uniform([VOCAB_SIZE, EMBED_SIZE], -1.0, 1.0),
                                   name="embed_matrix")

    with tf.name_scope("loss"):
        embed = tf.nn.embedding_lookup(embed_matrix, center_words, name="embed")
        nce_weight = tf.Variable(tf.truncated_normal([VOCAB_SIZE, EMBED_SIZE],
                                                     stddev=1.0 / (EMBED_SIZE ** 0.5)),
                                 name="nce_weight")
        nce_bias = tf.Variable(tf.zeros([VOCAB_SIZE]), name="nce_bias")
        loss = tf.reduce_mean(tf.nn.nce_loss(weights=nce_weight, biases=nce_bias,
                                             labels=target_words, inputs=embed,
                                             num_sampled=NUM_SAMPLED, num_classes=VOCAB_SIZE),
                              name="loss")
    tf.summary.scalar("loss", loss)
    summary_op = tf.summary.merge_all()

    optimizer = tf.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss)

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        total_loss = 0.0
        writer = tf.summary.FileWriter(args.logdir, sess.graph)
        for index in range(NUM_TRAIN_STEPS):
            centers, targets = next(batch_gen)
            loss_batch, _, summary = sess.run(
                [loss, optimizer, summary_op],
                feed_dict={center_words: centers, target_words: targets})
            writer.add_summary(summary, global_step=index)
            total_loss += loss_batch
            if (index + 1) % SKIP_STEP == 0:
                print("Average loss at step {}: {:5.1f}".format(index, total_loss / SKIP_STEP))
                total_loss = 0.0
        writer.close()


word2vec(batch_gen())
