"""Shared fixtures: every test starts with a fresh default graph."""
import pytest

import minigraph as mg


@pytest.fixture(autouse=True)
def fresh_graph():
    mg.reset_default_graph()
    yield
