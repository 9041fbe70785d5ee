"""Optimizers vs independent NumPy transcriptions of the tf.compat.v1.train update formulas."""
import numpy as np
import pytest

import minigraph as mg
from minigraph import train

A = np.array([1.0, 2.0, 0.5])
B = np.array([0.3, -1.0, 2.0])
W1_0 = np.array([1.0, -2.0, 3.0])
W2_0 = np.array([0.5, 0.25, -1.5])
STEPS = 5


# -- NumPy references: step(t, var, grad, state) -> new var (state updated in place) ------------
# TF1 turns Python-number hyperparameters into float32 tensors before casting them to the
# variable's dtype, and keeps Adam's beta powers in float32; the references do the same.


def tf1_number(value):
    return float(np.float32(value))


def tf1_hyperparameters(ref):
    def make(*args, **kwargs):
        return ref(*(tf1_number(a) if isinstance(a, float) else a for a in args),
                   **{k: tf1_number(v) if isinstance(v, float) else v for k, v in kwargs.items()})
    return make


def float32_power(beta, t):
    power = np.float32(beta)
    for _ in range(t - 1):
        power = np.float32(power * np.float32(beta))
    return float(power)


@tf1_hyperparameters
def ref_gd(lr):
    def step(t, var, g, s):
        return var - lr * g
    return step


@tf1_hyperparameters
def ref_momentum(lr, momentum, nesterov=False):
    def step(t, var, g, s):
        s["momentum"] = s.get("momentum", np.zeros_like(var)) * momentum + g
        if nesterov:
            return var - lr * g - lr * momentum * s["momentum"]
        return var - lr * s["momentum"]
    return step


@tf1_hyperparameters
def ref_adagrad(lr, initial=0.1):
    def step(t, var, g, s):
        s["accumulator"] = s.get("accumulator", np.full_like(var, initial)) + g ** 2
        return var - lr * g / np.sqrt(s["accumulator"])
    return step


@tf1_hyperparameters
def ref_rmsprop(lr, decay=0.9, momentum=0.0, eps=1e-10, centered=False):
    lr, decay, momentum, eps = map(tf1_number, (lr, decay, momentum, eps))
    def step(t, var, g, s):
        s["rms"] = decay * s.get("rms", np.ones_like(var)) + (1 - decay) * g ** 2
        denominator = s["rms"] + eps
        if centered:
            s["mg"] = decay * s.get("mg", np.zeros_like(var)) + (1 - decay) * g
            denominator = s["rms"] - s["mg"] ** 2 + eps
        s["momentum"] = momentum * s.get("momentum", np.zeros_like(var)) \
            + lr * g / np.sqrt(denominator)
        return var - s["momentum"]
    return step


@tf1_hyperparameters
def ref_adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
    lr, beta1, beta2, eps = map(tf1_number, (lr, beta1, beta2, eps))
    def step(t, var, g, s):
        lr_t = lr * np.sqrt(1 - float32_power(beta2, t)) / (1 - float32_power(beta1, t))
        s["m"] = beta1 * s.get("m", np.zeros_like(var)) + (1 - beta1) * g
        s["v"] = beta2 * s.get("v", np.zeros_like(var)) + (1 - beta2) * g ** 2
        return var - lr_t * s["m"] / (np.sqrt(s["v"]) + eps)
    return step


CASES = {
    "gd": (lambda: train.GradientDescentOptimizer(0.1), ref_gd(0.1)),
    "momentum": (lambda: train.MomentumOptimizer(0.1, 0.9), ref_momentum(0.1, 0.9)),
    "nesterov": (lambda: train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
                 ref_momentum(0.1, 0.9, nesterov=True)),
    "adagrad": (lambda: train.AdagradOptimizer(0.2), ref_adagrad(0.2)),
    "adagrad_init": (lambda: train.AdagradOptimizer(0.2, initial_accumulator_value=0.5),
                     ref_adagrad(0.2, 0.5)),
    "rmsprop": (lambda: train.RMSPropOptimizer(0.01), ref_rmsprop(0.01)),
    "rmsprop_momentum": (lambda: train.RMSPropOptimizer(0.01, decay=0.8, momentum=0.5),
                         ref_rmsprop(0.01, 0.8, 0.5)),
    "rmsprop_centered": (lambda: train.RMSPropOptimizer(0.01, centered=True),
                         ref_rmsprop(0.01, centered=True)),
    "rmsprop_centered_momentum": (
        lambda: train.RMSPropOptimizer(0.02, momentum=0.7, epsilon=1e-6, centered=True),
        ref_rmsprop(0.02, momentum=0.7, eps=1e-6, centered=True)),
    "adam_default": (lambda: train.AdamOptimizer(), ref_adam()),
    "adam": (lambda: train.AdamOptimizer(0.1, beta1=0.8, beta2=0.99, epsilon=1e-4),
             ref_adam(0.1, 0.8, 0.99, 1e-4)),
}


