"""Registry-driven checks for every op: sample rule, static inference vs reference, gradients."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.graph import TensorType
from minigraph.ops.registry import REGISTRY, apply_op
from minigraph.testing import check_grads
from minigraph.testing.strategies import op_inputs, sampled_ops

SAMPLED = sampled_ops()
DIFFERENTIABLE = [n for n in SAMPLED if REGISTRY[n].differentiable and REGISTRY[n].vjp]
NON_DIFFERENTIABLE = [n for n in SAMPLED if not REGISTRY[n].differentiable]
FUZZ = settings(deadline=None)  # example counts come from the hypothesis profile (conftest)


def _reference(opdef, inputs, attrs):
    extra = {"rng": np.random.default_rng(0)} if opdef.random else {}
    out = opdef.ref(*inputs, **attrs, **extra)
    return list(out) if isinstance(out, tuple) else [out]


def _declared(opdef, types, attrs):
    out = opdef.infer(types, **attrs)
    return [out] if isinstance(out, TensorType) else list(out)


@pytest.mark.parametrize("name", SAMPLED)
def test_op_declares_sample_and_gradient_rule(name):
    opdef = REGISTRY[name]
    assert opdef.sample is not None, f"op {name} has no sample rule, so it cannot be fuzzed"
    assert not opdef.differentiable or opdef.vjp is not None or opdef.extra.get("no_vjp_reason"), \
        f"op {name} claims to be differentiable but has no vjp and gives no reason"


@pytest.mark.parametrize("name", SAMPLED)
@FUZZ
@given(data=st.data())
def test_static_inference_matches_reference(name, data):
    opdef = REGISTRY[name]
    inputs, attrs = data.draw(op_inputs(name))
    results = _reference(opdef, inputs, attrs)
    declared = _declared(opdef, [TensorType(a.shape, a.dtype) for a in map(np.asarray, inputs)],
                         attrs)
    assert len(declared) == len(results)
    for t, value in zip(declared, results):
        value = np.asarray(value)
        assert value.dtype == t.dtype, f"{name}: ref gives {value.dtype}, infer says {t.dtype}"
        if opdef.extra.get("value_dependent_shape"):  # sizes known only from input values
            assert t.shape is not None and mg.graph.fits_static(value.shape, t.shape), \
                f"{name}: ref gives shape {value.shape}, infer says {t.shape}"
            continue
        assert t.shape is not None and value.shape == t.shape, \
            f"{name}: ref gives shape {value.shape}, infer says {t.shape}"
    unknown = [TensorType((None,) * np.ndim(a), np.asarray(a).dtype) for a in inputs]
    for t, value in zip(_declared(opdef, unknown, attrs), results):
        assert t.dtype == np.asarray(value).dtype
        if t.shape is not None:
            assert len(t.shape) == np.ndim(value)
            assert all(d is None or d == v for d, v in zip(t.shape, np.shape(value)))


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@FUZZ
@given(data=st.data())
def test_gradient_matches_finite_differences(name, data):
    opdef = REGISTRY[name]
    inputs, attrs = data.draw(op_inputs(name))
    inputs = [np.asarray(a) for a in inputs]
    perturbed = opdef.grad_inputs if opdef.grad_inputs is not None else range(len(inputs))
    perturbed = [i for i in perturbed if inputs[i].dtype.kind == "f"]

    def build(*tensors):
        full = [mg.constant(a) for a in inputs]
        for i, t in zip(perturbed, tensors):
            full[i] = t
        out = apply_op(name, full, attrs)
        outs = out if isinstance(out, (list, tuple)) else [out]
        return [o for o in outs if o.dtype.kind == "f"]

    if perturbed:
        check_grads(build, [inputs[i] for i in perturbed], seed=0)


@pytest.mark.parametrize("name", NON_DIFFERENTIABLE)
@FUZZ
@given(data=st.data())
def test_non_differentiable_ops_give_no_gradient(name, data):
    inputs, attrs = data.draw(op_inputs(name))
    tensors = [mg.constant(np.asarray(a)) for a in inputs]
    out = apply_op(name, tensors, attrs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    floats = [t for t in tensors if t.dtype.kind == "f"]
    for o in outs:
        if floats:
            assert all(g is None for g in mg.gradients(mg.cast(o, mg.float64), floats))
