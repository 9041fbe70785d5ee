"""Issue 4's performance targets, judged per minigraph backend from this run's medians."""
from __future__ import annotations

from .harness import format_table

US = 1e-6


def _targets(backend: str) -> list:
    """(target, goal, [(case, row), ...], judge(*seconds) -> (measured text, met))."""
    mg = f"minigraph[{backend}]"
    w1, w3f, w3g = "W1 quadratic", "W3 forward", "W3 gradient"

    def vs_floor(limit):
        return lambda t, floor: (f"{t / floor:.2f}x", t / floor <= limit)

    return [
        ("W1 step via mg.function / make_callable", "<= 1.0 us",
         [(w1, f"{mg} function"), (w1, f"{mg} make_callable")],
         lambda f, c: (f"{f / US:.2f} / {c / US:.2f} us", max(f, c) <= 1.0 * US)),
        ("W1 step via Session.run(train_op)", "<= 5 us", [(w1, f"{mg} Session.run")],
         lambda t: (f"{t / US:.2f} us", t <= 5 * US)),
        ("W2 B128 SGD (make_callable)", "<= 1.05x BLAS floor",
         [("W2 B128 SGD", f"{mg} make_callable"), ("W2 B128 SGD", "BLAS floor")], vs_floor(1.05)),
        ("W2 B128 RMSProp (make_callable)", "<= 1.10x BLAS floor",
         [("W2 B128 RMSProp", f"{mg} make_callable"), ("W2 B128 RMSProp", "BLAS floor")],
         vs_floor(1.10)),
        ("W3 forward", "<= 1.3x bandwidth floor",
         [(w3f, f"{mg} function"), (w3f, "bandwidth floor")], vs_floor(1.3)),
        ("W3 forward vs JAX (same run)", ">= 1.7x faster",
         [(w3f, f"{mg} function"), (w3f, "jax jit")],
         lambda t, jax: (f"JAX/minigraph {jax / t:.2f}x", jax / t >= 1.7)),
        ("W3 gradient", "<= 1.5x bandwidth floor",
         [(w3g, f"{mg} function"), (w3g, "bandwidth floor")], vs_floor(1.5)),
        ("W2 compile, cold", "<= 3 s", [("W2 compile cold", f"{mg} Session.run")],
         lambda t: (f"{t:.2f} s", t <= 3.0)),
        ("W2 compile, warm", "<= 0.2 s", [("W2 compile warm", f"{mg} Session.run")],
         lambda t: (f"{t:.2f} s", t <= 0.2)),
    ]


def format_targets(results: dict, backends: list[str]) -> str:
    """The target table with a "met?" column, from ``results[(case title, row name)]`` (timed
    rows); a target whose rows were not run says so, one measured on noisy rows says that."""
    table = [["target", "goal", "backend", "measured", "met?"]]
    for backend in backends:
        for name, goal, keys, judge in _targets(backend):
            rows = [results.get(key) for key in keys]
            if any(row is None for row in rows):
                table.append([name, goal, backend, "not run", "-"])
                continue
            text, met = judge(*(row.median for row in rows))
            noisy = " (noisy)" if any(row.noisy for row in rows) else ""
            table.append([name, goal, backend, text, ("yes" if met else "NO") + noisy])
    title = "Issue 4 targets"
    return "\n".join([title, "-" * len(title), format_table(table, right=False)])
