"""NumPy-style indexing (``x[key]``) with its scatter-add gradient, gather, one_hot and pad.

``getitem`` keeps the key as a hashable *spec* attr whose tensor parts are placeholders
numbering the op's extra inputs. Spec items:
``("int", i)``; ``("index", k)`` an int tensor input (0-d acts as an int, otherwise advanced
indexing); ``("slice", start, stop, step)`` with each part an int, None or ``("t", k)``;
``("newaxis",)``; ``("ellipsis",)``.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import TensorType, format_shape
from ..tensor import Tensor, convert_to_tensor
from . import _shape_samples as samples
from ._infer import broadcast_shapes
from ._like import arange_like
from ._operands import normalize_axis
from .elementwise import cast
from .registry import InferError, apply_op, defop
from .shape import dim, stack
from .state import constant

_FULL = ("slice", None, None, None)

# -- getitem: static shape (NumPy's rules) -------------------------------------------------------


def _infer_getitem(types, spec):
    x, index_types = types[0], types[1:]
    for t in index_types:
        if not dtypes.is_integer(t.dtype):
            raise InferError(f"indices must be integers, got {t.dtype}")
    return TensorType(_indexed_shape(x.shape, spec, index_types), x.dtype)


def _indexed_shape(shape, spec, index_types):
    """Result shape of ``x[key]``, or None when the rank cannot be known statically."""
    if shape is None or any(it[0] == "index" and index_types[it[1]].shape is None for it in spec):
        return None
    items = _expand_ellipsis(spec, len(shape))
    fancy = any(it[0] == "index" and index_types[it[1]].shape != () for it in items)
    out, adv_shapes, adv_positions, axis = [], [], [], 0
    for position, item in enumerate(items):
        kind = item[0]
        if kind == "newaxis":
            out.append(1)
        elif kind == "slice":
            out.append(_slice_length(item[1:], shape[axis]))
        elif kind in ("int", "index"):
            if kind == "int":
                _check_int_index(item[1], shape[axis], axis)
            if fancy:
                adv_shapes.append(index_types[item[1]].shape if kind == "index" else ())
                adv_positions.append((position, len(out)))
        axis += kind in ("slice", "int", "index")
    if not fancy:
        return tuple(out)
    try:
        broadcast = broadcast_shapes(*adv_shapes)
    except InferError:
        raise InferError("index arrays of shapes " + ", ".join(map(format_shape, adv_shapes))
                         + " cannot be broadcast together") from None
    first, last = adv_positions[0][0], adv_positions[-1][0]
    at = adv_positions[0][1] if last - first + 1 == len(adv_positions) else 0
    return tuple(out[:at]) + broadcast + tuple(out[at:])


def _expand_ellipsis(spec, rank):
    """Replace the ellipsis by full slices; an ellipsis over no axes stays as a separator."""
    consumed = sum(it[0] in ("int", "index", "slice") for it in spec)
    if consumed > rank:
        raise InferError(f"too many indices: {consumed} indices for a tensor of rank {rank}")
    ellipses = [i for i, it in enumerate(spec) if it[0] == "ellipsis"]
    if len(ellipses) > 1:
        raise InferError("an index can only have a single ellipsis ('...')")
    fill = (_FULL,) * (rank - consumed)
    if not ellipses:
        return tuple(spec) + fill
    at = ellipses[0]
    return tuple(spec[:at]) + (fill or (spec[at],)) + tuple(spec[at + 1:])


def _slice_length(parts, size):
    if parts[2] == 0:
        raise InferError("slice step cannot be zero")
    if size is None or any(isinstance(p, tuple) for p in parts):
        return None
    return len(range(*slice(*parts).indices(size)))


def _check_int_index(index, size, axis):
    if size is not None and not -size <= index < size:
        raise InferError(f"index {index} is out of bounds for axis {axis} with size {size}")


# -- getitem: run time and gradient ---------------------------------------------------------------


def numpy_key(spec, indices) -> tuple:
    """The NumPy index for ``spec`` given the values of its tensor inputs."""
    def part(p):
        return int(indices[p[1]]) if isinstance(p, tuple) else p

    key = []
    for item in spec:
        kind = item[0]
        if kind == "int":
            key.append(item[1])
        elif kind == "index":
            value = indices[item[1]]
            key.append(int(value) if value.ndim == 0 else value)
        elif kind == "slice":
            key.append(slice(*(part(p) for p in item[1:])))
        else:
            key.append(None if kind == "newaxis" else Ellipsis)
    return tuple(key)


def _getitem_ref(x, *indices, spec):
    return np.asarray(x[numpy_key(spec, indices)])


def _getitem_grad_ref(dy, like, *indices, spec):
    """Scatter-add ``dy`` into zeros shaped like ``like``; repeated indices accumulate."""
    out = np.zeros(like.shape, dy.dtype)
    key = numpy_key(spec, indices)
    if any(isinstance(k, np.ndarray) for k in key):
        np.add.at(out, key, dy)
    else:
        out[key] += dy
    return out


def _infer_getitem_grad(types, spec):
    dy, like = types[0], types[1]
    expected = _infer_getitem([like, *types[2:]], spec).shape
    if expected is not None and dy.shape is not None and (len(expected) != len(dy.shape) or any(
            a is not None and b is not None and a != b for a, b in zip(expected, dy.shape))):
        raise InferError(f"gradient of shape {format_shape(dy.shape)} does not match the "
                         f"indexed shape {format_shape(expected)}")
    return TensorType(like.shape, dy.dtype)


def _getitem_vjp(node, dys):
    x, *indices = node.inputs
    spec = node.attrs["spec"]
    grad = apply_op("getitem_grad", [dys[0], x, *indices], {"spec": spec})
    return [grad] + [None] * len(indices)


def _getitem_grad_vjp(node, dys):
    _, _, *indices = node.inputs
    grad = apply_op("getitem", [dys[0], *indices], {"spec": node.attrs["spec"]})
    return [grad, None] + [None] * len(indices)


defop("getitem", _infer_getitem, _getitem_ref, vjp=_getitem_vjp, kind="movement",
      sample=samples.getitem_inputs(), grad_inputs=(0,))
defop("getitem_grad", _infer_getitem_grad, _getitem_grad_ref, vjp=_getitem_grad_vjp,
      kind="movement", sample=samples.getitem_grad_inputs(), grad_inputs=(0,),
      doc="scatter-add the first input into zeros shaped like the second (getitem's gradient)")

# -- gather and one_hot ----------------------------------------------------------------------------


def _infer_gather(types, axis):
    params, indices = types
    if not dtypes.is_integer(indices.dtype):
        raise InferError(f"indices must be integers, got {indices.dtype}")
    if params.shape is None or indices.shape is None:
        return TensorType(None, params.dtype)
    if not params.shape:
        raise InferError("cannot gather from a scalar")
    axis = normalize_axis(axis, len(params.shape))
    return TensorType(params.shape[:axis] + indices.shape + params.shape[axis + 1:],
                      params.dtype)


def _gather_ref(params, indices, axis):
    size = params.shape[axis]
    bad = (indices < 0) | (indices >= size)
    if bad.any():
        raise ValueError(f"index {indices[bad].flat[0]} is out of range for axis {axis} of "
                         f"size {size}")
    return np.take(params, indices, axis=axis)


def _gather_spec(axis):
    """The getitem spec equivalent to gathering along ``axis`` with index input 0."""
    if axis >= 0:
        return (_FULL,) * axis + (("index", 0),)
    return (("ellipsis",), ("index", 0)) + (_FULL,) * (-axis - 1)


def _gather_vjp(node, dys):
    """Along axis 0 the gradient is sparse (the gathered rows, ``IndexedSlices``), else dense."""
    from ..indexed_slices import IndexedSlices
    from .shape import concat, reshape, shape, size

    params, indices = node.inputs
    axis = node.attrs["axis"]
    rank = len(params.type.shape) if params.type.shape is not None else None
    if axis == 0 or (rank is not None and axis == -rank):
        values, ids = dys[0], indices
        if indices.type.shape is None or len(indices.type.shape) != 1:
            ids = reshape(indices, [-1])
            # the row count, not -1: a -1 is ambiguous when a row holds no elements
            rows = concat([reshape(size(indices), [1]), shape(params)[1:]], 0)
            values = reshape(values, rows)
        return [IndexedSlices(values, ids, like=params), None]
    spec = _gather_spec(axis)
    return [apply_op("getitem_grad", [dys[0], params, indices], {"spec": spec}), None]


def gather_axis_of_spec(spec) -> int | None:
    """The axis of a getitem spec ``(:, ..., :, indices)`` (a gather, or its gradient), else
    None: what backends check before running a gather/scatter-add kernel for it."""
    full = spec[:-1]
    if spec[-1:] != (("index", 0),) or any(item != _FULL for item in full):
        return None
    return len(full)


def scatter_rows_into(values, like, indices) -> Tensor:
    """Zeros shaped like ``like`` with each row ``values[i]`` added at row ``indices[i]``."""
    return apply_op("getitem_grad", [values, like, indices], {"spec": _gather_spec(0)})


defop("gather", _infer_gather, _gather_ref, vjp=_gather_vjp, kind="movement",
      sample=samples.gather_inputs(), grad_inputs=(0,))


def _infer_one_hot(types, depth, on_value, off_value, axis, dtype):
    indices = types[0]
    if not dtypes.is_integer(indices.dtype):
        raise InferError(f"one_hot indices must be integers, got {indices.dtype}")
    if depth < 0:
        raise InferError(f"depth must be non-negative, got {depth}")
    if indices.shape is None:
        return TensorType(None, dtype)
    axis = normalize_axis(axis, len(indices.shape), extra=1)
    return TensorType(indices.shape[:axis] + (depth,) + indices.shape[axis:], dtype)


def _one_hot_ref(indices, depth, on_value, off_value, axis, dtype):
    hot = indices[..., None] == np.arange(depth)
    return np.moveaxis(np.where(hot, on_value, off_value).astype(dtype), -1, axis)


defop("one_hot", _infer_one_hot, _one_hot_ref, kind="movement", differentiable=False,
      sample=samples.one_hot_inputs())

# -- pad -------------------------------------------------------------------------------------------


def _check_paddings(paddings, shape, mode):
    """TF's limits: pads are non-negative; REFLECT pads < size, SYMMETRIC pads <= size."""
    if shape is not None and len(paddings) != len(shape):
        raise InferError(f"paddings {paddings} need one (before, after) pair per axis of a "
                         f"tensor of shape {format_shape(shape)}")
    limit = {"REFLECT": 1, "SYMMETRIC": 0}.get(mode)
    for axis, pair in enumerate(paddings):
        if min(pair) < 0:
            raise InferError(f"paddings {paddings} contain a negative pad")
        size = None if shape is None else shape[axis]
        if limit is not None and size is not None and max(pair) > max(size - limit, 0):
            raise InferError(f"{mode} padding {pair} is too large for axis {axis} of size "
                             f"{size}")


