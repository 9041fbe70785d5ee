"""Linear regression in the TF1 course style (CS20SI lecture 3): Y = w * X + b, squared loss,
plain gradient descent over the samples one at a time, the graph written for TensorBoard.

The TF1 original reads the Chicago fire/theft table from an .xls file; this copy generates the
same kind of data (one feature, a noisy line), so it runs anywhere. Nothing else changed: the
script runs unmodified under ``import tensorflow.compat.v1 as tf``.
"""
import argparse
import os
import tempfile

import numpy as np

import minigraph as tf  # the TF1 original: import tensorflow as tf

# -- data loading (changed: generated instead of read from fire_theft.xls) -----------------------
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="a few epochs, for tests")
parser.add_argument("--logdir", default=os.path.join(tempfile.gettempdir(), "linreg_graph"))
args = parser.parse_args()
rng = np.random.default_rng(0)
data_x = rng.uniform(0, 40, size=42).astype(np.float32)
data = np.stack([data_x, 1.7 * data_x + 16.0 + rng.normal(0, 3.0, size=42)], axis=1)
n_samples = data.shape[0]
EPOCHS = 10 if args.quick else 100

# -- the TF1 script ------------------------------------------------------------------------------
X = tf.placeholder(tf.float32, name="X")
Y = tf.placeholder(tf.float32, name="Y")

w = tf.Variable(0.0, name="weights")
b = tf.Variable(0.0, name="bias")

Y_predicted = X * w + b
loss = tf.square(Y - Y_predicted, name="loss")

optimizer = tf.train.GradientDescentOptimizer(learning_rate=0.0005).minimize(loss)

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    writer = tf.summary.FileWriter(args.logdir, sess.graph)
    for i in range(EPOCHS):
        total_loss = 0
        for x, y in data:
            _, loss_value = sess.run([optimizer, loss], feed_dict={X: x, Y: y})
            total_loss += loss_value
        if i % 10 == 0 or i == EPOCHS - 1:
            print("Epoch {0}: {1}".format(i, total_loss / n_samples))
    writer.close()
    w_value, b_value = sess.run([w, b])

print("w = {:.4f}, b = {:.4f}".format(w_value, b_value))
