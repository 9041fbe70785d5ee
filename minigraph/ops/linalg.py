"""Linear algebra: batched ``matmul`` (the primitive, BLAS-backed), ``tensordot`` and ``dot``;
determinant and inverse of batched square matrices; diagonals (``diag``, ``matrix_diag``...).

``matmul`` follows TF1: operands of rank >= 2 and equal dtype, batch dims broadcast as in NumPy.
``tensordot`` (TF semantics) and ``dot`` (Theano's, also ``@``; NumPy's rules for 1-D/2-D and
``np.matmul``'s above) are compositions of matmul with transpose/reshape/expand_dims/squeeze.
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes
from ..errors import InvalidArgumentError
from ..graph import TensorType, format_shape
from ..tensor import Tensor, convert_operands, convert_to_tensor
from . import _samples
from ._infer import broadcast_shapes
from ..feeds import c_contiguous
from .elementwise import multiply, zeros_like_value
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


# -- determinant and inverse -------------------------------------------------------------------


def _infer_square(types, **_):
    (t,) = types
    if t.dtype.kind != "f":
        raise InferError(f"input must be a float tensor, got {t.dtype}")
    if t.shape is not None:
        if len(t.shape) < 2:
            raise InferError(f"input must have rank >= 2, got shape {format_shape(t.shape)}")
        if None not in t.shape[-2:] and t.shape[-1] != t.shape[-2]:
            raise InferError(f"input must be square matrices, got shape {format_shape(t.shape)}")
    return t


def _infer_det(types):
    t = _infer_square(types)
    return TensorType(None if t.shape is None else t.shape[:-2], t.dtype)


def _inverse_ref(x, adjoint):
    try:
        inverse = np.linalg.inv(x)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("matrix_inverse: input is not invertible") from None
    return c_contiguous(np.swapaxes(inverse, -1, -2) if adjoint else inverse)


def _det_vjp(node, dys):
    """``d det(A) = det(A) * inv(A)^T``."""
    shape = _shape_ops()
    scale = shape.expand_dims(shape.expand_dims(dys[0] * node.outputs[0], -1), -1)
    return [scale * matrix_inverse(node.inputs[0], adjoint=True)]


def _inverse_vjp(node, dys):
    """``-Y^T dY Y^T`` for ``Y = inv(A)`` (with the transposes swapped for ``adjoint``)."""
    y, adjoint = node.outputs[0], node.attrs["adjoint"]
    inner = matmul(dys[0], y, adjoint_a=adjoint, adjoint_b=not adjoint)
    return [-matmul(y, inner, adjoint_a=not adjoint)]


def _square_sample(with_adjoint):
    """Batches of well-conditioned square matrices: noise plus a (signed) shifted identity."""
    def sample(draw):
        from hypothesis import strategies as st

        batch = draw(_samples._strategies().shapes(max_dims=2, max_side=3))
        n = draw(st.integers(0, 4))
        rng = _samples.rng_from(draw)
        shift = (n + 1) * rng.choice([-1.0, 1.0], size=batch + (1, 1))
        x = rng.uniform(-1, 1, size=batch + (n, n)) + shift * np.eye(n)
        return [x], ({"adjoint": draw(st.booleans())} if with_adjoint else {})
    return sample


def _det_ref(x):
    """Determinants as an array of the batch shape (NumPy gives a scalar for one matrix)."""
    batch = math.prod(x.shape[:-2])
    det = np.linalg.det(x.reshape((batch,) + x.shape[-2:]))
    return det.reshape(x.shape[:-2]).astype(x.dtype, copy=False)


defop("matrix_determinant", _infer_det, _det_ref, vjp=_det_vjp, kind="linalg",
      sample=_square_sample(False), doc="determinants of a batch of square matrices")
defop("matrix_inverse", _infer_square, _inverse_ref, vjp=_inverse_vjp, kind="linalg",
      sample=_square_sample(True),
      doc="inverses (or inverses of the transposes, with adjoint) of square matrices")

# -- diagonals -----------------------------------------------------------------------------------


def _infer_diag(types):
    (t,) = types
    if t.shape is not None and not t.shape:
        raise InferError("diagonal must have rank >= 1, got a scalar")
    return TensorType(None if t.shape is None else t.shape * 2, t.dtype)


def _diagonals(out):
    """A writable view of the main diagonals of the last two axes of C-contiguous ``out``
    (a strided slice of each flattened matrix, so no index arrays are built)."""
    rows, cols = out.shape[-2:]
    flat = out.reshape(out.shape[:-2] + (rows * cols,))
    return flat[..., :min(rows, cols) * (cols + 1):cols + 1]


def _diag_ref(d):
    n = d.size
    out = np.zeros_like(d, order="C", shape=(n, n))
    _diagonals(out)[...] = d.ravel()
    return out.reshape(d.shape * 2)


def _infer_diag_part(types):
    (t,) = types
    if t.shape is None:
        return t
    half = len(t.shape) // 2
    if not t.shape or len(t.shape) % 2:
        raise InferError(f"input must have an even, nonzero rank, got shape "
                         f"{format_shape(t.shape)}")
    lead, tail = t.shape[:half], t.shape[half:]
    if any(a is not None and b is not None and a != b for a, b in zip(lead, tail)):
        raise InferError(f"input must have shape [D1..Dk, D1..Dk], got {format_shape(t.shape)}")
    return TensorType(tuple(a if a is not None else b for a, b in zip(lead, tail)), t.dtype)


def _diag_part_ref(x):
    half = x.ndim // 2
    if x.shape[:half] != x.shape[half:]:
        raise InvalidArgumentError(f"diag_part: input must have shape [D1..Dk, D1..Dk], got "
                                   f"{format_shape(x.shape)}")
    n = math.prod(x.shape[:half])
    return np.diagonal(x.reshape(n, n)).reshape(x.shape[:half]).copy()


def _infer_matrix_diag(types):
    (t,) = types
    if t.shape is not None and not t.shape:
        raise InferError("diagonal must have rank >= 1, got a scalar")
    return TensorType(None if t.shape is None else t.shape + t.shape[-1:], t.dtype)


def _matrix_diag_ref(d):
    out = np.zeros_like(d, order="C", shape=d.shape + d.shape[-1:])
    _diagonals(out)[...] = d
    return out


def _diag_length(shape):
    rows, cols = shape[-2:]
    return None if rows is None or cols is None else min(rows, cols)


def _infer_matrix_diag_part(types):
    (t,) = types
    if t.shape is None:
        return t
    if len(t.shape) < 2:
        raise InferError(f"input must have rank >= 2, got shape {format_shape(t.shape)}")
    return TensorType(t.shape[:-2] + (_diag_length(t.shape),), t.dtype)


def _infer_matrix_set_diag(types):
    x, d = types
    if x.dtype != d.dtype:
        raise InferError(f"input ({x.dtype}) and diagonal ({d.dtype}) must have the same dtype")
    want = _infer_matrix_diag_part([x]).shape
    if want is not None and d.shape is not None and (len(want) != len(d.shape) or any(
            a is not None and b is not None and a != b for a, b in zip(want, d.shape))):
        raise InferError(f"diagonal must have shape {format_shape(want)} for input of shape "
                         f"{format_shape(x.shape)}, got {format_shape(d.shape)}")
    return x


def _matrix_set_diag_ref(x, d):
    n = min(x.shape[-2:])
    if d.shape != x.shape[:-2] + (n,):
        raise InvalidArgumentError(f"matrix_set_diag: diagonal of shape {format_shape(d.shape)} "
                                   f"does not fit input of shape {format_shape(x.shape)}")
    out = x.copy(order="C")
    _diagonals(out)[...] = d
    return out


def _diag_sample(square_input, min_dims=1, max_dims=2):
    """Any values; with ``square_input`` the shape is a ``[D.., D..]`` pair of one drawn shape."""
    def sample(draw):
        shape = draw(_samples._strategies().shapes(min_dims=min_dims, max_dims=max_dims,
                                                   max_side=3))
        shape = shape * 2 if square_input else shape
        return [_samples.sample_values(_samples.rng_from(draw), shape)], {}
    return sample


def _set_diag_sample(draw):
    (x,), _ = _diag_sample(False, 2, 3)(draw)
    diagonal = _samples.sample_values(_samples.rng_from(draw), x.shape[:-2] + (min(x.shape[-2:]),))
    return [x, diagonal], {}


defop("diag", _infer_diag, _diag_ref, vjp=lambda n, d: [diag_part(d[0])], kind="movement",
      sample=_diag_sample(False), doc="a [D.., D..] tensor holding the input on its diagonal")
defop("diag_part", _infer_diag_part, _diag_part_ref, vjp=lambda n, d: [diag(d[0])],
      kind="movement", sample=_diag_sample(True), doc="the diagonal of a [D.., D..] tensor")
defop("matrix_diag", _infer_matrix_diag, _matrix_diag_ref,
      vjp=lambda n, d: [matrix_diag_part(d[0])], kind="movement", sample=_diag_sample(False, 1, 3),
      doc="batched square matrices with the input's last axis on their diagonals")
defop("matrix_diag_part", _infer_matrix_diag_part,
      lambda x: np.diagonal(x, axis1=-2, axis2=-1).copy(),
      vjp=lambda n, d: [matrix_set_diag(zeros_like_value(n.inputs[0]), d[0])], kind="movement",
      sample=_diag_sample(False, 2, 3), doc="the main diagonals of batched matrices")
defop("matrix_set_diag", _infer_matrix_set_diag, _matrix_set_diag_ref,
      vjp=lambda n, d: [matrix_set_diag(d[0], zeros_like_value(n.inputs[1])),
                        matrix_diag_part(d[0])],
      kind="movement", sample=_set_diag_sample,
      doc="batched matrices with their main diagonals replaced")


def matrix_determinant(input, name=None) -> Tensor:
    """Determinants of the square matrices in the last two dims of ``input``."""
    return apply_op("matrix_determinant", [convert_to_tensor(input)], {}, name=name)


def matrix_inverse(input, adjoint=False, name=None) -> Tensor:
    """Inverses of the square matrices of ``input`` (of their transposes with ``adjoint``)."""
    return apply_op("matrix_inverse", [convert_to_tensor(input)], {"adjoint": bool(adjoint)},
                    name=name)


def diag(diagonal, name=None) -> Tensor:
    """TF's ``diag``: ``out[i.., i..] = diagonal[i..]``, zeros elsewhere (rank doubles)."""
    return apply_op("diag", [convert_to_tensor(diagonal)], {}, name=name)


