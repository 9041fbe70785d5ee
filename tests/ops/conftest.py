"""Fixtures shared by the op tests."""
import pytest

from minigraph.backends import executable as executable_mod
from minigraph.backends import loop as loop_mod


@pytest.fixture
def compile_counts(monkeypatch) -> dict:
    """How many programs get bound (``Executable.bind``) and loop or branch bodies compiled
    (``loop.compile_plan``) from here on, on any backend."""
    counts = {"bind": 0, "compile": 0}
    bind, compile_body = executable_mod.Executable.bind, loop_mod.compile_plan

    def counting_bind(self, *args, **kwargs):
        counts["bind"] += 1
        return bind(self, *args, **kwargs)

    def counting_compile(*args, **kwargs):
        counts["compile"] += 1
        return compile_body(*args, **kwargs)
    monkeypatch.setattr(executable_mod.Executable, "bind", counting_bind)
    monkeypatch.setattr(loop_mod, "compile_plan", counting_compile)
    return counts
