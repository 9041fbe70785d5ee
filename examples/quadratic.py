"""Minimise u*u + u + 1 from u = 20 with gradient descent, Momentum or Adam.

Prints ``step k: cost=... u=...`` per step, with the values before that step's update, then a
summary line, and writes the cost curve to OUT/loss.png. The TF1 style (default) uses a
Variable, an optimizer's ``minimize`` and a Session; the Theano style (``--style theano``) uses
``shared``, ``grad`` and ``function`` with hand-written ``updates`` (the TF1 formulas). Both
print the same numbers; u converges to -0.5 (cost 0.75). ``--compare`` runs all three
optimizers and prints a table instead of the steps.

  python examples/quadratic.py                       # gradient descent, learning rate 0.3
  python examples/quadratic.py --optimizer adam --steps 100 --style theano
  python examples/quadratic.py --compare
"""
import numpy as np
from _common import Tracker, backend_of, finish, make_parser, save_curves

import minigraph as mg

START = 20.0
LEARNING_RATES = {"sgd": 0.3, "momentum": 0.1, "adam": 1.0}
BETA1, BETA2, EPSILON = np.float32(0.9), np.float32(0.999), np.float32(1e-8)


def cost_of(u):
    """The quadratic being minimised."""
    return u * u + u + 1


def tf_optimizer(name: str, learning_rate: float, momentum: float):
    """The ``mg.train`` optimizer called ``name``."""
    if name == "sgd":
        return mg.train.GradientDescentOptimizer(learning_rate)
    if name == "momentum":
        return mg.train.MomentumOptimizer(learning_rate, momentum)
    return mg.train.AdamOptimizer(learning_rate)


def tf_style(steps: int, optimizer: str, learning_rate: float, momentum: float, backend=None):
    """Yield (cost, u) before each step using Variable, an optimizer and a Session."""
    u = mg.Variable(START, name="u")
    cost = cost_of(u)
    train = tf_optimizer(optimizer, learning_rate, momentum).minimize(cost)
    with mg.Session(backend=backend) as sess:
        sess.run(mg.global_variables_initializer())
        for _ in range(steps):
            value, current, _ = sess.run([cost, u, train])
            yield value, current


def theano_updates(optimizer: str, u, gu, learning_rate: float, momentum: float) -> list:
    """Theano-style ``(shared, new value)`` pairs implementing the optimizer's TF1 formulas."""
    lr = np.float32(learning_rate)
    if optimizer == "sgd":
        return [(u, u - lr * gu)]
    if optimizer == "momentum":
        velocity = mg.shared(0.0, name="velocity")
        new_velocity = velocity * np.float32(momentum) + gu
        return [(velocity, new_velocity), (u, u - lr * new_velocity)]
    m, v = mg.shared(0.0, name="m"), mg.shared(0.0, name="v")
    beta1_power = mg.shared(BETA1, name="beta1_power")
    beta2_power = mg.shared(BETA2, name="beta2_power")
    lr_t = lr * mg.sqrt(1 - beta2_power) / (1 - beta1_power)
    new_m = m + (gu - m) * (1 - BETA1)
    new_v = v + (gu * gu - v) * (1 - BETA2)
    return [(m, new_m), (v, new_v), (u, u - lr_t * new_m / (mg.sqrt(new_v) + EPSILON)),
            (beta1_power, beta1_power * BETA1), (beta2_power, beta2_power * BETA2)]


def theano_style(steps: int, optimizer: str, learning_rate: float, momentum: float,
                 backend=None):
    """Yield (cost, u) before each step using shared, grad and function updates."""
    u = mg.shared(START, name="u")
    cost = cost_of(u)
    updates = theano_updates(optimizer, u, mg.grad(cost, u), learning_rate, momentum)
    step = mg.function([], [cost, u], updates=updates, backend=backend)
    for _ in range(steps):
        value, current = step()
        yield value, current


def trajectory(args, optimizer: str, show_steps: bool) -> tuple[list, list]:
    """Costs and u values of one run, with a progress bar (and the step lines if asked)."""
    run = tf_style if args.style == "tf" else theano_style
    lr = args.learning_rate or LEARNING_RATES[optimizer]
    track = Tracker(args.steps, f"quadratic/{optimizer}", disable=args.no_progress, ema=0.0)
    costs, us = [], []
    with mg.Graph().as_default():
        for k, (value, current) in enumerate(run(args.steps, optimizer, lr, args.momentum,
                                                 args.backend)):
            costs.append(float(value))
            us.append(float(current))
            track(value)
            if show_steps:
                track.bar.write(f"step {k}: cost={float(value):.6f} u={float(current):.6f}")
    track.close()
    return costs, us


def first_converged(us: list, tol: float = 1e-3):
    """The first step from which u stays within ``tol`` of the minimiser -0.5 (None if never)."""
    far = [k for k, u in enumerate(us) if abs(u + 0.5) > tol]
    first = far[-1] + 1 if far else 0
    return first if first < len(us) else None


def compare(args) -> None:
    """Run every optimizer, print a table and plot the three cost curves."""
    curves, rows = {}, []
    for name in LEARNING_RATES:
        costs, us = trajectory(args, name, show_steps=False)
        lr = args.learning_rate or LEARNING_RATES[name]
        curves[f"{name} (lr {lr:g})"] = costs
        rows.append((name, lr, costs[-1], us[-1], first_converged(us)))
    print(f"{'optimizer':<10} {'lr':>5} {'final cost':>11} {'final u':>10} {'converged at':>13}")
    for name, lr, cost, u, at in rows:
        print(f"{name:<10} {lr:>5g} {cost:>11.6f} {u:>10.6f} {at if at is not None else '-':>13}")
    png = save_curves(args.out / "loss.png", curves, "u*u + u + 1 from u = 20", ylabel="cost")
    best = min(rows, key=lambda r: (r[4] is None, r[4] or 0))
    finish("quadratic", args.out, {"mode": "compare", "style": args.style,
                                   "backend": backend_of(args), "steps": args.steps,
                                   "fastest": best[0], "png": png})


def parse_args(argv=None):
    parser = make_parser(__doc__, "quadratic")
    parser.add_argument("--steps", type=int, help="number of steps (default 20; 100 with "
                                                  "--compare; 5 with --quick)")
    parser.add_argument("--style", choices=["tf", "theano"], default="tf",
                        help="API style: TF1 Session/optimizer or Theano function/updates")
    parser.add_argument("--optimizer", choices=list(LEARNING_RATES), default="sgd")
    parser.add_argument("--learning-rate", type=float,
                        help="default: 0.3 (sgd), 0.1 (momentum), 1.0 (adam)")
    parser.add_argument("--momentum", type=float, default=0.9, help="momentum (default 0.9)")
    parser.add_argument("--compare", action="store_true",
                        help="run sgd, momentum and adam; print a table, plot all three")
    args = parser.parse_args(argv)
    args.steps = args.steps or (5 if args.quick else 100 if args.compare else 20)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.compare:
        return compare(args)
    costs, us = trajectory(args, args.optimizer, show_steps=True)
    png = save_curves(args.out / "loss.png", {args.optimizer: costs}, "u*u + u + 1 from u = 20",
                      ylabel="cost")
    finish("quadratic", args.out, {"optimizer": args.optimizer, "style": args.style,
                                   "backend": backend_of(args), "steps": args.steps,
                                   "cost": f"{costs[-1]:.6f}", "u": f"{us[-1]:.6f}", "png": png})


if __name__ == "__main__":
    main()