def _infer_pad(types, paddings, mode, constant_values):
    x = types[0]
    _check_paddings(paddings, x.shape, mode)
    shape = x.shape or (None,) * len(paddings)
    return TensorType(tuple(None if d is None else d + b + a
                            for d, (b, a) in zip(shape, paddings)), x.dtype)


def _pad_ref(x, paddings, mode, constant_values):
    _check_paddings(paddings, x.shape, mode)
    if not paddings:
        return x.copy()
    if mode == "CONSTANT":
        return np.pad(x, paddings, constant_values=constant_values)
    return np.pad(x, paddings, mode=mode.lower())


def _infer_pad_grad(types, paddings, mode):
    dy = types[0]
    shape = dy.shape or (None,) * len(paddings)
    dims = tuple(None if d is None else d - b - a for d, (b, a) in zip(shape, paddings))
    if len(shape) != len(paddings) or any(d is not None and d < 0 for d in dims):
        raise InferError(f"a gradient of shape {format_shape(dy.shape)} cannot come from "
                         f"padding {paddings}")
    _check_paddings(paddings, dims, mode)
    return TensorType(dims, dy.dtype)


def _pad_grad_ref(dy, paddings, mode):
    """Add each padded element's cotangent back onto the input element it copies."""
    if not paddings:
        return dy.copy()
    if mode == "CONSTANT":
        return dy[tuple(slice(b, d - a) for (b, a), d in zip(paddings, dy.shape))]
    sources = [np.pad(arange_like(dy, d - b - a), (b, a), mode=mode.lower())
               for (b, a), d in zip(paddings, dy.shape)]
    out = np.zeros_like(dy, shape=tuple(d - b - a for (b, a), d in zip(paddings, dy.shape)))
    np.add.at(out, np.ix_(*sources), dy)
    return out


