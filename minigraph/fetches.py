"""Flatten nested fetch structures (list/tuple/namedtuple/dict) and rebuild them with results."""
from __future__ import annotations


def flatten(structure, leaves: list):
    """Append the leaves of ``structure`` to ``leaves``; return a rebuild function. A fetched
    ``IndexedSlices`` comes back as an ``IndexedSlicesValue`` (TF1's sparse fetch)."""
    if hasattr(structure, "_fetch_parts"):
        structure = structure._fetch_parts()
    if isinstance(structure, dict):
        keys = list(structure)
        parts = [flatten(structure[k], leaves) for k in keys]
        kind = type(structure)
        return lambda values: kind((k, p(values)) for k, p in zip(keys, parts))
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):
        parts = [flatten(item, leaves) for item in structure]
        kind = type(structure)
        return lambda values: kind(*(p(values) for p in parts))
    if isinstance(structure, (list, tuple)):
        parts = [flatten(item, leaves) for item in structure]
        kind = type(structure)
        return lambda values: kind(p(values) for p in parts)
    index = len(leaves)
    leaves.append(structure)
    return lambda values: values[index]
