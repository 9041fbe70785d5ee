"""The hand-written CUDA kernels of the cupy backend (``kernels.cupy.hand``) without a GPU: every
instantiation compiles with nvcc for sm_90 (all together, and one per family alone, as NVRTC
compiles them), the sources are self-contained, and launches are never empty.

Their numerics need a GPU (warp shuffles and block barriers have no serial host equivalent):
``tests/backends/test_cupy_backend.py`` runs them against the NumPy reference on a device
(marker ``gpu``) and checks the backend's launch arguments on a NumPy stand-in everywhere.
"""
import re

import pytest

from kernels.cupy import hand
from kernels.cupy.nvcc import compile_ptx, nvcc_path

needs_nvcc = pytest.mark.skipif(nvcc_path() is None, reason="nvcc is not installed")
KERNELS = hand.all_kernels()


def _entries(ptx: str) -> set[str]:
    return set(re.findall(r"\.entry\s+(\w+)\s*\(", ptx))


@needs_nvcc
def test_every_hand_kernel_compiles_for_sm90():
    ptx = compile_ptx("".join(k.source for k in KERNELS), arch="sm_90")
    assert _entries(ptx) == {name for k in KERNELS for _, name in k.entries}


@needs_nvcc
@pytest.mark.parametrize("kernel", [k for k in KERNELS if k.name.endswith(("_f32", "_f32_i64"))],
                         ids=lambda k: k.name)
def test_each_family_compiles_alone(kernel):
    assert _entries(compile_ptx(kernel.source, arch="sm_90")) == {n for _, n in kernel.entries}


def test_sources_are_self_contained_and_entry_names_unique():
    names = [name for k in KERNELS for _, name in k.entries]
    assert len(names) == len(set(names))
    for kernel in KERNELS:
        assert "#include" not in kernel.source  # NVRTC has no headers
        for _, name in kernel.entries:
            assert f'extern "C" __global__ void {name}(' in kernel.source


def test_every_family_and_dtype_is_instantiated():
    families = {re.match(r"mg_(.+?)_(?:[fi]\d\d|bool)", k.name)[1] for k in KERNELS}
    assert families == set(hand.ROW_FAMILIES) | set(hand.REDUCTIONS) | {
        "gather", "scatter_add", "one_hot"}
    assert hand.supports("gather", "bool", "int32") and not hand.supports("softmax", "int32")
    assert not hand.supports("scatter_add", "float32", "uint8")


@pytest.mark.parametrize("make, args", [
    (hand.row_kernel, ("softmax", "int32")),
    (hand.reduce_kernel, ("sum", "float16")),
    (hand.index_kernel, ("scatter_add", "bool", "int64")),
    (hand.index_kernel, ("gather", "float32", "float32")),
])
def test_unsupported_dtypes_are_refused_by_name(make, args):
    with pytest.raises(ValueError, match="no CUDA .* kernel for dtype"):
        make(*args)


@pytest.mark.parametrize("rows, n", [(1, 1), (3, 10), (100_000, 1024), (7, 1025), (5, 10**6),
                                     (10**8, 3)])
def test_row_launches_give_a_warp_or_a_block_per_row(rows, n):
    role, launch = hand.row_launch(rows, n)
    assert role == ("warp" if n <= hand.WARP_ROW_MAX else "block")
    threads_per_row = 32 if role == "warp" else hand.BLOCK
    per_block = launch.block[0] * launch.block[1] // threads_per_row
    assert 1 <= launch.grid[0] <= hand.MAX_GRID
    # a grid-stride loop covers the rest when the grid is capped
    assert launch.grid[0] * per_block >= min(rows, hand.MAX_GRID * per_block)


@pytest.mark.parametrize("total", [1, 255, 256, 257, 10**9])
def test_flat_launches_cover_every_element_or_stride(total):
    launch = hand.flat_launch(total)
    assert launch.block == (hand.BLOCK, 1, 1) and 1 <= launch.grid[0] <= hand.MAX_GRID
    assert launch.grid[0] * hand.BLOCK >= min(total, hand.MAX_GRID * hand.BLOCK)
