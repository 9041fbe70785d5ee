"""The tools bite: an op with a deliberately wrong gradient is caught by check_grads and by the
registry-driven test; a correct twin passes both."""
import numpy as np
import pytest

import minigraph as mg
from minigraph.ops import _samples
from minigraph.ops.registry import REGISTRY
from minigraph.testing import check_grads, verify_grad
from tests.ops import test_registry


def _register_exp_twin(name, gradient_scale):
    """A copy of ``exp`` whose gradient is scaled by ``gradient_scale`` (1.0 is correct)."""
    return mg.defop(name, lambda types: types[0], np.exp, kind="elementwise", scalar="exp(x0)",
                    vjp=lambda node, dys: [dys[0] * node.outputs[0] * gradient_scale],
                    sample=_samples.unary())


@pytest.fixture
def planted_ops():
    _register_exp_twin("planted_wrong_exp", 1.001)
    _register_exp_twin("planted_right_exp", 1.0)
    yield
    for name in ("planted_wrong_exp", "planted_right_exp"):
        REGISTRY.pop(name)


def _apply(name):
    return lambda x: mg.apply_op(name, [x], {})


def test_check_grads_catches_the_planted_bug_and_explains_it(planted_ops):
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    check_grads(_apply("planted_right_exp"), [x])
    with pytest.raises(AssertionError) as info:
        check_grads(_apply("planted_wrong_exp"), [x])
    message = str(info.value)
    for part in ("input 0", "element (", "reverse-mode", "finite differences", "abs error",
                 "relative error", "planted_wrong_exp"):
        assert part in message


def test_verify_grad_catches_the_planted_bug(planted_ops):
    x = np.linspace(-1, 1, 300)  # large input: checked along random directions
    verify_grad(_apply("planted_right_exp"), [x], rng=np.random.default_rng(0))
    with pytest.raises(AssertionError, match="a random direction"):
        verify_grad(_apply("planted_wrong_exp"), [x], rng=np.random.default_rng(0))


def test_registry_test_catches_the_planted_bug(planted_ops):
    test_registry.test_gradient_matches_finite_differences("planted_right_exp")
    with pytest.raises(AssertionError, match="gradient mismatch"):
        test_registry.test_gradient_matches_finite_differences("planted_wrong_exp")


def test_second_order_check_catches_a_wrong_second_derivative():
    @mg.custom_gradient
    def cube(x):
        def grad(dy):  # right first derivative built so its own derivative is wrong
            return dy * 3 * mg.stop_gradient(x) * x
        return x * x * x, grad

    x = np.array([0.5, -1.5, 2.0])
    check_grads(cube, [x], order=1)
    with pytest.raises(AssertionError, match="order-2 gradient mismatch"):
        check_grads(cube, [x], order=2)
