"""The CUDA fusion generator without a GPU: every generated source compiles with nvcc for sm_90,
and the host harness -- the same source built for the CPU, its scalar functions and emulated
launches -- agrees with the NumPy interpreter of the DAG (``kernels.scalar_expr.evaluate``).

One nvcc call per DAG builds both the host library and the PTX (cached on disk), so the DAG
structures come from the numba fusion tests' small pools and example counts stay low.
"""
import random
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kernels.cupy import generate_cuda, launch, nvcc, plan_launches
from kernels.cupy.harness import HostKernels
from kernels.scalar_expr import FLOAT_FUNCTIONS, FusedDag, Output, evaluate

from ..test_fusion import (BOOL_EXPRESSIONS, COMPILING, OP_EXPRESSIONS, STRUCTURES, _exact,
                           dag_of, input_patterns)

pytestmark = pytest.mark.skipif(nvcc.nvcc_path() is None, reason="nvcc is not installed")
FLOATS = ["float16", "float32", "float64"]
INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
TOL = {"float16": dict(rtol=1e-2, atol=1e-2), "float32": dict(rtol=1e-5, atol=1e-5),
       "float64": dict(rtol=1e-12, atol=1e-12)}
CONFIGS = [None, (1, 1), (2, 3), (8, 2), (256, 1), (32, 5)]


def build(dag: FusedDag) -> HostKernels:
    """The host build of ``dag``'s CUDA, checking the PTX nvcc made for sm_90 on the way."""
    cuda = generate_cuda(dag)
    host = HostKernels(cuda)
    assert ".target sm_90" in host.ptx
    for kernel in cuda.entry:
        assert re.search(rf"\.entry {kernel}\(", host.ptx), kernel
    return host


def assert_matches(got, want, dtype, msg=""):
    """Exact for bools and integers, else within ``TOL`` (NaN where NaN, infinities equal)."""
    assert (got.dtype, got.shape) == (want.dtype, want.shape), msg
    if got.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want, err_msg=msg)
    else:
        np.testing.assert_allclose(got.astype(float), want.astype(float), err_msg=msg,
                                   **TOL[np.dtype(dtype).name])


def assert_ulps(got, want, ulps, msg=""):
    """``got`` within ``ulps`` units in the last place of ``want`` (NaN and inf exact)."""
    assert got.dtype == want.dtype, msg
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=msg)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)],
                                  want[~finite & ~np.isnan(want)], err_msg=msg)
    g, w = got[finite].astype(float), want[finite].astype(float)
    bound = ulps * np.spacing(np.abs(want[finite])).astype(float)
    bad = np.abs(g - w) > bound
    assert not bad.any(), f"{msg}: {g[bad][:5]} vs {w[bad][:5]}"


def check(host: HostKernels, arrays, config=None):
    """Emulated launches and scalar functions of ``host`` against the interpreter."""
    dag = host.cuda.dag
    want = evaluate(dag, arrays)
    for k, (got, expected) in enumerate(zip(host.run(*arrays, config=config), want)):
        assert_matches(got, expected, expected.dtype, f"output {k}, config {config}")
    elementwise = FusedDag(dag.inputs, dag.nodes, [Output(o.value) for o in dag.outputs])
    for k, (got, expected) in enumerate(zip(host.scalar(*arrays), evaluate(elementwise,
                                                                             arrays))):
        assert_matches(got, expected, expected.dtype, f"scalar function {k}")


# -- every op expression, every float dtype -------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_every_op_expression_in_one_kernel(dtype):
    exprs = list(OP_EXPRESSIONS) + list(BOOL_EXPRESSIONS)
    nodes = [(e, (0, 1), "bool" if e in BOOL_EXPRESSIONS else dtype) for e in exprs]
    dag = dag_of(nodes, [Output(2 + j) for j in range(len(nodes))],
                 (dtype, (True, True)), (dtype, (False, True)))
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, (7, 33)).astype(dtype)
    x[0, :6] = [0.0, -0.0, 1.5, -2.5, 0.5, -0.5]
    y = rng.uniform(0.5, 2, 33).astype(dtype)
    check(build(dag), [x, y])


