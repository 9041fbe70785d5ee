"""NumPy-style indexing, gather, one_hot and pad: values vs NumPy, static shapes, errors, grads."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.errors import InvalidArgumentError
from minigraph.testing import check_grads
from minigraph.testing.strategies import shapes

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
GRAD_FUZZ = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _run(fetch, feeds=None):
    return mg.Session().run(fetch, feeds or {})


def _compatible(static, actual):
    """A static shape (None dims allowed) agrees with a concrete one."""
    if static is None:
        return True
    return len(static) == len(actual) and all(s is None or s == a for s, a in zip(static, actual))


# -- random keys ---------------------------------------------------------------------------------

_KINDS = ["int", "npint", "slice", "tslice", "none", "list", "array", "tensor", "scalar",
          "mask"]


@st.composite
def _keys(draw, shape):
    """A recipe for a valid key: (kind, payload) items; tensors are fed through placeholders."""
    drawn = draw(st.lists(st.sampled_from(_KINDS), max_size=len(shape) + 2))
    adv = draw(shapes(max_dims=2, max_side=3))
    kinds, consumed = [], 0
    for kind in drawn:
        if kind == "none" or consumed < len(shape):
            kinds.append(kind)
            consumed += kind != "none"
    if "mask" in kinds:  # a mask's index count is data dependent: keep it the only array
        first = kinds.index("mask")
        kinds = [k if k not in ("mask", "list", "array", "tensor") or i == first else "slice"
                 for i, k in enumerate(kinds)]
    if draw(st.booleans()):
        kinds.insert(draw(st.integers(0, len(kinds))), "ellipsis")
    after = sum(k not in ("none", "ellipsis") for k in kinds[kinds.index("ellipsis"):]) \
        if "ellipsis" in kinds else 0
    recipe, axis = [], 0
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    for kind in kinds:
        if kind in ("none", "ellipsis"):
            recipe.append((kind, None))
            axis = len(shape) - after if kind == "ellipsis" else axis
            continue
        size = shape[axis]
        if size == 0 and kind not in ("slice", "tslice", "mask"):
            kind = "slice"
        if kind == "list" and 0 in adv:  # tolist() would lose an empty array's shape
            kind = "array"
        if kind in ("int", "npint", "scalar"):
            recipe.append((kind, draw(st.integers(-size, size - 1))))
        elif kind in ("list", "array", "tensor"):
            recipe.append((kind, rng.integers(-size, size, size=adv)))
        elif kind == "mask":
            recipe.append((kind, rng.random(size) < 0.5))
        else:
            bound = st.one_of(st.none(), st.integers(-size - 2, size + 2))
            step = st.one_of(st.none(), st.sampled_from([-2, -1, 1, 3]))
            recipe.append((kind, (draw(bound), draw(bound), draw(step))))
        axis += 1
    return recipe


def _numpy_key(recipe):
    plain = {"none": lambda v: None, "ellipsis": lambda v: Ellipsis,
             "slice": lambda v: slice(*v), "tslice": lambda v: slice(*v),
             "list": lambda v: v.tolist()}
    return tuple(plain[k](v) if k in plain else v for k, v in recipe)


def _graph_key(recipe, feeds):
    """The same key with tensors: fed placeholders for tensor kinds, Python values otherwise."""
    def fed(value):
        ph = mg.placeholder(mg.int64, [None] * np.ndim(value))
        feeds[ph] = np.asarray(value, np.int64)
        return ph

    build = {"none": lambda v: None, "ellipsis": lambda v: Ellipsis, "int": int,
             "npint": np.int64, "slice": lambda v: slice(*v), "list": lambda v: v.tolist(),
             "array": lambda v: v, "tensor": fed, "scalar": fed, "mask": lambda v: v,
             "tslice": lambda v: slice(*(None if b is None else fed(b) for b in v))}
    return tuple(build[k](v) for k, v in recipe)


@st.composite
def _indexing_cases(draw):
    shape = draw(shapes(max_dims=4))
    return shape, draw(_keys(shape)), draw(st.booleans())


@FUZZ
@given(case=_indexing_cases())
def test_getitem_matches_numpy(case):
    shape, recipe, dynamic = case
    x = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    expected = x[_numpy_key(recipe)]
    with mg.Graph().as_default():
        ph = mg.placeholder(mg.float64, [None] * len(shape) if dynamic else shape)
        feeds = {ph: x}
        y = ph[_graph_key(recipe, feeds)]
        got = _run(y, feeds)
    np.testing.assert_array_equal(got, expected)
    assert _compatible(y.type.shape, np.shape(expected)), (y.type.shape, np.shape(expected))
    static_only = not dynamic and all(k not in ("tslice", "tensor", "scalar") for k, _ in recipe)
    if static_only:
        assert y.type.shape == np.shape(expected)


@GRAD_FUZZ
@given(case=_indexing_cases())
def test_getitem_gradient_matches_finite_differences(case):
    shape, recipe, _ = case
    constant_kinds = {"tensor": "array", "list": "array", "scalar": "int", "tslice": "slice"}
    key = _graph_key([(constant_kinds.get(k, k), v) for k, v in recipe], {})
    x = np.random.default_rng(0).uniform(-1, 1, size=shape)
    check_grads(lambda t: t[key], [x], order=2)


# -- specific forms ------------------------------------------------------------------------------


def test_pairs_of_index_vectors_pick_one_entry_per_row():
    o = mg.placeholder(mg.float64, [None, 5])
    y = mg.placeholder(mg.int32, [None])
    picked = o[mg.arange(o.shape[0]), y]
    assert picked.type.shape == (None,)
    ov, yv = np.random.default_rng(1).random((4, 5)), np.array([1, 4, 0, 4])
    np.testing.assert_array_equal(_run(picked, {o: ov, y: yv}), ov[np.arange(4), yv])
    grad = mg.gradients(picked, [o])[0]
    expected = np.zeros((4, 5))
    expected[np.arange(4), yv] = 1
    np.testing.assert_array_equal(_run(grad, {o: ov, y: yv}), expected)


@pytest.mark.parametrize("index_shape", [(), (3,), (2, 2)])
def test_column_lookup_with_int_tensor(index_shape):
    u = mg.placeholder(mg.float64, [4, 6])
    x_t = mg.placeholder(mg.int32, index_shape)
    col = u[:, x_t]
    assert col.type.shape == (4,) + index_shape
    uv, xv = np.random.default_rng(2).random((4, 6)), np.full(index_shape, 5, np.int32)
    np.testing.assert_array_equal(_run(col, {u: uv, x_t: xv}), uv[:, xv])


def test_theano_style_scalar_index():
    x = mg.matrix("x", dtype="float64")
    i = mg.iscalar("i")
    row = x[i]
    assert row.type.shape == (None,)
    xv = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(_run(row, {x: xv, i: -1}), xv[-1])
    np.testing.assert_array_equal(_run(x[i:], {x: xv, i: 1}), xv[1:])


def test_repeated_indices_accumulate_in_gradient():
    x = mg.placeholder(mg.float64, [3])
    y = x[[0, 0, 2, 0]]
    grad = mg.gradients(y * mg.constant([1.0, 2.0, 3.0, 4.0], dtype=mg.float64), [x])[0]
    np.testing.assert_array_equal(_run(grad, {x: np.zeros(3)}), [7.0, 0.0, 3.0])


def test_boolean_numpy_mask_selects_like_numpy():
    x = mg.constant(np.arange(6.0).reshape(2, 3))
    mask = np.array([[True, False, True], [False, True, False]])
    np.testing.assert_array_equal(_run(x[mask]), np.arange(6.0).reshape(2, 3)[mask])


def test_shape_entry_becomes_dim():
    x = mg.placeholder(mg.float32, [None, 7])
    first = mg.shape(x)[0]
    assert first.node.op == "dim" and first.dtype == np.int64
    assert int(_run(mg.shape(x)[-1])) == 7
    assert mg.reshape(x, [mg.shape(x)[0], -1, 1]).type.shape == (None, 7, 1)


def test_static_shapes_with_unknown_dims():
    x = mg.placeholder(mg.float32, [None, 5, None])
    assert x[1:3].type.shape == (None, 5, None)
    assert x[:, 1:3].type.shape == (None, 2, None)
    assert x[..., 0].type.shape == (None, 5)
    assert x[:, None, ::2].type.shape == (None, 1, 3, None)
    assert x[:, [0, 1], [2, 3]].type.shape == (None, 2)
    assert x[[0, 1], :, [2, 3]].type.shape == (2, 5)
    assert mg.placeholder(mg.float32)[0].type.shape is None


@pytest.mark.parametrize("key, message", [
    ((0, 0, 0), "too many indices"),
    ((slice(None), 9), "index 9 is out of bounds for axis 1 with size 5"),
    ((-4,), "index -4 is out of bounds for axis 0 with size 3"),
    ((Ellipsis, Ellipsis), "single ellipsis"),
    ((slice(None, None, 0),), "step cannot be zero"),
    (([0, 1], [0, 1, 2]), "cannot be broadcast"),
])
def test_static_index_errors(key, message):
    x = mg.placeholder(mg.float32, [3, 5])
    with pytest.raises(ValueError, match=message):
        x[key]


def test_unsupported_indices_are_rejected_clearly():
    x = mg.placeholder(mg.float32, [3, 5])
    with pytest.raises(TypeError, match="boolean tensor"):
        x[x > 0]
    with pytest.raises(TypeError, match="integer dtype"):
        x[mg.constant(1.5)]
    with pytest.raises(TypeError, match="indices must be ints"):
        x["a"]
    with pytest.raises(TypeError, match="slice bounds"):
        x[mg.constant([1, 2]):]


def test_out_of_range_runtime_index_is_reported():
    x = mg.placeholder(mg.float32, [3])
    i = mg.placeholder(mg.int32, [])
    with pytest.raises(InvalidArgumentError, match="out of bounds"):
        _run(x[i], {x: np.zeros(3, np.float32), i: 3})


def test_slice_with_tensor_bounds_and_gradient():
    x = mg.placeholder(mg.float64, [None])
    n = mg.placeholder(mg.int64, [])
    y = x[1:n]
    assert y.type.shape == (None,)
    xv = np.arange(6.0)
    np.testing.assert_array_equal(_run(y, {x: xv, n: 4}), xv[1:4])
    grad = mg.gradients(y, [x])[0]
    np.testing.assert_array_equal(_run(grad, {x: xv, n: 4}), [0, 1, 1, 1, 0, 0])


# -- gather ----------------------------------------------------------------------------------------


@FUZZ
@given(shape=shapes(min_dims=1, min_side=1), index_shape=shapes(max_dims=2),
       data=st.data())
def test_gather_matches_numpy(shape, index_shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    params = np.random.default_rng(0).random(shape)
    indices = np.random.default_rng(1).integers(0, shape[axis], size=index_shape)
    with mg.Graph().as_default():
        ph = mg.placeholder(mg.float64, [None] * len(shape))
        y = mg.gather(ph, indices, axis=axis)
        got = _run(y, {ph: params})
    np.testing.assert_array_equal(got, np.take(params, indices, axis=axis))
    assert _compatible(y.type.shape, got.shape) and len(y.type.shape) == got.ndim


def test_gather_gradient_accumulates_repeats():
    params = np.random.default_rng(3).random((4, 3))
    check_grads(lambda p: mg.gather(p, [[1, 1], [3, 1]], axis=0), [params], order=2)
    check_grads(lambda p: mg.gather(p, [2, 0, 2], axis=-1), [params], order=2)
    p = mg.placeholder(mg.float64, [4, 3])
    grad = mg.gradients(mg.gather(p, [1, 1, 2]), [p])[0]
    assert isinstance(grad, mg.IndexedSlices)
    np.testing.assert_array_equal(_run(mg.convert_to_tensor(grad), {p: params})[:, 0],
                                  [0, 2, 1, 0])


def test_gather_errors():
    params = mg.placeholder(mg.float32, [4, 3])
    assert mg.gather(params, mg.placeholder(mg.int32, [None, 2]), axis=1).type.shape == \
        (4, None, 2)
    with pytest.raises(ValueError, match="indices must be integers"):
        mg.gather(params, [0.5])
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        mg.gather(params, [0], axis=2)
    with pytest.raises(InvalidArgumentError, match="index 4 is out of range for axis 0"):
        _run(mg.gather(params, [0, 4]), {params: np.zeros((4, 3), np.float32)})


# -- one_hot --------------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [None, -1, 0, 1])
def test_one_hot_matches_tf_semantics(axis):
    indices = np.array([[0, 2], [-1, 5]])
    y = mg.one_hot(indices, 3, axis=axis)
    expected = np.zeros((2, 2, 3), np.float32)
    expected[0, 0, 0] = expected[0, 1, 2] = 1
    expected = np.moveaxis(expected, -1, -1 if axis is None else axis)
    assert y.dtype == np.float32 and y.type.shape == expected.shape
    np.testing.assert_array_equal(_run(y), expected)


def test_one_hot_values_and_dtype():
    y = mg.one_hot([1, 0], 2, on_value=5, off_value=-1)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(_run(y), [[-1, 5], [5, -1]])
    z = mg.one_hot(mg.placeholder(mg.int64, [None]), 4, dtype=mg.float64)
    assert z.type.shape == (None, 4) and z.dtype == np.float64
    with pytest.raises(ValueError, match="must be integers"):
        mg.one_hot([0.5], 2)


# -- pad -------------------------------------------------------------------------------------------


@FUZZ
@given(shape=shapes(max_dims=3), data=st.data())
def test_pad_matches_numpy(shape, data):
    mode = data.draw(st.sampled_from(["CONSTANT", "REFLECT", "SYMMETRIC", "reflect"]))
    limit = {"CONSTANT": lambda d: 3, "REFLECT": lambda d: max(d - 1, 0),
             "SYMMETRIC": lambda d: d}[mode.upper()]
    pairs = [[data.draw(st.integers(0, limit(d))) for _ in range(2)] for d in shape]
    x = np.random.default_rng(0).random(shape)
    y = mg.pad(x, pairs, mode=mode, constant_values=2.5)
    if not shape:
        expected = x
    elif mode.upper() == "CONSTANT":
        expected = np.pad(x, pairs, constant_values=2.5)
    else:
        expected = np.pad(x, pairs, mode=mode.lower())
    assert y.type.shape == expected.shape
    np.testing.assert_array_equal(_run(y), expected)


@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC"])
def test_pad_gradients(mode):
    x = np.random.default_rng(4).random((3, 4))
    check_grads(lambda t: mg.pad(t, [[2, 1], [0, 3]], mode=mode), [x], order=2)


def test_pad_errors():
    x = mg.placeholder(mg.float32, [3, None])
    assert mg.pad(x, [[1, 1], [2, 0]]).type.shape == (5, None)
    with pytest.raises(ValueError, match="REFLECT padding .* too large for axis 0 of size 3"):
        mg.pad(x, [[3, 0], [0, 0]], mode="REFLECT")
    with pytest.raises(ValueError, match="one \\(before, after\\) pair per axis"):
        mg.pad(x, [[1, 1]])
    with pytest.raises(ValueError, match="mode must be"):
        mg.pad(x, [[1, 1], [1, 1]], mode="EDGE")
    with pytest.raises(InvalidArgumentError, match="too large for axis 1 of size 2"):
        _run(mg.pad(x, [[0, 0], [0, 3]], mode="SYMMETRIC"), {x: np.zeros((3, 2), np.float32)})
