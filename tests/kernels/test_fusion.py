"""The fused-kernel generator against the NumPy interpreter of the same scalar-expression DAGs.

Numba compile time dominates, so the random DAG structures come from a small fixed pool and
hypothesis varies dtypes, broadcast patterns, shapes and values.
"""
import os
import platform
import random
import re
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kernels.numba.fusion import PARALLEL_MIN_SIZE, compile_fused, generate_source
from kernels.scalar_expr import (FusedDag, Input, Node, Output, evaluate, pattern_of,
                                 typed_expr)

ROOT = Path(__file__).resolve().parents[2]
# Shrinking would compile a kernel per step; a failure prints its (small) example unshrunk.
COMPILING = dict(deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
TOL = {"float32": dict(rtol=1e-4, atol=1e-4), "float64": dict(rtol=1e-10, atol=1e-10)}

# The ``scalar`` strings of minigraph's elementwise ops, with a NumPy formula for each.
OP_EXPRESSIONS = {
    "-x0": lambda x, y: -x, "abs(x0)": lambda x, y: np.abs(x),
    "sign(x0)": lambda x, y: np.sign(x), "exp(x0)": lambda x, y: np.exp(x),
    "log(abs(x0) + 1)": lambda x, y: np.log(np.abs(x) + 1),
    "log1p(abs(x0))": lambda x, y: np.log1p(np.abs(x)), "expm1(x0)": lambda x, y: np.expm1(x),
    "sqrt(abs(x0))": lambda x, y: np.sqrt(np.abs(x)), "1 / sqrt(abs(x0) + 1)":
    lambda x, y: 1 / np.sqrt(np.abs(x) + 1), "x0 * x0": lambda x, y: x * x,
    "1 / x1": lambda x, y: 1 / y, "sin(x0)": lambda x, y: np.sin(x),
    "cos(x0)": lambda x, y: np.cos(x), "tanh(x0)": lambda x, y: np.tanh(x),
    "1 / (1 + exp(-x0))": lambda x, y: 1 / (1 + np.exp(-x)),
    "sigmoid(x0)": lambda x, y: 1 / (1 + np.exp(-x)),
    "maximum(x0, 0)": lambda x, y: np.maximum(x, 0),
    "minimum(maximum(x0, 0), 6)": lambda x, y: np.clip(x, 0, 6),
    "maximum(x0, 0) + log1p(exp(-abs(x0)))": lambda x, y: np.logaddexp(0, x),
    "softplus(x0)": lambda x, y: np.logaddexp(0, x),
    "where(x0 > 0, x0, expm1(minimum(x0, 0)))": lambda x, y: np.where(x > 0, x, np.expm1(x)),
    "where(x0 > 0, x0, 0.2 * x0)": lambda x, y: np.where(x > 0, x, 0.2 * x),
    "rint(x0)": lambda x, y: np.rint(x), "floor(x0)": lambda x, y: np.floor(x),
    "ceil(x0)": lambda x, y: np.ceil(x), "x0 + x1": lambda x, y: x + y,
    "x0 - x1": lambda x, y: x - y, "x0 * x1": lambda x, y: x * y, "x0 / x1": lambda x, y: x / y,
    "floor(x0 / x1)": lambda x, y: np.floor_divide(x, y),
    "x0 - floor(x0 / x1) * x1": lambda x, y: np.mod(x, y),
    "x1 ** x0": lambda x, y: y ** x, "minimum(x0, x1)": lambda x, y: np.minimum(x, y),
    "0": lambda x, y: np.zeros_like(x), "1": lambda x, y: np.ones_like(x), "x0": lambda x, y: x,
    "cast_float32(cast_int32(x0 * 4))": lambda x, y: (x * 4).astype(np.int32),
}
BOOL_EXPRESSIONS = {
    "x0 == x1": np.equal, "x0 != x1": np.not_equal, "x0 < x1": np.less,
    "x0 <= x1": np.less_equal, "x0 > x1": np.greater, "x0 >= x1": np.greater_equal,
}


def dag_of(nodes, outputs, *inputs):
    """A FusedDag from (expr, operands, dtype) nodes and (dtype, pattern) inputs."""
    return FusedDag([Input(d, p) for d, p in inputs], [Node(*n) for n in nodes], outputs)


def assert_close(actual, expected, dtype, msg=""):
    assert (actual.dtype, actual.shape) == (expected.dtype, expected.shape), msg
    if actual.dtype == bool or actual.dtype.kind in "iu":
        np.testing.assert_array_equal(actual, expected, err_msg=msg)
    else:
        np.testing.assert_allclose(actual, expected, err_msg=msg, **TOL[np.dtype(dtype).name])


# -- the mini-language and its interpreter --------------------------------------------------------


def test_interpreter_matches_numpy_formulas():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-3, 3, 50), rng.uniform(0.5, 2, 50)
    for expr, formula in OP_EXPRESSIONS.items():
        dag = dag_of([(expr, (0, 1), "float64")], [Output(2)],
                     ("float64", (True,)), ("float64", (True,)))
        np.testing.assert_allclose(evaluate(dag, [x, y])[0], formula(x, y), rtol=1e-12,
                                   err_msg=expr)


