"""Leaves and state: placeholder, constant, variable reads, assignments and grouping.

Execution model: within one run every variable read sees the value from before the run; all
assignments are collected and committed together at the end, only if the whole run succeeded.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..graph import TensorType, format_shape
from ..tensor import Tensor, as_node, convert_to_tensor
from .registry import InferError, apply_op, defop


def _leaf_type(types, shape, dtype, **_):
    return TensorType(shape, dtype)


def _no_ref(*_args, **attrs):
    raise RuntimeError("leaf ops are evaluated by the runtime, not by a reference kernel")


defop("placeholder", _leaf_type, _no_ref, kind="leaf", differentiable=False)
defop("variable", _leaf_type, _no_ref, kind="leaf", stateful=True)
defop("constant", lambda types, value: TensorType(value.shape, value.dtype),
      lambda value: value, kind="leaf", differentiable=False)


def _infer_with_default(types, shape):
    default = types[0]
    if shape is None:
        return TensorType(None, default.dtype)
    if default.shape is not None and not (len(default.shape) == len(shape) and all(
            a is None or b is None or a == b for a, b in zip(default.shape, shape))):
        raise InferError(f"the default value of shape {format_shape(default.shape)} does not "
                         f"fit the placeholder's shape {format_shape(shape)}")
    return TensorType(shape, default.dtype)


def _sample_with_default(draw):
    """A default of hypothesis-drawn shape, declared with some dims unknown."""
    from hypothesis import strategies as st

    from ._samples import unary

    (default,), _ = unary()(draw)
    hidden = draw(st.lists(st.booleans(), min_size=default.ndim, max_size=default.ndim))
    shape = tuple(None if h else d for h, d in zip(hidden, default.shape))
    return [default], {"shape": shape}


# The default's value flows through unless the tensor is fed (any tensor may be fed). Its static
# shape is the declared one, which may know less than the default (a feed must only fit it);
# once the fed shapes are bound, the output takes the default's concrete shape.
defop("placeholder_with_default", _infer_with_default, lambda default, shape: default,
      vjp=lambda node, dys: [dys[0]], kind="movement", sample=_sample_with_default,
      extra={"bind_attrs": lambda types, shape: {"shape": types[0].shape},
             "value_dependent_shape": True})


def _infer_assign(types, var):
    target, (value,) = var.out_types[0], types
    if target.dtype != value.dtype:
        raise InferError(f"cannot assign a {value.dtype} value to a {target.dtype} variable")
    if target.shape is not None and value.shape is not None:
        if len(target.shape) != len(value.shape) or any(
                a is not None and b is not None and a != b
                for a, b in zip(target.shape, value.shape)):
            raise InferError("cannot assign a value of shape "
                             f"{value.shape} to a variable of shape {target.shape}")
    return target


def _infer_group(types, **_):
    return []


# State ops take the variable node as attr ``var`` (not as an input, so assigning never reads
# it); ``reads_old`` ops receive the variable's pre-run value as their first argument.
defop("assign", _infer_assign, lambda value, var: value, kind="state", stateful=True,
      differentiable=False)
defop("assign_add", _infer_assign, lambda old, value, var: old + value, kind="state",
      stateful=True, differentiable=False, extra={"reads_old": True})
defop("assign_sub", _infer_assign, lambda old, value, var: old - value, kind="state",
      stateful=True, differentiable=False, extra={"reads_old": True})


def _infer_scatter(types, var):
    indices, updates = types
    target = var.out_types[0]
    if not dtypes.is_integer(indices.dtype):
        raise InferError(f"indices must be integers, got {indices.dtype}")
    if updates.dtype != target.dtype:
        raise InferError(f"updates have dtype {updates.dtype}, the variable {target.dtype}")
    if target.shape is not None and not target.shape:
        raise InferError("cannot scatter rows into a scalar variable")
    if None not in (target.shape, indices.shape, updates.shape):
        rows = indices.shape + target.shape[1:]
        if not _broadcasts_to(updates.shape, rows):
            raise InferError(f"updates of shape {updates.shape} do not fit the rows "
                             f"{rows} selected by indices of shape {indices.shape}")
    return target


def _broadcasts_to(shape, target) -> bool:
    if len(shape) > len(target):
        return False
    return all(a is None or b is None or a in (1, b)
               for a, b in zip(shape[::-1], target[::-1]))


def check_rows(storage, indices, updates) -> None:
    """Raise if ``indices`` leave the variable's first axis or ``updates`` do not fit the rows
    (checked before any write, so a bad update never lands half-applied)."""
    size = storage.shape[0]
    bad = (indices < -size) | (indices >= size)
    if bad.any():
        raise IndexError(f"index {indices[bad].flat[0]} is out of range for a variable of "
                         f"shape {storage.shape}")
    rows = indices.shape + storage.shape[1:]
    if not _broadcasts_to(updates.shape, rows):
        raise ValueError(f"updates of shape {updates.shape} do not fit the rows {rows} "
                         f"selected by indices of shape {indices.shape}")


def _scatter_ref(apply_rows):
    """The op's reference: a new full value, the old one with the rows updated."""
    def ref(old, indices, updates, var):
        new = np.array(old, copy=True)
        check_rows(new, indices, updates)
        apply_rows(new, indices, updates)
        return new
    return ref


