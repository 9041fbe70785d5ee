"""Logistic regression on handwritten digits in the TF1 course style (CS20SI lecture 3): a
linear layer, softmax cross-entropy, Adam over minibatches, test accuracy.

The TF1 original reads MNIST with ``input_data.read_data_sets``; this copy uses scikit-learn's
bundled 8x8 digits (64 features) and a small batch iterator standing in for
``mnist.train.next_batch``. Nothing else changed: the script runs unmodified under
``import tensorflow.compat.v1 as tf``.
"""
import argparse
import time

import numpy as np
from sklearn.datasets import load_digits

import minigraph as tf  # the TF1 original: import tensorflow as tf

# -- data loading (changed: scikit-learn digits instead of MNIST) -------------------------------
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="a few epochs, for tests")
args = parser.parse_args()
digits = load_digits()
images = (digits.data / 16.0).astype(np.float32)
labels = np.eye(10, dtype=np.float32)[digits.target]
order = np.random.default_rng(0).permutation(len(images))
train, test = order[:1400], order[1400:]


def next_batch(step, size):
    """The ``mnist.train.next_batch`` stand-in: consecutive slices of the shuffled train set."""
    start = (step * size) % (len(train) - size)
    rows = train[start:start + size]
    return images[rows], labels[rows]


learning_rate = 0.01
batch_size = 128
n_epochs = 3 if args.quick else 30
n_features = images.shape[1]

# -- the TF1 script ------------------------------------------------------------------------------
X = tf.placeholder(tf.float32, [batch_size, n_features], name="X_placeholder")
Y = tf.placeholder(tf.float32, [batch_size, 10], name="Y_placeholder")

w = tf.Variable(tf.random_normal(shape=[n_features, 10], stddev=0.01), name="weights")
b = tf.Variable(tf.zeros([1, 10]), name="bias")

logits = tf.matmul(X, w) + b

entropy = tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y, name="loss")
loss = tf.reduce_mean(entropy)

optimizer = tf.train.AdamOptimizer(learning_rate).minimize(loss)

with tf.Session() as sess:
    start_time = time.time()
    sess.run(tf.global_variables_initializer())
    n_batches = int(len(train) / batch_size)
    for i in range(n_epochs):
        total_loss = 0
        for j in range(n_batches):
            X_batch, Y_batch = next_batch(i * n_batches + j, batch_size)
            _, loss_batch = sess.run([optimizer, loss], feed_dict={X: X_batch, Y: Y_batch})
            total_loss += loss_batch
        print("Average loss epoch {0}: {1}".format(i, total_loss / n_batches))
    print("Total time: {0} seconds".format(time.time() - start_time))

    preds = tf.nn.softmax(logits)
    correct_preds = tf.equal(tf.argmax(preds, 1), tf.argmax(Y, 1))
    accuracy = tf.reduce_sum(tf.cast(correct_preds, tf.float32))
    n_test_batches = int(len(test) / batch_size)
    total_correct_preds = 0
    for j in range(n_test_batches):
        rows = test[j * batch_size:(j + 1) * batch_size]
        accuracy_batch = sess.run(accuracy, feed_dict={X: images[rows], Y: labels[rows]})
        total_correct_preds += accuracy_batch
    print("Accuracy {0}".format(total_correct_preds / (n_test_batches * batch_size)))