def test_literals_adopt_the_operand_dtype():
    assert typed_expr("x0 * 0.5 + 1", ("float32",), "float32").args[1].dtype == np.float32
    assert typed_expr("x0 / x1", ("int32", "int32"), "float64").dtype == np.float64
    assert typed_expr("x0 < 1", ("float32",), "bool").args[1].dtype == np.float32
    assert typed_expr("2 * 3", (), "float32").args[0].dtype == np.float32
    assert typed_expr("cast_int8(x0)", ("float64",), "int8").op == "cast"


@pytest.mark.parametrize("expr", [
    "__import__('os')", "x0.real", "x0[0]", "lambda: 1", "x9", "y", "'a'", "exp(x0, x0)",
    "where(x0, x0)", "cast_object(x0)", "0 < x0 < 1", "exp(x=x0)", "x0 if x0 else x0", "x0 +",
    "(x0 > 0) + (x0 > 1)", "x0 % 2", "-(x0 > 0)", "abs(x0 > 0)",
])
def test_unsafe_or_unknown_expressions_are_rejected(expr):
    with pytest.raises(ValueError):
        typed_expr(expr, ("float64",), "float64")


def test_dag_validation():
    full = Input("float32", (True,))
    with pytest.raises(ValueError, match="not defined before"):
        FusedDag([full], [Node("x0", (1,), "float32")], [Output(0)])
    with pytest.raises(ValueError, match="ndim"):
        FusedDag([full, Input("float32", (True, True))], [], [Output(0)])
    with pytest.raises(ValueError, match="out of range"):
        FusedDag([full], [], [Output(0, "sum", (1,))])
    with pytest.raises(TypeError, match="bool"):
        FusedDag([Input("bool", (True,))], [], [Output(0, "sum")])
    with pytest.raises(ValueError, match="no reduction"):
        FusedDag([full], [], [Output(0, None, (0,))])
    assert FusedDag([full], [], [Output(0, "max", (-1,))]).outputs[0].axes is None
    assert FusedDag([Input("float32", ())], [], [Output(0, "sum")]).outputs[0] == Output(0)
    assert pattern_of((3, 1), 3) == (False, True, False)


# -- generated kernels vs the interpreter ---------------------------------------------------------


def test_every_op_expression_in_one_kernel():
    exprs = list(OP_EXPRESSIONS) + list(BOOL_EXPRESSIONS)
    nodes = [(e, (0, 1), "bool" if e in BOOL_EXPRESSIONS else "float32") for e in exprs]
    dag = dag_of(nodes, [Output(2 + j) for j in range(len(nodes))],
                 ("float32", (True, True)), ("float32", (False, True)))
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, (7, 33)).astype(np.float32)
    x[0, :4] = [0.0, -0.0, 1.5, -2.5]
    y = rng.uniform(0.5, 2, 33).astype(np.float32)
    for math in ("libm", "auto"):
        results = compile_fused(dag, math)(x, y)
        for expr, got, want in zip(exprs, results, evaluate(dag, [x, y])):
            assert_close(got, want, "float32", f"{math}: {expr}")