def loss_of(w1, w2):
    """Coupled quadratic: both gradients depend on both variables."""
    return 0.5 * A * w1 * w1 + B * w1 + w1 * w2 + w2 * w2


def grads_of(w1, w2):
    return A * w1 + B + w2, w1 + 2 * w2


def reference_run(step, steps=STEPS):
    """Values of (w1, w2) and per-variable states after each step."""
    w1, w2, s1, s2 = W1_0.copy(), W2_0.copy(), {}, {}
    history = []
    for t in range(1, steps + 1):
        g1, g2 = grads_of(w1, w2)
        w1, w2 = step(t, w1, g1, s1), step(t, w2, g2, s2)
        history.append((w1, w2, dict(s1), dict(s2)))
    return history


TOLERANCE = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=2e-5, atol=1e-6)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(CASES))
def test_updates_match_numpy_reference(case, dtype):
    make_opt, ref_step = CASES[case]
    w1 = mg.Variable(W1_0.astype(dtype), name="w1")
    w2 = mg.Variable(W2_0.astype(dtype), name="w2")
    opt = make_opt()
    train_op = opt.minimize(loss_of(w1, w2))
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        for w1_ref, w2_ref, s1, s2 in reference_run(ref_step):
            assert sess.run(train_op) is None
            got1, got2 = sess.run([w1, w2])
            assert got1.dtype == dtype
            np.testing.assert_allclose(got1, w1_ref, **TOLERANCE[dtype])
            np.testing.assert_allclose(got2, w2_ref, **TOLERANCE[dtype])
            for var, states in ((w1, s1), (w2, s2)):
                for slot_name, expected in states.items():
                    slot = sess.run(opt.get_slot(var, slot_name))
                    np.testing.assert_allclose(slot, expected, **TOLERANCE[dtype])


def test_adam_beta_powers_advance_once_per_step():
    w1, w2 = mg.Variable(W1_0, name="w1"), mg.Variable(W2_0, name="w2")
    opt = train.AdamOptimizer(0.1, beta1=0.8, beta2=0.99)
    train_op = opt.minimize(loss_of(w1, w2))
    beta1_power = mg.get_default_graph().get_tensor_by_name("beta1_power:0")
    beta2_power = mg.get_default_graph().get_tensor_by_name("beta2_power:0")
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        for t in range(1, 4):
            powers = sess.run([beta1_power, beta2_power])
            assert powers[0].dtype == np.float32  # TF1 keeps the powers in float32
            np.testing.assert_allclose(powers, [float32_power(0.8, t), float32_power(0.99, t)],
                                       rtol=1e-7)
            sess.run(train_op)


# -- slots and optimizer variables -----------------------------------------------------------------


def slot_names(opt, var):
    return {name: opt.get_slot(var, name).name for name in opt.get_slot_names()}


def test_slot_names_follow_tf1():
    w = mg.Variable(W1_0, name="w")
    loss = w * w
    momentum, adagrad = train.MomentumOptimizer(0.1, 0.9), train.AdagradOptimizer(0.1)
    rms, centered = train.RMSPropOptimizer(0.1), train.RMSPropOptimizer(0.1, centered=True)
    adam = train.AdamOptimizer()
    for opt in (momentum, adagrad, rms, centered, adam):
        opt.minimize(loss)
    assert slot_names(momentum, w) == {"momentum": "w/Momentum:0"}
    assert slot_names(adagrad, w) == {"accumulator": "w/Adagrad:0"}
    assert slot_names(rms, w) == {"rms": "w/RMSProp:0", "momentum": "w/RMSProp_1:0"}
    assert slot_names(centered, w) == {"rms": "w/RMSProp_2:0", "mg": "w/RMSProp_3:0",
                                       "momentum": "w/RMSProp_4:0"}
    assert slot_names(adam, w) == {"m": "w/Adam:0", "v": "w/Adam_1:0"}
    assert centered.get_slot_names() == ["mg", "momentum", "rms"]
    assert [v.name for v in adam.variables()] == ["beta1_power:0", "beta2_power:0",
                                                  "w/Adam:0", "w/Adam_1:0"]
    assert train.GradientDescentOptimizer(0.1).get_slot_names() == []


