"""W2: one training step of a 784-512(ReLU)-10 MLP with softmax cross-entropy (float32), against
the BLAS floor: the five matmuls such a step needs, timed alone with NumPy."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

import minigraph as mg

from .. import peers
from ..harness import Case, Impl

IN, HIDDEN, OUT = 784, 512, 10
EPSILON = 1e-10  # TF1's RMSProp default


@dataclass(frozen=True)
class Optim:
    """SGD (``decay == 0``) or TF1's RMSProp (``rms`` starts at ones), with float32 constants."""
    label: str
    lr: float
    decay: float = 0.0
    momentum: float = 0.0

    def __str__(self) -> str:
        if not self.decay:
            return f"{self.label} {self.lr}"
        return f"{self.label} {self.lr} (decay {self.decay}, momentum {self.momentum})"

    def tf_style(self, train):
        """The optimizer of a TF1-style API (``tf.compat.v1.train`` or ``mg.train``)."""
        if not self.decay:
            return train.GradientDescentOptimizer(self.lr)
        return train.RMSPropOptimizer(self.lr, decay=self.decay, momentum=self.momentum,
                                      epsilon=EPSILON)

    def update(self, param, grad, ms, mom, sqrt):
        """``(param, ms, mom)`` after one step, as new values (PyTensor, JAX)."""
        f = np.float32
        if not self.decay:
            return param - f(self.lr) * grad, ms, mom
        ms = ms + (grad * grad - ms) * f(1 - self.decay)
        mom = mom * f(self.momentum) + f(self.lr) * grad / sqrt(ms + f(EPSILON))
        return param - mom, ms, mom

    def update_in_place(self, param, grad, ms, mom, sqrt) -> None:
        """The same step written into the arrays (NumPy, PyTorch)."""
        f = np.float32
        if not self.decay:
            param -= f(self.lr) * grad
            return
        ms += (grad * grad - ms) * f(1 - self.decay)
        mom *= f(self.momentum)
        mom += f(self.lr) * grad / sqrt(ms + f(EPSILON))
        param -= mom


SGD = Optim("SGD", 0.1)
RMSPROP = Optim("RMSProp", 0.001, decay=0.99, momentum=0.9)


@dataclass(frozen=True)
class Problem:
    """One batch and the initial parameters ``[W1, b1, W2, b2]``, the same for every impl."""
    x: np.ndarray
    y: np.ndarray  # one-hot labels
    params: list

    @classmethod
    def make(cls, batch: int) -> "Problem":
        rng = np.random.default_rng(0)
        f32 = partial(np.asarray, dtype=np.float32)
        x = f32(rng.standard_normal((batch, IN)))
        y = f32(np.eye(OUT)[rng.integers(0, OUT, batch)])
        params = [f32(rng.standard_normal((IN, HIDDEN)) / np.sqrt(IN)), f32(np.zeros(HIDDEN)),
                  f32(rng.standard_normal((HIDDEN, OUT)) / np.sqrt(HIDDEN)), f32(np.zeros(OUT))]
        return cls(x, y, params)


def cases(quick: bool, backends: list[str]) -> list[Case]:
    batches = (128,) if quick else (128, 1024)
    return [make_case(batch, optim, backends) for batch in batches for optim in (SGD, RMSPROP)]


def make_case(batch: int, optim: Optim, backends: list[str]) -> Case:
    p = Problem.make(batch)

    def impl(name, setup, *args):
        return Impl(name, partial(_with_updates, p, partial(setup, p, optim, *args)))

    impls = [impl("numpy", numpy_step), Impl("BLAS floor", partial(blas_floor, p))]
    if "cupy" in backends:
        impls.append(Impl("cuBLAS floor (GPU)", partial(cublas_floor, p)))
    for b in backends:
        impls += [impl(f"minigraph[{b}] Session.run", mg_session, b, False),
                  impl(f"minigraph[{b}] make_callable", mg_session, b, True)]
    if peers.has("tensorflow"):
        impls += [impl("tf1 session.run", tf1_session, False),
                  impl("tf1 make_callable", tf1_session, True)]
    if peers.has("pytensor"):
        impls.append(impl("pytensor function", pytensor_function))
    if peers.has("jax"):
        impls.append(impl("jax jit", jax_jit))
    if peers.has("torch"):
        impls.append(impl("torch", torch_eager))
    return Case(f"W2 B{batch} {optim.label}",
                f"MLP {IN}-{HIDDEN}-{OUT}, {optim}; time per training step", "ms", impls,
                reference="numpy", floor="BLAS floor", rtol=0.05, atol=1e-7)


