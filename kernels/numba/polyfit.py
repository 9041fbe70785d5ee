"""Derivation of the polynomial coefficients hard-coded in ``vecmath`` (numpy only, no Numba).

Each approximant is ``sum(c[j] * x**powers[j])`` fitted to a target function on an interval,
minimising the maximum *relative error of the final function* (the ``weight``), by Lawson's
iteratively reweighted least squares (which converges to the minimax solution) on a
Chebyshev-distributed grid.  Arithmetic is ``np.longdouble`` (64-bit mantissa on x86) with a
Householder QR solver, since LAPACK has no extended precision.  Coefficients are then rounded to
the target dtype one at a time, most significant first, refitting the remaining ones after each
rounding so later coefficients absorb the earlier rounding errors.

Targets are written so that longdouble evaluates them without cancellation (e.g. ``expm1(r) - r``
rather than ``exp(r) - 1 - r``).  Run ``python -m kernels.numba.polyfit`` to print the tables.
"""
from typing import NamedTuple

import numpy as np

LD = np.longdouble


class Spec(NamedTuple):
    """A fit: target(x) ~ sum c_j x**p_j on [lo, hi], error measured as |fit - target| * weight."""

    lo: float
    hi: float
    target: object
    weight: object


def _ld(x) -> np.ndarray:
    """Convert to a longdouble array."""
    return np.asarray(x, dtype=LD)


SPECS = {
    # e**r = 1 + r + sum c_j r**j; shared by exp and expm1 (relative error of expm1 is the bar).
    "expm1": Spec(-0.3466, 0.3466, lambda r: np.expm1(r) - r, lambda r: 1 / abs(np.expm1(r))),
    # 2 atanh(s) = 2 s + sum c_j s**j, s = f / (2 + f), 1 + f in [sqrt(1/2), sqrt(2)].
    "log": Spec(0.0, 0.1716, lambda s: 2 * np.arctanh(s) - 2 * s, lambda s: 1 / np.arctanh(s)),
    # tanh(x) = x + sum c_j x**j on the small-argument interval.
    "tanh": Spec(0.0, 0.55, lambda x: np.tanh(x) - x, lambda x: 1 / np.tanh(x)),
}

# Polynomial powers per (function, dtype); degrees chosen so the fit error sits well below an ulp.
POWERS = {
    ("expm1", "float64"): tuple(range(2, 13)),
    ("expm1", "float32"): tuple(range(2, 8)),
    ("log", "float64"): tuple(range(3, 16, 2)),
    ("log", "float32"): tuple(range(3, 8, 2)),
    ("tanh", "float64"): tuple(range(3, 24, 2)),
    ("tanh", "float32"): tuple(range(3, 12, 2)),
}


def grid(lo: float, hi: float, n: int = 600) -> np.ndarray:
    """Chebyshev-distributed points strictly inside (lo, hi], avoiding an exact zero."""
    theta = (np.arange(n, dtype=LD) + LD(0.5)) * (np.pi / LD(n))
    return _ld(lo) + (_ld(hi) - _ld(lo)) * (1 - np.cos(theta)) / 2


def lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least-squares solution of ``a @ c = b`` by Householder QR in the arrays' precision."""
    scale = np.sqrt((a * a).sum(axis=0))
    a, b = a / scale, b.copy()
    m, n = a.shape
    for j in range(n):
        v = a[j:, j].copy()
        v[0] += np.copysign(np.sqrt(v @ v), v[0])
        v /= np.sqrt(v @ v)
        a[j:, j:] -= 2 * np.outer(v, v @ a[j:, j:])
        b[j:] -= 2 * v * (v @ b[j:])
    c = np.zeros(n, dtype=a.dtype)
    for j in reversed(range(n)):
        c[j] = (b[j] - a[j, j + 1:n] @ c[j + 1:]) / a[j, j]
    return c / scale


def lawson(a: np.ndarray, y: np.ndarray, iters: int) -> tuple[np.ndarray, np.ndarray]:
    """Minimax fit of ``a @ c ~ y`` by Lawson's algorithm; returns coefficients and weights."""
    u = np.full(len(y), 1 / LD(len(y)))
    for _ in range(iters):
        root = np.sqrt(u)
        c = lstsq(a * root[:, None], y * root)
        u = u * abs(a @ c - y)
        u /= u.sum()
    return c, u


def fit(name: str, dtype: str, iters: int = 60) -> tuple:
    """Fit ``SPECS[name]`` with ``POWERS[(name, dtype)]``; coefficients rounded to ``dtype``."""
    spec, powers = SPECS[name], POWERS[(name, dtype)]
    x = grid(spec.lo, spec.hi)
    w = spec.weight(x)
    a = np.stack([x ** p for p in powers], axis=1) * w[:, None]
    y = spec.target(x) * w
    c, u = lawson(a, y, iters)
    fixed = []
    for j in range(len(powers)):
        fixed.append(np.dtype(dtype).type(c[0]))
        y = y - a[:, 0] * LD(fixed[-1])
        a = a[:, 1:]
        if a.shape[1]:
            root = np.sqrt(u)
            c = lstsq(a * root[:, None], y * root)
    return tuple(fixed)


def max_rel_error(name: str, dtype: str, coeffs: tuple) -> float:
    """Largest weighted error of ``coeffs`` on a fine grid (in longdouble, no rounding)."""
    spec, powers = SPECS[name], POWERS[(name, dtype)]
    x = grid(spec.lo, spec.hi, 20001)
    approx = sum(LD(c) * x ** p for c, p in zip(coeffs, powers))
    return float(np.max(abs(approx - spec.target(x)) * spec.weight(x)))


def main() -> None:
    """Print every coefficient table with its fitted relative error."""
    for name, dtype in POWERS:
        coeffs = fit(name, dtype)
        err = max_rel_error(name, dtype, coeffs)
        print(f"{name} {dtype}: max rel err {err:.3g} (2^{np.log2(err):.1f})")
        print("    (" + ", ".join(str(c) for c in coeffs) + ")")


if __name__ == "__main__":
    main()
