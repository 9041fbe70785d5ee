"""User-facing ``Tensor`` handles: one output of a node, with NumPy-like operators and methods."""
from __future__ import annotations

import numpy as np

from . import dtypes
from .graph import Node, TensorType, format_shape


def _ops():
    from . import ops

    return ops


class TensorShape(tuple):
    """Static shape: a tuple of ints with ``None`` for unknown dims (TF's ``TensorShape``)."""

    def as_list(self) -> list:
        return list(self)

    @property
    def ndims(self) -> int:
        return len(self)

    def is_fully_defined(self) -> bool:
        return all(d is not None for d in self)

    def num_elements(self):
        return int(np.prod(self)) if self.is_fully_defined() else None

    def __repr__(self):
        return f"TensorShape({format_shape(tuple(self))})"


class Tensor:
    """Output ``index`` of ``node``. Two handles to the same output are equal and hash alike."""

    __slots__ = ("node", "index")
    __array_priority__ = 100
    __array_ufunc__ = None  # let NumPy arrays defer to our reflected operators

    def __init__(self, node: Node, index: int):
        self.node = node
        self.index = index

    # -- identity --------------------------------------------------------------------------
    def __hash__(self):
        return hash((id(self.node), self.index))

    def __eq__(self, other):
        return isinstance(other, Tensor) and other.node is self.node and other.index == self.index

    def __bool__(self):
        raise TypeError(f"using tensor {self.name!r} as a Python bool is not allowed; "
                        "use mg.where / mg.cond-style ops instead")

    # -- attributes --------------------------------------------------------------------------
    @property
    def op(self) -> Node:
        return self.node

    @property
    def graph(self):
        return self.node.graph

    @property
    def name(self) -> str:
        return f"{self.node.name}:{self.index}"

    @property
    def type(self) -> TensorType:
        return self.node.out_types[self.index]

    @property
    def dtype(self) -> np.dtype:
        return self.type.dtype

    @property
    def ndim(self) -> int | None:
        shape = self.type.shape
        return None if shape is None else len(shape)

    def get_shape(self) -> TensorShape | None:
        shape = self.type.shape
        return None if shape is None else TensorShape(shape)

    @property
    def shape(self):
        """Python ints where static, symbolic int64 scalars where not (Theano-style)."""
        static = self.type.shape
        if static is None:
            return _ops().shape(self)
        return tuple(d if d is not None else _ops().dim(self, i) for i, d in enumerate(static))

    def set_shape(self, shape):
        raise NotImplementedError("set_shape: shapes are inferred; use mg.reshape instead")

    def eval(self, feed_dict=None, session=None):
        """Evaluate in ``session`` or the default session."""
        from .session import resolve_session

        return resolve_session(session, self.node).run(self, feed_dict=feed_dict)

    def __repr__(self):
        return f"<minigraph.Tensor '{self.name}' shape={format_shape(self.type.shape)} " \
               f"dtype={self.dtype}>"

    def __iter__(self):
        shape = self.type.shape
        if not shape or shape[0] is None:
            raise TypeError(f"cannot iterate over tensor {self.name!r} of shape "
                            f"{format_shape(shape)}: its first dimension is not static")
        return (self[i] for i in range(shape[0]))

    # -- operators ------------------------------------------------------------------------------
    def __add__(self, o): return _ops().add(self, o)
    def __radd__(self, o): return _ops().add(o, self)
    def __sub__(self, o): return _ops().subtract(self, o)
    def __rsub__(self, o): return _ops().subtract(o, self)
    def __mul__(self, o): return _ops().multiply(self, o)
    def __rmul__(self, o): return _ops().multiply(o, self)
    def __truediv__(self, o): return _ops().divide(self, o)
    def __rtruediv__(self, o): return _ops().divide(o, self)
    def __floordiv__(self, o): return _ops().floordiv(self, o)
    def __rfloordiv__(self, o): return _ops().floordiv(o, self)
    def __mod__(self, o): return _ops().mod(self, o)
    def __rmod__(self, o): return _ops().mod(o, self)
    def __pow__(self, o): return _ops().pow(self, o)
    def __rpow__(self, o): return _ops().pow(o, self)
    def __matmul__(self, o): return _ops().dot(self, o)
    def __rmatmul__(self, o): return _ops().dot(o, self)
    def __neg__(self): return _ops().negative(self)
    def __pos__(self): return self
    def __abs__(self): return _ops().abs(self)
    def __lt__(self, o): return _ops().less(self, o)
    def __le__(self, o): return _ops().less_equal(self, o)
    def __gt__(self, o): return _ops().greater(self, o)
    def __ge__(self, o): return _ops().greater_equal(self, o)
    def __and__(self, o): return _ops().logical_and(self, o)
    def __rand__(self, o): return _ops().logical_and(o, self)
    def __or__(self, o): return _ops().logical_or(self, o)
    def __ror__(self, o): return _ops().logical_or(o, self)
    def __invert__(self): return _ops().logical_not(self)
    def __getitem__(self, key): return _ops().getitem(self, key)

    # -- NumPy-like methods ---------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False): return _ops().reduce_sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _ops().reduce_mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _ops().reduce_max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _ops().reduce_min(self, axis, keepdims)
    def prod(self, axis=None, keepdims=False): return _ops().reduce_prod(self, axis, keepdims)
    def argmax(self, axis=None): return _ops().argmax(self, axis)
    def argmin(self, axis=None): return _ops().argmin(self, axis)
    def dot(self, other): return _ops().dot(self, other)
    def astype(self, dtype): return _ops().cast(self, dtype)

    @property
    def T(self):
        return _ops().transpose(self)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (list, tuple, Tensor)):
            shape = shape[0]
        return _ops().reshape(self, shape)

    def transpose(self, *perm):
        if len(perm) == 1 and isinstance(perm[0], (list, tuple)):
            perm = perm[0]
        return _ops().transpose(self, perm or None)