_EXACT = ["({a} + {b})", "({a} - {b})", "({a} * {b})", "({a} / ({b} * {b} + 1))", "-{a}",
          "maximum({a}, {b})", "minimum({a}, {b})", "abs({a})", "floor({a})", "ceil({a})",
          "rint({a} * 2.5)", "sign({a})", "where({a} > {b}, {a}, 0.25 * {b})",
          "cast_float64(cast_int32({a} * 3))"]
_SMOOTH = ["tanh({a})", "sin({a})", "cos({a})", "sigmoid({a})", "softplus({a})",
           "log1p(abs({a}))", "sqrt(abs({a}) + 1)", "exp(-({a}) * ({a}))", "expm1(tanh({a}))",
           "log(1 + {a} * {a})", "({a} * {b})", "({a} + {b})", "({a} - {b})", "maximum({a}, {b})"]
_BOOL = ["{a} < {b}", "({a} <= 0.5) and not ({b} >= {a})", "({a} == {b}) or ({b} > 1)",
         "{a} != {b}"]


def _exact(rng, names, depth):
    """An expression whose every step is correctly rounded (so NumPy and Numba agree exactly)."""
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(names + ["0.5", "2", "-1.5"])
    return rng.choice(_EXACT).format(a=_exact(rng, names, depth - 1),
                                     b=_exact(rng, names, depth - 1))


def _smooth(rng, exact, smooth, depth):
    """An expression that may use transcendental functions, but only continuous ones."""
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(smooth) if smooth and rng.random() < 0.5 else _exact(rng, exact, 1)
    return rng.choice(_SMOOTH).format(a=_smooth(rng, exact, smooth, depth - 1),
                                      b=_smooth(rng, exact, smooth, depth - 1))


def random_structure(seed):
    """(n_inputs, nodes as (expr, operands, is_bool), outputs) of a random multi-output DAG."""
    rng = random.Random(seed)
    n_in = rng.randint(1, 3)
    kinds = ["exact"] * n_in
    nodes = []
    for _ in range(rng.randint(1, 3)):
        operands = sorted({rng.randrange(n_in), rng.randrange(len(kinds))})
        names = {k: [f"x{i}" for i, v in enumerate(operands) if kinds[v] == k]
                 for k in ("exact", "smooth", "bool")}
        if rng.random() < 0.25:
            expr, kind = rng.choice(_BOOL).format(a=_exact(rng, names["exact"], 1),
                                                  b=_exact(rng, names["exact"], 1)), "bool"
        else:
            expr, kind = _smooth(rng, names["exact"], names["smooth"], 2), "smooth"
            if names["bool"]:
                expr = f"where({names['bool'][0]}, {expr}, {_exact(rng, names['exact'], 1)})"
        nodes.append((expr, tuple(operands), kind == "bool"))
        kinds.append(kind)
    outputs = sorted({len(kinds) - 1, rng.randrange(len(kinds))})
    return n_in, nodes, outputs


STRUCTURES = [random_structure(seed) for seed in range(8)]


@st.composite
def input_patterns(draw, n_inputs):
    """An output shape and, per input, its pattern and concrete (possibly lower-rank) shape."""
    shape = draw(st.lists(st.sampled_from([1, 2, 3, 5]), min_size=0, max_size=3))
    inputs = []
    for _ in range(n_inputs):
        mode = draw(st.sampled_from(["full", "scalar", "partial"]))
        pattern = tuple(mode == "full" or mode == "partial" and draw(st.booleans())
                        for _ in shape)
        dims = tuple(n if p else 1 for n, p in zip(shape, pattern))
        drop = draw(st.integers(0, len(dims)))
        while drop and dims[:1] == (1,):
            dims, drop = dims[1:], drop - 1
        inputs.append((pattern, dims))
    return tuple(shape), inputs


def _structure_dag(structure, dtype, patterns):
    n_in, nodes, outputs = structure
    return dag_of([(e, ops, "bool" if b else dtype) for e, ops, b in nodes],
                  [Output(v) for v in outputs], *[(dtype, p) for p in patterns])


