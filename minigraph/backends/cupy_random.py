"""Seeded random streams on the GPU: the generator a random op draws from on the device.

The random ops' NumPy references draw through the generator the runner passes them
(``rng=store.rng(node)``): ``standard_normal``, ``random`` and ``integers``, which a
``cupy.random.Generator`` has with NumPy's arguments, so the same references draw on the
device. Streams follow ``VariableStore.rng``'s rules: one generator per random op and store,
seeded from the op's ``(graph seed, op seed)`` (a seeded op restarts in every new session) or
from fresh entropy. CuPy's streams (XORWOW) are not NumPy's: a seeded op repeats its numbers
from session to session on the GPU, but they are not the numbers the CPU backends draw.

A ``HostStoreView`` (a host store seen from the device for one run, as ``mg.function``
outside a session uses) keeps its streams with its host store, so they continue across runs.
"""
from __future__ import annotations

import weakref

from ..runtime import VariableStore
from .cupy_device import xp

DEVICE_RANDOM_OPS = frozenset({"random_normal", "random_uniform", "truncated_normal",
                               "multinomial"})
"""Random ops drawing on the device; other random ops (candidate samplers) draw on the host."""

_STREAMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Store -> {random op node -> its device generator}."""


def device_generator(seed):
    """A ``cupy.random.Generator`` seeded like ``np.random.default_rng`` (``None``: entropy)."""
    return xp().random.default_rng(None if seed is None else list(seed))


def device_rng(store, node):
    """The stream ``node`` draws from in ``store``: a device generator for the ops of
    ``DEVICE_RANDOM_OPS``, else the store's host generator."""
    owner = getattr(store, "host", store)  # a HostStoreView's streams live with its host store
    if node.op not in DEVICE_RANDOM_OPS:
        return VariableStore.rng(owner, node)
    streams = _STREAMS.setdefault(owner, {})
    generator = streams.get(node)
    if generator is None:
        generator = streams[node] = device_generator(node.attrs.get("seed"))
    return generator
