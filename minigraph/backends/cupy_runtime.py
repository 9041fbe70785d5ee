"""Running bound programs on the GPU: device-resident variables, feeds in, fetches out, the
shared generated runner on device arrays, and CUDA-graph replay of steady-state steps.

- **Variables** live in a session's ``DeviceVariableStore`` as CuPy arrays for the whole
  session; optimizer updates write them in place. Theano shared variables (and a plain host
  store, as ``mg.function`` outside a session uses) stay on the host: a run copies what it
  reads to the device and writes what it changed back when it ends.
- **Feeds** are copied to the device once per run; CuPy arrays are used as they are.
- **Fetches** come back as NumPy arrays, or stay on the device with
  ``sess.run(..., fetch_to='device')`` (CuPy arrays the caller owns).
- **Memory**: a binding allocates its planned buffers and kernel scratch once, on its first
  run (CuPy's memory pool serves the per-run results).
- **CUDA graphs**: when every kernel of a binding is capturable (device work only) its step
  is captured once warm and replayed while shapes and variable storage are unchanged
  (``StepGraph``); ``MINIGRAPH_FLAGS=cuda_graphs=False`` turns this off.

The runner is the one every backend uses (``runner.generate_runner``); its globals are made
device-side once per binding (``_device_namespace``): buffers, constants, kernels prepared
for the bound shapes, result checks and the row updates of scatter ops.
"""
from __future__ import annotations

import logging
from functools import partial

import numpy as np

from ..compiler.memory import plan_memory
from ..compiler.shapes import concrete
from ..feeds import c_contiguous
from ..feeds import convert_feed as host_convert_feed
from ..graph import fits_static, format_shape
from ..ops.registry import get_op
from ..runtime import VariableStore
from .cupy_device import is_device_array, require_device, to_device, to_host, xp
from .cupy_hand import scatter_rows
from .executable import BoundProgram, DynamicWriter, Executable, _failure
from .kernel import WritingKernel
from .runner import generate_runner, shape_mismatch

log = logging.getLogger("minigraph.cupy")


# -- variables ------------------------------------------------------------------------------------


def _on_device(value):
    return value if is_device_array(value) else to_device(np.asarray(value))


class DeviceVariableStore(VariableStore):
    """Variable values as device arrays for a session's lifetime; shared variables (whose
    value lives on the host) are copied in per run and written back by ``finish_run``."""

    def __init__(self):
        super().__init__()
        self.shared: dict = {}

    def read(self, node):
        container = node.attrs.get("container")
        return super().read(node) if container is None else self.shared_value(container)

    def shared_value(self, container):
        """A shared variable's value on the device for this run (copied in on first use)."""
        value = self.shared.get(container)
        if value is None:
            value = self.shared[container] = to_device(np.asarray(container.value))
        return value

    def check(self, node, value):
        value = _on_device(value)
        shape = node.attrs["shape"]
        if not fits_static(value.shape, shape):
            raise ValueError(f"variable '{node.name}' (created at {node.site}) has shape "
                             f"{format_shape(shape)}, cannot hold a value of shape "
                             f"{format_shape(value.shape)}")
        dtype = node.attrs["dtype"]
        return value if value.dtype == dtype else value.astype(dtype)

    def commit_value(self, node, value) -> None:
        """Store a checked value (host values are copied in): into the current storage when
        shape and dtype allow (kernels keep updating that array), else a private copy. A
        shared variable's value goes to its host container at once (a run commits only after
        every step succeeded), so writes outside runs -- a checkpoint restore -- land too."""
        container = node.attrs.get("container")
        if container is not None:
            super().commit_value(node, to_host(value))
            self.shared.pop(container, None)  # a later read in this run copies it in again
            return
        value = _on_device(value)
        current = self.values.get(node)
        if current is not None and current.shape == value.shape and current.dtype == value.dtype:
            xp().copyto(current, value)
        else:
            self.values[node] = xp().array(value, order="C")

    def finish_run(self, written) -> None:
        """Write the shared variables among ``written`` back to the host; forget the rest."""
        for node in written:
            container = node.attrs.get("container")
            if container is not None and container in self.shared:
                container.value = to_host(self.shared[container])
        self.shared.clear()

    def rng(self, node):
        """A random op's stream: a seeded device generator where the op draws on the device
        (``cupy_random``; a ``HostStoreView``'s streams live with its host store)."""
        from .cupy_random import device_rng

        return device_rng(self, node)


