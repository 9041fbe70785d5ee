"""Nested structures of tensors (lists, tuples, namedtuples, dicts), as TF's ``nest`` sees them:
flattened in order (dict values by sorted key) and packed back."""
from __future__ import annotations


def flatten(value) -> list:
    """The leaves of ``value``, in order."""
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in flatten(value[key])]
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in flatten(item)]
    return [value]


def pack(structure, flat):
    """``structure`` with its leaves replaced, in order, by ``flat``."""
    leaves = iter(flat)

    def build(value):
        if isinstance(value, dict):
            built = {key: build(value[key]) for key in sorted(value)}
            return type(value)((key, built[key]) for key in value)
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*[build(item) for item in value])
        if isinstance(value, (list, tuple)):
            return type(value)(build(item) for item in value)
        return next(leaves)
    return build(structure)


def mismatch(a, b) -> str | None:
    """Why two structures differ (``None``: same nesting, container types and lengths)."""
    if isinstance(a, (list, tuple, dict)) or isinstance(b, (list, tuple, dict)):
        if type(a) is not type(b):
            return f"{type(a).__name__} vs {type(b).__name__}"
        if isinstance(a, dict):
            if set(a) != set(b):
                return f"dict keys {sorted(a)} vs {sorted(b)}"
            return next((m for k in sorted(a) if (m := mismatch(a[k], b[k]))), None)
        if len(a) != len(b):
            return f"{type(a).__name__} of {len(a)} vs {len(b)} elements"
        return next((m for x, y in zip(a, b) if (m := mismatch(x, y))), None)
    return None


def describe(structure) -> str:
    """The structure with every leaf shown as ``.`` (TF's error style)."""
    return repr(pack(structure, [_Leaf() for _ in flatten(structure)]))


def unpack_singleton(value, strict: bool):
    """TF1's non-strict mode: a list or tuple of one element stands for that element."""
    if not strict and isinstance(value, (list, tuple)) and len(value) == 1:
        return value[0]
    return value


class _Leaf:
    def __repr__(self):
        return "."
