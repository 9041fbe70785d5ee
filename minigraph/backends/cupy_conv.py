"""The cupy backend's convolution and pooling kernels: ``kernels.cupy.conv`` CUDA sources
launched for the node's shapes, with cuBLAS (``cupy.matmul``) for the GEMMs.

- ``conv2d``: im2col into a scratch matrix, then ``cols @ filter`` into the planned output;
- ``conv2d_backprop_input``: ``dy @ filter.T`` into the scratch, then col2im (gather form);
- ``conv2d_backprop_filter``: im2col, then ``cols.T @ dy`` (summed over image chunks);
- pooling: one launch of a thread-per-output-element kernel.

Each ``make(node)`` returns a ``DeviceKernel`` whose ``prepare(input_shapes)`` checks the
shapes, works out the geometry and launches, and allocates the scratch once (im2col chunks of
whole images up to ``SCRATCH_ELEMENTS``); a run only launches device work, so it can be
captured into a CUDA graph. A 1x1 stride-1 unpadded convolution is a plain GEMM. Dtypes other
than float32/float64 are refused by name (``MissingKernelError``), or run on the host with
``MINIGRAPH_FLAGS=host_ops=True``.
"""
from __future__ import annotations

from typing import Callable

from kernels.cupy import conv

from ..ops._conv_ref import check_depth, spatial_geometry
from . import MissingKernelError
from .cupy_device import CudaModule, device_kernel, xp


def _kernel_dtype(node):
    """The node's dtype, which the kernels take (float32/float64); otherwise
    ``MissingKernelError`` naming the op and dtype (with ``host_ops``, ``cupy_kernel`` then
    runs the op's reference on the host)."""
    dtype = node.inputs[0].type.dtype
    if dtype.name in conv.FLOATS:
        return dtype
    raise MissingKernelError(
        f"the cupy backend has no kernel for op {node.op!r} on {dtype} (float32 and float64 "
        f"only), needed by {node.describe()}; cast to float32, set MINIGRAPH_FLAGS=host_ops=True "
        "to run its NumPy reference on the host (slow: through host memory), or run on a CPU "
        "backend")


def _launcher(kernel: conv.WindowKernel, role: str, geo) -> Callable:
    """``go(*arrays)``: ``role``'s entry over ``arrays`` for ``geo`` (nothing without work)."""
    launch = conv.launch(role, geo)
    if launch is None:
        return lambda *arrays: None
    module, name, sizes = CudaModule.of(kernel.source), kernel.entry(role).name, geo.args()

    def go(*arrays):
        module.function(name)(launch.grid, launch.block, arrays + sizes)
    return go


def _matrix(a):
    """A 4-D array as ``(rows, last dim)`` (a view)."""
    return a.reshape(a.shape[0] * a.shape[1] * a.shape[2], a.shape[3])


def _conv_geometry(x_shape, w_shape, attrs) -> conv.ConvGeometry:
    """The geometry of a convolution; run-time shape errors raise here."""
    check_depth(x_shape, w_shape)
    (oh, top, _), (ow, left, _) = spatial_geometry(x_shape, w_shape[:2], attrs["strides"],
                                                   attrs["dilations"], attrs["padding"])
    return conv.ConvGeometry(*x_shape, oh, ow, *w_shape[:2], *attrs["strides"],
                             *attrs["dilations"], top, left)


class _Chunks:
    """im2col chunks of whole images: ``(images, rows of the output matrix, im2col view,
    launcher)`` each, the views sharing one scratch allocated here."""

    def __init__(self, kernel, role: str, geo: conv.ConvGeometry, dtype):
        chunks = conv.image_chunks(geo)
        step = chunks[0][1] if chunks else 0
        self.scratch = xp().empty((step * geo.pixels, geo.taps), dtype)
        pixels, self.items = geo.pixels, []
        for first, count in chunks:
            self.items.append((slice(first, first + count),
                               slice(first * pixels, (first + count) * pixels),
                               count * pixels, _launcher(kernel, role, geo.images(count))))

    def __iter__(self):
        for images, rows, size, go in self.items:
            yield images, rows, self.scratch[:size], go


def _gemm(a, b, out) -> None:
    """``out = a @ b`` by cuBLAS; zeros when the inner dimension is empty."""
    if out.size == 0:
        return
    if a.shape[1] == 0:
        out.fill(0)
        return
    xp().matmul(a, b, out=out)