def _with_updates(p: Problem, setup):
    """``setup()`` with a result giving each parameter's change from its initial value: the
    change is what the agreement check must see (two steps barely move the parameters)."""
    step, result = setup()
    return step, lambda: [np.asarray(q) - q0 for q, q0 in zip(result(), p.params)]


def numpy_step(p: Problem, optim: Optim):
    params = [a.copy() for a in p.params]
    slots = [(np.ones_like(a), np.zeros_like(a)) for a in params]
    x, y = p.x, p.y

    def step():
        w1, b1, w2, b2 = params
        h = x @ w1
        h += b1
        np.maximum(h, 0, out=h)
        z = h @ w2
        z += b2
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        z -= y
        z *= np.float32(1 / len(x))          # d loss / d logits
        dh = z @ w2.T
        dh *= h > 0
        grads = [x.T @ dh, dh.sum(axis=0), h.T @ z, z.sum(axis=0)]
        for param, grad, (ms, mom) in zip(params, grads, slots):
            optim.update_in_place(param, grad, ms, mom, np.sqrt)
    return step, lambda: params


def blas_floor(p: Problem):
    """x@W1, h@W2 (forward); h.T@d, d@W2.T, x.T@dh (backward), into preallocated outputs."""
    batch, (w1, _, w2, _) = len(p.x), p.params
    h, d = np.ones((batch, HIDDEN), np.float32), np.ones((batch, OUT), np.float32)
    z, dw2, dh, dw1 = (np.empty_like(a) for a in (d, w2, h, w1))

    def step():
        np.matmul(p.x, w1, out=h)
        np.matmul(h, w2, out=z)
        np.matmul(h.T, d, out=dw2)
        np.matmul(d, w2.T, out=dh)
        np.matmul(p.x.T, dh, out=dw1)
    return step, None


def cublas_floor(p: Problem):
    """The same five matmuls with CuPy (cuBLAS) on device arrays, synchronised: the GPU rows'
    floor (their ratio to it is median / this row's median)."""
    import cupy

    batch, (w1, _, w2, _) = len(p.x), p.params
    x, w1, w2 = (cupy.asarray(a) for a in (p.x, w1, w2))
    h, d = cupy.ones((batch, HIDDEN), cupy.float32), cupy.ones((batch, OUT), cupy.float32)
    z, dw2, dh, dw1 = (cupy.empty_like(a) for a in (d, w2, h, w1))
    sync = peers.device_synchronizer("cupy")

    def step():
        cupy.matmul(x, w1, out=h)
        cupy.matmul(h, w2, out=z)
        cupy.matmul(h.T, d, out=dw2)
        cupy.matmul(d, w2.T, out=dh)
        cupy.matmul(x.T, dh, out=dw1)
        sync()
    return step, None