defop("pad", _infer_pad, _pad_ref, kind="movement", sample=samples.pad_inputs(),
      vjp=lambda n, d: [pad_grad(d[0], n.attrs["paddings"], n.attrs["mode"])])
defop("pad_grad", _infer_pad_grad, _pad_grad_ref, kind="movement",
      sample=samples.pad_grad_inputs(),
      vjp=lambda n, d: [pad(d[0], n.attrs["paddings"], n.attrs["mode"])],
      doc="the adjoint of pad: folds padded cotangents back onto the input")

# -- public functions ------------------------------------------------------------------------------


def getitem(x, key, name=None) -> Tensor:
    """``x[key]`` with NumPy semantics; ints, slice bounds and index arrays may be tensors."""
    x = convert_to_tensor(x)
    tensors: list[Tensor] = []
    spec = tuple(item for part in (key if isinstance(key, tuple) else (key,))
                 for item in _spec_items(part, tensors))
    folded = _shape_entry(x, spec)
    if folded is not None:
        return folded
    return apply_op("getitem", [x, *tensors], {"spec": spec}, name=name)


def _spec_items(part, tensors) -> list:
    """Spec items for one component of a key (a boolean array mask gives one per axis)."""
    if part is None:
        return [("newaxis",)]
    if part is Ellipsis:
        return [("ellipsis",)]
    if isinstance(part, slice):
        return [("slice",) + tuple(_slice_part(p, tensors)
                                   for p in (part.start, part.stop, part.step))]
    if isinstance(part, (bool, np.bool_)):
        raise TypeError("indexing with a Python bool is not supported")
    if isinstance(part, (int, np.integer)):
        return [("int", int(part))]
    if hasattr(part, "_as_tensor"):
        part = part._as_tensor()
    if isinstance(part, Tensor):
        return [("index", _add_index(part, tensors))]
    if isinstance(part, (list, tuple)) and any(isinstance(p, Tensor) for p in part):
        return [("index", _add_index(stack(list(part)), tensors))]
    array = np.asarray(part)
    if array.dtype == np.bool_ and array.ndim > 0:
        return [("index", _add_index(constant(a), tensors)) for a in array.nonzero()]
    if array.size == 0:
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(f"cannot index with {part!r}: indices must be ints, slices, None, "
                        "Ellipsis or integer arrays/tensors")
    return [("index", _add_index(constant(array), tensors))]


