"""The conv/pool CUDA kernels (``kernels.cupy.conv``) without a GPU: every instantiation compiles
with nvcc for sm_90, and the same text built for the host (``kernels.cupy.conv_harness``) agrees
with the NumPy reference (``minigraph.ops._conv_ref``) over drawn shapes, windows, strides,
dilations and paddings, float32 and float64 -- convolutions as im2col / col2im plus a NumPy GEMM,
as the backend composes them with cuBLAS. Launches also run with tiny grids, so the grid-stride
loops cover the rest.
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.cupy import conv
from kernels.cupy.nvcc import compile_ptx, nvcc_path
from minigraph.ops import _conv_ref as ref
from minigraph.testing.strategies import op_inputs

needs_nvcc = pytest.mark.skipif(nvcc_path() is None, reason="nvcc is not installed")
KERNELS = conv.all_kernels()
TOLERANCE = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-12, atol=1e-12)}
launches = st.sampled_from([None, (1, 1), (1, 32), (3, 7)])
"""Grid x block of the host launches: as the backend plans them, or small (grid-stride)."""


def _entries(ptx: str) -> set[str]:
    return set(re.findall(r"\.entry\s+(\w+)\s*\(", ptx))


@needs_nvcc
def test_every_conv_and_pool_kernel_compiles_for_sm90_together():
    ptx = compile_ptx("".join(k.source for k in KERNELS), arch="sm_90")
    assert _entries(ptx) == {e.name for k in KERNELS for e in k.entries}


@needs_nvcc
@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_each_source_compiles_alone(kernel):
    assert _entries(compile_ptx(kernel.source, arch="sm_90")) == {e.name for e in kernel.entries}


def test_sources_are_self_contained_and_entry_names_unique():
    names = [e.name for k in KERNELS for e in k.entries]
    assert len(names) == len(set(names)) == 2 * (len(conv.CONV_ROLES) + len(conv.POOL_ROLES))
    for kernel in KERNELS:
        assert "#include" not in kernel.source
        for entry in kernel.entries:
            assert f'extern "C" __global__ void {entry.name}(' in kernel.source
            assert entry.name.startswith(("mg_conv_", "mg_pool_"))


@pytest.mark.parametrize("make", [conv.conv_kernel, conv.pool_kernel])
def test_unsupported_dtypes_are_refused_by_name(make):
    with pytest.raises(ValueError, match="no CUDA .* kernel for dtype float16"):
        make("float16")


def test_image_chunks_cover_every_image_within_the_limit():
    geo = conv.ConvGeometry(10, 4, 4, 3, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1)
    per_image = geo.pixels * geo.taps
    for limit in (1, per_image, 3 * per_image + 1, 100 * per_image):
        chunks = conv.image_chunks(geo, limit)
        assert [f for f, _ in chunks] == list(np.cumsum([0] + [c for _, c in chunks[:-1]]))
        assert sum(c for _, c in chunks) == 10
        assert max(c for _, c in chunks) == max(1, min(limit // per_image, 10))
    assert conv.image_chunks(geo.images(0)) == []
    assert conv.launch("im2col", geo.images(0)) is None


# -- numerics on the host ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host():
    """Host builds of every source, by (family, dtype)."""
    from kernels.cupy.conv_harness import host_kernel

    return {(k.name.split("_")[1], k.name[-3:].replace("f", "float")): host_kernel(k.source)
            for k in KERNELS}


def _conv_geometry(x_shape, w_shape, attrs) -> conv.ConvGeometry:
    (oh, top, _), (ow, left, _) = ref.spatial_geometry(
        x_shape, w_shape[:2], attrs["strides"], attrs["dilations"], attrs["padding"])
    return conv.ConvGeometry(*x_shape, oh, ow, *w_shape[:2], *attrs["strides"],
                             *attrs["dilations"], top, left)


def _pool_geometry(x_shape, attrs) -> conv.PoolGeometry:
    (oh, top, _), (ow, left, _) = ref.spatial_geometry(
        x_shape, attrs["ksize"], attrs["strides"], (1, 1), attrs["padding"])
    return conv.PoolGeometry(*x_shape, oh, ow, *attrs["ksize"], *attrs["strides"], top, left)


def _filled(shape, dtype) -> np.ndarray:
    """Garbage (NaN) everywhere, so an element a kernel never writes shows up."""
    return np.full(shape, np.nan, dtype)


def _run(kernel, role, geo, *arrays, at=None):
    grid, block = at or (None, None)
    kernel.run(role, geo, *arrays, grid=grid, block=block)


def _im2col(kernel, geo, x, at):
    cols = _filled((geo.n * geo.pixels, geo.taps), x.dtype)
    _run(kernel, "im2col", geo, x, cols, at=at)
    return cols


@needs_nvcc
@pytest.mark.parametrize("dtype", conv.FLOATS)
@pytest.mark.parametrize("op", ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"])
@settings(deadline=None, max_examples=25)
@given(data=st.data(), at=launches)
def test_convolutions_on_the_host_match_the_reference(host, dtype, op, data, at):
    inputs, attrs = data.draw(op_inputs(op))
    x, w, *rest = [a.astype(dtype) for a in inputs]
    kernel, geo = host["conv", dtype], _conv_geometry(x.shape, w.shape, attrs)
    w2 = w.reshape(geo.taps, w.shape[3])
    if op == "conv2d":
        got = (_im2col(kernel, geo, x, at) @ w2).reshape(geo.n, geo.oh, geo.ow, w.shape[3])
        want = ref.conv2d_ref(x, w, **attrs)
    else:
        (dy,) = rest
        dy2 = dy.reshape(geo.n * geo.pixels, dy.shape[3])
        if op == "conv2d_backprop_input":
            got = _filled(x.shape, dtype)
            _run(kernel, "col2im", geo, np.ascontiguousarray(dy2 @ w2.T), got, at=at)
            want = ref.conv2d_backprop_input_ref(x, w, dy, **attrs)
        else:
            got = (_im2col(kernel, geo, x, at).T @ dy2).reshape(w.shape)
            want = ref.conv2d_backprop_filter_ref(x, w, dy, **attrs)
    assert got.dtype == want.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, want, **TOLERANCE[dtype])


_POOLS = {"max_pool": "max", "max_pool_grad": "max_grad", "max_pool_grad_grad": "max_grad_grad",
          "avg_pool": "avg", "avg_pool_grad": "avg_grad"}
_POOL_REFS = {"max_pool": ref.max_pool_ref, "max_pool_grad": ref.max_pool_grad_ref,
              "max_pool_grad_grad": ref.max_pool_grad_grad_ref, "avg_pool": ref.avg_pool_ref,
              "avg_pool_grad": ref.avg_pool_grad_ref}


def _pool_on_host(host, op, inputs, attrs, at=None) -> np.ndarray:
    """``op`` of the pool kernel on the host (``avg_pool_grad`` reads only ``dy``)."""
    geo = _pool_geometry(inputs[0].shape, attrs)
    dtype = inputs[0].dtype
    out_shape = inputs[0].shape if op.endswith("pool_grad") else (
        geo.n, geo.oh, geo.ow, geo.c)
    out = _filled(out_shape, dtype)
    arrays = inputs[1:] if op == "avg_pool_grad" else inputs
    _run(host["pool", dtype.name], _POOLS[op], geo, *arrays, out, at=at)
    return out


@needs_nvcc
@pytest.mark.parametrize("dtype", conv.FLOATS)
@pytest.mark.parametrize("op", sorted(_POOLS))
@settings(deadline=None, max_examples=25)
@given(data=st.data(), at=launches)
def test_pooling_on_the_host_matches_the_reference(host, dtype, op, data, at):
    inputs, attrs = data.draw(op_inputs(op))
    inputs = [np.ascontiguousarray(a, dtype) for a in inputs]
    got = _pool_on_host(host, op, inputs, attrs, at)
    want = _POOL_REFS[op](*inputs, **attrs)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, **TOLERANCE[dtype])


@needs_nvcc
@pytest.mark.parametrize("dtype", conv.FLOATS)
@pytest.mark.parametrize("op", ["max_pool", "max_pool_grad", "max_pool_grad_grad"])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_max_pool_routes_ties_nans_and_infinities_as_the_reference(host, dtype, op, padding):
    """Ties go to the first maximum in row-major window order; the first NaN wins; a window of
    -inf whose first tap is padding routes nowhere (the reference's argmax picks the pad)."""
    rng = np.random.default_rng(7)
    x = rng.choice([0.0, 1.0, -np.inf, np.nan], size=(2, 5, 6, 3), p=[.4, .3, .2, .1])
    x[0, :, :, 0] = -np.inf
    x, attrs = x.astype(dtype), {"ksize": (3, 2), "strides": (2, 1), "padding": padding}
    geo = _pool_geometry(x.shape, attrs)
    other = rng.standard_normal(x.shape if op.endswith("grad_grad") else
                                (geo.n, geo.oh, geo.ow, geo.c)).astype(dtype)
    inputs = [x] if op == "max_pool" else [x, other]
    with np.errstate(invalid="ignore"):
        want = _POOL_REFS[op](*inputs, **attrs)
    np.testing.assert_allclose(_pool_on_host(host, op, inputs, attrs), want,
                               **TOLERANCE[dtype])
