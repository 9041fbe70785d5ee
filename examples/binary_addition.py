"""An RNN that learns 8-bit binary addition, built with Theano-style ``mg.scan``.

The classic exercise: the two numbers are fed one bit pair per step, least significant bit
first; a 16-unit sigmoid recurrent layer (no biases) carries the carry and a sigmoid output
emits the sum's bit at each step. Trained by plain SGD on the summed squared error (the
exercise's loss) through ``mg.function`` with ``updates``, on pairs a, b < 128 (so the sum fits
8 bits); a quarter of the 16,384 pairs is held out, and the accuracy is the fraction of
held-out sums with all 8 bits right. The loss curve goes to OUT/loss.png.

  python examples/binary_addition.py
  python examples/binary_addition.py --hidden 8 --steps 4000
"""
from __future__ import annotations

import numpy as np
from _common import Tracker, backend_of, finish, make_parser, save_curves

import minigraph as mg

BITS = 8


def to_bits(numbers: np.ndarray) -> np.ndarray:
    """(n,) ints -> (BITS, n) float32 bits, least significant first (the time axis leads)."""
    return ((numbers[None, :] >> np.arange(BITS)[:, None]) & 1).astype(np.float32)


def make_data(seed: int, test_fraction: float = 0.25):
    """All pairs a, b < 2**(BITS-1) split into train/test as (inputs (BITS, n, 2), targets
    (BITS, n, 1), a, b)."""
    half = 2 ** (BITS - 1)
    a, b = (m.ravel() for m in np.meshgrid(np.arange(half), np.arange(half)))
    order = np.random.default_rng(seed).permutation(len(a))
    n_test = int(len(a) * test_fraction)

    def part(idx):
        x = np.stack([to_bits(a[idx]), to_bits(b[idx])], axis=-1)
        return x, to_bits(a[idx] + b[idx])[..., None], a[idx], b[idx]
    return part(order[n_test:]), part(order[:n_test])


def build(hidden: int, learning_rate: float, seed: int):
    """The training and prediction functions: scan over the bit pairs, SGD updates."""
    rng = np.random.default_rng(seed)
    init = lambda *shape: rng.uniform(-1, 1, shape).astype(np.float32)  # the exercise's init
    w_in, w_rec = mg.shared(init(2, hidden), name="w_in"), mg.shared(init(hidden, hidden),
                                                                     name="w_rec")
    w_out = mg.shared(init(hidden, 1), name="w_out")
    x, y = mg.tensor3("x"), mg.tensor3("y")  # (time, batch, features)

    def step(x_t, h_prev, w_in, w_rec):
        return mg.sigmoid(mg.dot(x_t, w_in) + mg.dot(h_prev, w_rec))

    h0 = mg.zeros([x.shape[1], hidden])
    states, _ = mg.scan(step, sequences=x, outputs_info=h0, non_sequences=[w_in, w_rec])
    out = mg.sigmoid(mg.dot(states, w_out))
    loss = (0.5 * (y - out) ** 2).sum(axis=(0, 2)).mean()
    params = [w_in, w_rec, w_out]
    updates = [(p, p - learning_rate * g) for p, g in zip(params, mg.grad(loss, params))]
    return x, y, out, loss, updates


def parse_args(argv=None):
    parser = make_parser(__doc__, "binary_addition")
    parser.add_argument("--steps", type=int,
                        help="SGD steps (default 3000; 800 with --quick)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=16, help="recurrent units (default 16)")
    parser.add_argument("--learning-rate", type=float, default=1.0)
    args = parser.parse_args(argv)
    args.steps = args.steps or (800 if args.quick else 3000)
    return args


def main(argv=None):
    args = parse_args(argv)
    (x_train, y_train, _, _), (x_test, y_test, a_test, b_test) = make_data(args.seed)
    x, y, out, loss, updates = build(args.hidden, args.learning_rate, args.seed)
    train = mg.function([x, y], loss, updates=updates, backend=args.backend)
    predict = mg.function([x], out, backend=args.backend)
    rng = np.random.default_rng(args.seed)
    track = Tracker(args.steps, "binary addition", disable=args.no_progress)
    for _ in range(args.steps):
        idx = rng.integers(0, x_train.shape[1], args.batch_size)
        track(train(x_train[:, idx], y_train[:, idx]))
    timing = track.close()
    bits = predict(x_test)[..., 0] > 0.5
    correct = (bits == (y_test[..., 0] > 0.5)).all(axis=0)
    k = int(np.argmin(correct)) if not correct.all() else 0
    weights = 2 ** np.arange(BITS)
    print(f"e.g. {a_test[k]} + {b_test[k]} -> {int(weights @ bits[:, k])} "
          f"({'right' if correct[k] else 'WRONG'})")
    png = save_curves(args.out / "loss.png", {f"SGD {args.learning_rate:g}, batch "
                                              f"{args.batch_size}": track.losses},
                      "RNN learning 8-bit binary addition", ylabel="squared error", smoothing=0.9)
    finish("binary_addition", args.out, {
        "backend": backend_of(args), "steps": args.steps, "hidden": args.hidden,
        "test_accuracy": float(correct.mean()), "test_pairs": int(correct.size),
        "bit_accuracy": float(np.mean(bits == (y_test[..., 0] > 0.5))),
        "final_loss": float(np.mean(track.losses[-50:])), **timing, "png": png})


if __name__ == "__main__":
    main()