def _add_rows(storage, indices, updates):
    # ufunc.at is given full-shape updates: NumPy 2.4 mishandles some lower-rank broadcasts
    np.add.at(storage, indices, np.broadcast_to(updates, indices.shape + storage.shape[1:]))


def _sub_rows(storage, indices, updates):
    np.subtract.at(storage, indices, np.broadcast_to(updates, indices.shape + storage.shape[1:]))


def _set_rows(storage, indices, updates):
    storage[indices] = updates


# When nothing reads the op's value, the runner checks ``check_rows`` with the other steps and
# then, after every other write, ``apply_rows(storage, indices, updates)`` updates only the
# touched rows of the variable's storage in place.
for _name, _apply in (("scatter_add", _add_rows), ("scatter_sub", _sub_rows),
                      ("scatter_update", _set_rows)):
    defop(_name, _infer_scatter, _scatter_ref(_apply), kind="state", stateful=True,
          differentiable=False,
          extra={"reads_old": True, "apply_rows": _apply, "check_rows": check_rows})
defop("group", _infer_group, lambda *inputs: (), kind="control", differentiable=False)


def placeholder(dtype, shape=None, name=None) -> Tensor:
    """A value fed at run time; ``None`` dims (and ``shape=None``) match any size."""
    dtype = dtypes.as_dtype(dtype)
    static = None if shape is None else tuple(None if d in (None, -1) else int(d) for d in shape)
    attrs = {"shape": static, "dtype": dtype}
    return apply_op("placeholder", [], attrs, name=name or "Placeholder")


def placeholder_with_default(input, shape, name=None) -> Tensor:
    """A placeholder whose value is ``input`` when it is not fed; ``shape`` (``None`` dims, or
    ``None`` for any rank) is what a feed must fit (TF1 ``tf.placeholder_with_default``)."""
    static = None if shape is None else tuple(None if d in (None, -1) else int(d) for d in shape)
    return apply_op("placeholder_with_default", [convert_to_tensor(input)], {"shape": static},
                    name=name or "PlaceholderWithDefault")


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """A constant tensor; ``shape`` broadcasts/reshapes the value as TF's ``constant`` does."""
    target = dtypes.as_dtype(dtype) if dtype is not None else dtypes.default_dtype_of(value)
    try:
        array = np.asarray(value)
    except ValueError as err:
        raise TypeError(f"constant: cannot make a tensor from {value!r}: {err}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"constant: unsupported value of dtype {array.dtype}: {value!r}")
    array = array.astype(target)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        array = (np.broadcast_to(array, shape) if array.size == 1 or array.ndim == 0
                 else array.reshape(shape))
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return apply_op("constant", [], {"value": array}, name=name or "Const")


def group(*inputs, name=None):
    """An op running all ``inputs`` (tensors or ops); it has no value (``sess.run`` gives None)."""
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        inputs = tuple(inputs[0])
    tensors = [t for t in inputs if isinstance(t, Tensor)]
    nodes = [as_node(t) for t in inputs if not isinstance(t, Tensor)]
    return apply_op("group", tensors, {}, name=name or "group_deps", control_inputs=nodes)


def no_op(name=None):
    return apply_op("group", [], {}, name=name or "NoOp")


def assign(ref, value, name=None):
    """New value for variable ``ref``; written when the run succeeds (TF1 ``tf.assign``)."""
    return _assign_op("assign", ref, value, name)


def assign_add(ref, value, name=None):
    return _assign_op("assign_add", ref, value, name)


def assign_sub(ref, value, name=None):
    return _assign_op("assign_sub", ref, value, name)


def scatter_add(ref, indices, updates, use_locking=False, name=None):
    """Add ``updates`` to rows ``indices`` of variable ``ref`` (repeated ids accumulate)."""
    return _scatter_op("scatter_add", ref, indices, updates, name)


def scatter_sub(ref, indices, updates, use_locking=False, name=None):
    """Subtract ``updates`` from rows ``indices`` of variable ``ref`` (repeats accumulate)."""
    return _scatter_op("scatter_sub", ref, indices, updates, name)


def scatter_update(ref, indices, updates, use_locking=True, name=None):
    """Set rows ``indices`` of variable ``ref`` to ``updates`` (for a repeated id, the last)."""
    return _scatter_op("scatter_update", ref, indices, updates, name)


def _scatter_op(op, ref, indices, updates, name):
    target = convert_to_tensor(ref)
    if target.node.op != "variable":
        raise TypeError(f"{op}: target {target.name!r} is not a variable")
    return apply_op(op, [convert_to_tensor(indices), _convert_assigned(updates, target.dtype)],
                    {"var": target.node}, name=name)


def _assign_op(op, ref, value, name):
    target = convert_to_tensor(ref)
    if target.node.op != "variable":
        raise TypeError(f"{op}: target {target.name!r} is not a variable")
    value = _convert_assigned(value, target.dtype)
    return apply_op(op, [value], {"var": target.node}, name=name)


def _convert_assigned(value, dtype):
    if isinstance(value, Tensor):
        return value
    array = np.asarray(value)
    if array.dtype.kind == "f" and dtype.kind != "f":
        raise TypeError(f"cannot assign float data to a {dtype} variable")
    return constant(array, dtype=dtype)


__all__ = ["placeholder", "placeholder_with_default", "constant", "group", "no_op", "assign",
           "assign_add", "assign_sub", "scatter_add", "scatter_sub", "scatter_update"]
