"""Workloads: each module's ``cases(quick, backends)`` gives the cases the harness times."""
from . import fusion, mlp, quadratic

TIMED = {"W1": quadratic, "W2": mlp, "W3": fusion}
