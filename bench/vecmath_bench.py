"""Time tanh(a*x + b) * sigmoid(x) on 10M float32: vecmath vs libm-in-Numba vs NumPy, and the
fused W3 kernels alone.

Run ``python -m bench.vecmath_bench`` from the project root.  Prints the best of several runs in
ms, the packed instructions in the vecmath loop's assembly, and a per-function ns/element table
(one thread).  ``python -m bench.vecmath_bench w3`` prints only the W3 table: the kernels the
numba backend's passes fuse for W3's forward and gradient, called through ``prepare`` on two
threads, against the 16 bytes/element copy floor (medians of interleaved runs).  Not a test:
numbers vary by machine and load.
"""
import os
import re
import sys
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


def w3_kernels(n: int) -> dict:
    """``{name: (prepared call, arrays)}`` for the fused kernel of W3 forward and gradient."""
    import minigraph as mg
    from kernels.numba.fusion import compile_fused
    from minigraph.backends import get_backend
    from minigraph.compiler import build_schedule, from_schedule
    from minigraph.compiler.pipeline import run_pipeline

    rng = np.random.default_rng(0)
    kernels = {}
    for name in ("forward", "gradient"):
        with mg.Graph().as_default():
            a, x, b = (mg.placeholder(mg.float32, [n]) for _ in range(3))
            y = mg.tanh(a * x + b) * mg.sigmoid(x)
            fetch = mg.grad(mg.reduce_sum(y), x) if name == "gradient" else y
            program = run_pipeline(from_schedule(build_schedule([fetch], [a, x, b])),
                                   get_backend("numba").passes)
        (node,) = [node for node in program.nodes if node.op == "fused"]
        fed = {inp.outputs[0]: rng.standard_normal(n, dtype=np.float32)
               for inp in program.inputs}
        arrays = [fed[v] if v in fed else np.asarray(v.node.attrs["value"]) for v in node.inputs]
        kernel = compile_fused(node.attrs["dag"])
        arrays += [np.empty(s, d) for s, d in zip(kernel.output_shapes([x.shape for x in arrays]),
                                                   kernel.output_dtypes)]
        kernels[name] = (kernel.prepare([x.shape for x in arrays[:len(node.inputs)]]), arrays)
    return kernels


def w3_table(n: int = N, threads: int = 2, rounds: int = 21) -> None:
    """Print the W3 kernels' medians against the copy floor on ``threads`` threads."""
    numba.set_num_threads(threads)
    src, dst = np.ones(2 * n, np.float32), np.empty(2 * n, np.float32)
    calls = {"bandwidth floor (copy)": lambda: np.copyto(dst, src)}
    for name, (call, arrays) in w3_kernels(n).items():
        call(*arrays)
        calls[f"W3 {name} kernel"] = lambda call=call, arrays=arrays: call(*arrays)
    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    floor = np.median(times["bandwidth floor (copy)"])
    print(f"{n:,} float32, {threads} threads, medians of {rounds} interleaved runs, "
          f"load average {os.getloadavg()[0]:.2f}")
    for name, ts in times.items():
        print(f"{name:26s} {1e3 * np.median(ts):7.2f} ms  {np.median(ts) / floor:5.2f}x floor")


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
    if sys.argv[1:] == ["w3"]:
        w3_table()
    else:
        main()
