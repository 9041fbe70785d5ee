"""Timing harness: agreement check against the reference, warm-up, interleaved repetitions,
order statistics and plain-text tables."""
from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Step = Callable[[], object]
Result = Callable[[], list] | None


@dataclass
class Impl:
    """One implementation of a case: ``setup()`` builds it (compiling, initialising its state)
    and returns ``(step, result)``; ``step()`` is the timed unit, ``result()`` the arrays that
    must match the reference after ``Case.check_steps`` steps (``None``: a floor, not checked)."""
    name: str
    setup: Callable[[], tuple[Step, Result]]


@dataclass
class Case:
    """A workload at one size/setting, with its implementations and how to compare them."""
    title: str                # e.g. "W2 B128 SGD"
    description: str
    unit: str                 # "us" or "ms": how times are printed
    impls: list[Impl]
    reference: str            # name of the NumPy baseline every row must agree with
    floor: str | None = None  # name of the floor impl ratios are taken against
    check_steps: int = 2
    rtol: float = 1e-4
    atol: float = 1e-6
    note: Callable[[float], str] | None = None  # a line about the floor, from its median


@dataclass
class Row:
    name: str
    status: str = "ok"        # "ok", "floor", or why the row was not timed
    samples: list[float] = field(default_factory=list)  # seconds per step

    @property
    def median(self) -> float:
        return float(np.median(self.samples)) if self.samples else float("nan")

    @property
    def noisy(self) -> bool:
        """Whether the spread makes ratios with this row unreliable (p90 > 1.5 x p10)."""
        if len(self.samples) < 3:
            return False
        p10, p90 = np.percentile(self.samples, [10, 90])
        return p90 > 1.5 * p10


@dataclass
class Timing:
    reps: int            # interleaved repetitions (samples per row)
    sample_s: float      # target duration of one sample (steps per sample are calibrated)
    warmup_s: float


def disagreement(got, expected, rtol: float, atol: float) -> str | None:
    """Why ``got`` (a list of arrays) differs from ``expected``; ``None`` when they agree.

    Each array is compared as a whole: ``||got - expected|| <= rtol * ||expected|| + atol *
    sqrt(size)``. Norms, not elements, because float32 rounding legitimately flips single
    elements at kinks (a ReLU mask), while a real bug moves the whole array."""
    if len(got) != len(expected):
        return f"{len(got)} results, expected {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        g, e = np.asarray(g, dtype=np.float64), np.asarray(e, dtype=np.float64)
        if g.shape != e.shape:
            return f"result {i}: shape {g.shape}, expected {e.shape}"
        if not np.all(np.isfinite(g)):
            return f"result {i}: non-finite values"
        error, scale = np.linalg.norm(g - e), np.linalg.norm(e)
        if error > rtol * scale + atol * np.sqrt(e.size):
            worst = np.unravel_index(np.argmax(np.abs(g - e)), e.shape)
            return (f"result {i}: relative error {error / scale:.3g} (rtol {rtol}); worst at "
                    f"{tuple(map(int, worst))}: got {g[worst]:.7g}, expected {e[worst]:.7g}")
    return None


def warn(message: str) -> None:
    print(f"!!! {message}", file=sys.stderr, flush=True)


def run_case(case: Case, timing: Timing) -> list[Row]:
    """Set up and check every impl, then time the agreeing ones round-robin."""
    rows, steps = [], {}
    expected = None
    for impl in sorted(case.impls, key=lambda i: i.name != case.reference):
        row = Row(impl.name)
        rows.append(row)
        try:
            step, result = impl.setup()
            for _ in range(case.check_steps):
                step()
            got = result() if result else None
        except Exception as exc:  # a broken row must not hide the others
            row.status = f"ERROR: {type(exc).__name__}: {exc}".splitlines()[0][:120]
            warn(f"{case.title}: {impl.name} failed\n{traceback.format_exc()}")
            continue
        if impl.name == case.reference:
            expected = got
        elif got is None:
            row.status = "floor"
        elif expected is None:
            row.status = f"UNCHECKED: reference {case.reference} failed (not timed)"
            continue
        elif (why := disagreement(got, expected, case.rtol, case.atol)) is not None:
            row.status = "MISMATCH (not timed)"
            warn(f"{case.title}: {impl.name} DISAGREES with {case.reference}: {why}")
            continue
        steps[impl.name] = step
    _time_interleaved(steps, rows, timing)
    return rows


def _time_interleaved(steps: dict[str, Step], rows: list[Row], timing: Timing) -> None:
    """Warm each step up, calibrate steps per sample, then sample all in rotating order."""
    inner = {name: _calibrate(step, timing) for name, step in steps.items()}
    names = list(steps)
    by_name = {row.name: row for row in rows}
    for rep in range(timing.reps):
        shift = rep % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            step, n = steps[name], inner[name]
            start = time.perf_counter()
            for _ in range(n):
                step()
            by_name[name].samples.append((time.perf_counter() - start) / n)


def _calibrate(step: Step, timing: Timing) -> int:
    calls, start = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - start < timing.warmup_s:
        step()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    return max(1, round(timing.sample_s / per_call))


_SCALE = {"us": 1e6, "ms": 1e3, "s": 1.0}


def format_case(case: Case, rows: list[Row]) -> str:
    """Median, p10, p90 and ratios to the reference and to the floor, one line per row."""
    scale = _SCALE[case.unit]
    by_name = {row.name: row for row in rows}
    ref = by_name.get(case.reference)
    floor = by_name.get(case.floor) if case.floor else None
    header = ["implementation", f"median {case.unit}", "p10", "p90", f"x {case.reference}"]
    if floor:
        header.append(f"x {case.floor}")
    table = [header]
    for row in rows:
        if not row.samples:
            table.append([row.name, row.status])
            continue
        p10, p90 = np.percentile(row.samples, [10, 90])
        cells = [row.name] + [f"{v * scale:.4g}" for v in (row.median, p10, p90)]
        cells.append(_ratio(row, ref))
        if floor:
            cells.append(_ratio(row, floor))
        table.append(cells)
    title = f"{case.title}: {case.description}"
    lines = [title, "-" * len(title), format_table(table)]
    if case.note and floor and floor.samples:
        lines.append(case.note(floor.median))
    if noisy := [row.name for row in rows if row.noisy]:
        lines.append(f"noisy (p90 > 1.5 x p10): {', '.join(noisy)}")
    return "\n".join(lines)


def _ratio(row: Row, base: Row | None) -> str:
    return f"{row.median / base.median:.2f}" if base and base.samples else "-"


def format_table(table: list[list[str]], right: bool = True) -> str:
    """First column left-aligned, the others right-aligned (``right``, for numbers) or left;
    short rows (a status) span the rest."""
    ncol = max(len(r) for r in table)
    widths = [max(len(r[i]) for r in table if len(r) == ncol) for i in range(ncol)]
    lines = []
    for r in table:
        if len(r) < ncol:
            lines.append(f"{r[0]:<{widths[0]}}  " + "  ".join(r[1:]))
        else:
            lines.append("  ".join([f"{r[0]:<{widths[0]}}"] +
                                   [f"{c:>{w}}" if right else f"{c:<{w}}"
                                    for c, w in zip(r[1:], widths[1:])]).rstrip())
    return "\n".join(lines)
