"""Sample-input rules (``OpDef.sample``) for the shape, creation and indexing ops.

Shapes come from hypothesis (with size-0 and size-1 dims); shape-like operands are drawn to
be valid for the drawn shape, sometimes as int64 vector inputs instead of attrs.
"""
from __future__ import annotations

import math

import numpy as np

from ..testing.domains import sample_values
from ._samples import rng_from


def _st():
    from hypothesis import strategies as st

    return st


def _shape(draw, min_dims=0, max_dims=3, max_side=4):
    from ..testing import strategies

    return draw(strategies.shapes(min_dims, max_dims, 0, max_side))


def _values(draw, shape):
    return sample_values(rng_from(draw), shape)


def _operand(draw, inputs, name, dims):
    """Attrs giving ``dims`` statically, or (sometimes) also as an int64 vector input.

    Vector inputs keep a full hint in the attr, so inference stays exact as the registry test
    expects; unknown hints are covered by the op tests.
    """
    dims = tuple(int(d) for d in dims)
    if draw(_st().booleans()):
        return inputs + [np.array(dims, np.int64)], {name: dims}
    return inputs, {name: dims}


def _axis(draw, rank, extra=0):
    return draw(_st().integers(-(rank + extra), rank + extra - 1))


def any_array():
    def sample(draw):
        return [_values(draw, _shape(draw))], {}
    return sample


def dim_inputs():
    def sample(draw):
        shape = _shape(draw, min_dims=1)
        return [_values(draw, shape)], {"axis": _axis(draw, len(shape))}
    return sample


def reshape_inputs():
    def sample(draw):
        shape = _shape(draw)
        size = math.prod(shape)
        targets = [(size,), shape[::-1], (1,) + shape, shape + (1,)]
        if size:
            targets += [(-1,), (-1,) + shape[1:]]
        if len(shape) >= 2:
            targets.append((shape[0] * shape[1],) + shape[2:])
        target = draw(_st().sampled_from(targets))
        return _operand(draw, [_values(draw, shape)], "shape", target)
    return sample


def transpose_inputs():
    def sample(draw):
        shape = _shape(draw, max_dims=4)
        perm = draw(_st().one_of(_st().none(), _st().permutations(range(len(shape))).map(tuple)))
        return [_values(draw, shape)], {"perm": perm}
    return sample


def expand_dims_inputs():
    def sample(draw):
        shape = _shape(draw)
        return [_values(draw, shape)], {"axis": _axis(draw, len(shape), extra=1)}
    return sample


def squeeze_inputs():
    def sample(draw):
        shape = _shape(draw, max_dims=4, max_side=2)
        ones = [i for i, d in enumerate(shape) if d == 1]
        subset = draw(_st().lists(_st().sampled_from(ones), unique=True)) if ones else []
        axis = None if draw(_st().booleans()) else tuple(subset)
        return [_values(draw, shape)], {"axis": axis}
    return sample


def concat_inputs():
    def sample(draw):
        shape = _shape(draw, min_dims=1)
        axis = _axis(draw, len(shape))
        sizes = draw(_st().lists(_st().integers(0, 3), min_size=1, max_size=3))
        parts = [shape[:axis % len(shape)] + (n,) + shape[axis % len(shape) + 1:] for n in sizes]
        return [_values(draw, s) for s in parts], {"axis": axis}
    return sample


def stack_inputs():
    def sample(draw):
        shape = _shape(draw)
        count = draw(_st().integers(1, 3))
        return ([_values(draw, shape) for _ in range(count)],
                {"axis": _axis(draw, len(shape), extra=1)})
    return sample


def unstack_inputs():
    def sample(draw):
        shape = _shape(draw, min_dims=1)
        axis = _axis(draw, len(shape))
        shape = shape[:axis % len(shape)] + (max(shape[axis], 1),) + shape[axis % len(shape) + 1:]
        return [_values(draw, shape)], {"num": shape[axis], "axis": axis}
    return sample


def split_inputs():
    def sample(draw):
        st = _st()
        shape = _shape(draw, min_dims=1)
        axis = _axis(draw, len(shape))
        length, x = shape[axis], _values(draw, shape)
        if draw(st.booleans()):
            num = draw(st.sampled_from([n for n in (1, 2, 3, 4) if length % n == 0]))
            return [x], {"axis": axis, "num": num, "sizes": None}
        cuts = sorted(draw(st.lists(st.integers(0, length), max_size=2)))
        sizes = list(np.diff([0, *cuts, length]))
        if draw(st.booleans()):
            sizes[draw(st.integers(0, len(sizes) - 1))] = -1
        inputs, attrs = _operand(draw, [x], "sizes", [int(s) for s in sizes])
        return inputs, {"axis": axis, "num": len(sizes), **attrs}
    return sample


def broadcast_to_inputs():
    def sample(draw):
        from ..testing import strategies

        x_shape, other = draw(strategies.broadcastable_shapes((), 2))
        target = np.broadcast_shapes(x_shape, other)
        return _operand(draw, [_values(draw, x_shape)], "shape", target)
    return sample


def tile_inputs():
    def sample(draw):
        shape = _shape(draw)
        reps = draw(_st().lists(_st().integers(0, 3), min_size=len(shape), max_size=len(shape)))
        return _operand(draw, [_values(draw, shape)], "multiples", reps)
    return sample