@settings(**COMPILING)
@given(st.data())
def test_random_dags_match_the_interpreter(data):
    structure = data.draw(st.sampled_from(STRUCTURES))
    dtype = data.draw(st.sampled_from(["float32", "float64"]))
    shape, inputs = data.draw(input_patterns(structure[0]))
    dag = _structure_dag(structure, dtype, [p for p, _ in inputs])
    values = st.floats(-2, 2, width=32)
    arrays = [data.draw(hnp.arrays(dtype, dims, elements=values)) for _, dims in inputs]
    kernel = compile_fused(dag)
    assert kernel.broadcast_shape([a.shape for a in arrays]) == np.broadcast_shapes(
        *(a.shape for a in arrays), (1,) * len(shape))
    for got, want in zip(kernel(*arrays), evaluate(dag, arrays)):
        assert_close(got, want, dtype)


def rows_dag(dtype, axes):
    """Elementwise tanh(x * y + 1) plus its sum, max and min over ``axes``, in one kernel."""
    nodes = [("x0 * x1 + 1", (0, 1), dtype), ("tanh(x0)", (2,), dtype)]
    return dag_of(nodes, [Output(3)] + [Output(v, r, axes) for v, r in
                                        ((2, "sum"), (3, "max"), (2, "min"))],
                  (dtype, (True, True, True)), (dtype, (False, True, True)))


@settings(**COMPILING)
@given(st.data())
def test_reduction_epilogues(data):
    axes = data.draw(st.sampled_from([None, (0,), (2,), (1, 2), (0, 1), (0, 2), (1,)]))
    dtype = data.draw(st.sampled_from(["float32", "float64"]))
    parallel = data.draw(st.booleans())
    shape = tuple(data.draw(st.lists(st.integers(1, 6), min_size=3, max_size=3)))
    dag = rows_dag(dtype, axes)
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-3, 3, width=32)))
    y = data.draw(hnp.arrays(dtype, shape[1:], elements=st.floats(-3, 3, width=32)))
    got = compile_fused(dag, "libm")(x, y, parallel=parallel)
    for g, w in zip(got, evaluate(dag, [x, y])):
        assert_close(g, w, dtype)
    np.testing.assert_allclose(got[2], np.tanh(x * y + 1).max(axis=axes), **TOL[dtype])
    np.testing.assert_allclose(got[1], (x * y + 1).sum(axis=axes), rtol=1e-5, atol=1e-5)


def test_reductions_propagate_nan_and_handle_empty_arrays():
    dag = dag_of([("maximum(x0, 0.5)", (0,), "float32")],
                 [Output(0, "max"), Output(1, "min", (1,)), Output(0, "sum", (0,))],
                 ("float32", (True, True)))
    x = np.ones((4, 3), np.float32)
    x[2, 1] = np.nan
    top, low, total = compile_fused(dag)(x)
    assert np.isnan(top) and np.isnan(low[2]) and np.isnan(total[1]) and low[0] == 1
    top, low, total = compile_fused(dag)(np.ones((0, 3), np.float32))
    assert top == -np.inf and low.shape == (0,) and np.all(total == 0)