def _slice_part(value, tensors):
    if value is None or isinstance(value, Tensor):
        return value if value is None else ("t", _add_index(value, tensors, scalar=True))
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    raise TypeError(f"slice bounds must be ints, None or int scalar tensors, got {value!r}")


def _add_index(t: Tensor, tensors: list, scalar=False) -> int:
    """Register an index tensor as an extra input (once) and return its position."""
    if t.dtype == dtypes.bool_:
        raise TypeError(f"boolean tensor {t.name!r} cannot be used as an index: masks are only "
                        "supported as constant NumPy arrays (use mg.where for dynamic masks)")
    if not dtypes.is_integer(t.dtype):
        raise TypeError(f"index tensor {t.name!r} must have an integer dtype, got {t.dtype}")
    if scalar and t.ndim not in (0, None):
        raise TypeError(f"slice bounds must be scalars, got tensor {t.name!r} of shape "
                        f"{format_shape(t.type.shape)}")
    for k, existing in enumerate(tensors):
        if existing == t:
            return k
    tensors.append(t)
    return len(tensors) - 1


def _shape_entry(x: Tensor, spec):
    """``shape(y)[i]`` as ``dim(y, i)``, so shape inference can see which axis it is."""
    if x.node.op != "shape" or len(spec) != 1 or spec[0][0] != "int":
        return None
    source, index = x.node.inputs[0], spec[0][1]
    rank = x.type.shape[0]
    if rank is None or not -rank <= index < rank:
        return None
    return cast(dim(source, index), x.dtype)