def diag_part(input, name=None) -> Tensor:
    """The inverse of ``diag``: ``out[i..] = input[i.., i..]``."""
    return apply_op("diag_part", [convert_to_tensor(input)], {}, name=name)


def matrix_diag(diagonal, name=None) -> Tensor:
    """Square matrices ``[..., N, N]`` with ``diagonal[..., N]`` on their main diagonals."""
    return apply_op("matrix_diag", [convert_to_tensor(diagonal)], {}, name=name)


def matrix_diag_part(input, name=None) -> Tensor:
    """The main diagonals ``[..., min(M, N)]`` of matrices ``[..., M, N]``."""
    return apply_op("matrix_diag_part", [convert_to_tensor(input)], {}, name=name)


def matrix_set_diag(input, diagonal, name=None) -> Tensor:
    """``input`` with the main diagonals of its matrices replaced by ``diagonal``."""
    x = convert_to_tensor(input)
    d = diagonal if isinstance(diagonal, Tensor) else convert_to_tensor(np.asarray(diagonal),
                                                                         dtype=x.dtype)
    return apply_op("matrix_set_diag", [x, d], {}, name=name)


__all__ = ["dot", "matmul", "tensordot", "matrix_determinant", "matrix_inverse", "diag",
           "diag_part", "matrix_diag", "matrix_diag_part", "matrix_set_diag"]