class _Uploads(dict):
    """Device copies of a host store's values, made on first read."""

    def __init__(self, host: VariableStore):
        super().__init__()
        self.host = host

    def __missing__(self, node):
        value = self[node] = to_device(np.asarray(self.host.read(node)))
        return value


class HostStoreView(DeviceVariableStore):
    """A host ``VariableStore`` seen from the device for one run: values copied in on first
    read, written ones copied back by ``finish_run`` (random streams stay with the host store)."""

    def __init__(self, host: VariableStore):
        super().__init__()
        self.host, self.values = host, _Uploads(host)

    def finish_run(self, written) -> None:
        for node in written:
            if node.attrs.get("container") is None and dict.__contains__(self.values, node):
                self.host.commit_value(node, to_host(self.values[node]))
        super().finish_run(written)


# -- feeds and fetches -----------------------------------------------------------------------------


def convert_feed(tensor, value):
    """A fed value for ``tensor``: host values as every backend converts them; a device array
    is checked the same way (dtype kind, shape) and used without a copy."""
    if not is_device_array(value):
        return host_convert_feed(tensor, value)
    host_convert_feed(tensor, np.broadcast_to(np.empty((), value.dtype), value.shape))
    value = value if value.dtype == tensor.dtype else value.astype(tensor.dtype)
    return value if value.flags.c_contiguous else xp().array(value, order="C")


def _fetched(values, fetch_to: str, owned: bool) -> list:
    """Results as NumPy arrays (``'host'``) or device arrays the caller owns (``'device'``)."""
    if fetch_to == "host":
        return [to_host(v) for v in values]
    if fetch_to != "device":
        raise ValueError(f"fetch_to must be 'host' or 'device', got {fetch_to!r}")
    return [v if owned or not is_device_array(v) else v.copy() for v in values]


def _copy_into(target, value) -> None:
    """Copy a host or device array into the device array ``target``."""
    if is_device_array(value):
        xp().copyto(target, value)
    else:
        target.set(c_contiguous(np.asarray(value, dtype=target.dtype)))  # 0-d stays 0-d


# -- executable and binding ------------------------------------------------------------------------


class _Pending:
    """A runner global to be made on the device at the first run (buffer ``index``, or the
    kernel call of ``node``)."""

    def __init__(self, index=None, node=None, kernel=None, types=None):
        self.index, self.node, self.kernel, self.types = index, node, kernel, types

    def kernel_call(self):
        return _device_call(self.node, self.kernel, self.types)


class DeviceBoundProgram(BoundProgram):
    """One binding on the GPU: plan and runner source at bind time (no device needed); device
    buffers, prepared kernels and the runner's device globals at the first run."""

    def __init__(self, program, types: dict, kernel_for):
        from ..config import config

        self.program, self.types = program, types
        self.kernels = {node: kernel_for(node) for node in program.nodes
                        if node.op not in ("variable", "constant")}
        self.plan = plan = plan_memory(program, types, self.facts)
        self.steps = plan.order + plan.commit_kernels + plan.row_writes
        pending = [_Pending(index=k) for k in range(len(plan.buffers))]
        calls = {node: _Pending(node=node, kernel=self.kernels[node], types=types)
                 for node in self.steps if node in self.kernels}
        self.source, self._host_namespace = generate_runner(program, plan, types, calls, pending)
        self.written = list(program.writes)
        self.variables = {n.origin for n in program.nodes if n.op == "variable"} | set(
            program.writes)
        self.capturable = config.cuda_graphs and self._capturable()
        self.run_step = self.graph = None
        self._current: list = [None]  # the run's store, for shared-variable slots

    def _capturable(self) -> bool:
        """Whether every step is device work a CUDA graph can record."""
        plan = self.plan
        return (not plan.row_writes
                and not any(w.kind == "dynamic" for w in plan.placement.values())
                and not any("container" in var.attrs for var in self.variables)
                and all(getattr(k, "capturable", False) for k in self.kernels.values()))

    def kernel_sources(self, fused: bool = True) -> dict[str, str]:
        """Name -> CUDA source of every kernel this binding runs, the kernels of its loop and
        branch bodies included (``fused=False``: those of this binding's own fused groups are
        left out, as ``explain`` names them itself)."""
        sources = {name: source for node, kernel in self.kernels.items()
                   if fused or node.op != "fused"
                   for name, source in getattr(kernel, "sources", ())}
        for node in self.kernels:
            sources.update(body_sources(node))
        return sources

    def run(self, feeds, store, fetch_to: str = "host", nested: bool = False) -> list:
        if self.run_step is None:
            self.run_step = self._materialize()
            self.graph = StepGraph(self.run_step, self.variables) if self.capturable else None
        view = store if isinstance(store, DeviceVariableStore) else HostStoreView(store)
        self._current[0] = view
        try:
            if self.graph is not None and view is store:
                results, shared = self.graph.run(feeds, view)
            else:
                results, shared = self.run_step([to_device(f) for f in feeds], view), False
        except BaseException:
            if not nested:
                view.shared.clear()  # a failed run writes nothing back
            raise
        if not nested:
            view.finish_run(self.written)
        return _fetched(results, fetch_to, owned=not shared)

    def _materialize(self):
        """The runner on device globals (the same source as ``self.source``)."""
        namespace = _device_namespace(self._host_namespace, self.plan, self._current)
        namespace["FAIL"] = partial(_device_failure, self.steps)
        exec(compile(self.source, "<minigraph cupy runner>", "exec"), namespace)
        return namespace["run"]


