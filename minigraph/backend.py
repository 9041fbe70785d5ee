"""A Keras-2-style backend (``from minigraph import backend as K``) over minigraph's graph API.

Functions follow ``keras.backend`` / ``tf.keras.backend`` in TF1 graph mode: ``K.variable``
holds a value to get and set, ``K.function(inputs, outputs, updates)`` returns a callable
taking a list of arrays, ``K.learning_phase()`` is a scalar bool that is 0 (test) unless fed,
and ``K.epsilon()`` / ``K.floatx()`` / ``K.image_data_format()`` read ``minigraph.config``
(config file, then environment). Differences from Keras: variables are shared variables (the
value lives in the variable: no initializer, every session sees it), and a function applies
its updates atomically after computing its outputs.

``save_weights(path, variables)`` / ``load_weights(path, variables)`` (``backend_weights.py``)
write and read ``.npz`` (``.h5`` with h5py) plus a JSON sidecar naming each weight with its
shape and dtype; loading checks names, shapes and dtypes.
"""
from __future__ import annotations

import builtins
import math
import weakref

import numpy as np

from . import autodiff, ops
from .backend_weights import (load_weights, model_from_json, model_to_json,  # noqa: F401
                              save_weights)
from .config import config
from .graph import Node, get_default_graph, name_scope, reset_default_graph  # noqa: F401
from .session import Session, get_default_session
from .tensor import Tensor, convert_to_tensor, is_tensor  # noqa: F401
from .variables import SharedVariable, Variable, global_variables, variables_initializer

_session: list = [None]
_phases: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

# -- settings --------------------------------------------------------------------------------


def epsilon() -> float:
    """The fuzz factor used to keep logs and divisions finite (``config.epsilon``, 1e-7)."""
    return config.epsilon


def set_epsilon(value: float) -> None:
    config._set("epsilon", value, "set_epsilon")


def floatx() -> str:
    """The default float type name, e.g. ``'float32'`` (``config.floatX``)."""
    return config.floatX


def set_floatx(value: str) -> None:
    """Set the default float type of minigraph (Keras's and the whole library's)."""
    name = value if isinstance(value, str) else np.dtype(value).name
    config._set("floatX", name, "set_floatx")


def image_data_format() -> str:
    """``'channels_last'`` (default) or ``'channels_first'``."""
    return config.image_data_format


def set_image_data_format(data_format: str) -> None:
    config._set("image_data_format", data_format, "set_image_data_format")


def backend() -> str:
    """The name of this backend (Keras returns ``'tensorflow'``/``'theano'``)."""
    return "minigraph"


# -- sessions and the learning phase ---------------------------------------------------------


def get_session() -> Session:
    """The default session if one is active, else the backend's own session for the default
    graph (made on first use); variables not yet initialized in it are initialized (Keras)."""
    session = get_default_session()
    if session is None:
        session = _session[0]
        if session is None or session._closed or session.graph is not get_default_graph():
            session = _session[0] = Session()
    missing = [v for v in global_variables() if v.graph is session.graph
               and not isinstance(v, SharedVariable) and v.node not in session.store.values]
    if missing:
        session.run(variables_initializer(missing))
    return session


def set_session(session: Session) -> None:
    """Make ``session`` the one the backend uses."""
    _session[0] = session


def clear_session() -> None:
    """Start afresh: a new default graph, no backend session, no learning phase."""
    if _session[0] is not None:
        _session[0].close()
    _session[0] = None
    reset_default_graph()


def learning_phase():
    """The learning phase of the default graph: a scalar bool tensor that is ``False`` (test)
    unless fed (Keras's ``placeholder_with_default``), or the int fixed by
    ``set_learning_phase``."""
    graph = get_default_graph()
    phase = _phases.get(graph)
    if phase is None:
        with graph.name_scope(None), graph.control_dependencies(None):
            phase = ops.identity(ops.constant(False), name="keras_learning_phase")
        _phases[graph] = phase
    return phase