@pytest.mark.parametrize("dtype", FLOATS)
def test_correctly_rounded_steps_are_bitwise_equal(dtype):
    """Every step of these expressions is correctly rounded (float16 ones in float, rounded to
    half after each step, as NumPy does), so the host build must agree bit for bit."""
    rng = random.Random(dtype)
    exprs = ["(x0 + x1) * (x0 - x1) / (x1 * x1 + 1)", "((x0 * 3 + x1) * x1 - x0) / 7",
             "x0 * 0.1 + x1 * 0.7 - 0.3"]
    while len(exprs) < 10:  # random ones with a few arithmetic steps
        expr = _exact(rng, ["x0", "x1"], 3)
        exprs += [expr] if len(re.findall(r" [-+*/] ", expr)) >= 3 else []
    dag = dag_of([(e, (0, 1), dtype) for e in exprs], [Output(2 + j) for j in range(10)],
                 (dtype, (True,)), (dtype, (True,)))
    values = np.random.default_rng(5).uniform(-4, 4, (2, 200)).astype(dtype)
    values[:, :12] = [[np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 3.0, -1e-7, 0.5, 65504, 1e-5,
                       -0.25]] * 2
    values[1, :12] = values[1, :12][::-1]
    defined = np.all(np.abs(values) < 1000, axis=0)  # float-to-int casts of nan/inf/huge: UB
    host = build(dag)
    for expr, got, want in zip(exprs, host.run(*values), evaluate(dag, list(values))):
        where = defined if "cast_" in expr else slice(None)
        np.testing.assert_array_equal(got[where], want[where], err_msg=expr)


_WIDE = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, 1e-40, 1e-30, 1e-8, 1e-4, 0.1, 0.5, 1.0,
         1.5, 2.5, 3.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 80.0, 88.0, 100.0, 700.0, 710.0, 1e4,
         1e10, 1e30, 3e38, 1e300]
UNARY = list(FLOAT_FUNCTIONS) + ["abs", "sign", "floor", "ceil", "rint"]
ULPS = {"float16": 1, "float32": 4, "float64": 4}


@pytest.mark.parametrize("dtype", FLOATS)
def test_functions_on_special_values_within_a_few_ulp(dtype):
    dag = dag_of([(f"{f}(x0)", (0,), dtype) for f in UNARY], [Output(1 + j) for j in
                                                               range(len(UNARY))],
                 (dtype, (True,)))
    with np.errstate(all="ignore"):
        wide = np.array(_WIDE + [-v for v in _WIDE], dtype=dtype)
    uniform = np.random.default_rng(2).uniform(-20, 20, 500).astype(dtype)
    host = build(dag)
    for x in (wide, uniform, np.round(uniform * 2) / 2):  # with halfway cases for rint
        for f, got, want in zip(UNARY, host.run(x), evaluate(dag, [x])):
            assert_ulps(got, want, ULPS[dtype], f"{f} on {dtype}")


# -- integers and bools: exact ---------------------------------------------------------------------

INT_EXPRESSIONS = [
    ("x0 + x1", None), ("x0 - x1", None), ("x0 * x1", None), ("-x0", None), ("abs(x0)", None),
    ("sign(x0)", None), ("maximum(x0, x1)", None), ("minimum(x0, x1)", None),
    ("x0 * 3 + 1", None), ("x0 ** 3", None), ("where(x0 > x1, x0, x1 * 2)", None),
    ("floor(x0)", None), ("x0 < x1", "bool"), ("x0 == x1", "bool"), ("x0 >= x1", "bool"),
    ("x0 / x1", "float64"), ("floor(x0 / x1)", "float64"), ("cast_int8(x0)", "int8"),
    ("cast_uint16(x0)", "uint16"), ("cast_int64(x0)", "int64"), ("cast_float32(x0)", "float32"),
    ("cast_float16(x0)", "float16"), ("cast_bool(x0)", "bool"), ("not cast_bool(x0)", "bool"),
    ("exp(cast_float32(x0 > 0))", "float32"),
]


