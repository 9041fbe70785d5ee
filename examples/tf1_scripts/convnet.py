"""A convnet on handwritten digits in the TF1 course style (CS20SI lecture 7): variable scopes
with ``tf.get_variable``, conv2d + ReLU + max-pool twice, a dense layer with dropout, Adam with
a global step, TensorBoard summaries, and checkpoints that let a second run resume.

The TF1 original trains on 28x28 MNIST; this copy uses scikit-learn's 8x8 digits (so the
kernels are 3x3 and the dense layer is smaller). Nothing else changed: the script runs
unmodified under ``import tensorflow.compat.v1 as tf``.
"""
import argparse
import os
import tempfile
import time

import numpy as np
from sklearn.datasets import load_digits

import minigraph as tf  # the TF1 original: import tensorflow as tf

# -- data loading (changed: scikit-learn digits instead of MNIST) -------------------------------
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="a few steps, for tests")
parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "convnet_digits"),
                    help="where checkpoints/ and graphs/ go")
args = parser.parse_args()
digits = load_digits()
images = (digits.data / 16.0).astype(np.float32)
labels = np.eye(10, dtype=np.float32)[digits.target]
order = np.random.default_rng(0).permutation(len(images))
train, test = order[:1400], order[1400:]
N_CLASSES = 10
LEARNING_RATE = 0.001
BATCH_SIZE = 64
SKIP_STEP = 10 if args.quick else 100
DROPOUT = 0.75
N_STEPS = 20 if args.quick else 1000
CHECKPOINTS = os.path.join(args.workdir, "checkpoints")
GRAPHS = os.path.join(args.workdir, "graphs")
os.makedirs(CHECKPOINTS, exist_ok=True)


def next_batch(step, size):
    start = (step * size) % (len(train) - size)
    rows = train[start:start + size]
    return images[rows], labels[rows]


# -- the TF1 script ------------------------------------------------------------------------------
with tf.name_scope("data"):
    X = tf.placeholder(tf.float32, [None, 64], name="X_placeholder")
    Y = tf.placeholder(tf.float32, [None, 10], name="Y_placeholder")

dropout = tf.placeholder(tf.float32, name="dropout")
global_step = tf.Variable(0, dtype=tf.int32, trainable=False, name="global_step")

with tf.variable_scope("conv1") as scope:
    images_4d = tf.reshape(X, shape=[-1, 8, 8, 1])
    kernel = tf.get_variable("kernel", [3, 3, 1, 32],
                             initializer=tf.truncated_normal_initializer(stddev=0.1))
    biases = tf.get_variable("biases", [32], initializer=tf.random_normal_initializer())
    conv = tf.nn.conv2d(images_4d, kernel, strides=[1, 1, 1, 1], padding="SAME")
    conv1 = tf.nn.relu(conv + biases, name=scope.name)

with tf.variable_scope("pool1"):
    pool1 = tf.nn.max_pool(conv1, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")

with tf.variable_scope("conv2") as scope:
    kernel = tf.get_variable("kernels", [3, 3, 32, 64],
                             initializer=tf.truncated_normal_initializer(stddev=0.1))
    biases = tf.get_variable("biases", [64], initializer=tf.random_normal_initializer())
    conv = tf.nn.conv2d(pool1, kernel, strides=[1, 1, 1, 1], padding="SAME")
    conv2 = tf.nn.relu(conv + biases, name=scope.name)

with tf.variable_scope("pool2"):
    pool2 = tf.nn.max_pool(conv2, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")

with tf.variable_scope("fc") as scope:
    input_features = 2 * 2 * 64
    w = tf.get_variable("weights", [input_features, 256],
                        initializer=tf.truncated_normal_initializer(stddev=0.1))
    b = tf.get_variable("biases", [256], initializer=tf.constant_initializer(0.1))
    pool2 = tf.reshape(pool2, [-1, input_features])
    fc = tf.nn.relu(tf.matmul(pool2, w) + b, name="relu")
    fc = tf.nn.dropout(fc, dropout, name="relu_dropout")

with tf.variable_scope("softmax_linear") as scope:
    w = tf.get_variable("weights", [256, N_CLASSES],
                        initializer=tf.truncated_normal_initializer(stddev=0.1))
    b = tf.get_variable("biases", [N_CLASSES], initializer=tf.zeros_initializer())
    logits = tf.matmul(fc, w) + b

with tf.name_scope("loss"):
    entropy = tf.nn.softmax_cross_entropy_with_logits(labels=Y, logits=logits)
    loss = tf.reduce_mean(entropy, name="loss")

with tf.name_scope("summaries"):
    tf.summary.scalar("loss", loss)
    tf.summary.histogram("histogram_loss", entropy)
    summary_op = tf.summary.merge_all()

optimizer = tf.train.AdamOptimizer(LEARNING_RATE).minimize(loss, global_step=global_step)

with tf.name_scope("accuracy"):
    preds = tf.nn.softmax(logits)
    correct_preds = tf.equal(tf.argmax(preds, 1), tf.argmax(Y, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_preds, tf.float32))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    saver = tf.train.Saver(max_to_keep=3)
    writer = tf.summary.FileWriter(GRAPHS, sess.graph)
    ckpt = tf.train.get_checkpoint_state(CHECKPOINTS)
    if ckpt and ckpt.model_checkpoint_path:
        saver.restore(sess, ckpt.model_checkpoint_path)
        print("restored", os.path.basename(ckpt.model_checkpoint_path))
    initial_step = global_step.eval()
    start_time = time.time()
    total_loss = 0.0
    for index in range(initial_step, initial_step + N_STEPS):
        X_batch, Y_batch = next_batch(index, BATCH_SIZE)
        _, loss_batch, summary = sess.run([optimizer, loss, summary_op],
                                          feed_dict={X: X_batch, Y: Y_batch, dropout: DROPOUT})
        writer.add_summary(summary, global_step=index)
        total_loss += loss_batch
        if (index + 1) % SKIP_STEP == 0:
            print("Average loss at step {}: {:5.3f}".format(index + 1, total_loss / SKIP_STEP))
            total_loss = 0.0
            saver.save(sess, os.path.join(CHECKPOINTS, "convnet"), index + 1)
    print("Optimization Finished! Total time: {0:.2f} seconds".format(time.time() - start_time))
    writer.close()
    test_accuracy = sess.run(accuracy, feed_dict={X: images[test], Y: labels[test], dropout: 1.0})
    print("Accuracy {0}".format(test_accuracy))