def set_learning_phase(value: int) -> None:
    """Fix the learning phase of the default graph to 0 (test) or 1 (train)."""
    if value not in (0, 1):
        raise ValueError(f"expected learning phase to be 0 or 1, got {value!r}")
    _phases[get_default_graph()] = int(value)


def _is_learning_phase(tensor: Tensor) -> bool:
    phase = _phases.get(tensor.node.graph)
    return isinstance(phase, Tensor) and phase.node is tensor.node


# -- tensors and variables -------------------------------------------------------------------


def placeholder(shape=None, ndim=None, dtype=None, sparse=False, name=None) -> Tensor:
    """A placeholder of ``shape`` (``None`` dims), or of rank ``ndim`` with unknown dims."""
    if sparse:
        raise NotImplementedError("minigraph has no sparse placeholders")
    if shape is None and ndim is not None:
        shape = (None,) * ndim
    return ops.placeholder(dtype or floatx(), shape, name=name)


def variable(value, dtype=None, name=None, constraint=None) -> SharedVariable:
    """A variable holding ``value`` converted to ``dtype`` (default ``floatx()``, as Keras)."""
    if constraint is not None:
        raise NotImplementedError("variable constraints are not supported")
    array = np.asarray(eval(value) if isinstance(value, Tensor) else value,
                       dtype=dtype or floatx())
    return SharedVariable(array, name=name or "variable")


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    return ops.constant(value, dtype=dtype or floatx(), shape=shape, name=name)


def _filled(fill, shape, dtype, name):
    if any(d is None or isinstance(d, Tensor) for d in shape):
        return (ops.zeros if fill == 0 else ops.ones)(shape, dtype or floatx(), name=name)
    return variable(np.full(tuple(shape), fill), dtype=dtype, name=name)


def zeros(shape, dtype=None, name=None):
    """A variable of zeros (a tensor when ``shape`` is not fully known, as Keras)."""
    return _filled(0, shape, dtype, name)


def ones(shape, dtype=None, name=None):
    """A variable of ones (a tensor when ``shape`` is not fully known, as Keras)."""
    return _filled(1, shape, dtype, name)


def eye(size, dtype=None, name=None) -> SharedVariable:
    return variable(np.eye(size), dtype=dtype, name=name)


def int_shape(x) -> tuple | None:
    """The static shape as a tuple of ints and ``None``; ``None`` when the rank is unknown."""
    if isinstance(x, Tensor):
        shape = x.get_shape()
        return None if shape is None else tuple(shape)
    return tuple(np.shape(x))


def ndim(x) -> int | None:
    shape = int_shape(x)
    return None if shape is None else len(shape)


def dtype(x) -> str:
    """The dtype name, e.g. ``'float32'``."""
    return np.dtype(x.dtype).name


def count_params(x) -> int:
    return int(np.prod(int_shape(x)))


# -- values --------------------------------------------------------------------------------------


def eval(x) -> np.ndarray:  # noqa: A001  (keras.backend.eval)
    """The value of ``x`` computed in ``get_session()``."""
    if isinstance(x, SharedVariable):
        return x.get_value()
    return get_session().run(x)


get_value = eval


def batch_get_value(tensors) -> list:
    """Values of several variables or tensors, computed in one run."""
    tensors = list(tensors)
    computed = [t for t in tensors if not isinstance(t, SharedVariable)]
    values = dict(zip(computed, get_session().run(computed))) if computed else {}
    return [t.get_value() if isinstance(t, SharedVariable) else values[t] for t in tensors]


def set_value(x, value) -> None:
    """Write ``value`` (cast to the variable's dtype, as Keras) into variable ``x``."""
    if not isinstance(x, Variable):
        raise TypeError(f"set_value: {x!r} is not a variable")
    array = np.asarray(value, dtype=x.dtype)
    if isinstance(x, SharedVariable):
        x.set_value(array)
    else:
        x.load(array, get_session())


def batch_set_value(tuples) -> None:
    for x, value in tuples:
        set_value(x, value)