def test_slots_are_global_non_trainable_and_initialised():
    w = mg.Variable(W1_0.astype(np.float32), name="w")
    rms = train.RMSPropOptimizer(0.1, centered=True)
    adagrad = train.AdagradOptimizer(0.1, initial_accumulator_value=0.25)
    rms.minimize(w * w)
    adagrad.minimize(w * w)
    slots = rms.variables() + adagrad.variables()
    assert mg.trainable_variables() == [w]
    assert all(s in mg.global_variables() and not s.trainable for s in slots)
    assert all(s.dtype == np.float32 and s.get_shape() == (3,) for s in slots)
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        got = sess.run({name: rms.get_slot(w, name) for name in ("rms", "mg", "momentum")})
        np.testing.assert_array_equal(got["rms"], np.ones(3))
        np.testing.assert_array_equal(got["mg"], np.zeros(3))
        np.testing.assert_array_equal(got["momentum"], np.zeros(3))
        np.testing.assert_array_equal(sess.run(adagrad.get_slot(w, "accumulator")),
                                      np.full(3, 0.25))


def test_slots_ignore_user_name_scope_and_are_reused():
    with mg.name_scope("model"):
        w = mg.Variable(W1_0, name="w")
    opt = train.MomentumOptimizer(0.1, 0.9)
    with mg.name_scope("training"):
        first = opt.minimize(w * w)
        second = opt.minimize(2 * w * w)
    assert opt.get_slot(w, "momentum").name == "model/w/Momentum:0"
    assert len(opt.variables()) == 1
    assert first.name == "training/Momentum" and second.name == "training/Momentum_1"


def test_get_slot_of_unknown_variable_or_name_is_none():
    w, other = mg.Variable(W1_0, name="w"), mg.Variable(W2_0, name="other")
    opt = train.MomentumOptimizer(0.1, 0.9)
    opt.minimize(w * w, var_list=[w])
    assert opt.get_slot(other, "momentum") is None
    assert opt.get_slot(w, "nope") is None


def test_slot_of_variable_without_static_shape():
    w = mg.Variable(W1_0, name="w", validate_shape=False)
    opt = train.MomentumOptimizer(0.1, 0.5)
    train_op = opt.minimize(w * w)
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        sess.run(train_op)
        sess.run(train_op)
        accum = sess.run(opt.get_slot(w, "momentum"))
    expected = reference_run_single(ref_momentum(0.1, 0.5), lambda w: 2 * w, 2)
    np.testing.assert_allclose(accum, expected[1]["momentum"], rtol=1e-12)


def reference_run_single(step, grad_fn, steps):
    var, state = W1_0.copy(), {}
    for t in range(1, steps + 1):
        var = step(t, var, grad_fn(var), state)
    return var, state


# -- global step, learning-rate tensors ------------------------------------------------------------


def test_global_step_increments_with_each_step():
    w = mg.Variable(W1_0, name="w")
    step = train.get_or_create_global_step()
    train_op = train.AdamOptimizer(0.1).minimize(w * w, global_step=step)
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        for expected in range(4):
            assert sess.run(step) == expected
            sess.run(train_op)
        assert sess.run(step).dtype == np.int64


def test_learning_rate_schedule_tensor_is_cast_to_variable_dtype():
    w = mg.Variable(W1_0, name="w")  # float64; the schedule is float32
    step = train.get_or_create_global_step()
    lr = train.exponential_decay(0.1, step, decay_steps=2, decay_rate=0.5)
    train_op = train.GradientDescentOptimizer(lr).minimize(0.5 * w * w, global_step=step)
    expected = W1_0.copy()
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        for t in range(STEPS):
            lr_t = np.float64(np.float32(0.1) * np.float32(0.5) ** np.float32(t / 2))
            expected = expected - lr_t * expected
            sess.run(train_op)
            np.testing.assert_allclose(sess.run(w), expected, rtol=1e-6)