def _tf_style_graph(api, p: Problem, optim: Optim):
    """The model in the TF1 API, which minigraph (``mg``) and ``tf.compat.v1`` both provide."""
    x = api.placeholder(np.float32, [None, IN], name="x")
    y = api.placeholder(np.float32, [None, OUT], name="y")
    params = [api.Variable(a.copy(), name=n) for a, n in zip(p.params, ("W1", "b1", "W2", "b2"))]
    w1, b1, w2, b2 = params
    logits = api.matmul(api.nn.relu(api.matmul(x, w1) + b1), w2) + b2
    loss = api.reduce_mean(api.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
    train = optim.tf_style(api.train).minimize(loss)
    return x, y, params, train, api.global_variables_initializer()


def _session_step(sess, graph_parts, p: Problem, use_callable: bool):
    x, y, params, train, init = graph_parts
    sess.run(init)
    if use_callable:
        run = partial(sess.make_callable(train, [x, y]), p.x, p.y)
    else:
        run = partial(sess.run, train, {x: p.x, y: p.y})
    sync = peers.device_synchronizer(getattr(sess, "backend", ""))

    def step():
        run()
        sync()
    return step, lambda: sess.run(params)


def mg_session(p: Problem, optim: Optim, backend: str, use_callable: bool):
    graph = mg.Graph()
    with graph.as_default():
        parts = _tf_style_graph(mg, p, optim)
    return _session_step(mg.Session(graph=graph, backend=backend), parts, p, use_callable)


def tf1_session(p: Problem, optim: Optim, use_callable: bool):
    tf = peers.tf1()
    graph = tf.Graph()
    with graph.as_default():
        parts = _tf_style_graph(tf, p, optim)
    return _session_step(peers.tf1_session(graph), parts, p, use_callable)


def pytensor_function(p: Problem, optim: Optim):
    pytensor = peers.pytensor()
    pt = pytensor.tensor
    x, y = pt.matrix("x", dtype="float32"), pt.matrix("y", dtype="float32")
    params = [pytensor.shared(a.copy()) for a in p.params]
    w1, b1, w2, b2 = params
    logits = pt.maximum(x @ w1 + b1, 0) @ w2 + b2
    loss = -(y * pt.special.log_softmax(logits, axis=1)).sum(axis=1).mean()
    updates = []
    for param, grad in zip(params, pytensor.grad(loss, params)):
        ms = pytensor.shared(np.ones_like(param.get_value()))
        mom = pytensor.shared(np.zeros_like(param.get_value()))
        new = optim.update(param, grad, ms, mom, pt.sqrt)
        updates += [(param, new[0])] + ([(ms, new[1]), (mom, new[2])] if optim.decay else [])
    step = pytensor.function([x, y], [], updates=updates)
    return partial(step, p.x, p.y), lambda: [q.get_value() for q in params]


def jax_jit(p: Problem, optim: Optim):
    """Parameters and the batch live on the device; the state buffers are donated."""
    jax = peers.jax()
    jnp = jax.numpy

    def loss(params, x, y):
        w1, b1, w2, b2 = params
        logits = jax.nn.relu(x @ w1 + b1) @ w2 + b2
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(logits), axis=1))

    @partial(jax.jit, donate_argnums=0)
    def update(state, x, y):
        params, ms, mom = state
        new = [optim.update(*args, jnp.sqrt)
               for args in zip(params, jax.grad(loss)(params, x, y), ms, mom)]
        return tuple(list(s) for s in zip(*new))

    state = ([jnp.asarray(a.copy()) for a in p.params], [jnp.ones_like(a) for a in p.params],
             [jnp.zeros_like(a) for a in p.params])
    x, y = jnp.asarray(p.x), jnp.asarray(p.y)

    def step():
        nonlocal state
        state = jax.block_until_ready(update(state, x, y))
    return step, lambda: [np.asarray(a) for a in state[0]]


def torch_eager(p: Problem, optim: Optim):
    torch = peers.torch()
    x, y = torch.from_numpy(p.x), torch.from_numpy(p.y)
    params = [torch.tensor(a, requires_grad=True) for a in p.params]
    slots = [(torch.ones_like(q), torch.zeros_like(q)) for q in params]

    def step():
        w1, b1, w2, b2 = params
        logits = torch.relu(x @ w1 + b1) @ w2 + b2
        loss = torch.nn.functional.cross_entropy(logits, y)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for param, grad, (ms, mom) in zip(params, grads, slots):
                optim.update_in_place(param, grad, ms, mom, torch.sqrt)
    return step, lambda: [q.detach().numpy() for q in params]
