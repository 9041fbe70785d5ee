"""Linear algebra: batched ``matmul`` (the primitive, BLAS-backed), ``tensordot`` and ``dot``.

``matmul`` follows TF1: operands of rank >= 2 and equal dtype, batch dims broadcast as in NumPy.
``tensordot`` (TF semantics) and ``dot`` (Theano's, also ``@``; NumPy's rules for 1-D/2-D and
``np.matmul``'s above) are compositions of matmul with transpose/reshape/expand_dims/squeeze.
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..graph import TensorType, format_shape
from ..tensor import Tensor, convert_operands
from . import _samples
from ._infer import broadcast_shapes
from .elementwise import multiply
from .registry import InferError, apply_op, defop

# -- matmul -------------------------------------------------------------------------------------


def _effective(shape, transposed):
    """The operand's shape as multiplied, i.e. after its optional transpose."""
    return shape[:-2] + (shape[-1], shape[-2]) if transposed else shape


def _infer_matmul(types, transpose_a, transpose_b):
    a, b = types
    if a.dtype != b.dtype:
        raise InferError(f"operands must have the same dtype, got {a.dtype} and {b.dtype}")
    if a.dtype == dtypes.bool_:
        raise InferError("cannot multiply bool matrices")
    for t in types:
        if t.shape is not None and len(t.shape) < 2:
            raise InferError(f"operands must have rank >= 2, got shape {format_shape(t.shape)}")
    if a.shape is None or b.shape is None:
        return TensorType(None, a.dtype)
    sa, sb = _effective(a.shape, transpose_a), _effective(b.shape, transpose_b)
    if sa[-1] is not None and sb[-2] is not None and sa[-1] != sb[-2]:
        raise InferError(f"cannot multiply {format_shape(sa)} by {format_shape(sb)}")
    try:
        batch = broadcast_shapes(sa[:-2], sb[:-2])
    except InferError:
        raise InferError(f"batch dimensions of {format_shape(sa)} and {format_shape(sb)} "
                         "cannot be broadcast together") from None
    return TensorType(batch + (sa[-2], sb[-1]), a.dtype)


def _matmul_ref(a, b, transpose_a, transpose_b):
    a = np.swapaxes(a, -1, -2) if transpose_a else a
    b = np.swapaxes(b, -1, -2) if transpose_b else b
    return np.matmul(a, b)


def _matmul_vjp(node, dys):
    """Gradients for each transpose combination, as matmuls (no transpose nodes)."""
    a, b = node.inputs
    dy = dys[0]
    ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
    if not ta and not tb:
        return [matmul(dy, b, transpose_b=True), matmul(a, dy, transpose_a=True)]
    if not ta and tb:
        return [matmul(dy, b), matmul(dy, a, transpose_a=True)]
    if ta and not tb:
        return [matmul(b, dy, transpose_b=True), matmul(a, dy)]
    return [matmul(b, dy, transpose_a=True, transpose_b=True),
            matmul(dy, a, transpose_a=True, transpose_b=True)]


def _matmul_sample(draw):
    """Broadcast batch dims, inner dims 0..4 and random transpose flags."""
    from hypothesis import strategies as st

    strategies = _samples._strategies()
    batch_a, batch_b = draw(strategies.broadcastable_shapes((), 2, max_dims=2, max_side=3))
    m, k, n = (draw(st.integers(0, 4)) for _ in range(3))
    ta, tb = draw(st.booleans()), draw(st.booleans())
    rng = _samples.rng_from(draw)
    a = _samples.sample_values(rng, batch_a + ((k, m) if ta else (m, k)))
    b = _samples.sample_values(rng, batch_b + ((n, k) if tb else (k, n)))
    return [a, b], {"transpose_a": ta, "transpose_b": tb}


defop("matmul", _infer_matmul, _matmul_ref, vjp=_matmul_vjp, kind="linalg",
      sample=_matmul_sample, extra={"broadcasts": True},
      doc="batched matrix product with optional transposes of the last two dims")


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, name=None) -> Tensor:
    """TF1 ``matmul``: ``a @ b`` over the last two dims, batch dims broadcast.

    ``adjoint_*`` equal ``transpose_*`` for real dtypes; the ``*_is_sparse`` hints are ignored.
    """
    a, b = _operands(a, b)
    attrs = {"transpose_a": bool(transpose_a or adjoint_a),
             "transpose_b": bool(transpose_b or adjoint_b)}
    return apply_op("matmul", [a, b], attrs, name=name)


