"""Shared fixtures and hypothesis profiles.

Profiles: ``ci`` (default; derandomized, so every run draws the same examples and a failure
reproduces as is) and ``fuzz`` (``HYPOTHESIS_PROFILE=fuzz``: thousands of random examples per
property; failures print a ``@reproduce_failure`` blob and the seed is in the report header).
"""
import os

import pytest
from hypothesis import HealthCheck, settings

import minigraph as mg

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          print_blob=True, suppress_health_check=_SLOW_OK)
settings.register_profile("fuzz", max_examples=2000, deadline=None, print_blob=True,
                          suppress_health_check=_SLOW_OK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser):
    parser.addoption("--backend", default="numpy",
                     choices=("numpy", "numba", "cupy", "cupy-standin"),
                     help="backend of every test that does not name one (default: the NumPy "
                          "reference; tests/backends always compare numba and cupy against "
                          "it; cupy needs a GPU; cupy-standin runs the cupy backend on a "
                          "strict NumPy stand-in for CuPy, without a GPU)")


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs CuPy and an NVIDIA GPU (skipped without)")


def pytest_report_header(config):
    return (f"hypothesis profile: {settings._current_profile} (HYPOTHESIS_PROFILE to change); "
            f"default backend: {config.getoption('backend')} (--backend to change)")


@pytest.fixture(autouse=True, scope="session")
def default_backend(request):
    """Run the suite on ``--backend`` unless a test names its own."""
    previous = getattr(mg.config, "backend", None)
    backend = request.config.getoption("backend")
    mg.config.backend = "cupy" if backend == "cupy-standin" else backend
    if backend == "cupy-standin":
        from tests.backends.standin import fake_device

        with fake_device(fused="reference"):
            yield
    else:
        yield
    if previous is None:
        del mg.config.backend
    else:
        mg.config.backend = previous


@pytest.fixture(autouse=True)
def fresh_graph():
    mg.reset_default_graph()
    yield