# -- functions and gradients ---------------------------------------------------------------------


def gradients(loss, variables) -> list:
    """d(loss)/d(variable) for each variable (``None`` where the loss does not depend on it)."""
    return autodiff.gradients(loss, variables)


def stop_gradient(variables):
    if isinstance(variables, (list, tuple)):
        return [autodiff.stop_gradient(v) for v in variables]
    return autodiff.stop_gradient(variables)


class Function:
    """Callable made by ``K.function``: ``f(list_of_arrays)`` gives the outputs' values (a list
    when ``outputs`` was a list) and applies the updates, all in one run of ``get_session()``."""

    def __init__(self, inputs, outputs, updates=None, name=None):
        if not isinstance(inputs, (list, tuple)):
            raise TypeError("K.function: `inputs` should be a list or tuple of tensors")
        self.inputs = [convert_to_tensor(t) for t in inputs]
        self.single = not isinstance(outputs, (list, tuple))
        self.outputs = [convert_to_tensor(o) for o in ([outputs] if self.single else outputs)]
        steps = [_update_step(u) for u in (updates or [])]
        self.fetches = self.outputs + ([ops.group(steps, name="updates")] if steps else [])
        self.phase = [_is_learning_phase(t) for t in self.inputs]
        self.name = name
        self._bound: tuple = (None, None)

    def __call__(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise TypeError("K.function: call it with a list or tuple of input values")
        if len(inputs) != len(self.inputs):
            raise ValueError(f"K.function expects {len(self.inputs)} input values, got "
                             f"{len(inputs)}")
        session = get_session()
        if self._bound[0] is not session:
            self._bound = (session, session.make_callable(self.fetches, self.inputs))
        values = [np.asarray(v).astype(bool) if p else v for v, p in zip(inputs, self.phase)]
        results = self._bound[1](*values)[:len(self.outputs)]
        return results[0] if self.single else results


def _update_step(update):
    """A ``(variable, new_value)`` pair becomes an assign; an op or assign tensor is kept."""
    if isinstance(update, (list, tuple)):
        if len(update) != 2:
            raise ValueError(f"K.function: an update must be a (variable, new_value) pair or an "
                             f"op, got {update!r}")
        return ops.assign(update[0], update[1])
    if isinstance(update, (Tensor, Node)):
        return update
    raise TypeError(f"K.function: cannot use {update!r} as an update")


def function(inputs, outputs, updates=None, name=None, **kwargs) -> Function:
    """Keras's ``K.function``: ``f = K.function([x, K.learning_phase()], [y]); f([data, 1])``."""
    if kwargs:
        raise ValueError(f"Invalid argument(s) {sorted(kwargs)} passed to K.function")
    return Function(inputs, outputs, updates, name)


# -- operations ----------------------------------------------------------------------------------


def dot(x, y) -> Tensor:
    """Keras ``dot``: a matrix product; for n-d operands NumPy's ``dot`` (the last axis of
    ``x`` against the second-to-last of ``y``: ``(2, 3, 4) . (4, 5) -> (2, 3, 5)``)."""
    x, y = convert_to_tensor(x), convert_to_tensor(y)
    if (x.ndim or 0) > 2 or (y.ndim or 0) > 2:
        return ops.tensordot(x, y, [[x.ndim - 1], [builtins.max(y.ndim - 2, 0)]])
    return ops.dot(x, y)


def batch_dot(x, y, axes=None) -> Tensor:
    """Keras ``batch_dot``: per batch row, contract ``axes[0]`` of ``x`` with ``axes[1]`` of
    ``y``; a result of rank 1 becomes ``(batch, 1)``."""
    x, y = convert_to_tensor(x), convert_to_tensor(y)
    nx, ny = x.ndim, y.ndim
    if nx is None or ny is None or nx < 2 or ny < 2:
        raise ValueError(f"batch_dot needs operands of known rank >= 2, got {int_shape(x)} "
                         f"and {int_shape(y)}")
    if axes is None:
        axes = (nx - 1, ny - 1 if ny == 2 else ny - 2)
    a, b = (axes, axes) if isinstance(axes, int) else axes
    a, b = a % nx, b % ny
    if a == 0 or b == 0:
        raise ValueError("batch_dot cannot contract the batch axis 0")
    free_x = [i for i in range(1, nx) if i != a]
    free_y = [j for j in range(1, ny) if j != b]
    xt = ops.transpose(x, [0] + free_x + [a])                # (batch, X..., k)
    yt = ops.transpose(y, [0, b] + free_y)                   # (batch, k, Y...)
    dims_x = [_dim(x, i) for i in free_x]
    dims_y = [_dim(y, j) for j in free_y]
    batch, k = _dim(x, 0), _dim(x, a)
    x3 = ops.reshape(xt, [batch, math.prod(dims_x), k])
    y3 = ops.reshape(yt, [batch, k, math.prod(dims_y)])
    out = ops.matmul(x3, y3)                                 # (batch, prod X, prod Y)
    return ops.reshape(out, [batch] + (dims_x + dims_y or [1]))


def _dim(x: Tensor, axis: int):
    size = x.get_shape()[axis]
    return size if size is not None else ops.dim(x, axis)


def _reduction(op):
    def fn(x, axis=None, keepdims=False):
        return op(x, axis=axis, keepdims=keepdims)
    fn.__name__ = op.__name__.replace("reduce_", "")
    fn.__doc__ = f"Keras ``{fn.__name__}``: ``{op.__name__}`` over ``axis`` (all when None)."
    return fn


sum = _reduction(ops.reduce_sum)  # noqa: A001
mean = _reduction(ops.reduce_mean)
max = _reduction(ops.reduce_max)  # noqa: A001
min = _reduction(ops.reduce_min)  # noqa: A001
prod = _reduction(ops.reduce_prod)
logsumexp = _reduction(ops.reduce_logsumexp)


def var(x, axis=None, keepdims=False) -> Tensor:
    centred = x - ops.reduce_mean(x, axis=axis, keepdims=True)
    return ops.reduce_mean(ops.square(centred), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False) -> Tensor:
    return ops.sqrt(var(x, axis, keepdims))


def argmax(x, axis=-1) -> Tensor:
    return ops.argmax(x, axis=axis)


def argmin(x, axis=-1) -> Tensor:
    return ops.argmin(x, axis=axis)


abs = ops.abs  # noqa: A001
zeros_like, ones_like, transpose, reshape, cast, shape, gather = (
    ops.zeros_like, ops.ones_like, ops.transpose, ops.reshape, ops.cast, ops.shape, ops.gather)
update, update_add, update_sub = ops.assign, ops.assign_add, ops.assign_sub
square, exp, log, tanh, sigmoid, softplus = (ops.square, ops.exp, ops.log, ops.tanh,
                                             ops.sigmoid, ops.softplus)
maximum, minimum, equal, not_equal = ops.maximum, ops.minimum, ops.equal, ops.not_equal
pow, sign, round = ops.pow, ops.sign, ops.round  # noqa: A001


def sqrt(x) -> Tensor:
    """Square root of ``x`` clipped at 0 (Keras clips so that rounding never gives NaN)."""
    return ops.sqrt(ops.maximum(x, 0.0))


def clip(x, min_value, max_value) -> Tensor:
    """``x`` clipped to ``[min_value, max_value]`` (``max_value`` raised to ``min_value``)."""
    if max_value is not None and min_value is not None and max_value < min_value:
        max_value = min_value
    return ops.clip_by_value(x, min_value, np.inf if max_value is None else max_value)


def relu(x, alpha=0.0, max_value=None, threshold=0.0) -> Tensor:
    """Keras ``relu``: ``x`` above ``threshold``, ``alpha * (x - threshold)`` below it, capped
    at ``max_value``."""
    x = convert_to_tensor(x)
    if alpha != 0.0 and max_value is None and threshold == 0.0:
        return ops.leaky_relu(x, alpha)
    negative = ops.relu(threshold - x) if alpha != 0.0 else None
    if threshold != 0.0:
        x = x * ops.cast(ops.greater(x, threshold), x.dtype)
    elif max_value == 6:
        x, max_value = ops.relu6(x), None
    else:
        x = ops.relu(x)
    if max_value is not None:
        x = ops.clip_by_value(x, 0.0, max_value)
    return x - alpha * negative if negative is not None else x


def elu(x, alpha=1.0) -> Tensor:
    out = ops.elu(x)
    return out if alpha == 1 else ops.where(ops.greater(x, 0.0), out, alpha * out)


def softmax(x, axis=-1) -> Tensor:
    return ops.softmax(x, axis=axis)


def categorical_crossentropy(target, output, from_logits=False, axis=-1) -> Tensor:
    """Cross-entropy of one-hot/probability ``target`` and ``output`` probabilities (rescaled
    to sum to 1 and clipped to ``[eps, 1 - eps]``), or logits with ``from_logits``."""
    if from_logits:
        return ops.softmax_cross_entropy_with_logits(labels=target, logits=output, axis=axis)
    output = output / ops.reduce_sum(output, axis=axis, keepdims=True)
    output = ops.clip_by_value(output, epsilon(), 1.0 - epsilon())
    return -ops.reduce_sum(target * ops.log(output), axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False) -> Tensor:
    """Cross-entropy of integer class ``target`` (shape ``(batch,)`` or ``(batch, 1)``)."""
    output = convert_to_tensor(output)
    if not from_logits:
        output = ops.log(ops.clip_by_value(output, epsilon(), 1.0 - epsilon()))
    labels = ops.cast(target, "int64")
    if labels.ndim == output.ndim:
        labels = ops.squeeze(labels, [-1])
    return ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=output)


