"""Workloads: ``TIMED[key](quick, backends)`` gives the cases the harness times."""
from . import fusion, mlp, quadratic, sequence

TIMED = {"W1": quadratic.cases, "W2": mlp.cases, "W3": fusion.cases, "W4": sequence.rnn_cases,
         "W5": sequence.w2v_cases}
