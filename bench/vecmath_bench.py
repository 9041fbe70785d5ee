"""Time tanh(a*x + b) * sigmoid(x) on 10M float32: vecmath vs libm-in-Numba vs NumPy.

Run ``python -m bench.vecmath_bench`` from the project root.  Prints the best of several runs in
ms, the packed instructions in the vecmath loop's assembly, and a per-function ns/element table
(one thread).  Not a test: numbers vary by machine and load.
"""
import re
import time

import numba
import numpy as np
from numba import njit, prange

from kernels.numba.vecmath import VECMATH, get

N = 10_000_000
A, B = np.float32(0.7), np.float32(0.1)
tanh32, sigmoid32 = get("tanh", "float32"), get("sigmoid", "float32")


def make_vecmath_loop(parallel: bool, fastmath):
    """The fused loop over the branch-free vecmath functions."""
    @njit(parallel=parallel, fastmath=fastmath, error_model="numpy")
    def loop(x, out):
        for i in prange(x.size):
            out[i] = tanh32(A * x[i] + B) * sigmoid32(x[i])
    return loop


@njit(parallel=True, error_model="numpy")
def libm_loop(x, out):
    """The same loop on np.tanh / np.exp, which pip Numba lowers to scalar libm calls."""
    one = np.float32(1)
    for i in prange(x.size):
        out[i] = np.tanh(A * x[i] + B) * (one / (one + np.exp(-x[i])))


def numpy_version(x, out):
    """Plain NumPy ufuncs (float32, one temporary per step)."""
    np.multiply(np.tanh(A * x + B), 1 / (1 + np.exp(-x)), out=out)


def best_ms(fn, *args, repeat: int = 7) -> float:
    """Best wall time of ``fn(*args)`` in milliseconds, after one warm-up call."""
    fn(*args)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def packed_instructions(loop) -> list[str]:
    """Distinct packed float32 arithmetic instructions (with register width) in ``loop``."""
    asm = "\n".join(loop.inspect_asm().values())
    found = re.findall(r"\b(v?(?:mul|add|sub|div|fmadd\w*|fnmadd\w*|fmsub\w*)ps)\s+%([xyz])mm", asm)
    return sorted({f"{op}/{reg}mm" for op, reg in found})


_NUMPY = {"exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "tanh": np.tanh,
          "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
          "softplus": lambda x: np.logaddexp(np.zeros_like(x), x)}


def make_apply(fn):
    """A serial loop applying the scalar njit function ``fn`` elementwise."""
    @njit(error_model="numpy")
    def apply(x, out):
        for i in range(x.size):
            out[i] = fn(x[i])
    return apply


def per_function_table(n: int = 1_000_000) -> None:
    """Print ns/element for each vecmath function and its NumPy ufunc, one thread."""
    print(f"\nns/element over {n:,} values in [-10, 10] (log-like: |x|), one thread")
    print(f"{'function':10s} {'dtype':8s} {'vecmath':>8s} {'numpy':>8s}")
    for (name, dtype), fn in sorted(VECMATH.items()):
        x = np.random.default_rng(1).uniform(-10, 10, n).astype(dtype)
        x = abs(x) if name.startswith("log") else x
        out = np.empty_like(x)
        ref = _NUMPY[name]
        vec = best_ms(make_apply(fn), x, out) * 1e6 / n
        npy = best_ms(lambda x, out: np.copyto(out, ref(x)), x, out) * 1e6 / n
        print(f"{name:10s} {dtype:8s} {vec:8.2f} {npy:8.2f}")


def main() -> None:
    """Run every variant and print a small table."""
    x = np.random.default_rng(0).normal(0, 3, N).astype(np.float32)
    out = np.empty_like(x)
    print(f"{N:,} float32 elements, numba threads: {numba.get_num_threads()}")
    variants = {
        "vecmath parallel, fastmath={'contract'}": make_vecmath_loop(True, {"contract"}),
        "vecmath parallel, no fastmath": make_vecmath_loop(True, False),
        "vecmath serial, fastmath={'contract'}": make_vecmath_loop(False, {"contract"}),
        "libm np.tanh/np.exp parallel": libm_loop,
        "NumPy ufuncs": numpy_version,
    }
    for label, fn in variants.items():
        print(f"{label:42s} {best_ms(fn, x, out):8.1f} ms")
    serial = variants["vecmath serial, fastmath={'contract'}"]
    print("packed instructions in the serial vecmath loop:", ", ".join(packed_instructions(serial)))
    numba.set_num_threads(1)
    per_function_table()


if __name__ == "__main__":
    main()