def test_integer_semantics_are_exact():
    inputs = [(d, (True,)) for d in INTS for _ in range(2)]
    nodes = [(e, (2 * i, 2 * i + 1), dtype or d) for i, d in enumerate(INTS)
             for e, dtype in INT_EXPRESSIONS]
    dag = dag_of(nodes, [Output(len(inputs) + j) for j in range(len(nodes))], *inputs)
    host = build(dag)
    rng = np.random.default_rng(3)
    arrays = []
    for d in INTS:
        info = np.iinfo(d)
        edges = np.array([info.min, info.max, 0, 1, 2, info.min + 1, info.max - 1, 7], d)
        for _ in range(2):
            arrays.append(np.concatenate([edges, rng.permutation(edges),
                                          rng.integers(info.min, info.max, 48, d, True)]))
    check(host, arrays)


def test_casts_between_dtypes_are_exact():
    inputs = [("float16", (True,)), ("float32", (True,)), ("float64", (True,)),
              ("int32", (True,)), ("bool", (True,))]
    casts = [(f"cast_{target}(x0)", v, target) for v in range(5) for target in
             ("float16", "float32", "float64", "int8", "int32", "uint8", "int64", "bool")]
    nodes = casts + [("x0 + cast_float16(x1)", (0, 1), "float16"),
                     ("x1 * cast_float32(x0)", (0, 1), "float32"),
                     ("where(x2, cast_float64(x0), x1)", (0, 2, 4), "float64")]
    nodes = [(e, v if isinstance(v, tuple) else (v,), d) for e, v, d in nodes]
    dag = dag_of(nodes, [Output(5 + j) for j in range(len(nodes))], *inputs)
    rng = np.random.default_rng(6)
    x = np.concatenate([[np.nan, np.inf, -np.inf, 0.0, -0.0, 1 + 2.0 ** -11 + 2.0 ** -30,
                         1 + 2.0 ** -11, 65519.0, 65520.0, 2.5, -2.5, 127.9, -128.9, 255.5],
                        rng.uniform(-100, 100, 50), rng.uniform(0, 255, 50)])
    with np.errstate(over="ignore"):
        arrays = [x.astype("float16"), x.astype("float32"), x,
                  np.nan_to_num(x, posinf=7, neginf=-7).astype("int32"), x > 0]
    host = build(dag)
    defined = np.isfinite(x) & (x > -128) & (x < 128)  # float-to-int casts elsewhere: UB
    for (expr, operands, dtype), got, want in zip(nodes, host.run(*arrays),
                                                  evaluate(dag, arrays)):
        source = inputs[operands[0]][0]
        where = defined if source[0] == "f" and dtype[0] in "iu" else slice(None)
        np.testing.assert_array_equal(got[where], want[where], err_msg=f"{expr} on {source}")


def test_bool_semantics_are_exact():
    nodes = [("x0 and x1", (0, 1), "bool"), ("x0 or not x1", (0, 1), "bool"),
             ("x0 == x1", (0, 1), "bool"), ("x0 != x1", (0, 1), "bool"),
             ("where(x0, x1, not x1)", (0, 1), "bool"), ("maximum(x0, x1)", (0, 1), "bool"),
             ("cast_int32(x0) - cast_int32(x1)", (0, 1), "int32"),
             ("cast_float16(x0) + 0.5", (0,), "float16")]
    outputs = [Output(2 + j) for j in range(len(nodes))] + [
        Output(2, "max", (1,)), Output(2, "min", (1,)), Output(3, "max"), Output(8, "sum", (0,))]
    dag = dag_of(nodes, outputs, ("bool", (True, True)), ("bool", (False, True)))
    x = np.array([[True, False, True], [False, False, False], [True, True, True]])
    check(build(dag), [x, np.array([True, False, False])])


# -- random DAGs, broadcasting and reductions -----------------------------------------------------