def binary_crossentropy(target, output, from_logits=False) -> Tensor:
    """Elementwise cross-entropy of ``output`` probabilities (clipped), or logits."""
    if not from_logits:
        output = ops.clip_by_value(output, epsilon(), 1.0 - epsilon())
        output = ops.log(output / (1.0 - output))
    return ops.sigmoid_cross_entropy_with_logits(labels=target, logits=output)


def concatenate(tensors, axis=-1) -> Tensor:
    tensors = [convert_to_tensor(t) for t in tensors]
    rank = tensors[0].ndim
    return ops.concat(tensors, axis=axis % rank if axis < 0 and rank else axis)


def expand_dims(x, axis=-1) -> Tensor:
    return ops.expand_dims(x, axis)


def squeeze(x, axis) -> Tensor:
    return ops.squeeze(x, [axis])


def stack(x, axis=0) -> Tensor:
    return ops.stack(x, axis=axis)


def flatten(x) -> Tensor:
    return ops.reshape(x, [-1])


def batch_flatten(x) -> Tensor:
    """``x`` as ``(batch, everything else)``."""
    x = convert_to_tensor(x)
    return ops.reshape(x, [_dim(x, 0), math.prod([_dim(x, i) for i in range(1, x.ndim)])])


def switch(condition, then_expression, else_expression) -> Tensor:
    """``then_expression`` where ``condition`` holds, else ``else_expression`` (callables are
    called); a Python bool or int condition picks one branch when the graph is built."""
    then_value = then_expression() if callable(then_expression) else then_expression
    else_value = else_expression() if callable(else_expression) else else_expression
    if isinstance(condition, (bool, int, np.integer, np.bool_)):
        return then_value if condition else else_value
    return ops.where(condition, then_value, else_value)


def in_train_phase(x, alt, training=None):
    """``x`` in the training phase, ``alt`` otherwise (``training`` defaults to the graph's
    learning phase)."""
    return switch(learning_phase() if training is None else training, x, alt)


def in_test_phase(x, alt, training=None):
    return in_train_phase(alt, x, training=training)