def fill_inputs():
    def sample(draw):
        return _operand(draw, [_values(draw, ())], "shape", _shape(draw))
    return sample


def range_inputs():
    def sample(draw):
        st = _st()
        bounds = [draw(st.integers(-3, 3)), draw(st.integers(-3, 6)),
                  draw(st.sampled_from([-2, -1, 1, 2, 3]))]
        dtype = np.dtype(draw(st.sampled_from(["int64", "float64"])))
        return [], {"bounds": tuple(bounds), "dtype": dtype}
    return sample


# -- indexing ----------------------------------------------------------------------------------


def _draw_key(draw, shape):
    """A random valid key: ``(spec, index arrays)`` mixing every kind of spec item."""
    st = _st()
    rng = rng_from(draw)
    adv_shape = _shape(draw, max_dims=2, max_side=3)
    kinds = _key_kinds(draw, len(shape))
    ellipsis = kinds.index("ellipsis") if "ellipsis" in kinds else len(kinds)
    after = sum(k not in ("newaxis", "ellipsis") for k in kinds[ellipsis:])
    spec, indices, axis = [], [], 0
    for kind in kinds:
        if kind in ("newaxis", "ellipsis"):
            spec.append((kind,))
            axis = len(shape) - after if kind == "ellipsis" else axis
            continue
        size = shape[axis]
        if size == 0 and kind in ("int", "array", "scalar"):
            kind = "slice"
        if kind == "int":
            spec.append(("int", draw(st.integers(-size, size - 1))))
        elif kind in ("array", "scalar"):
            index_shape = adv_shape if kind == "array" else ()
            indices.append(rng.integers(-size, size, size=index_shape).astype(np.int64))
            spec.append(("index", len(indices) - 1))
        else:
            spec.append(_draw_slice(draw, size))
        axis += 1
    return tuple(spec), indices


def _key_kinds(draw, rank):
    """Kinds of key items, at most ``rank`` of them consuming an axis, maybe one ellipsis."""
    st = _st()
    drawn = draw(st.lists(st.sampled_from(["int", "slice", "newaxis", "array", "scalar"]),
                          max_size=rank + 2))
    kinds, consumed = [], 0
    for kind in drawn:
        if kind == "newaxis" or consumed < rank:
            kinds.append(kind)
            consumed += kind != "newaxis"
    if draw(st.booleans()):
        kinds.insert(draw(st.integers(0, len(kinds))), "ellipsis")
    return kinds


def _draw_slice(draw, size):
    """A slice item with constant bounds (tensor bounds leave the length unknown statically)."""
    st = _st()
    bound = st.one_of(st.none(), st.integers(-size - 2, size + 2))
    step = st.one_of(st.none(), st.sampled_from([-3, -2, -1, 1, 2, 3]))
    return ("slice", draw(bound), draw(bound), draw(step))


def getitem_inputs():
    def sample(draw):
        shape = _shape(draw, max_dims=4)
        spec, indices = _draw_key(draw, shape)
        return [_values(draw, shape), *indices], {"spec": spec}
    return sample


def getitem_grad_inputs():
    def sample(draw):
        from .indexing import numpy_key

        shape = _shape(draw, max_dims=4)
        spec, indices = _draw_key(draw, shape)
        x = _values(draw, shape)
        dy = _values(draw, np.shape(x[numpy_key(spec, indices)]))
        return [dy, x, *indices], {"spec": spec}
    return sample


def gather_inputs():
    def sample(draw):
        shape = _shape(draw, min_dims=1)
        axis = _axis(draw, len(shape))
        index_shape = _shape(draw, max_dims=2)
        if shape[axis] == 0:
            index_shape = (0,) + index_shape[1:]
        indices = rng_from(draw).integers(0, max(shape[axis], 1), size=index_shape)
        return [_values(draw, shape), indices.astype(np.int64)], {"axis": axis}
    return sample


def one_hot_inputs():
    def sample(draw):
        st = _st()
        shape, depth = _shape(draw), draw(st.integers(0, 4))
        indices = rng_from(draw).integers(-1, depth + 2, size=shape).astype(np.int64)
        attrs = {"depth": depth, "on_value": draw(st.sampled_from([1.0, 2.5])),
                 "off_value": draw(st.sampled_from([0.0, -1.0])),
                 "axis": draw(st.integers(-1, len(shape))), "dtype": np.dtype("float64")}
        return [indices], attrs
    return sample


def _draw_padding(draw, shape):
    st = _st()
    mode = draw(st.sampled_from(["CONSTANT", "REFLECT", "SYMMETRIC"]))
    limits = [2 if mode == "CONSTANT" else max(d - 1, 0) if mode == "REFLECT" else d
              for d in shape]
    pairs = tuple((draw(st.integers(0, lim)), draw(st.integers(0, lim))) for lim in limits)
    return pairs, mode


def pad_inputs():
    def sample(draw):
        shape = _shape(draw)
        pairs, mode = _draw_padding(draw, shape)
        value = draw(_st().sampled_from([0.0, 1.5]))
        return [_values(draw, shape)], {"paddings": pairs, "mode": mode, "constant_values": value}
    return sample


def pad_grad_inputs():
    def sample(draw):
        shape = _shape(draw)
        pairs, mode = _draw_padding(draw, shape)
        padded = tuple(d + b + a for d, (b, a) in zip(shape, pairs))
        return [_values(draw, padded)], {"paddings": pairs, "mode": mode}
    return sample
