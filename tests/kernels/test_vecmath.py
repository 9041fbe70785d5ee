"""Accuracy and vectorisation tests for the branch-free Numba math in ``kernels.numba.vecmath``.

Errors are in ulps of the function's dtype against a reference computed in float64 (for float32)
or np.longdouble (for float64; 64-bit mantissa on x86).  Infinities count as 2**(emax+1), so a
result that overflows one ulp early costs one ulp, and a NaN mismatch costs infinitely many.
"""
import platform
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

numba = pytest.importorskip("numba")
from kernels.numba import polyfit, vecmath  # noqa: E402

LD = np.longdouble
EXTENDED = np.finfo(LD).nmant > np.finfo(np.float64).nmant
# Max ulp error allowed; measured (exhaustive float32 / 20M-sample float64) maxima are about
# exp 0.8, log 0.85, log1p 0.87, expm1 1.2, tanh 1.03, sigmoid 1.14, softplus 1.2.  One more ulp
# for float64 where np.longdouble is plain double, so the reference is itself off by an ulp.
MAX_ULP = {"exp": 1.0, "log": 1.0, "log1p": 1.0, "expm1": 1.5, "tanh": 1.5, "sigmoid": 1.5,
           "softplus": 1.5}
ODD_AT_ZERO = ("log1p", "expm1", "tanh")


def _reference(name: str, x: np.ndarray) -> np.ndarray:
    """The exact function in the reference precision (float64 for float32, else longdouble)."""
    with np.errstate(all="ignore"):
        x = x.astype(np.float64 if x.dtype == np.float32 else LD)
        if name == "sigmoid":
            return 1 / (1 + np.exp(-x))
        if name == "softplus":
            return np.maximum(x, 0) + np.log1p(np.exp(-abs(x)))
        return getattr(np, name)(x)


