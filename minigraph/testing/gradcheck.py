"""Gradient checkers: reverse-mode gradients against central finite differences (float64).

The scalar checked is a random projection ``sum(r * f(x))`` of the output, so every output
element contributes; ``order=2`` checks the gradient of a random projection of the gradient.
"""
from __future__ import annotations

import numpy as np

from .tracing import random_projection, trace

_DEFAULTS = {  # dtype kind/size -> (eps, atol, rtol)
    np.dtype("float64"): (1e-6, 1e-5, 1e-5),
    np.dtype("float32"): (1e-3, 2e-2, 2e-2),
    np.dtype("float16"): (1e-2, 1e-1, 1e-1),
}
_ELEMENTWISE_LIMIT = 256  # inputs up to this size get a full per-element numeric gradient


class _Problem:
    """A graph built from ``fn`` on placeholders, with a random scalar projection of its output."""

    def __init__(self, fn, args, rng, backend, order):
        import minigraph as mg

        self.graph = mg.Graph()
        with self.graph.as_default():
            self.inputs, outputs = trace(fn, args)
            self.session = mg.Session(graph=self.graph, backend=backend)
            values = self.session.run(outputs, dict(zip(self.inputs, args)))
            self.objective = random_projection(outputs, [v.shape for v in values], rng)
            self.wrt = [i for i, a in enumerate(args) if a.dtype.kind == "f"]
            wrt = [self.inputs[i] for i in self.wrt]
            grads = _dense_gradients(self.objective, wrt)
            for _ in range(order - 1):
                self.objective = random_projection(grads, [args[i].shape for i in self.wrt], rng)
                grads = _dense_gradients(self.objective, wrt)
            self.grads = grads
            self.evaluate = self.session.make_callable(self.objective, self.inputs)
            self.gradient = self.session.make_callable(self.grads, self.inputs)

    def op_names(self) -> str:
        return ", ".join(sorted({n.op for n in self.graph.nodes}))


def _dense_gradients(objective, xs):
    """Gradients of ``objective`` for ``xs``, zeros where it does not depend on an x."""
    import minigraph as mg

    return [mg.zeros_like(x) if g is None else mg.convert_to_tensor(g)
            for x, g in zip(xs, mg.gradients(objective, xs))]


def numeric_grad(fn, args, eps=None, seed=None, backend=None):
    """Central-difference gradients of a random projection of ``fn(*args)`` (one per float arg).

    Returns ``(numeric, analytic)`` lists so callers can compare them their own way.
    """
    args = [np.asarray(a) for a in args]
    problem = _Problem(fn, args, np.random.default_rng(seed), backend, order=1)
    eps = eps or _defaults(args)[0]
    numeric = [_numeric_full(problem.evaluate, args, i, eps) for i in problem.wrt]
    return numeric, problem.gradient(*args)


def check_grads(f, args, order=1, modes=("rev",), eps=None, atol=None, rtol=None, seed=None,
                backend=None):
    """Raise ``AssertionError`` unless reverse-mode gradients of ``f`` match finite differences.

    ``f`` builds a graph from one tensor per entry of ``args`` (NumPy arrays). Checks orders
    1..``order``; float64 inputs give tight tolerances, float32 only a loose smoke check.
    """
    if set(modes) - {"rev"}:
        raise ValueError(f"check_grads: only reverse mode is supported, got modes={modes}")
    args = [np.asarray(a) for a in args]
    d_eps, d_atol, d_rtol = _defaults(args)
    eps, atol, rtol = eps or d_eps, atol or d_atol, rtol or d_rtol
    rng = np.random.default_rng(seed)
    for k in range(1, order + 1):
        problem = _Problem(f, args, rng, backend, order=k)
        analytic = problem.gradient(*args)
        for position, i in enumerate(problem.wrt):
            _compare(problem, args, i, analytic[position], eps, atol, rtol, k, rng)


def verify_grad(fun, pt, n_tests=2, rng=None, eps=None, abs_tol=None, rel_tol=None,
                backend=None):
    """Theano's ``verify_grad``: ``n_tests`` random projections of ``fun(*pt)`` checked."""
    seed_source = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    for _ in range(n_tests):
        check_grads(fun, pt, eps=eps, atol=abs_tol, rtol=rel_tol,
                    seed=int(seed_source.integers(2**31)), backend=backend)


def _defaults(args):
    float_dtypes = [a.dtype for a in args if a.dtype.kind == "f"]
    if not float_dtypes:
        raise ValueError("check_grads: no floating-point argument to differentiate")
    lowest = min(float_dtypes, key=lambda d: d.itemsize)
    return _DEFAULTS[lowest]


def _compare(problem, args, i, analytic, eps, atol, rtol, order, rng):
    x = args[i]
    if x.size <= _ELEMENTWISE_LIMIT:
        numeric = _numeric_full(problem.evaluate, args, i, eps)
        error = np.abs(numeric - analytic)
        bad = error > atol + rtol * np.abs(numeric)
        if bad.any():
            worst = np.unravel_index(np.argmax(np.where(bad, error, -1)), x.shape)
            _fail(problem, i, order, f"element {tuple(int(w) for w in worst)}",
                  analytic[worst], numeric[worst])
        return
    direction = rng.standard_normal(x.shape).astype(x.dtype)
    numeric = _directional(problem.evaluate, args, i, direction, eps)
    projected = float(np.sum(analytic * direction))
    if abs(numeric - projected) > atol * np.sqrt(x.size) + rtol * abs(numeric):
        _fail(problem, i, order, "a random direction", projected, numeric)


def _numeric_full(evaluate, args, i, eps):
    x = args[i]
    grad = np.zeros(x.shape, dtype=np.float64)
    flat = grad.reshape(-1)
    for k in range(x.size):
        direction = np.zeros(x.size, dtype=x.dtype)
        direction[k] = 1
        flat[k] = _directional(evaluate, args, i, direction.reshape(x.shape), eps)
    return grad


def _directional(evaluate, args, i, direction, eps):
    plus, minus = list(args), list(args)
    plus[i] = (args[i] + eps * direction).astype(args[i].dtype)
    minus[i] = (args[i] - eps * direction).astype(args[i].dtype)
    return (float(evaluate(*plus)) - float(evaluate(*minus))) / (2 * eps)


def _fail(problem, i, order, where, analytic, numeric):
    abs_err = abs(float(analytic) - float(numeric))
    rel_err = abs_err / max(abs(float(numeric)), 1e-300)
    kind = "gradient" if order == 1 else f"order-{order} gradient"
    raise AssertionError(
        f"{kind} mismatch for input {i} ('arg{i}') at {where}: reverse-mode {float(analytic):.8g}"
        f" vs finite differences {float(numeric):.8g} (abs error {abs_err:.3g}, relative error "
        f"{rel_err:.3g}); ops in the graph: {problem.op_names()}")
