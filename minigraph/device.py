"""TF1 device placement hints: ``with mg.device('/gpu:0'):`` records a device on the nodes built.

A placement is a hint, as in TF1 with soft placement: a Session whose graph asks for a GPU runs
on the ``cupy`` backend when that backend is available and keeps the CPU otherwise (no error).
Specs parse as TF's: ``/cpu:0``, ``/GPU:1``, ``/device:GPU:0``, ``/job:worker/task:0/gpu:0``;
they are stored canonically (``/device:GPU:0``), and nested specs override field by field.
"""
from __future__ import annotations

_FIELDS = ("job", "replica", "task", "device")
GPU_BACKEND = "cupy"


def parse_device(spec: str) -> dict:
    """``{field: value}`` of a device string (``device`` is ``'TYPE:index'``, upper-case)."""
    if not isinstance(spec, str):
        raise TypeError(f"a device spec must be a string, got {type(spec).__name__} {spec!r}")
    fields: dict = {}
    for part in filter(None, spec.split("/")):
        key, _, value = part.partition(":")
        key_lower = key.lower()
        if key_lower in ("job", "replica", "task") and value:
            fields[key_lower] = value
        elif key_lower in ("cpu", "gpu") and value:
            fields["device"] = f"{key.upper()}:{value}"
        elif key_lower == "device" and value:
            kind, _, index = value.partition(":")
            fields["device"] = f"{kind.upper()}:{index or '0'}"
        else:
            raise ValueError(f"Unknown attribute {part!r} is encountered while parsing the "
                             f"device spec: {spec!r}")
    return fields


def format_device(fields: dict) -> str:
    """The canonical TF string of parsed fields, e.g. ``/job:worker/device:GPU:1``."""
    return "".join(f"/{key}:{fields[key]}" for key in _FIELDS if key in fields)


def merge_device(outer: str, spec) -> str:
    """The device of nodes built inside ``spec`` within ``outer``: ``None`` clears it, and the
    fields ``spec`` names replace the outer ones (so ``''`` keeps ``outer``)."""
    if spec is None:
        return ""
    return format_device({**parse_device(outer), **parse_device(spec)})


def device(spec):
    """``with mg.device('/gpu:0'):`` -- nodes built inside record the device (a hint)."""
    from .graph import get_default_graph

    return get_default_graph().device(spec)


def requests_gpu(graph) -> bool:
    """Whether ``graph``'s current device or any of its nodes asks for a GPU."""
    return any("/device:GPU:" in d for d in (graph.current_device,
                                              *(node.device for node in graph.nodes)))


def preferred_backend(graph) -> str | None:
    """``'cupy'`` for a graph asking for a GPU when that backend is available, else ``None``
    (the session keeps its default CPU backend: placement is soft, as in TF1)."""
    if not requests_gpu(graph):
        return None
    from .backends import available_backends

    return GPU_BACKEND if GPU_BACKEND in available_backends() else None


__all__ = ["device"]
