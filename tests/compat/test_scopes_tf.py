"""Where TensorFlow is installed: the same variable-scope scripts under tf.compat.v1 and
minigraph give the same variable names, op names, reuse modes and errors, and the initializers
draw from the same distributions."""
import importlib
import math

import numpy as np
import pytest

import minigraph as mg
from minigraph import initializers

tf = pytest.importorskip("tensorflow")
tf1 = tf.compat.v1
SCOPES = importlib.import_module("minigraph.variable_scope")  # mg.variable_scope: the function


class _MinigraphLib:
    """``mg`` plus the scope and initializer API, taken from their modules (so this test does
    not depend on the package re-exporting them)."""

    def __getattr__(self, name):
        for module in (SCOPES, initializers):
            if name in module.__all__:
                return getattr(module, name)
        return getattr(mg, name)


MG = _MinigraphLib()


def _in_tf(script):
    tf1.disable_eager_execution()
    with tf1.Graph().as_default():
        return script(tf1)


def _in_mg(script):
    with mg.Graph().as_default():
        return script(MG)


def _reuse(scope, lib):
    return "auto" if scope.reuse is lib.AUTO_REUSE else bool(scope.reuse)


def nested_and_reopened(lib):
    names = []
    with lib.variable_scope("foo") as foo:
        names += [lib.get_variable("w", [2]).name, lib.constant(1.0, name="c").name]
        with lib.variable_scope("bar"):
            names += [lib.get_variable("w", [2]).name, lib.constant(1.0, name="c").name]
    with lib.variable_scope("foo", reuse=True):
        names += [lib.get_variable("w").name, lib.constant(1.0, name="c").name]
    with lib.variable_scope(foo, reuse=True) as again:
        names += [again.name, again.original_name_scope, lib.constant(1.0, name="c").name]
    with lib.name_scope("ns"):
        with lib.variable_scope("vs") as vs:
            names += [lib.get_variable("x", [1]).name, lib.constant(1.0, name="c").name,
                      vs.original_name_scope]
            with lib.name_scope("inner"):
                names.append(lib.get_variable("y", [1]).name)
            with lib.variable_scope(foo):
                names += [lib.get_variable("z", [1]).name, lib.constant(1.0, name="c").name]
    return names


def default_names(lib):
    names = []
    for _ in range(2):
        with lib.variable_scope(None, default_name="layer") as scope:
            names += [scope.name, lib.constant(1.0, name="c").name, lib.get_variable("w", [1]).name]
    for _ in range(2):
        with lib.variable_scope("net"):
            for _ in range(2):
                with lib.variable_scope(None, default_name="dense") as scope:
                    names += [scope.name, lib.constant(1.0, name="c").name]
    with lib.variable_scope("given", default_name="ignored") as scope:
        names.append(scope.name)
    return names


def reuse_modes(lib):
    modes = []
    with lib.variable_scope("a") as a:
        w = lib.get_variable("w", [1])
        modes.append(_reuse(a, lib))
    with lib.variable_scope("a", reuse=True) as scope:
        modes += [_reuse(scope, lib), lib.get_variable("w") is w]
        with lib.variable_scope("b", reuse=False) as inner:
            modes.append(_reuse(inner, lib))
        with lib.variable_scope("c", reuse=lib.AUTO_REUSE) as inner:
            modes.append(_reuse(inner, lib))
    with lib.variable_scope("auto", reuse=lib.AUTO_REUSE) as scope:
        first = lib.get_variable("v", [2])
        with lib.variable_scope("deeper") as inner:
            modes += [_reuse(inner, lib), lib.get_variable("u", [1]).name]
        modes += [_reuse(scope, lib), lib.get_variable("v", [2]) is first]
    with lib.variable_scope("r") as scope:
        x = lib.get_variable("x", [1])
        scope.reuse_variables()
        modes += [lib.get_variable("x") is x, _reuse(lib.get_variable_scope(), lib)]
        with lib.variable_scope("in") as inner:
            modes.append(_reuse(inner, lib))
    with lib.variable_scope(a) as scope:
        modes.append(_reuse(scope, lib))
    modes += [_reuse(lib.get_variable_scope(), lib), lib.get_variable_scope().name]
    modes.append(len(lib.global_variables()))
    return modes


def inherited_defaults(lib):
    with lib.variable_scope("i", initializer=lib.constant_initializer(3.0), dtype=lib.float64):
        with lib.variable_scope("j"):
            v = lib.get_variable("v", [2])
            u = lib.get_variable("u", [2], initializer=lib.ones_initializer())
    n = lib.get_variable("n", [2], dtype=lib.int32)
    from_value = lib.get_variable("from_value", initializer=[1, 2])
    with lib.Session() as sess:
        sess.run(lib.global_variables_initializer())
        values = sess.run([v, u, n, from_value])
    variables = (v, u, n, from_value)
    return ([t.name for t in variables], [t.dtype.name for t in variables],
            [a.tolist() for a in values])


SCRIPTS = [nested_and_reopened, default_names, reuse_modes, inherited_defaults]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.__name__)
def test_scope_scripts_agree_with_tensorflow(script):
    assert _in_mg(script) == _in_tf(script)


