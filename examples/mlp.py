"""MLP classifier in the TF1 feed-loop style: placeholders, minibatches through feed_dict.

Data: Fashion-MNIST from Debian's dataset-fashion-mnist package (IDX files under
/usr/share/datasets/fashion-mnist) when it is installed, otherwise scikit-learn's bundled 8x8
digits (no download). Trains with RMSProp or Adam, prints the test accuracy and writes the
loss curve to OUT/loss.png.

  python examples/mlp.py                          # Fashion-MNIST if installed, else digits
  python examples/mlp.py --dataset digits --optimizer rmsprop --epochs 60
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from _common import Tracker, backend_of, dense, finish, load_digits, make_parser, minibatches
from _common import save_curves

import minigraph as mg

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
OPTIMIZERS = {"adam": mg.train.AdamOptimizer, "rmsprop": mg.train.RMSPropOptimizer}
# Per-dataset defaults: (epochs, batch size, hidden widths).
DEFAULTS = {"digits": (40, 32, (256, 128)), "fashion-mnist": (15, 128, (256, 128))}


def read_idx(path: Path) -> np.ndarray:
    """One gzipped IDX file (the MNIST format: magic, dims, then big-endian uint8 data)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", count=ndim, offset=4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(directory: Path):
    """Fashion-MNIST's 60k/10k split as flat float32 images in [0, 1] and int32 labels."""
    def part(prefix):
        images = read_idx(directory / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(directory / f"{prefix}-labels-idx1-ubyte.gz")
        return (images.reshape(len(images), -1) / 255.0).astype(np.float32), \
            labels.astype(np.int32)
    (x_train, y_train), (x_test, y_test) = part("train"), part("t10k")
    return x_train, x_test, y_train, y_test


def choose_dataset(name: str, directory: Path) -> str:
    """``auto`` means Fashion-MNIST when its files are there, else digits."""
    if name != "auto":
        return name
    return "fashion-mnist" if (directory / "train-images-idx3-ubyte.gz").exists() else "digits"


def build_model(n_in: int, hidden, n_classes: int, optimizer: str, learning_rate: float):
    """Placeholders, logits, mean cross-entropy, accuracy and the training op."""
    x = mg.placeholder(mg.float32, [None, n_in], name="x")
    y = mg.placeholder(mg.int32, [None], name="y")
    h = x
    for i, width in enumerate(hidden):
        h = mg.nn.relu(dense(h, width, f"hidden{i}"))
    logits = dense(h, n_classes, "logits")
    loss = mg.reduce_mean(mg.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                         logits=logits))
    correct = mg.equal(mg.cast(mg.argmax(logits, 1), mg.int32), y)
    accuracy = mg.reduce_mean(mg.cast(correct, mg.float32))
    train = OPTIMIZERS[optimizer](learning_rate).minimize(loss)
    return x, y, loss, accuracy, train


def parse_args(argv=None):
    parser = make_parser(__doc__, "mlp")
    parser.add_argument("--dataset", choices=["auto", "digits", "fashion-mnist"], default="auto",
                        help="data set (default auto: Fashion-MNIST when installed, else digits)")
    parser.add_argument("--data-dir", type=Path, default=FASHION_DIR,
                        help=f"Fashion-MNIST IDX directory (default {FASHION_DIR})")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                        help="TF1 AdamOptimizer or RMSPropOptimizer (default adam)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="default 1e-3")
    parser.add_argument("--epochs", type=int, help="default: 40 (digits), 15 (Fashion-MNIST)")
    parser.add_argument("--batch-size", type=int, help="default: 32 (digits), 128 (Fashion)")
    parser.add_argument("--hidden", type=int, nargs="+", help="hidden widths (default 256 128)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    dataset = choose_dataset(args.dataset, args.data_dir)
    epochs, batch_size, hidden = DEFAULTS[dataset]
    epochs = args.epochs or (3 if args.quick else epochs)
    batch_size, hidden = args.batch_size or batch_size, args.hidden or hidden
    x_train, x_test, y_train, y_test = (load_digits(args.seed) if dataset == "digits"
                                        else load_fashion_mnist(args.data_dir))
    if args.quick:  # a few thousand examples are plenty to see it learn
        x_train, y_train = x_train[:3000], y_train[:3000]
    mg.set_random_seed(args.seed)
    x, y, loss, accuracy, train = build_model(x_train.shape[1], hidden, 10, args.optimizer,
                                              args.learning_rate)
    rng = np.random.default_rng(args.seed)
    batches = [minibatches(len(x_train), batch_size, rng) for _ in range(epochs)]
    track = Tracker(sum(map(len, batches)), f"mlp/{dataset}", disable=args.no_progress)
    with mg.Session(backend=args.backend) as sess:
        sess.run(mg.global_variables_initializer())
        for epoch in batches:
            for idx in epoch:
                _, value = sess.run([train, loss], {x: x_train[idx], y: y_train[idx]})
                track(value)
        timing = track.close()
        test_accuracy = sess.run(accuracy, {x: x_test, y: y_test})
    png = save_curves(args.out / "loss.png", {f"{args.optimizer}, batch {batch_size}":
                                              track.losses},
                      f"MLP on {dataset}: training loss", ylabel="cross-entropy", smoothing=0.95)
    finish("mlp", args.out, {
        "dataset": dataset, "optimizer": args.optimizer, "backend": backend_of(args),
        "epochs": epochs, "steps": len(track.losses), "test_accuracy": float(test_accuracy),
        "final_loss": float(np.mean(track.losses[-20:])), **timing, "png": png})


if __name__ == "__main__":
    main()