def _forward(kernel, geo: conv.ConvGeometry, dtype, filters: int) -> Callable:
    """``run(x, w, out)``: ``out = im2col(x) @ w`` chunk by chunk."""
    if geo.pointwise():
        return lambda x, w, out: _gemm(_matrix(x), _matrix(w), _matrix(out))
    chunks = _Chunks(kernel, "im2col", geo, dtype)

    def run(x, w, out):
        w2, out2 = _matrix(w), _matrix(out)
        for images, rows, cols, im2col in chunks:
            im2col(x[images], cols)
            _gemm(cols, w2, out2[rows])
    return run


def _backprop_input(kernel, geo: conv.ConvGeometry, dtype, filters: int) -> Callable:
    """``run(x, w, dy, dx)``: ``dx = col2im(dy @ w.T)`` chunk by chunk."""
    if geo.pointwise():
        return lambda x, w, dy, dx: _gemm(_matrix(dy), _matrix(w).T, _matrix(dx))
    chunks = _Chunks(kernel, "col2im", geo, dtype)

    def run(x, w, dy, dx):
        wt, dy2 = _matrix(w).T, _matrix(dy)
        for images, rows, cols, col2im in chunks:
            _gemm(dy2[rows], wt, cols)
            col2im(cols, dx[images])
    return run


def _backprop_filter(kernel, geo: conv.ConvGeometry, dtype, filters: int) -> Callable:
    """``run(x, w, dy, dw)``: ``dw = im2col(x).T @ dy``, chunks after the first added from a
    second scratch."""
    if geo.pointwise():
        return lambda x, w, dy, dw: _gemm(_matrix(x).T, _matrix(dy), _matrix(dw))
    chunks = _Chunks(kernel, "im2col", geo, dtype)
    partial = xp().empty((geo.taps, filters), dtype) if len(chunks.items) > 1 else None

    def run(x, w, dy, dw):
        if not chunks.items:  # no images
            dw.fill(0)
            return
        dy2, dw2 = _matrix(dy), _matrix(dw)
        for k, (images, rows, cols, im2col) in enumerate(chunks):
            im2col(x[images], cols)
            _gemm(cols.T, dy2[rows], dw2 if k == 0 else partial)
            if k:
                dw2 += partial
    return run


def _conv(build: Callable) -> Callable:
    """``make`` for conv2d or a backprop: ``build(kernel, geometry, dtype, filters)`` per
    input shapes (``filters``: the filter's output channels)."""
    def make(node):
        dtype = _kernel_dtype(node)
        kernel, attrs = conv.conv_kernel(dtype.name), dict(node.attrs)

        def prepare(shapes):
            geo = _conv_geometry(shapes[0], shapes[1], attrs)
            return build(kernel, geo, dtype, shapes[1][3])
        return device_kernel(prepare, node, [(kernel.name, kernel.source)])
    return make


def _pool(role: str) -> Callable:
    """``make`` for a pooling op: one launch of the pool kernel's ``role`` entry over the
    node's inputs (``avg_grad`` reads only ``dy``; ``x`` gives the shape)."""
    def make(node):
        dtype = _kernel_dtype(node)
        kernel, attrs = conv.pool_kernel(dtype.name), dict(node.attrs)

        def prepare(shapes):
            x_shape = shapes[0]
            (oh, top, _), (ow, left, _) = spatial_geometry(
                x_shape, attrs["ksize"], attrs["strides"], (1, 1), attrs["padding"])
            go = _launcher(kernel, role, conv.PoolGeometry(
                *x_shape, oh, ow, *attrs["ksize"], *attrs["strides"], top, left))
            if role == "avg_grad":
                return lambda x, dy, dx: go(dy, dx)
            return go
        return device_kernel(prepare, node, [(kernel.name, kernel.source)])
    return make


CONV_KERNELS: dict[str, Callable] = {
    "conv2d": _conv(_forward),
    "conv2d_backprop_input": _conv(_backprop_input),
    "conv2d_backprop_filter": _conv(_backprop_filter),
    "max_pool": _pool("max"),
    "max_pool_grad": _pool("max_grad"),
    "max_pool_grad_grad": _pool("max_grad_grad"),
    "avg_pool": _pool("avg"),
    "avg_pool_grad": _pool("avg_grad"),
}
"""Op name -> ``make(node)`` returning the node's device kernel."""

__all__ = ["CONV_KERNELS"]