class DeviceExecutable(Executable):
    """A program lowered for the GPU; ``run`` needs CuPy and a device (else one clear
    ``DeviceUnavailableError``), ``bind`` does not (``explain`` binds without a GPU)."""

    binding = DeviceBoundProgram

    def run(self, feeds, store, fetch_to: str = "host", nested: bool = False) -> list:
        require_device()
        key = tuple([feed.shape for feed in feeds]) if feeds else ()
        bound = self._bound.get(key)
        if bound is None:
            bound = self._bound[key] = self.bind(key)
        return bound.run(feeds, store, fetch_to, nested)

    def run_device(self, feeds, store) -> list:
        """``run`` leaving the fetched values on the device."""
        return self.run(feeds, store, fetch_to="device")

    def run_body(self, feeds, store) -> list:
        """A loop step or branch: results stay on the device, and the outer run (which owns
        ``store`` for its duration) finishes the store."""
        return self.run(feeds, store, fetch_to="device", nested=True)


def body_sources(node) -> dict[str, str]:
    """Name -> CUDA source of every kernel of the bodies ``node`` runs (a loop's or a
    branch's, nested ones too), as the bodies are lowered for the GPU: generating them needs
    no shapes, so ``explain`` lists them before any step is bound."""
    from .loop import compiled_body, loop_bodies

    sources: dict = {}
    for body in loop_bodies(node):
        executable = compiled_body(body, "cupy")
        for inner in executable.program.nodes:
            if inner.op not in ("variable", "constant"):
                sources.update(getattr(executable.kernel_for(inner), "sources", ()))
                sources.update(body_sources(inner))
    return sources


def _device_call(node, kernel, types):
    """What the runner calls for ``node`` (as ``executable._callable``, prepared on the
    device): a writing kernel's prepared ``fn``, or the allocating kernel with attrs bound."""
    attrs = dict(node.attrs)
    if not isinstance(kernel, WritingKernel):
        return partial(kernel, **attrs) if attrs else kernel
    if not all(concrete(types[v]) for v in node.outputs):
        return DeviceDynamicWriter(node, kernel)
    if kernel.prepare is not None and all(concrete(types[v]) for v in node.inputs):
        return kernel.prepare(tuple(types[v].shape for v in node.inputs))
    return kernel.fn


class DeviceDynamicWriter(DynamicWriter):
    """``executable.DynamicWriter`` allocating its outputs on the device."""

    @staticmethod
    def convert(arrays) -> list:
        return [to_device(a) for a in arrays]

    @staticmethod
    def empty(shape, dtype):
        return xp().empty(shape, dtype)


# -- the runner's globals on the device ------------------------------------------------------------


class _SharedSlot:
    """Stands for a shared variable's container in the runner: ``.value`` is its device
    copy in the current run's store."""

    def __init__(self, container, current: list):
        self.container, self.current = container, current

    @property
    def value(self):
        return self.current[0].shared_value(self.container)


def _device_namespace(host: dict, plan, current: list) -> dict:
    """The runner's globals with device buffers, constants, prepared kernels, device-side
    result checks, shared-variable slots and row updates."""
    from ..variables import _Container

    cupy = xp()
    buffers = [cupy.empty(shape, dtype) for shape, dtype in plan.buffers]
    rows = _row_updates()
    namespace = {}
    for key, value in host.items():
        if isinstance(value, _Pending):
            value = buffers[value.index] if value.index is not None else value.kernel_call()
        elif isinstance(value, np.ndarray):
            value = to_device(value)
        elif getattr(value, "conform_target", None) is not None:
            value = _device_conformer(value)
        elif isinstance(value, _Container):
            value = _SharedSlot(value, current)
        elif callable(value) and id(value) in rows:
            value = rows[id(value)]
        namespace[key] = value
    namespace.update(empty=cupy.empty, c_contiguous=to_device,
                     take_unshared=lambda slot, shape, dtype: cupy.empty(shape, dtype))
    return namespace