def ulp_error(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Elementwise |got - ref| in ulps of got's dtype at ref (see the module docstring)."""
    info = np.finfo(got.dtype)
    big = LD(2) ** info.maxexp
    both_nan = np.isnan(got) & np.isnan(ref)
    with np.errstate(invalid="ignore"):  # signalling NaNs among the swept bit patterns
        g = np.nan_to_num(got.astype(LD), nan=0, posinf=big, neginf=-big)
    r = np.clip(np.nan_to_num(ref.astype(LD), nan=0, posinf=big, neginf=-big), -big, big)
    _, e = np.frexp(r)
    ulp = np.ldexp(LD(1), np.maximum(e - 1, info.minexp) - info.nmant)
    err = (abs(g - r) / ulp).astype(np.float64)
    err[np.isnan(got) != np.isnan(ref)] = np.inf
    err[both_nan] = 0
    return err


def _array_version(fn, fastmath=False):
    """An @njit loop applying the scalar ``fn`` elementwise (the shape fused kernels take)."""
    @numba.njit(fastmath=fastmath)
    def apply(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = fn(x[i])
        return out
    return apply


_LOOPS = {key: _array_version(fn) for key, fn in vecmath.VECMATH.items()}
CASES = sorted(vecmath.VECMATH)


def assert_accurate(name: str, dtype: str, x, loop=None) -> None:
    """Check ``loop`` (default: the plain vectorised loop) is within ``MAX_ULP`` on all of x."""
    x = np.asarray(x, dtype=dtype).ravel()
    err = ulp_error((loop or _LOOPS[(name, dtype)])(x), _reference(name, x))
    worst = int(np.argmax(err))
    limit = MAX_ULP[name] + (dtype == "float64" and not EXTENDED)
    assert err[worst] <= limit, f"{name}({x[worst]!r}): {err[worst]:.3f} ulp > {limit}"


def _special_values(dtype: str) -> np.ndarray:
    """Zeros, infinities, NaN, subnormals, extremes and the exp/expm1/log thresholds."""
    info = np.finfo(dtype)
    ft = info.dtype.type
    edges = [0.0, np.inf, np.nan, info.smallest_subnormal, info.tiny, info.tiny * (1 - info.eps),
             info.max, info.eps, 1.0, 0.5, 2.0, np.log(info.max), np.log(info.tiny),
             np.log(info.smallest_subnormal), np.log(info.smallest_subnormal) - 1, 0.55, 10.0,
             20.0, 18.0, 40.0, 88.0, 89.0, 104.0, 709.0, 710.0, 746.0, 2.0 ** -25, 2.0 ** -54,
             np.log(2) / 2, np.sqrt(2), np.sqrt(0.5)]
    x = np.array(edges, dtype=dtype)
    with np.errstate(over="ignore"):
        near = np.concatenate([np.nextafter(x, ft(np.inf)), np.nextafter(x, ft(-np.inf)), x])
    return np.concatenate([near, -near])


@pytest.mark.parametrize("name,dtype", CASES)
def test_special_values(name, dtype):
    assert_accurate(name, dtype, _special_values(dtype))


@pytest.mark.parametrize("name,dtype", CASES)
def test_signed_zeros_and_tiny_inputs_keep_their_sign(name, dtype):
    x = np.array([0.0, -0.0, 1e-40, -1e-40, 1e-300, -1e-300], dtype=dtype)
    got = _LOOPS[(name, dtype)](x)
    ref = _reference(name, x).astype(dtype)
    signed = ~np.isnan(ref)
    assert np.array_equal(np.signbit(got[signed]), np.signbit(ref[signed]))
    if name in ODD_AT_ZERO:
        assert np.array_equal(got, x)


@pytest.mark.parametrize("name", vecmath.NAMES)
def test_float32_strided_sweep_of_all_bit_patterns(name):
    bits = np.arange(0, 2**32, 1021, dtype=np.uint64).astype(np.uint32)
    assert_accurate(name, "float32", bits.view(np.float32))


@pytest.mark.parametrize("name", vecmath.NAMES)
def test_float32_dense_sweep_of_the_interesting_range(name):
    lo, hi = np.array([1e-6, 120.0], dtype=np.float32).view(np.int32)
    mag = np.arange(lo, hi, 97, dtype=np.int32).view(np.float32)
    assert_accurate(name, "float32", np.concatenate([mag, -mag]))


def _float64_samples(rng: np.random.Generator) -> np.ndarray:
    """Random bit patterns plus uniform and log-uniform draws over the ranges that matter."""
    bits = rng.integers(0, 2**63, 300_000, dtype=np.int64).view(np.float64)
    uniform = [rng.uniform(-a, a, 300_000) for a in (1.0, 5.0, 50.0, 760.0)]
    logs = np.exp2(rng.uniform(-1074, 1024, 300_000))
    x = np.concatenate([bits, *uniform, logs, -logs, 1 + rng.uniform(-0.5, 0.5, 100_000)])
    return x[np.isfinite(x)]


@pytest.mark.parametrize("name", vecmath.NAMES)
def test_float64_random_sweep(name):
    x = _float64_samples(np.random.default_rng(0))
    assert_accurate(name, "float64", x)


@pytest.mark.parametrize("name,dtype", CASES)
@given(data=st.data())
def test_hypothesis_over_the_whole_float_range(name, dtype, data):
    width = np.finfo(dtype).bits
    x = data.draw(st.lists(st.floats(width=width), min_size=1, max_size=50))
    assert_accurate(name, dtype, x)


@pytest.mark.parametrize("name,dtype", CASES)
def test_accuracy_survives_fma_contraction(name, dtype):
    rng = np.random.default_rng(2)
    x = np.concatenate([_special_values(dtype), rng.normal(0, 30, 50_000),
                        np.exp2(rng.uniform(-140, 120, 50_000))])
    assert_accurate(name, dtype, x, _array_version(vecmath.get(name, dtype), {"contract"}))


@pytest.mark.parametrize("name,dtype", CASES)
def test_loop_matches_scalar_calls(name, dtype):
    x = np.concatenate([_special_values(dtype),
                        np.random.default_rng(1).normal(0, 20, 61)]).astype(dtype)
    fn = vecmath.get(name, dtype)
    scalar = np.array([fn(v) for v in x], dtype=dtype)
    np.testing.assert_array_equal(_LOOPS[(name, dtype)](x).view(f"u{x.itemsize}"),
                                  scalar.view(f"u{x.itemsize}"))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 assembly check")
@pytest.mark.parametrize("dtype,suffix", [("float32", "ps"), ("float64", "pd")])
def test_loops_use_packed_simd_instructions(dtype, suffix):
    loop = _LOOPS[("tanh", dtype)]
    loop(np.ones(4, dtype))
    asm = "\n".join(loop.inspect_asm().values())
    assert re.search(rf"\bv?(mul|add|fmadd\w*){suffix}\s+%[xyz]mm", asm)


def test_get_rejects_unknown_kernels():
    assert vecmath.get("exp", np.float32) is vecmath.VECMATH[("exp", "float32")]
    with pytest.raises(KeyError, match="no vecmath kernel"):
        vecmath.get("exp", "float16")


@pytest.mark.parametrize("key", sorted(polyfit.POWERS))
def test_coefficients_are_reproducible_from_polyfit(key):
    np.testing.assert_allclose(polyfit.fit(*key), vecmath.POLY[key], rtol=1e-6)
