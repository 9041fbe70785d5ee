"""Run an example script in a subprocess on the suite's backend and read its summary."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import minigraph as mg
from tests.backends import standin

ROOT = Path(__file__).resolve().parents[2]


def require_examples_extra(*modules: str) -> None:
    """Skip unless the ``examples`` extra (tqdm, matplotlib, scikit-learn) is installed."""
    for module in ("tqdm", "matplotlib", *modules):
        pytest.importorskip(module, reason="needs the examples extra: pip install -e '.[examples]'")


def run_demo(name: str, out: Path, *args: str, timeout: float = 300) -> tuple[str, dict]:
    """Run ``examples/<name>.py`` with ``--out out`` on the suite's backend (``--backend``;
    ``cupy-standin``: through ``tests.backends.standin``); return its stdout and the summary it
    wrote to ``out/summary.json``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    backend = getattr(mg.config, "backend", "numpy")
    runner = ["-m", "tests.backends.standin"] if backend == "cupy" and standin.active() else []
    command = [sys.executable, *runner, str(ROOT / "examples" / f"{name}.py"), "--out", str(out),
               "--backend", backend, *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    summary_file = out / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    return done.stdout, summary


def summary_line(stdout: str, name: str) -> str:
    """The demo's final ``name: key=value ...`` line (it must be the last line)."""
    last = stdout.strip().splitlines()[-1]
    assert last.startswith(f"{name}: "), f"no summary line, output ends with {last!r}"
    return last


def help_text(name: str) -> str:
    """The demo's ``--help`` output."""
    done = subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py"), "--help"],
                          capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return done.stdout
