"""TF1 ``Session``: owns variable values, caches compiled plans, runs fetches atomically."""
from __future__ import annotations

import contextlib


from . import fetches as fetch_tree
import numpy as np

from .compiler import compile_plan
from .compiler.explain import explain
from .errors import ClosedSessionError
from .feeds import convert_feed
from .graph import Graph, Node, get_default_graph
from .runtime import VariableStore
from .tensor import Tensor

_session_stack: list = []


def get_default_session():
    return _session_stack[-1] if _session_stack else None


def resolve_session(session, node: Node):
    """``session`` or the default one, checked to hold ``node``'s graph."""
    session = session or get_default_session()
    if session is None:
        raise ValueError(f"cannot evaluate '{node.name}': no default session is registered; "
                         "use `with mg.Session() as sess:` or pass session=")
    if session.graph is not node.graph:
        raise ValueError(f"'{node.name}' belongs to a different graph than the session's")
    return session


class Session:
    """Runs fetches of one graph; variable values live here, per session."""

    def __init__(self, target="", graph: Graph | None = None, config=None, backend=None):
        from .backends import default_backend

        self.graph = graph or get_default_graph()
        from .device import preferred_backend

        self.backend = backend or preferred_backend(self.graph) or default_backend()
        self._lowering = _lowering(self.backend)
        self.store = self._new_store()
        self._plans: dict = {}
        self._fetch_cache: dict = {}
        self._closed = False
        self._contexts: list = []

    # -- lifetime -----------------------------------------------------------------------------
    def __enter__(self):
        stack = contextlib.ExitStack()
        stack.enter_context(self.graph.as_default())
        stack.enter_context(self.as_default())
        self._contexts.append(stack)
        return self

    def __exit__(self, *exc):
        self._contexts.pop().close()
        self.close()

    @contextlib.contextmanager
    def as_default(self):
        _session_stack.append(self)
        try:
            yield self
        finally:
            _session_stack.remove(self)

    def close(self) -> None:
        self._closed = True
        self.store = self._new_store()
        self._plans.clear()

    def _new_store(self):
        """The backend's variable store (a GPU backend keeps values on the device)."""
        return getattr(self._lowering, "new_store", VariableStore)()

    # -- running -------------------------------------------------------------------------------
    def run(self, fetches, feed_dict=None, options=None, run_metadata=None, fetch_to="host"):
        """Values of ``fetches`` (any nesting of lists/tuples/dicts), same structure back.

        ``fetch_to='device'`` leaves fetched arrays where the backend computed them: CuPy
        arrays on the ``cupy`` backend (no copy to the host; feed them back as they are),
        NumPy arrays on the CPU backends. The default ``'host'`` gives NumPy arrays."""
        if fetch_to not in ("host", "device"):
            raise ValueError(f"fetch_to must be 'host' or 'device', got {fetch_to!r}")
        try:
            resolved = self._fetch_cache.get(fetches)
        except TypeError:  # an unhashable structure (a list, a dict): resolved every time
            resolved = None
        if resolved is None:
            resolved = self._resolve_fetches(fetches)
        rebuild, targets = resolved
        fed, values = self._prepare_feeds(feed_dict) if feed_dict else ((), ())
        return rebuild(self._run_targets(targets, fed, values, fetch_to))

    def _resolve_fetches(self, fetches) -> tuple:
        """(rebuild, target tensors/ops) for a fetch structure; cached when it is hashable."""
        leaves: list = []
        rebuild = fetch_tree.flatten(fetches, leaves)
        resolved = rebuild, tuple(self._resolve_fetch(f) for f in leaves)
        try:
            self._fetch_cache[fetches] = resolved
        except TypeError:
            pass
        return resolved

    def _run_targets(self, targets, fed, values, fetch_to="host"):
        if self._closed:
            raise ClosedSessionError("attempted to use a closed Session")
        plan = self._plan(targets, fed)
        run_device = getattr(plan, "run_device", None) if fetch_to == "device" else None
        return (run_device or plan.run)(values, self.store)

    def _plan(self, targets, fed):
        """The compiled plan for these targets and fed tensors (compiled on first use)."""
        plan = self._plans.get((targets, fed))
        if plan is None:
            plan = self._plans[targets, fed] = compile_plan(list(targets), list(fed),
                                                            self.backend)
        return plan

    def make_callable(self, fetches, feed_list=None):
        """A function of the ``feed_list`` values returning ``fetches`` (lowest overhead)."""
        rebuild, targets = self._resolve_fetches(fetches)
        fed = tuple(self._resolve_tensor(k) for k in (feed_list or []))
        plan = self._plan(targets, fed)
        convert = getattr(self._lowering, "convert_feed", convert_feed)

        def call(*args):
            if self._closed:
                raise ClosedSessionError("attempted to use a closed Session")
            if len(args) != len(fed):
                raise TypeError(f"callable takes {len(fed)} feed values, got {len(args)}")
            values = [convert(t, v) for t, v in zip(fed, args)] if args else args
            return rebuild(plan.run(values, self.store))
        return call

    def explain(self, fetches, feed_dict=None, backend=None):
        """What ``backend`` (default: this session's) compiles for ``fetches`` fed like
        ``feed_dict`` (values give the shapes the buffer plan is made for): an ExplainReport."""
        _, targets = self._resolve_fetches(fetches)
        feed_dict = feed_dict or {}
        fed = [self._resolve_tensor(k) for k in feed_dict]
        shapes = [np.shape(v) for v in feed_dict.values()]
        return explain(list(targets), fed, backend or self.backend, shapes)

    def _prepare_feeds(self, feed_dict):
        if not feed_dict:
            return (), []
        convert = getattr(self._lowering, "convert_feed", convert_feed)
        fed, values = [], []
        for key, value in feed_dict.items():
            tensor = self._resolve_tensor(key)
            fed.append(tensor)
            values.append(convert(tensor, value))
        return tuple(fed), values

    def _resolve_fetch(self, fetch):
        if isinstance(fetch, Node):
            return self._check_graph(fetch)
        if isinstance(fetch, str) and ":" not in fetch:
            return self.graph.get_operation_by_name(fetch)
        return self._resolve_tensor(fetch)

    def _resolve_tensor(self, key) -> Tensor:
        if isinstance(key, str):
            key = self.graph.get_tensor_by_name(key if ":" in key else key + ":0")
        elif hasattr(key, "_as_tensor") and not isinstance(key, Tensor):
            key = key._as_tensor()
        if not isinstance(key, Tensor):
            raise TypeError(f"cannot fetch or feed {key!r} (a {type(key).__name__}); expected a "
                            "tensor, operation, variable or tensor name")
        self._check_graph(key.node)
        return key

    def _check_graph(self, node: Node):
        if node.graph is not self.graph:
            raise ValueError(f"'{node.name}' is not an element of this session's graph")
        return node


def _lowering(name: str):
    """The backend object named ``name`` (None for an unknown or unusable one: compiling
    reports it)."""
    from .backends import get_backend

    try:
        return get_backend(name)
    except (ValueError, ImportError):
        return None


class InteractiveSession(Session):
    """A session that makes itself the default on creation (for shells and notebooks)."""

    def __init__(self, target="", graph=None, config=None, backend=None):
        super().__init__(target, graph, config, backend)
        _session_stack.append(self)

    def close(self) -> None:
        if self in _session_stack:
            _session_stack.remove(self)
        super().close()