def _device_conformer(host_conform):
    """``runner.conformer`` for device results: dtype and shape checked on the device array;
    host results (host kernels, shape queries) conformed on the host, then copied in."""
    node, t = host_conform.conform_target
    dtype, shape = t.dtype, t.shape

    def conform(value):
        if not is_device_array(value):
            return to_device(host_conform(value))
        if value.dtype != dtype:
            value = value.astype(dtype)
        if value.shape != shape and not fits_static(value.shape, shape):
            raise shape_mismatch(node, value.shape, shape)
        return value
    return conform


def _row_updates() -> dict:
    """id of each scatter op's host ``apply_rows`` -> its device version."""
    def add(negate):
        def apply(storage, indices, updates):
            scatter_rows(storage, indices, updates, negate)
        return apply

    def assign(storage, indices, updates):
        storage[indices] = updates  # repeated ids: one of the writes wins (NumPy: the last)
    table = {"scatter_add": add(False), "scatter_sub": add(True), "scatter_update": assign}
    return {id(get_op(name).extra["apply_rows"]): fn for name, fn in table.items()}


def _device_failure(steps, input_names, position, err, store, frame):
    """``executable._failure`` describing device inputs by shape and dtype."""
    described = {name: np.broadcast_to(np.empty((), value.dtype), value.shape)
                 if is_device_array(value) else value for name, value in frame.items()}
    return _failure(steps, input_names, position, err, store, described)


# -- CUDA graphs -----------------------------------------------------------------------------------


class StepGraph:
    """A binding's step recorded as a CUDA graph and replayed.

    The first ``WARMUP`` runs are eager (they compile kernels, and let cuBLAS and the memory
    pool settle). The next run is captured -- on a side stream, allocating from a private
    memory pool kept with the graph, so nothing the graph writes is ever handed to anyone
    else -- and then launched. Later runs copy the feeds into the captured feed buffers and
    replay, as long as the variable arrays are the ones captured with (a new session's store
    or a reallocated variable is captured again; a loop body without variables is captured
    once and replayed for every step of every outer run). Results are the graph's own buffers,
    so the caller copies them out. If capture fails (a step synchronised with the host), the
    binding runs eagerly from then on.
    """

    WARMUP = 2

    def __init__(self, run_step, variables):
        self.run_step, self.variables = run_step, list(variables)
        self.runs, self.disabled, self.key = 0, False, None

    def run(self, feeds, store) -> tuple[list, bool]:
        """(results, whether they are the graph's buffers)."""
        self.runs += 1
        key = None if self.disabled or self.runs <= self.WARMUP else self._key(store)
        if key is None or (not self._same(key) and not self._capture(feeds, store, key)):
            return self.run_step([to_device(f) for f in feeds], store), False
        for slot, feed in zip(self.slots, feeds):
            _copy_into(slot, feed)
        self.graph.launch()
        return self.results, True

    def _key(self, store):
        """The arrays the graph addresses: each variable's storage (None while a variable is
        uninitialised: the eager run reports it)."""
        arrays = tuple(store.values.get(node) for node in self.variables)
        return None if any(a is None for a in arrays) else arrays

    def _same(self, key) -> bool:
        return self.key is not None and all(a is b for a, b in zip(key, self.key))

    def _capture(self, feeds, store, key) -> bool:
        cupy = xp()
        pool, stream = cupy.cuda.MemoryPool(), cupy.cuda.Stream(non_blocking=True)
        try:
            with cupy.cuda.using_allocator(pool.malloc):
                slots = [cupy.empty(f.shape, f.dtype) for f in feeds]
                with stream:
                    stream.begin_capture()
                    try:
                        results = self.run_step(slots, store)
                    finally:
                        graph = stream.end_capture()
        except Exception as err:  # e.g. a host synchronisation inside the step
            log.info("CUDA graph capture failed, running eagerly: %s", err)
            self.disabled = True
            return False
        self.graph, self.slots, self.results, self.pool, self.key = (
            graph, slots, results, pool, key)
        return True
