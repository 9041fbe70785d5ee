"""The MLP's gradients equal the hand-derived backprop formulas (float64)."""
import numpy as np

import minigraph as mg


def _data(rng, n=7, d=5, h=4, k=3):
    X = rng.standard_normal((n, d))
    T = np.eye(k)[rng.integers(0, k, n)]
    W, b = rng.standard_normal((d, h)) * 0.5, rng.standard_normal(h) * 0.1
    V, c = rng.standard_normal((h, k)) * 0.5, rng.standard_normal(k) * 0.1
    return X, T, W, b, V, c


def _hand_derived(X, T, W, b, V, c):
    Z = 1 / (1 + np.exp(-(X @ W + b)))
    logits = Z @ V + c
    Y = np.exp(logits - logits.max(1, keepdims=True))
    Y /= Y.sum(1, keepdims=True)
    delta_out = Y - T                       # dJ/dlogits for J = -sum(T log Y)
    delta_hidden = (delta_out @ V.T) * Z * (1 - Z)
    return {"V": Z.T @ delta_out, "c": delta_out.sum(0),
            "W": X.T @ delta_hidden, "b": delta_hidden.sum(0)}


def _graph_gradients(X, T, params, loss_kind):
    x = mg.placeholder(mg.float64, [None, X.shape[1]])
    t = mg.placeholder(mg.float64, [None, T.shape[1]])
    variables = {name: mg.Variable(value, name=name) for name, value in params.items()}
    hidden = mg.sigmoid(mg.matmul(x, variables["W"]) + variables["b"])
    logits = mg.matmul(hidden, variables["V"]) + variables["c"]
    if loss_kind == "fused":
        cost = mg.reduce_sum(mg.nn.softmax_cross_entropy_with_logits(labels=t, logits=logits))
    else:
        cost = -mg.reduce_sum(t * mg.log(mg.nn.softmax(logits)))
    names = list(variables)
    grads = mg.gradients(cost, [variables[n] for n in names])
    with mg.Session() as sess:
        sess.run(mg.global_variables_initializer())
        values = sess.run(grads, {x: X, t: T})
    return dict(zip(names, values))


def test_mlp_gradients_match_backprop_formulas():
    X, T, W, b, V, c = _data(np.random.default_rng(0))
    expected = _hand_derived(X, T, W, b, V, c)
    for kind in ("fused", "explicit"):
        got = _graph_gradients(X, T, {"W": W, "b": b, "V": V, "c": c}, kind)
        for name, value in expected.items():
            np.testing.assert_allclose(got[name], value, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{kind} loss, dJ/d{name}")
