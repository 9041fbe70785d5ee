"""TF1 variable scopes and ``get_variable``: variables named ``scope/name``, shared on reuse.

Each graph keeps its own store of ``get_variable`` variables and its current ``VariableScope``
(a fresh graph has neither). As in TF1, ``variable_scope`` also opens a name scope for the ops
built inside (``foo_1/...`` when a scope is reopened), while ``get_variable`` names depend only
on the variable scope. ``reuse`` is ``None`` (inherit), ``True`` (only existing variables) or
``AUTO_REUSE`` (create or return); nested scopes inherit it, ``reuse=False`` cannot undo it.
"""
from __future__ import annotations

import contextlib
import enum
import inspect
import weakref

from . import dtypes
from .graph import Graph, format_shape, get_default_graph
from .initializers import GlorotUniform, Zeros
from .ops.elementwise import cast
from .ops.state import constant
from .tensor import Tensor, convert_to_tensor
from .variables import Variable

REGULARIZATION_LOSSES = "regularization_losses"  # TF's GraphKeys.REGULARIZATION_LOSSES


class _ReuseMode(enum.Enum):
    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE
"""``reuse=mg.AUTO_REUSE``: ``get_variable`` creates a variable if missing, else returns it."""


class VariableScope:
    """Names, reuse mode and defaults (initializer, regularizer, dtype) for ``get_variable``."""

    def __init__(self, reuse, name="", initializer=None, regularizer=None, dtype=None,
                 name_scope=""):
        self._reuse = reuse
        self._name = name
        self.initializer = initializer
        self.regularizer = regularizer
        self._dtype = None if dtype is None else dtypes.as_dtype(dtype)
        self._name_scope = name_scope

    @property
    def name(self) -> str:
        return self._name

    @property
    def original_name_scope(self) -> str:
        """The name scope (``'foo/'``) opened when this scope was first entered."""
        return self._name_scope

    @property
    def reuse(self):
        return self._reuse

    @property
    def dtype(self):
        """The default dtype of this scope's variables (``floatX`` unless set)."""
        return self._dtype if self._dtype is not None else dtypes.floatx()

    def reuse_variables(self) -> None:
        """From now on ``get_variable`` in this scope returns existing variables."""
        self._reuse = True

    def set_initializer(self, initializer) -> None:
        self.initializer = initializer

    def set_regularizer(self, regularizer) -> None:
        self.regularizer = regularizer

    def set_dtype(self, dtype) -> None:
        self._dtype = dtypes.as_dtype(dtype)

    def get_variable(self, name, shape=None, dtype=None, initializer=None, regularizer=None,
                     trainable=None, collections=None, caching_device=None,
                     validate_shape=True, use_resource=None) -> Variable:
        """The variable ``<scope>/name``: created, or returned under reuse (see module doc)."""
        full_name = f"{self._name}/{name}" if self._name else name
        from_value = initializer is not None and not callable(initializer)
        if dtype is not None and from_value and _value_dtype(initializer) != dtypes.as_dtype(
                dtype):
            raise ValueError(f"Initializer type '{_value_dtype(initializer)}' and explicit dtype "
                             f"'{dtypes.as_dtype(dtype)}' don't match.")
        if dtype is None:  # TF1 would compare a value's dtype with the scope's on reuse
            dtype = _value_dtype(initializer) if from_value else self.dtype
        request = _Request(full_name, shape, dtypes.as_dtype(dtype),
                           self.initializer if initializer is None else initializer,
                           self.regularizer if regularizer is None else regularizer)
        graph = get_default_graph()
        with graph.name_scope(""):  # variable names depend on variable scopes only
            return _store(graph).get(request, self._reuse, trainable is not False, collections,
                                     validate_shape)

    def global_variables(self) -> list:
        from .variables import global_variables

        return global_variables(self._name)

    def trainable_variables(self) -> list:
        from .variables import trainable_variables

        return trainable_variables(self._name)

    def __repr__(self):
        return f"<minigraph.VariableScope {self._name!r} reuse={self._reuse}>"


class _Request:
    """What one ``get_variable`` call asks for (initializer and regularizer resolved)."""

    def __init__(self, name, shape, dtype, initializer, regularizer):
        if shape is not None and initializer is not None and not callable(initializer):
            raise ValueError("If initializer is a constant, do not specify shape.")
        self.name, self.dtype = name, dtype
        self.shape = None if shape is None else tuple(
            None if d in (None, -1) else int(d) for d in shape)
        self.initializer, self.regularizer = initializer, regularizer