def _create_twice(lib):
    with lib.variable_scope("foo"):
        lib.get_variable("w", [2, 3])
    with lib.variable_scope("foo"):
        lib.get_variable("w", [2, 3])


def _reuse_missing(lib):
    with lib.variable_scope("foo", reuse=True):
        lib.get_variable("q", [2])


def _reshape_shared(lib):
    with lib.variable_scope("foo"):
        lib.get_variable("w", [2, 3])
    with lib.variable_scope("foo", reuse=True):
        lib.get_variable("w", [2, 4])


def _retype_shared(lib):
    with lib.variable_scope("foo"):
        lib.get_variable("i", [2], dtype=lib.int32)
    with lib.variable_scope("foo", reuse=True):
        lib.get_variable("i")


def _no_shape(lib):
    lib.get_variable("noshape")


def _constant_with_shape(lib):
    lib.get_variable("c", [2], initializer=lib.constant([1.0, 2.0]))


def _default_name_with_reuse(lib):
    with lib.variable_scope(None, default_name="d", reuse=True):
        pass


@pytest.mark.parametrize("script", [_create_twice, _reuse_missing, _reshape_shared,
                                    _retype_shared, _no_shape, _constant_with_shape,
                                    _default_name_with_reuse], ids=lambda s: s.__name__[1:])
def test_errors_say_what_tensorflow_says(script):
    with pytest.raises(ValueError) as theirs:
        _in_tf(script)
    with pytest.raises(ValueError) as ours:
        _in_mg(script)
    first_sentence = str(theirs.value).split("?")[0].split(".")[0]
    assert str(ours.value).startswith(first_sentence)


INITIALIZERS = {
    "glorot_uniform": lambda lib: lib.glorot_uniform_initializer(seed=1),
    "glorot_normal": lambda lib: lib.glorot_normal_initializer(seed=1),
    "variance_scaling": lambda lib: lib.variance_scaling_initializer(2.0, "fan_out", "uniform",
                                                                     seed=1),
    "he_untruncated": lambda lib: lib.variance_scaling_initializer(
        2.0, "fan_in", "untruncated_normal", seed=1),
    "truncated_normal": lambda lib: lib.truncated_normal_initializer(0.5, 0.2, seed=1),
    "random_normal": lambda lib: lib.random_normal_initializer(1.0, 2.0, seed=1),
    "random_uniform": lambda lib: lib.random_uniform_initializer(-1.0, 3.0, seed=1),
    "default": None,
}


def _draw(lib, name, shape):
    make = INITIALIZERS[name]
    variable = lib.get_variable("v", shape, dtype=lib.float64,
                                initializer=None if make is None else make(lib))
    with lib.Session() as sess:
        sess.run(lib.global_variables_initializer())
        return sess.run(variable)


@pytest.mark.parametrize("shape", [[300, 200], [3, 3, 32, 64]], ids=str)
@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_initializer_statistics_agree_with_tensorflow(name, shape):
    theirs = _in_tf(lambda lib: _draw(lib, name, shape))
    ours = _in_mg(lambda lib: _draw(lib, name, shape))
    assert ours.shape == theirs.shape == tuple(shape) and ours.dtype == theirs.dtype
    scale = theirs.std()
    assert abs(ours.mean() - theirs.mean()) < 0.03 * scale + 1e-12
    assert abs(ours.std() - scale) < 0.02 * scale
    bound = 0.1 * scale  # the extremes of 60 000 draws from a bounded law sit at its bounds
    if name in ("glorot_uniform", "variance_scaling", "random_uniform", "default",
                "truncated_normal", "glorot_normal"):
        assert abs(ours.min() - theirs.min()) < bound and abs(ours.max() - theirs.max()) < bound


@pytest.mark.parametrize("name", ["zeros", "ones", "constant"])
def test_deterministic_initializers_match_exactly(name):
    def script(lib):
        make = {"zeros": lambda: lib.zeros_initializer(), "ones": lambda: lib.ones_initializer(),
                "constant": lambda: lib.constant_initializer([[1, 2, 3], [4, 5, 6]])}[name]
        variable = lib.get_variable("v", [2, 3], initializer=make())
        with lib.Session() as sess:
            sess.run(lib.global_variables_initializer())
            return sess.run(variable)

    np.testing.assert_array_equal(_in_mg(script), _in_tf(script))


def test_placeholder_with_default_agrees_with_tensorflow():
    def script(lib):
        p = lib.placeholder_with_default(np.arange(6.0).reshape(2, 3), [None, 3])
        y = lib.reduce_sum(p * p, axis=1)
        with lib.Session() as sess:
            return (p.get_shape().as_list(), sess.run(y).tolist(),
                    sess.run(y, {p: np.ones((4, 3))}).tolist())

    assert _in_mg(script) == _in_tf(script)


def test_glorot_limit_is_the_documented_one():
    fan_in, fan_out = initializers.compute_fans([3, 3, 32, 64])
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    theirs = _in_tf(lambda lib: _draw(lib, "glorot_uniform", [3, 3, 32, 64]))
    assert np.abs(theirs).max() <= limit < 1.01 * np.abs(theirs).max()