def is_tensor(value) -> bool:
    return isinstance(value, Tensor)


def convert_to_tensor(value, dtype=None, name=None) -> Tensor:
    """A Tensor for ``value``: tensors pass through (dtype checked), data becomes a constant."""
    if isinstance(value, Tensor):
        if dtype is not None and dtypes.as_dtype(dtype) != value.dtype:
            raise TypeError(f"tensor {value.name!r} has dtype {value.dtype}, "
                            f"expected {dtypes.as_dtype(dtype)}")
        return value
    if isinstance(value, Node):
        raise TypeError(f"operation {value.name!r} has no value to convert to a tensor")
    if hasattr(value, "_as_tensor"):
        return value._as_tensor()
    return _ops().constant(value, dtype=dtype, name=name)


def convert_operands(*values) -> list[Tensor]:
    """Tensors for an op's operands following the dtype policy in ``dtypes``.

    Non-tensor operands adopt the tensors' dtype; tensors of different dtypes are cast to the
    promoted one, so binary ops always see equal dtypes.
    """
    tensor_dtypes = [v.dtype for v in values if isinstance(v, Tensor)]
    if not tensor_dtypes:
        values = [convert_to_tensor(v) for v in values]
        tensor_dtypes = [v.dtype for v in values]
    target = dtypes.promote(*tensor_dtypes)
    result = []
    for v in values:
        if isinstance(v, Tensor):
            result.append(v)
        else:
            array = np.asarray(v)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"cannot use {type(v).__name__} value {v!r} as a tensor operand")
            target = dtypes.promote(target, dtypes.value_dtype_for(array, target))
            result.append(array)
    return [v if isinstance(v, Tensor) and v.dtype == target
            else _ops().cast(v, target) if isinstance(v, Tensor)
            else _ops().constant(v, dtype=target) for v in result]


def as_node(value) -> Node:
    """The node behind a fetchable/dependency value: a Node, Tensor or Variable."""
    if isinstance(value, Node):
        return value
    if isinstance(value, Tensor):
        return value.node
    if hasattr(value, "_as_tensor"):
        return value._as_tensor().node
    raise TypeError(f"expected an operation or tensor, got {type(value).__name__}")