def _operands(a, b):
    """Tensors keep their dtypes (a mismatch is an error); plain values adopt the tensor's."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return a, b
    return convert_operands(a, b)


# -- dot and tensordot ----------------------------------------------------------------------------


def _shape_ops():
    import importlib

    # Not ``from . import shape``: the package re-exports a function of that name.
    return importlib.import_module("minigraph.ops.shape")


def dot(a, b, name=None) -> Tensor:
    """Theano's ``dot`` and ``@``: NumPy ``dot`` for rank <= 2, ``np.matmul`` above; scalars scale.

    Operands of different dtypes are promoted (Theano), unlike ``matmul``.
    """
    a, b = convert_operands(a, b)
    ra, rb = a.ndim, b.ndim
    if ra is None or rb is None:
        raise ValueError(f"dot: operands need a known rank, got {a.name!r} of shape "
                         f"{format_shape(a.type.shape)} and {b.name!r} of shape "
                         f"{format_shape(b.type.shape)}")
    if ra == 0 or rb == 0:
        return multiply(a, b, name=name)
    if ra >= 2 and rb >= 2:
        return matmul(a, b, name=name)
    inner_a, inner_b = a.type.shape[-1], b.type.shape[0 if rb == 1 else -2]
    if inner_a is not None and inner_b is not None and inner_a != inner_b:
        raise ValueError(f"dot: cannot multiply {format_shape(a.type.shape)} by "
                         f"{format_shape(b.type.shape)}")
    shape = _shape_ops()
    a2 = shape.expand_dims(a, 0) if ra == 1 else a
    b2 = shape.expand_dims(b, -1) if rb == 1 else b
    drop = ([-2] if ra == 1 else []) + ([-1] if rb == 1 else [])
    return shape.squeeze(matmul(a2, b2), drop, name=name)


def _tensordot_axes(axes, ra, rb):
    """Contracted axes of ``a`` and ``b`` (non-negative) from TF's ``axes`` argument."""
    if isinstance(axes, (int, np.integer)):
        if not 0 <= axes <= min(ra, rb):
            raise ValueError(f"tensordot: axes={axes} must be in [0, {min(ra, rb)}] "
                             f"for operands of rank {ra} and {rb}")
        return list(range(ra - axes, ra)), list(range(axes))
    if len(axes) != 2:
        raise ValueError(f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}")
    a_axes, b_axes = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
    if len(a_axes) != len(b_axes):
        raise ValueError(f"tensordot: {a_axes} and {b_axes} must have the same length")
    for axis_list, rank in ((a_axes, ra), (b_axes, rb)):
        for i, axis in enumerate(axis_list):
            if not -rank <= axis < rank:
                raise ValueError(f"tensordot: axis {axis} is out of range for rank {rank}")
            axis_list[i] = int(axis) % rank
    return a_axes, b_axes


def _product(dims):
    """Product of dims that are ints or int64 scalar tensors (an int when all are static)."""
    static = math.prod(d for d in dims if not isinstance(d, Tensor))
    dynamic = [d for d in dims if isinstance(d, Tensor)]
    if not dynamic:
        return static
    total = dynamic[0]
    for d in dynamic[1:]:
        total = total * d
    return total if static == 1 else total * static


def _grouped(x, groups):
    """``x`` reshaped to one dim per group of its dims (no node when every group is one dim)."""
    if all(len(g) == 1 for g in groups):
        return x
    return _shape_ops().reshape(x, [_product(g) for g in groups])


def _transpose(x, perm):
    return x if perm == sorted(perm) else _shape_ops().transpose(x, perm)


def tensordot(a, b, axes, name=None) -> Tensor:
    """TF ``tensordot``: contract ``axes`` (an int N, or ``[a_axes, b_axes]``) of ``a`` and ``b``.

    Free and contracted dims are flattened into one matmul; unknown dims are read at run time.
    """
    a, b = convert_operands(a, b)
    with a.graph.name_scope(name or "Tensordot"):
        return _tensordot(a, b, axes)


def _size(x, axis, static=None):
    """Size of ``axis`` of ``x``: its static size, else ``static``, else read at run time."""
    known = x.type.shape[axis]
    if known is not None:
        return known
    return static if static is not None else _shape_ops().dim(x, axis)


def _tensordot(a, b, axes):
    sa, sb = a.type.shape, b.type.shape
    if sa is None or sb is None:
        raise ValueError("tensordot: operands need a known rank")
    a_axes, b_axes = _tensordot_axes(axes, len(sa), len(sb))
    for i, j in zip(a_axes, b_axes):
        if sa[i] is not None and sb[j] is not None and sa[i] != sb[j]:
            raise ValueError(f"tensordot: axis {i} of {format_shape(sa)} and axis {j} of "
                             f"{format_shape(sb)} differ in size")
    free_a = [i for i in range(len(sa)) if i not in a_axes]
    free_b = [j for j in range(len(sb)) if j not in b_axes]
    contracted = [_size(a, i, sb[j]) for i, j in zip(a_axes, b_axes)]
    dims_a, dims_b = [_size(a, i) for i in free_a], [_size(b, j) for j in free_b]
    a2 = _grouped(_transpose(a, free_a + a_axes), [dims_a, contracted])
    b2 = _grouped(_transpose(b, b_axes + free_b), [contracted, dims_b])
    product = matmul(a2, b2)
    if len(dims_a) == len(dims_b) == 1:
        return product
    return _shape_ops().reshape(product, dims_a + dims_b)


__all__ = ["dot", "matmul", "tensordot"]
