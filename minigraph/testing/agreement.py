"""Differential testing: the same fetches on every backend, against the NumPy reference."""
from __future__ import annotations

import numpy as np

from .tracing import random_projection, trace

_TOLERANCES = {np.dtype("float64"): (1e-9, 1e-11), np.dtype("float32"): (1e-4, 1e-5),
               np.dtype("float16"): (1e-2, 1e-3)}


def assert_backends_agree(graph_or_fn, inputs, backends=None, grads=True, rtol=None, atol=None,
                          seed=0):
    """Run ``graph_or_fn`` on each backend and compare values (and gradients) with the first.

    ``graph_or_fn`` is either a function building fetches from one tensor per array in
    ``inputs`` (as ``check_grads`` takes), or fetches of an existing graph with ``inputs`` a
    feed dict. ``backends`` defaults to every available one, the NumPy reference first.
    """
    from ..backends import available_backends

    backends = list(backends or ["numpy"] + [b for b in available_backends() if b != "numpy"])
    results = {b: _evaluate(graph_or_fn, inputs, b, grads, seed) for b in backends}
    reference = results[backends[0]]
    for backend in backends[1:]:
        assert [label for label, _ in results[backend]] == [label for label, _ in reference]
        for (label, want), (_, got) in zip(reference, results[backend]):
            if isinstance(want, bytes):  # a serialized protobuf (summaries): exactly equal
                assert got == want, f"backend {backend!r} disagrees with {backends[0]!r} on {label}"
                continue
            r, a = _tolerance(want.dtype, rtol, atol)
            np.testing.assert_allclose(
                got, want, rtol=r, atol=a,
                err_msg=f"backend {backend!r} disagrees with {backends[0]!r} on {label}")


def _tolerance(dtype, rtol, atol):
    default_r, default_a = _TOLERANCES.get(np.dtype(dtype), (0, 0))
    return (default_r if rtol is None else rtol), (default_a if atol is None else atol)


def _evaluate(graph_or_fn, inputs, backend, grads, seed):
    """``[(label, array)]`` for every output and, when asked, every input gradient."""
    import minigraph as mg

    if not callable(graph_or_fn):
        fetches = graph_or_fn if isinstance(graph_or_fn, (list, tuple)) else [graph_or_fn]
        graph = fetches[0].graph
        session = mg.Session(graph=graph, backend=backend)
        values = session.run(list(fetches), inputs)
        return [(f"output {f.name}", v) for f, v in zip(fetches, values)]
    arrays = [np.asarray(a) for a in inputs]
    graph = mg.Graph()
    with graph.as_default():
        tensors, outputs = trace(graph_or_fn, arrays)
        session = mg.Session(graph=graph, backend=backend)
        feed = dict(zip(tensors, arrays))
        values = session.run(outputs, feed)
        results = [(f"output {i}", v) for i, v in enumerate(values)]
        wrt = [t for t in tensors if t.dtype.kind == "f"]
        floats = [(o, v) for o, v in zip(outputs, values) if o.dtype.kind == "f"]
        if not (grads and wrt and floats):
            return results
        projection = random_projection([o for o, _ in floats], [v.shape for _, v in floats],
                                       np.random.default_rng(seed))
        pairs = [(t, mg.convert_to_tensor(g)) for t, g in zip(wrt, mg.gradients(projection, wrt))
                 if g is not None]
        grad_values = session.run([g for _, g in pairs], feed)
    return results + [(f"gradient wrt {t.op.name}", v) for (t, _), v in zip(pairs, grad_values)]