def test_callable_and_tensor_hyperparameters():
    w = mg.Variable(W1_0, name="w")
    momentum = mg.constant(0.5, dtype=mg.float64)
    train_op = train.MomentumOptimizer(lambda: 0.1, momentum).minimize(0.5 * w * w)
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op)
        got = sess.run(w)
    expected, _ = reference_run_single(ref_momentum(0.1, 0.5), lambda w: w, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# -- compute_gradients / apply_gradients -------------------------------------------------------


def test_compute_gradients_pairs_follow_var_list_and_keep_none():
    w1, w2 = mg.Variable(W1_0, name="w1"), mg.Variable(W2_0, name="w2")
    unused = mg.Variable(1.0, name="unused")
    opt = train.GradientDescentOptimizer(0.1)
    pairs = opt.compute_gradients(loss_of(w1, w2), var_list=[w2, unused, w1])
    assert [v for _, v in pairs] == [w2, unused, w1]
    assert pairs[1][0] is None
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        g2, g1 = sess.run([pairs[0][0], pairs[2][0]])
    np.testing.assert_allclose((g1, g2), grads_of(W1_0, W2_0), rtol=1e-12)


def test_default_var_list_is_the_trainable_variables():
    w = mg.Variable(W1_0, name="w")
    frozen = mg.Variable(W2_0, name="frozen", trainable=False)
    pairs = train.GradientDescentOptimizer(0.1).compute_gradients(w * frozen)
    assert [v for _, v in pairs] == [w]


def test_apply_gradients_uses_the_given_gradients_and_skips_none():
    w1, w2 = mg.Variable(W1_0, name="w1"), mg.Variable(W2_0, name="w2")
    unused = mg.Variable(1.0, name="unused")
    opt = train.MomentumOptimizer(0.1, 0.9)
    pairs = opt.compute_gradients(loss_of(w1, w2), var_list=[w1, w2, unused])
    doubled = [(None if g is None else 2 * g, v) for g, v in pairs]
    train_op = opt.apply_gradients(doubled)
    assert opt.get_slot(unused, "momentum") is None
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        sess.run(train_op)
        got1, got2, got_unused = sess.run([w1, w2, unused])
    g1, g2 = grads_of(W1_0, W2_0)
    lr = tf1_number(0.1)
    np.testing.assert_allclose(got1, W1_0 - lr * 2 * g1, rtol=1e-12)
    np.testing.assert_allclose(got2, W2_0 - lr * 2 * g2, rtol=1e-12)
    assert got_unused == 1.0


def test_no_gradients_is_an_error():
    w = mg.Variable(W1_0, name="w")
    unused = mg.Variable(1.0, name="unused")
    opt = train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.minimize(w * 2.0, var_list=[unused])
    with pytest.raises(ValueError, match=r"No gradients provided for any variable: \['unused"):
        opt.apply_gradients([(None, unused)])
    with pytest.raises(ValueError, match="No variables provided"):
        opt.apply_gradients([])


def test_invalid_inputs_are_rejected():
    opt = train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="No variables to optimize"):
        opt.compute_gradients(mg.constant(1.0) * 2)
    count = mg.Variable(3, name="count")
    with pytest.raises(ValueError, match="Invalid type int32"):
        opt.compute_gradients(count * 2)
    w = mg.Variable(W1_0, name="w")
    with pytest.raises(TypeError, match="not a variable"):
        opt.apply_gradients([(mg.constant(W1_0), w * 2)])
    with pytest.raises(ValueError, match="appears twice"):
        opt.apply_gradients([(mg.constant(W1_0), w), (mg.constant(W1_0), w)])
    with pytest.raises(TypeError, match="dtype float32"):
        opt.apply_gradients([(mg.constant(W1_0.astype(np.float32)), w)])
    with pytest.raises(ValueError, match="Must specify the optimizer name"):
        train.GradientDescentOptimizer(0.1, name="")
    with pytest.raises(ValueError, match="initial_accumulator_value must be positive"):
        train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)


# -- Theano style: shared variables under mg.function ---------------------------------------------


def test_optimizer_on_shared_variables_runs_under_function():
    w1, w2 = mg.shared(W1_0, name="w1"), mg.shared(W2_0, name="w2")
    loss = loss_of(w1, w2)
    opt = train.AdamOptimizer(0.1)
    train_op = opt.minimize(loss)
    assert mg.trainable_variables() == [w1, w2]
    with mg.control_dependencies([train_op]):
        step = mg.function([], mg.identity(loss))
    for w1_ref, w2_ref, s1, _ in reference_run(ref_adam(0.1)):
        step()
        np.testing.assert_allclose(w1.get_value(), w1_ref, rtol=1e-12)
        np.testing.assert_allclose(w2.get_value(), w2_ref, rtol=1e-12)
        np.testing.assert_allclose(opt.get_slot(w1, "v").get_value(), s1["v"], rtol=1e-12)


def test_session_and_function_share_the_optimizer_state_of_shared_variables():
    w = mg.shared(W1_0, name="w")
    train_op = train.MomentumOptimizer(0.1, 0.9).minimize(0.5 * w * w)
    with mg.control_dependencies([train_op]):
        step = mg.function([], mg.identity(w))
    with mg.Session() as sess:
        sess.run(train_op)
    step()
    expected, _ = reference_run_single(ref_momentum(0.1, 0.9), lambda w: w, 2)
    np.testing.assert_allclose(w.get_value(), expected, rtol=1e-12)
