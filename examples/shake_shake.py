"""Shake-shake regularisation of a small residual MLP on digits, via ``mg.custom_gradient``.

Each residual block has two branches. In training, shake-shake mixes them with a random
alpha in [0, 1] per example in the forward pass and scales their gradients with an
independent random beta in the backward pass (Gastaldi, 2017); at test time both weigh 0.5.
The same network is trained twice from the same initial weights, with shake-shake and with a
fixed 0.5 mix, and the two test accuracies are printed side by side; OUT/loss.png holds both
training-loss curves. On digits' 450 test images the two end within a few images of each
other (shake-shake paid off on CIFAR-sized conv nets trained for hundreds of epochs): the demo
shows the mechanism, a forward pass and a gradient that disagree on purpose.

  python examples/shake_shake.py
  python examples/shake_shake.py --epochs 300 --width 128 --blocks 3
"""
from __future__ import annotations

import numpy as np
from _common import Linear, Tracker, backend_of, finish, load_digits, make_parser, minibatches
from _common import save_curves

import minigraph as mg


def shake(a, b):
    """Random convex mix of two branches: alpha forward, an independent beta backward."""
    @mg.custom_gradient
    def mix(a, b):
        per_example = mg.stack([mg.shape(a)[0], 1])
        alpha = mg.random_uniform(per_example)

        def grad(dy):
            beta = mg.random_uniform(per_example)
            return dy * beta, dy * (1 - beta)
        return alpha * a + (1 - alpha) * b, grad
    return mix(a, b)


def even(a, b):
    """The test-time (and no-shake) mix: both branches weigh 0.5."""
    return 0.5 * (a + b)


class ResidualMLP:
    """stem -> blocks of ``h + mix(branch1(h), branch2(h))`` -> ReLU -> classifier; each
    branch is ReLU-Linear-ReLU-Linear (pre-activation)."""

    def __init__(self, n_in: int, width: int, blocks: int, n_classes: int):
        self.stem = Linear(n_in, width, "stem")
        self.branches = [[(Linear(width, width, f"block{i}/branch{j}/fc1"),
                           Linear(width, width, f"block{i}/branch{j}/fc2")) for j in (1, 2)]
                         for i in range(blocks)]
        self.head = Linear(width, n_classes, "head")

    def __call__(self, x, mix):
        h = self.stem(x)
        for pair in self.branches:
            a, b = (fc2(mg.nn.relu(fc1(mg.nn.relu(h)))) for fc1, fc2 in pair)
            h = h + mix(a, b)
        return self.head(mg.nn.relu(h))


def train(args, data, use_shake: bool) -> dict:
    """Train one network (in its own graph, same seed, so same initial weights) and report."""
    x_train, x_test, y_train, y_test = data
    name = "shake-shake" if use_shake else "no shake"
    with mg.Graph().as_default():
        mg.set_random_seed(args.seed)
        x = mg.placeholder(mg.float32, [None, x_train.shape[1]], name="x")
        y = mg.placeholder(mg.int32, [None], name="y")
        model = ResidualMLP(x_train.shape[1], args.width, args.blocks, 10)
        logits = model(x, shake if use_shake else even)
        loss = mg.reduce_mean(mg.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                             logits=logits))
        rng = np.random.default_rng(args.seed)
        epochs = [minibatches(len(x_train), args.batch_size, rng) for _ in range(args.epochs)]
        global_step = mg.train.get_or_create_global_step()
        # Annealing the learning rate (to 1% at the end) lets the shaken model settle.
        learning_rate = mg.train.exponential_decay(args.learning_rate, global_step,
                                                   sum(map(len, epochs)), 0.01)
        step = mg.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
        predictions = mg.argmax(model(x, even), 1)
        track = Tracker(sum(map(len, epochs)), name, disable=args.no_progress)
        with mg.Session(backend=args.backend) as sess:
            sess.run(mg.global_variables_initializer())
            for epoch in epochs:
                for idx in epoch:
                    track(sess.run([step, loss], {x: x_train[idx], y: y_train[idx]})[1])
            timing = track.close()
            accuracy = float(np.mean(sess.run(predictions, {x: x_test}) == y_test))
    return {"name": name, "losses": track.losses, "accuracy": accuracy, **timing}


def parse_args(argv=None):
    parser = make_parser(__doc__, "shake_shake")
    parser.add_argument("--epochs", type=int,
                        help="training epochs (default 150; 10 with --quick)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=64, help="hidden width (default 64)")
    parser.add_argument("--blocks", type=int, default=2, help="residual blocks (default 2)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's (default 1e-3)")
    args = parser.parse_args(argv)
    args.epochs = args.epochs or (10 if args.quick else 150)
    return args


def main(argv=None):
    args = parse_args(argv)
    data = load_digits(args.seed)
    results = [train(args, data, use_shake) for use_shake in (True, False)]
    print(f"{'model':<12} {'test accuracy':>13} {'final loss':>11} {'step':>9}")
    for r in results:
        print(f"{r['name']:<12} {r['accuracy']:>13.4f} {np.mean(r['losses'][-50:]):>11.4f} "
              f"{r['step_ms']:>7.2f}ms")
    png = save_curves(args.out / "loss.png", {r["name"]: r["losses"] for r in results},
                      "Residual MLP on digits: training loss", ylabel="cross-entropy",
                      smoothing=0.98)
    shaken, plain = results
    finish("shake_shake", args.out, {
        "backend": backend_of(args), "epochs": args.epochs,
        "steps": len(shaken["losses"]), "shake_accuracy": shaken["accuracy"],
        "plain_accuracy": plain["accuracy"], "shake_loss": float(np.mean(shaken["losses"][-50:])),
        "plain_loss": float(np.mean(plain["losses"][-50:])),
        "time_s": shaken["time_s"] + plain["time_s"], "shake_step_ms": shaken["step_ms"],
        "plain_step_ms": plain["step_ms"], "png": png})


if __name__ == "__main__":
    main()