def test_serial_and_parallel_agree_on_large_arrays():
    dag = _structure_dag(STRUCTURES[0], "float32", [(True, True)] * STRUCTURES[0][0])
    rng = np.random.default_rng(2)
    arrays = [rng.uniform(-2, 2, (400, 300)).astype(np.float32) for _ in dag.inputs]
    kernel = compile_fused(dag)
    for layout in (lambda a: a, lambda a: np.asfortranarray(a)):
        serial = kernel(*map(layout, arrays), parallel=False)
        for got, want in zip(kernel(*map(layout, arrays)), serial):
            np.testing.assert_array_equal(got, want)
    red = compile_fused(rows_dag("float64", (0, 2)), "libm")
    x, y = rng.standard_normal((300, 7, 60)), rng.standard_normal((7, 60))
    assert x.size >= PARALLEL_MIN_SIZE
    for got, want in zip(red(x, y, parallel=True), red(x, y, parallel=False)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def assert_contracted(got, want, product):
    """``got`` equals ``want`` but for FMA contraction: the product may skip its rounding."""
    eps = np.finfo(got.dtype).eps
    assert np.all(np.abs(got - want) <= eps * (np.abs(product) + np.abs(want))), (got, want)


def test_strided_inputs_and_in_place_outputs():
    dag = dag_of([("x0 * x1 - 0.5", (0, 1), "float64"), ("x0 > 0", (2,), "bool")],
                 [Output(2), Output(3)], ("float64", (True, True)), ("float64", (False, True)))
    kernel = compile_fused(dag)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 8)), rng.standard_normal(8)
    want = evaluate(dag, [x, y])
    contiguous = kernel(x, y)
    assert_contracted(contiguous[0], want[0], x * y)
    wide = np.zeros((6, 16))
    wide[:, ::2] = x
    for view in (np.asfortranarray(x), wide[:, ::2]):
        np.testing.assert_array_equal(kernel(view, y)[0], contiguous[0])
    mask = np.empty((6, 8), bool)
    kernel.run([x.copy(), y], [wide[:, ::2], mask])  # a strided output is written back
    kernel.run([x, y], [x, mask])
    np.testing.assert_array_equal(x, contiguous[0])
    np.testing.assert_array_equal(wide[:, ::2], contiguous[0])
    np.testing.assert_array_equal(mask, contiguous[0] > 0)
    flat = compile_fused(dag_of([("x0 * x0", (0,), "float32")], [Output(1)],
                                ("float32", (True, True))))
    z = np.arange(6, dtype=np.float32).reshape(2, 3)
    flat.run([z], [z])
    np.testing.assert_array_equal(z, np.arange(6).reshape(2, 3) ** 2)


def test_inputs_and_outputs_are_checked():
    kernel = compile_fused(dag_of([("x0 + x1", (0, 1), "float32")], [Output(2)],
                                  ("float32", (True, True)), ("float32", (False, True))))
    x, y = np.zeros((2, 3), np.float32), np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="input 1"):
        kernel(x, np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="input 0"):
        kernel(x.astype(np.float64), y)
    with pytest.raises(ValueError, match="output 0"):
        kernel.run([x, y], [np.zeros((3, 2), np.float32)])


# -- generated code and the disk cache -------------------------------------------------------------


def test_source_is_returned_and_flat_loop_vectorises():
    dag = dag_of([("x0 * x1 + x2", (0, 1, 2), "float32")], [Output(3)],
                 ("float32", (True,)), ("float32", (True,)), ("float32", (False,)))
    kernel = compile_fused(dag, "libm")
    assert kernel.source == generate_source(dag, "libm")
    assert "def chunk" in kernel.source and "x0 * x1 + x2" in kernel.source
    assert "# loop: flat" in kernel.source
    a = np.ones(64, np.float32)
    np.testing.assert_array_equal(kernel(a, a, np.float32(2), parallel=False)[0], a + 2)
    if platform.machine() in ("x86_64", "AMD64"):
        # A fresh build of the same function: code loaded from Numba's cache cannot be inspected.
        fn = numba.njit(error_model="numpy", fastmath={"contract"})(kernel.module.chunk.py_func)
        fn(0, 1, a, a, a[:1], a.copy())
        assert re.search(r"(add|mul|fmadd\w*)ps\s+[^\n]*%[xyz]mm", fn.inspect_asm(fn.signatures[0]))


_SECOND_PROCESS = """
import numpy as np
from kernels.scalar_expr import FusedDag, Input, Node, Output
from kernels.numba.fusion import compile_fused
dag = FusedDag([Input("float32", (True, True)), Input("float32", (False, True))],
               [Node("tanh(x0 * x1) + 1", (0, 1), "float32")], [Output(2), Output(2, "sum")])
kernel = compile_fused(dag)
x = np.ones((3, 4), np.float32)
kernel(x, x[0], parallel=False)
stats = kernel.module.serial.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


def test_second_process_loads_kernels_from_the_disk_cache(tmp_path):
    env = dict(os.environ, MINIGRAPH_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))

    def run():
        out = subprocess.run([sys.executable, "-c", _SECOND_PROCESS], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True)
        return out.stdout.split()

    assert run() == ["0", "1"]
    assert run() == ["1", "0"]
    assert len(list(tmp_path.glob("fused_*.py"))) == 1
