"""Plumbing shared by the demos: common flags, backend choice, progress bar, loss-curve PNG.

Needs the ``examples`` extra (``pip install -e '.[examples]'``: tqdm, matplotlib, scikit-learn).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import minigraph as mg
from minigraph.backends import default_backend

EXAMPLES = Path(__file__).resolve().parent


def make_parser(doc: str, demo: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every demo takes: --quick, --backend, --out, --seed."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="tiny run (a few seconds on the numpy backend), for tests")
    parser.add_argument("--backend", choices=["numpy", "numba", "cupy"], default=None,
                        help="execution backend (default: minigraph's default, "
                             f"currently {default_backend()})")
    parser.add_argument("--out", type=Path, default=EXAMPLES / "out" / demo,
                        help="directory for the loss-curve PNG and summary.json "
                             f"(default: examples/out/{demo})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def backend_of(args) -> str:
    """The backend name the demo runs on (the flag, else minigraph's default)."""
    return args.backend or default_backend()


class Tracker:
    """Progress bar showing the running loss (an ``ema`` moving average); records every loss
    and the steady step time."""

    def __init__(self, total: int, desc: str, disable: bool = False, ema: float = 0.95):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="step", file=sys.stderr, disable=disable,
                        dynamic_ncols=True)
        self.losses: list[float] = []
        self.running = None
        self.ema = ema
        self.start = time.perf_counter()
        self.first_done = None
        self._next_postfix = 0.0

    def __call__(self, loss) -> None:
        """Record one training step's loss (call right after the step)."""
        now = time.perf_counter()
        if self.first_done is None:
            self.first_done = now
        loss = float(loss)
        self.losses.append(loss)
        self.running = loss if self.running is None else \
            self.ema * self.running + (1 - self.ema) * loss
        self.bar.update(1)
        if now >= self._next_postfix:  # formatting the postfix every step would cost more
            self.bar.set_postfix(loss=f"{self.running:.4f}", refresh=False)
            self._next_postfix = now + 0.2

    def close(self) -> dict:
        """Close the bar; timing figures: total seconds, first step (compile) and steady step."""
        end = time.perf_counter()
        if self.running is not None:
            self.bar.set_postfix(loss=f"{self.running:.4f}", refresh=False)
        self.bar.close()
        steps = len(self.losses)
        first = (self.first_done or end) - self.start
        steady = (end - self.first_done) / (steps - 1) if steps > 1 else float("nan")
        return {"time_s": end - self.start, "first_step_s": first, "step_ms": 1e3 * steady}


def smooth(values, weight: float = 0.9) -> np.ndarray:
    """Exponential moving average (debiased), to read a noisy minibatch loss curve."""
    out, avg = [], 0.0
    for k, value in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * value
        out.append(avg / (1 - weight ** k))
    return np.asarray(out)


def save_curves(path: Path, curves: dict, title: str, xlabel: str = "step",
                ylabel: str = "loss", logy: bool = True, smoothing: float = 0.0) -> Path:
    """Plot ``{label: values}`` into a PNG (Agg backend); with ``smoothing`` the raw curve is
    drawn faintly under its moving average."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    for label, values in curves.items():
        values = np.asarray(values, dtype=float)
        if smoothing:
            line, = ax.plot(values, alpha=0.25, linewidth=0.8)
            ax.plot(smooth(values, smoothing), color=line.get_color(), label=label)
        else:
            ax.plot(values, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def finish(demo: str, out: Path, fields: dict) -> None:
    """Print the one-line summary ``demo: key=value ...`` and write it to ``out/summary.json``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(fields, indent=2, default=str) + "\n")
    text = " ".join(f"{key}={_fmt(value)}" for key, value in fields.items())
    print(f"{demo}: {text}", flush=True)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.4f}"
    return str(value)


def load_digits(seed: int, test_fraction: float = 0.25):
    """scikit-learn's bundled 8x8 digits (no download): float32 in [0, 1], int32 labels,
    split into stratified train and test sets."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    data = sk_load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int32)
    return train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)


def minibatches(n: int, batch_size: int, rng: np.random.Generator):
    """Index arrays of one shuffled epoch (the last batch may be smaller)."""
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


class Linear:
    """A fully connected layer ``x @ W + b`` with He-initialised ``W``; calling it again reuses
    the same variables (weights shared between a training and an evaluation graph)."""

    def __init__(self, n_in: int, n_out: int, name: str):
        with mg.name_scope(name):
            stddev = float(np.sqrt(2.0 / n_in))
            self.w = mg.Variable(mg.truncated_normal([n_in, n_out], stddev=stddev), name="W")
            self.b = mg.Variable(np.zeros(n_out, np.float32), name="b")

    def __call__(self, x):
        return mg.matmul(x, self.w) + self.b


def dense(x, n_out: int, name: str):
    """A new fully connected layer applied to ``x`` (TF1 ``layers.dense`` without activation)."""
    return Linear(x.get_shape().as_list()[-1], n_out, name)(x)
