"""Minimise u*u + u + 1 from u = 20 by gradient descent (learning rate 0.3).

Prints ``step k: cost=... u=...`` per step, with the values before that step's update. The TF1
style (default) uses a Variable, ``GradientDescentOptimizer.minimize`` and a Session; the Theano
style (``--style theano``) uses ``shared``, ``grad`` and ``function`` with ``updates``. Both
build the same graph and print identical numbers; u converges to -0.5 (cost 0.75).
"""
import argparse

import minigraph as mg

LEARNING_RATE = 0.3
START = 20.0


def cost_of(u):
    """The quadratic being minimised."""
    return u * u + u + 1


def tf_style(steps: int):
    """Yield (cost, u) before each step using Variable, an optimizer and a Session."""
    u = mg.Variable(START, name="u")
    cost = cost_of(u)
    train = mg.train.GradientDescentOptimizer(LEARNING_RATE).minimize(cost)
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        for _ in range(steps):
            value, current, _ = sess.run([cost, u, train])
            yield value, current


def theano_style(steps: int):
    """Yield (cost, u) before each step using shared, grad and function updates."""
    u = mg.shared(START, name="u")
    cost = cost_of(u)
    gu = mg.grad(cost, u)
    step = mg.function([], [cost, u], updates=[(u, u - LEARNING_RATE * gu)])
    for _ in range(steps):
        value, current = step()
        yield value, current


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="number of steps (default 20)")
    parser.add_argument("--style", choices=["tf", "theano"], default="tf",
                        help="API style: TF1 Session/optimizer or Theano function/updates")
    args = parser.parse_args(argv)
    run = tf_style if args.style == "tf" else theano_style
    for k, (value, current) in enumerate(run(args.steps)):
        print(f"step {k}: cost={float(value):.6f} u={float(current):.6f}")


if __name__ == "__main__":
    main()