class _GraphStore:
    """One graph's current variable scope, scope-name counts and ``get_variable`` variables."""

    def __init__(self):
        self.current = VariableScope(False)
        self.counts: dict[str, int] = {}
        self.variables: dict[str, Variable] = {}

    def open_scope(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def close_subscopes(self, name: str) -> None:
        """Forget the counts below ``name``: default names restart when it is reopened."""
        prefix = name + "/"
        for key in self.counts:
            if key.startswith(prefix):
                self.counts[key] = 0

    def unique_scope_name(self, parent: str, prefix: str) -> str:
        """``prefix``, or ``prefix_1``, ``prefix_2``... unused below ``parent`` (default names)."""
        base = f"{parent}/{prefix}" if parent else prefix
        if not self.counts.get(base):
            return prefix
        index = 1
        while self.counts.get(f"{base}_{index}"):
            index += 1
        return f"{prefix}_{index}"

    def get(self, request: _Request, reuse, trainable, collections, validate_shape) -> Variable:
        found = self.variables.get(request.name)
        if found is not None:
            if not reuse:
                raise ValueError(
                    f"Variable {request.name} already exists, disallowed. Did you mean to set "
                    "reuse=True or reuse=tf.AUTO_REUSE in VarScope? Originally defined at "
                    f"{found.node.site}.")
            _check_shared(request, found)
            return found
        if reuse is True:
            raise ValueError(f"Variable {request.name} does not exist, or was not created with "
                             "tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in "
                             "VarScope?")
        variable = _create(request, trainable, collections, validate_shape)
        self.variables[request.name] = variable
        return variable


_STORES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _store(graph: Graph) -> _GraphStore:
    store = _STORES.get(graph)
    if store is None:
        store = _STORES[graph] = _GraphStore()
    return store


def _value_dtype(value):
    """The dtype a value initializer gives its variable (no graph node is built to know it)."""
    if isinstance(value, Tensor) or hasattr(value, "_as_tensor"):
        return convert_to_tensor(value).dtype
    return dtypes.default_dtype_of(value)


def _check_shared(request: _Request, found: Variable) -> None:
    have = found.type.shape
    if request.shape is not None and have is not None and (
            len(request.shape) != len(have) or any(
                a is not None and b is not None and a != b for a, b in zip(request.shape, have))):
        raise ValueError(f"Trying to share variable {request.name}, but specified shape "
                         f"{format_shape(request.shape)} and found shape {format_shape(have)}.")
    if request.dtype != found.dtype:
        raise ValueError(f"Trying to share variable {request.name}, but specified dtype "
                         f"{request.dtype} and found dtype {found.dtype}.")


def _create(request: _Request, trainable, collections, validate_shape) -> Variable:
    """A new variable named exactly ``request.name`` (ops of its initial value go below
    ``name/Initializer/``; no control dependencies apply, as TF's init scope)."""
    graph = get_default_graph()
    with graph.control_dependencies(None):
        with graph.name_scope(request.name + "/Initializer/"):
            init = _initial_value(request)
        if request.shape is not None and not _fits(init.type.shape, request.shape):
            raise ValueError(f"the initializer of variable {request.name} gave shape "
                             f"{format_shape(init.type.shape)}, expected "
                             f"{format_shape(request.shape)}")
        variable = Variable(init, trainable=trainable, name=request.name, dtype=request.dtype,
                            collections=collections, validate_shape=validate_shape)
        if request.regularizer is not None:
            with graph.name_scope(request.name + "/Regularizer/"):
                loss = request.regularizer(variable)
            if loss is not None:
                graph.add_to_collection(REGULARIZATION_LOSSES, loss)
    return variable


def _initial_value(request: _Request) -> Tensor:
    initializer = request.initializer
    if initializer is not None and not callable(initializer):
        return convert_to_tensor(initializer)
    if initializer is None:
        if request.shape is None:
            raise ValueError(f"Variable {request.name} did not get an initializer, so its "
                             "`shape` argument must be specified.")
        initializer = default_initializer(request.name, request.dtype)
    if isinstance(initializer, type):
        initializer = initializer()
    if request.shape is not None and None not in request.shape:
        value = initializer(list(request.shape), dtype=request.dtype)
    elif _takes_no_arguments(initializer):
        value = initializer()
    else:
        raise ValueError(f"Shape of a new variable ({request.name}) must be fully defined, but "
                         f"instead was {format_shape(request.shape)}. Without a full shape, the "
                         "initializer must be a value or a callable taking no arguments.")
    if not isinstance(value, Tensor):
        return constant(value, dtype=request.dtype)
    return value if value.dtype == request.dtype else cast(value, request.dtype)


def default_initializer(name: str, dtype):
    """TF1's default: glorot-uniform for floats, zeros for ints and bools."""
    if dtypes.is_float(dtype):
        return GlorotUniform()
    if dtypes.is_integer(dtype) or dtypes.as_dtype(dtype) == dtypes.bool_:
        return Zeros()
    raise ValueError(f"An initializer for variable {name} of {dtype} is required")


def _takes_no_arguments(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in params)


def _fits(shape, expected) -> bool:
    return shape is None or (len(shape) == len(expected) and all(
        a is None or b is None or a == b for a, b in zip(shape, expected)))


# -- the scope stack -------------------------------------------------------------------------------


def get_variable_scope() -> VariableScope:
    """The current variable scope of the default graph (the root scope ``''`` outside any)."""
    return _store(get_default_graph()).current


def get_variable(name, shape=None, dtype=None, initializer=None, regularizer=None,
                 trainable=None, collections=None, caching_device=None, validate_shape=True,
                 use_resource=None) -> Variable:
    """TF1 ``tf.get_variable``: the variable ``<current scope>/name``, created with
    ``initializer`` (default: the scope's, else glorot-uniform for floats, zeros for ints) or
    returned when the scope reuses; ``initializer`` may also be a value (then no ``shape``)."""
    return get_variable_scope().get_variable(
        name, shape, dtype, initializer, regularizer, trainable, collections,
        validate_shape=validate_shape)


@contextlib.contextmanager
def variable_scope(name_or_scope, default_name=None, values=None, *, initializer=None,
                   regularizer=None, reuse=None, dtype=None, auxiliary_name_scope=True,
                   caching_device=None, use_resource=None):
    """TF1 ``tf.variable_scope``: enter the scope ``name_or_scope`` (a name, nested in the
    current scope, or a ``VariableScope`` object, entered as it was) or a fresh
    ``default_name``/``default_name_1``...; also opens a name scope for ops."""
    if name_or_scope is None and default_name is None:
        raise TypeError("If default_name is None then name_or_scope is required")
    if name_or_scope is not None and not isinstance(name_or_scope, (str, VariableScope)):
        raise TypeError("VariableScope: name_or_scope must be a string or VariableScope, got "
                        f"{type(name_or_scope).__name__}")
    if name_or_scope is None and reuse:
        raise ValueError("reuse=True cannot be used without a name_or_scope")
    reuse = reuse or None  # reuse=False means inherit: a sub-scope cannot stop reusing
    with contextlib.ExitStack() as stack:
        graph = _graph_of(values)
        if graph is not get_default_graph():
            stack.enter_context(graph.as_default())
        store = _store(graph)
        name_scope = _enter_name_scope(stack, graph, name_or_scope, default_name,
                                       auxiliary_name_scope)
        old = store.current
        scope = _open(stack, store, name_or_scope, default_name, reuse, name_scope)
        _override(scope, initializer, regularizer, dtype)
        store.current = scope
        stack.callback(setattr, store, "current", old)
        yield scope


def _open(stack, store: _GraphStore, name_or_scope, default_name, reuse, name_scope):
    """The scope entered: a copy of a scope object, or a child of the current scope (what
    exiting must undo is pushed on ``stack``)."""
    if isinstance(name_or_scope, VariableScope):
        scope = VariableScope(reuse or name_or_scope.reuse, name_or_scope.name,
                              name_or_scope.initializer, name_or_scope.regularizer,
                              name_or_scope._dtype, name_or_scope.original_name_scope)
        store.open_scope(scope.name)
        stack.callback(setattr, store, "counts", dict(store.counts))
        return scope
    old = store.current
    base = (name_or_scope if name_or_scope is not None
            else store.unique_scope_name(old.name, default_name))
    full = f"{old.name}/{base}" if old.name and base else old.name or base
    store.open_scope(full)
    stack.callback(store.close_subscopes, full)
    return VariableScope(reuse or old.reuse, full, old.initializer, old.regularizer, old._dtype,
                         name_scope)


def _enter_name_scope(stack, graph, name_or_scope, default_name, auxiliary) -> str:
    """Open the scope's name scope (the last part of a scope object's name) and return it."""
    if isinstance(name_or_scope, VariableScope):
        name = name_or_scope.name.split("/")[-1]
    else:
        name = name_or_scope if name_or_scope is not None else default_name
    if not auxiliary or not name:
        return graph.get_name_scope() + "/" if graph.get_name_scope() else ""
    return stack.enter_context(graph.name_scope(name))


def _override(scope: VariableScope, initializer, regularizer, dtype) -> None:
    if initializer is not None:
        scope.set_initializer(initializer)
    if regularizer is not None:
        scope.set_regularizer(regularizer)
    if dtype is not None:
        scope.set_dtype(dtype)


def _graph_of(values) -> Graph:
    """The graph of the tensors in ``values`` (TF's ``values=`` argument), else the default."""
    graphs = {convert_to_tensor(v).graph for v in values or ()
              if isinstance(v, Tensor) or hasattr(v, "_as_tensor")}
    if len(graphs) > 1:
        raise ValueError("variable_scope: values come from different graphs")
    return graphs.pop() if graphs else get_default_graph()


__all__ = ["AUTO_REUSE", "VariableScope", "get_variable", "get_variable_scope",
           "variable_scope"]