@st.composite
def random_dags(draw):
    """A DAG from the numba tests' structure pool, in a float dtype, with broadcast inputs and
    each output elementwise or reduced over random axes; and its input arrays."""
    n_in, nodes, values = draw(st.sampled_from(STRUCTURES))
    dtype = draw(st.sampled_from(FLOATS))
    shape, inputs = draw(input_patterns(n_in))
    outputs = []
    for v in values:
        is_bool = v >= n_in and nodes[v - n_in][2]
        reduce = draw(st.sampled_from([None, "max", "min"] + ([] if is_bool else ["sum"])))
        axes = draw(st.none() | st.sets(st.integers(0, max(len(shape) - 1, 0))).map(
            lambda s: tuple(sorted(s)))) if reduce and shape else None
        outputs.append(Output(v, reduce, axes if reduce else None))
    dag = dag_of([(e, ops, "bool" if b else dtype) for e, ops, b in nodes], outputs,
                 *[(dtype, p) for p, _ in inputs])
    elements = st.floats(-2, 2, width=16 if dtype == "float16" else 32)
    arrays = [draw(hnp.arrays(dtype, dims, elements=elements)) for _, dims in inputs]
    return dag, arrays


@settings(**COMPILING, max_examples=12)
@given(random_dags(), st.sampled_from(CONFIGS))
def test_random_dags_match_the_interpreter(case, config):
    dag, arrays = case
    check(build(dag), arrays, config)


def reduction_dag(dtype: str, axes):
    """An elementwise value and its sums, maxima and minima over ``axes`` and over all axes."""
    second = "tanh(x0)" if dtype[0] == "f" else "abs(x0)"
    nodes = [("x0 * x1 + 1", (0, 1), dtype), (second, (2,), dtype)]
    outputs = [Output(3), Output(2, "sum", axes), Output(3, "max", axes), Output(2, "min", axes),
               Output(3, "sum")]
    return dag_of(nodes, outputs, (dtype, (True, True, True)), (dtype, (False, True, True)))


@settings(**COMPILING, max_examples=8)
@given(st.data())
def test_reductions_match_the_interpreter(data):
    axes = data.draw(st.sampled_from([None, (0,), (2,), (1, 2), (0, 1), (0, 2), (1,)]))
    dtype = data.draw(st.sampled_from(FLOATS + ["int8", "int32", "int64", "uint16"]))
    shape = tuple(data.draw(st.lists(st.integers(0, 9), min_size=3, max_size=3)))
    elements = st.floats(-3, 3, width=16) if dtype[0] == "f" else None
    x = data.draw(hnp.arrays(dtype, shape, elements=elements))
    y = data.draw(hnp.arrays(dtype, shape[1:], elements=elements))
    host = build(reduction_dag(dtype, axes))
    for config in (None, data.draw(st.sampled_from(CONFIGS[1:]))):
        check(host, [x, y], config)


def test_reductions_propagate_nan_and_handle_empty_arrays():
    dag = dag_of([("maximum(x0, 0.5)", (0,), "float32")],
                 [Output(0, "max"), Output(1, "min", (1,)), Output(0, "sum", (0,))],
                 ("float32", (True, True)))
    host = build(dag)
    x = np.ones((4, 3), np.float32)
    x[2, 1] = np.nan
    for config in CONFIGS:
        top, low, total = host.run(x, config=config)
        assert np.isnan(top) and np.isnan(low[2]) and np.isnan(total[1]) and low[0] == 1
    top, low, total = host.run(np.ones((0, 3), np.float32))
    assert top == -np.inf and low.shape == (0,) and np.all(total == 0)
    assert [step.kernel.rsplit("_", 1)[1] for step in host.plan(np.ones((3, 0))).launches
            ] == ["red0", "fin0", "red1", "fin1"]  # group 2 keeps no elements: no launch


def test_large_reductions_split_and_small_grids_stride(monkeypatch):
    dag = dag_of([("x0 * x0", (0,), "float32")],
                 [Output(1), Output(1, "sum"), Output(0, "max", (1,))], ("float32", (True, True)))
    host = build(dag)
    x = np.random.default_rng(4).standard_normal((3, 300_000)).astype(np.float32)
    plan = host.plan(x)
    assert all(step.grid > 1 for step in plan.launches if "_red" in step.kernel)
    check(host, [x])
    monkeypatch.setattr(launch, "MAX_GRID", 3)  # every kernel's grid-stride loop goes round
    assert max(step.grid for step in host.plan(x).launches) == 3
    check(host, [x])


