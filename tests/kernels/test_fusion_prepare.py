"""``FusedKernel.prepare``: the bare per-shape call on C-contiguous arrays in their natural ranks,
and the reductions it computes (segment, chunk and row boundaries; float32 accuracy)."""
import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kernels.numba.fusion import TILE, compile_fused
from kernels.scalar_expr import Output, evaluate

from .test_fusion import (COMPILING, STRUCTURES, _structure_dag, assert_close, dag_of,
                          input_patterns)


def reaching(dims, pattern):
    """``dims`` padded with leading 1s to reach the input's first full axis."""
    need = next((len(pattern) - a for a, full in enumerate(pattern) if full), 0)
    return (1,) * (need - len(dims)) + tuple(dims)


@settings(**COMPILING)
@given(st.data())
def test_prepared_calls_match_the_interpreter(data):
    structure = data.draw(st.sampled_from(STRUCTURES))
    dtype = data.draw(st.sampled_from(["float32", "float64"]))
    shape, inputs = data.draw(input_patterns(structure[0]))
    dag = _structure_dag(structure, dtype, [p for p, _ in inputs])
    arrays = [data.draw(hnp.arrays(dtype, reaching(dims, pattern), elements=st.floats(-2, 2,
                                                                                      width=32)))
              for pattern, dims in inputs]
    kernel = compile_fused(dag)
    shapes = [a.shape for a in arrays]
    want = evaluate(dag, arrays)
    outputs = [np.empty(s, d) for s, d in zip(kernel.output_shapes(shapes), kernel.output_dtypes)]
    kernel.prepare(shapes, parallel=data.draw(st.booleans()))(*arrays, *outputs)
    for got, expected in zip(outputs, want):
        assert_close(got, expected, dtype)


def _reductions(dtype, axes):
    """exp(x0 * 0.5) - x1 elementwise, plus its sum, max and min over ``axes``."""
    return dag_of([("exp(x0 * 0.5) - x1", (0, 1), dtype)],
                  [Output(2)] + [Output(2, r, axes) for r in ("sum", "max", "min")],
                  (dtype, (True, True)), (dtype, (False, True)))


@pytest.mark.parametrize("shape", [(3, 2 * TILE + 37), (2 * TILE + 5, 3), (1, TILE), (4, 1),
                                   (0, 5), (5, 0)])
@pytest.mark.parametrize("axes", [None, (0,), (1,)])
@pytest.mark.parametrize("parallel", [False, True])
def test_row_and_column_reductions_across_segments_and_chunks(shape, axes, parallel):
    rng = np.random.default_rng(sum(shape))
    x, y = rng.uniform(-2, 2, shape), rng.uniform(-1, 1, shape[1:])
    kernel = compile_fused(_reductions("float64", axes))
    outputs = [np.empty(s) for s in kernel.output_shapes([x.shape, y.shape])]
    kernel.prepare([x.shape, y.shape], parallel=parallel)(x, y, *outputs)
    value = np.exp(x * 0.5) - y
    np.testing.assert_allclose(outputs[0], value, rtol=1e-14, atol=1e-14)
    value = outputs[0]  # the reductions see exactly the elementwise values
    np.testing.assert_allclose(outputs[1], value.sum(axis=axes), rtol=1e-12, atol=1e-12)
    if value.size:
        np.testing.assert_array_equal(outputs[2], value.max(axis=axes))
        np.testing.assert_array_equal(outputs[3], value.min(axis=axes))


def _sum_error(kernel_sum, x, axis):
    exact = x.astype(np.float64).sum(axis=axis)
    return (np.max(np.abs(kernel_sum - exact)), np.max(np.abs(x.sum(axis=axis) - exact)))


@pytest.mark.parametrize("shape, axis", [((1_000_003,), None), ((3, 300_007), (1,)),
                                         ((300_007, 3), (0,))])
def test_float32_sums_are_at_least_as_accurate_as_numpy(shape, axis):
    x = np.random.default_rng(5).uniform(0, 1, shape).astype(np.float32)  # no cancellation
    kernel = compile_fused(dag_of([("x0 * 1", (0,), "float32")], [Output(1, "sum", axis)],
                                  ("float32", (True,) * len(shape))))
    for parallel in (False, True):
        ours, numpy = _sum_error(kernel(x, parallel=parallel)[0], x, axis)
        assert ours <= max(numpy, 1e-7 * x.size / np.prod(kernel.output_shapes([shape])[0]))


def test_in_place_outputs_of_a_prepared_parallel_call():
    dag = dag_of([("tanh(x0 * x1 + 1)", (0, 1), "float32")], [Output(2), Output(2, "sum")],
                 ("float32", (True,)), ("float32", (False,)))
    x = np.random.default_rng(6).uniform(-3, 3, 300_001).astype(np.float32)
    y, total = np.full((), 0.5, np.float32), np.empty((), np.float32)
    want = evaluate(dag, [x, y])
    compile_fused(dag).prepare([x.shape, ()], parallel=True)(x, y, x, total)
    np.testing.assert_allclose(x, want[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(total, want[1], rtol=1e-6)


def test_an_elementwise_kernel_prepares_to_the_bare_compiled_function():
    kernel = compile_fused(dag_of([("x0 + 1", (0,), "float32")], [Output(1)],
                                  ("float32", (True, True))))
    assert kernel.prepare([(2, 3)]) is kernel.module.serial
    if numba.get_num_threads() > 1:
        call = kernel.prepare([(400, 300)])
        assert call.func is kernel.module.parallel and call.args == (numba.get_num_threads(),)


def test_a_size_one_dim_where_the_kernel_reads_the_full_axis_is_refused():
    """Unknown dims are fused as full: broadcasting them at run time is an error, not a read
    past the end of the smaller array."""
    kernel = compile_fused(dag_of([("x0 * x1", (0, 1), "float32")], [Output(2)],
                                  ("float32", (True, True)), ("float32", (True, True))))
    with pytest.raises(ValueError, match=r"input 1 has shape \(1, 3\).*\(4, 3\), \(1, 3\)"):
        kernel.prepare([(4, 3), (1, 3)])
    with pytest.raises(ValueError, match=r"input 1 has shape \(3,\).*axis 0 of 2"):
        kernel.prepare([(1, 3), (3,)])
    assert kernel.output_shapes([(1, 3), (1, 3)]) == ((1, 3),)
