"""Run the benchmarks: ``python -m bench [--quick] [--threads N] [--only W1,W3] [--backend numpy]``
(W4/W5: RNN LM and word2vec steps against PyTorch eager, on the GPU when there is one).

Every implementation of a case runs interleaved with the others in this process; the W2 compile
latency runs in fresh subprocesses. Exits with status 1 if any row failed or disagreed.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "compile")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: small sizes, few repetitions, no peer compile probes")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for BLAS, Numba and the peers (default: all cores)")
    parser.add_argument("--only", type=lambda s: s.split(","), default=list(WORKLOADS),
                        help=f"comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--backend", type=lambda s: s.split(","), default=None,
                        help="comma-separated minigraph backends (default: all available)")
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s) {sorted(unknown)}; choose from {WORKLOADS}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if "numpy" in sys.modules:
        print("warning: numpy was imported before --threads could apply", file=sys.stderr)
    for var in THREAD_VARS:  # before NumPy loads its BLAS
        os.environ[var] = str(args.threads)
    from bench import peers

    peers.configure(args.threads)
    from minigraph.backends import available_backends

    backends = args.backend or available_backends()
    if set(backends) - set(available_backends()):
        from minigraph.backends.cupy_device import unavailable_reason

        why = f" (cupy: {unavailable_reason()})" if "cupy" in backends else ""
        raise SystemExit(f"backend not available here in {backends}{why}; available: "
                         f"{available_backends()}")
    _print_header(args, backends)
    results, failed = {}, False
    for key in args.only:
        ok = _run_compile(args, backends, results) if key == "compile" else \
            _run_timed(key, args, backends, results)
        failed |= not ok
    from bench.targets import format_targets

    print(format_targets(results, backends), flush=True)
    return 1 if failed else 0


def _print_header(args, backends) -> None:
    import platform

    import numpy as np

    from bench import peers

    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores "
          f"(load average {os.getloadavg()[0]:.1f}), threads={args.threads}"
          f"{', quick' if args.quick else ''}")
    print(f"minigraph backends: {', '.join(backends)}; peers: "
          f"{', '.join(peers.installed()) or 'none installed'}\n", flush=True)


def _run_timed(key, args, backends, results) -> bool:
    from bench.harness import Timing, format_case, run_case
    from bench.workloads import TIMED

    timing = Timing(reps=5, sample_s=0.01, warmup_s=0.02) if args.quick else \
        Timing(reps=15, sample_s=0.1, warmup_s=0.2)
    ok = True
    for case in TIMED[key](args.quick, backends):
        rows = run_case(case, timing)
        print(format_case(case, rows) + "\n", flush=True)
        results.update({(case.title, r.name): r for r in rows if r.samples})
        ok &= all(r.status in ("ok", "floor") for r in rows)
    return ok


def _run_compile(args, backends, results) -> bool:
    from bench.harness import Row, format_table, warn
    from bench.workloads import compile as latency

    table, ok = [["implementation", "cold s", "warm s"]], True
    for name in latency.names(args.quick, backends):
        try:
            cold, warm = latency.measure(name, args.threads)
        except Exception as exc:
            warn(f"W2 compile: {name} failed: {exc}")
            table.append([name, "ERROR (see stderr)"])
            ok = False
            continue
        results[("W2 compile cold", name)] = Row(name, samples=[cold])
        results[("W2 compile warm", name)] = Row(name, samples=[warm])
        table.append([name, f"{cold:.3f}", f"{warm:.3f}"])
    title = "W2 compile: B128 SGD, setup + first step in a fresh process (cold / warm caches)"
    print("\n".join([title, "-" * len(title), format_table(table)]) + "\n", flush=True)
    return ok


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
