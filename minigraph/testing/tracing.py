"""Shared by the checkers: build a user function's graph on placeholders, project it to a scalar."""
from __future__ import annotations


def trace(fn, arrays):
    """Placeholders ``arg0, arg1, ...`` shaped like ``arrays`` (in the default graph) and the
    outputs of ``fn`` on them, as a list."""
    import minigraph as mg

    placeholders = [mg.placeholder(a.dtype, a.shape, name=f"arg{i}") for i, a in enumerate(arrays)]
    outputs = fn(*placeholders)
    return placeholders, list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def random_projection(tensors, shapes, rng):
    """``sum_i sum(r_i * t_i)`` with standard normal ``r_i`` of ``shapes[i]``: one scalar that
    every element of every tensor contributes to."""
    import minigraph as mg

    return mg.add_n([mg.reduce_sum(t * rng.standard_normal(shape).astype(t.dtype))
                     for t, shape in zip(tensors, shapes)])