def test_elementwise_output_may_overwrite_its_input():
    dag = dag_of([("x0 * x1 - 0.5", (0, 1), "float64")],
                 [Output(2), Output(2, "sum", (0,)), Output(0, "max")],
                 ("float64", (True, True)), ("float64", (False, True)))
    x, y = np.random.default_rng(8).standard_normal((2, 6, 5))
    y = y[0]
    want = evaluate(dag, [x, y])
    got = build(dag).run(x, y, out=[x, np.empty(5), np.empty(())])
    assert got[0] is x
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_many_reductions_split_into_groups():
    nodes = [(f"x0 * {j}", (0,), "float64") for j in range(20)]
    dag = dag_of(nodes, [Output(1 + j, "sum", (1,)) for j in range(20)] + [Output(0, "min")],
                 ("float64", (True, True)))
    host = build(dag)
    assert len(host.cuda.entry) == 6
    check(host, [np.random.default_rng(7).standard_normal((5, 40))])


# -- the generated text, nvcc and the launch plan --------------------------------------------------


def test_names_entries_and_scalar_functions():
    dag = reduction_dag("float32", (0,))
    cuda = generate_cuda(dag)
    assert cuda == generate_cuda(dag) and re.fullmatch(r"fused_[0-9a-f]{16}", cuda.name)
    assert cuda.entry == tuple(f"{cuda.name}_{k}" for k in ("red0", "fin0", "red1", "fin1",
                                                             "ew"))
    assert cuda.scalar_functions == tuple(f"{cuda.name}_out{k}" for k in range(5))
    assert all(f'extern "C" __global__ void {k}(' in cuda.source for k in cuda.entry)
    assert all(f"__host__ __device__ inline float {f}(" in cuda.source
               for f in cuda.scalar_functions)
    assert not re.search(r"__(expf|logf|sinf|cosf|tanf|powf|fdividef)\b", cuda.source)
    assert "#include" not in cuda.source  # NVRTC has no headers; float16 adds cuda_fp16.h only
    assert generate_cuda(dag, "my_kernel").entry[-1] == "my_kernel_ew"
    with pytest.raises(ValueError, match="identifier"):
        generate_cuda(dag, "not an identifier")
    spec = cuda.kernel(cuda.entry[0])
    assert spec.params[-2:] == (("long long", "splits"), ("long long", "lanes"))
    assert [n for _, n in spec.params[:4]] == ["x0", "x1", "p1", "p2"]


def test_sources_can_share_one_module():
    a = generate_cuda(reduction_dag("float16", None)).source
    b = generate_cuda(reduction_dag("float32", (1,))).source
    ptx = nvcc.compile_ptx(a + b)
    assert ptx.count(".entry") == 8


def test_compile_errors_show_the_numbered_source(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAPH_CACHE_DIR", str(tmp_path))
    with pytest.raises(nvcc.NvccError, match=r"(?s)error.*   2  int broken\(\{"):
        nvcc.compile_ptx("// first line\nint broken({\n")
    source = 'extern "C" __global__ void k(float* x) { x[0] = 1.0f; }\n'
    ptx = nvcc.compile_ptx(source)
    monkeypatch.setattr(nvcc, "_run", lambda *a: pytest.fail("cached PTX was recompiled"))
    assert nvcc.compile_ptx(source) == ptx and ".entry k(" in ptx


def test_launch_plan_checks_shapes():
    cuda = generate_cuda(reduction_dag("float32", (0,)))
    plan = plan_launches(cuda, [(2, 3, 4), (3, 4)])
    assert plan.shape == (2, 3, 4) and plan.output_shapes[:2] == ((2, 3, 4), (3, 4))
    assert [p[1:] for p in plan.partials] == [(12, np.float64), (12, np.float32),
                                              (12, np.float32), (1, np.float64)]
    assert plan_launches(cuda, [(2, 3, 4), (1, 3, 4)]).shape == (2, 3, 4)
    with pytest.raises(ValueError, match="input 1"):
        plan_launches(cuda, [(2, 3, 4), (2, 3, 4)])
    with pytest.raises(ValueError, match="takes 2 arrays"):
        plan_launches(cuda, [(2, 3, 4)])