def gather(params, indices, validate_indices=None, name=None, axis=None) -> Tensor:
    """Slices of ``params`` along ``axis`` at ``indices`` (which must be in range)."""
    params, indices = convert_to_tensor(params), convert_to_tensor(indices)
    axis = 0 if axis is None else int(axis)
    if params.ndim and -params.ndim <= axis < params.ndim:
        axis %= params.ndim
    return apply_op("gather", [params, indices], {"axis": axis}, name=name)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None,
            name=None) -> Tensor:
    """``on_value`` where the new ``axis`` equals the index, else ``off_value`` (TF1 rules)."""
    indices = convert_to_tensor(indices)
    if isinstance(depth, Tensor) or isinstance(on_value, Tensor) or isinstance(off_value, Tensor):
        raise TypeError("one_hot: depth, on_value and off_value must be Python numbers")
    given = [v for v in (on_value, off_value) if v is not None]
    if dtype is None:
        dtype = dtypes.default_dtype_of(given[0]) if given else dtypes.float32
    on = 1 if on_value is None else np.asarray(on_value).item()
    off = 0 if off_value is None else np.asarray(off_value).item()
    attrs = {"depth": int(depth), "on_value": on, "off_value": off,
             "axis": -1 if axis is None else int(axis), "dtype": dtypes.as_dtype(dtype)}
    return apply_op("one_hot", [indices], attrs, name=name)


def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0) -> Tensor:
    """Pad each axis by ``(before, after)`` with a constant, or by mirroring (REFLECT/SYMMETRIC)."""
    x = convert_to_tensor(tensor)
    mode = mode.upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad: mode must be CONSTANT, REFLECT or SYMMETRIC, got {mode!r}")
    if isinstance(paddings, Tensor):
        if paddings.node.op != "constant":
            raise TypeError("pad: paddings must be known statically (a list or constant)")
        paddings = paddings.node.attrs["value"]
    pairs = tuple((int(b), int(a)) for b, a in np.asarray(paddings).reshape(-1, 2))
    if isinstance(constant_values, Tensor):
        raise TypeError("pad: constant_values must be a Python number")
    attrs = {"paddings": pairs, "mode": mode,
             "constant_values": np.asarray(constant_values).item()}
    return apply_op("pad", [x], attrs, name=name)


def pad_grad(dy, paddings, mode="CONSTANT", name=None) -> Tensor:
    """The adjoint of ``pad``: cotangents of mirrored copies are added back to their source."""
    return apply_op("pad_grad", [convert_to_tensor(dy)], {"paddings": tuple(paddings),
                                                          "mode": mode}, name=name)


__all__ = ["getitem", "gather", "one_hot", "pad"]
