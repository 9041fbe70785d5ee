"""W1: minimise ``u*u + u + 1`` by gradient descent (0.3): the per-step overhead of each API."""
from __future__ import annotations

from functools import partial

import numpy as np

import minigraph as mg

from .. import peers
from ..harness import Case, Impl

LR, START = 0.3, 20.0


def cases(quick: bool, backends: list[str]) -> list[Case]:
    impls = [Impl("python", python_float)]
    for b in backends:
        impls += [Impl(f"minigraph[{b}] Session.run", partial(mg_session, b, False)),
                  Impl(f"minigraph[{b}] make_callable", partial(mg_session, b, True)),
                  Impl(f"minigraph[{b}] function", partial(mg_function, b))]
    if peers.has("tensorflow"):
        impls += [Impl("tf1 session.run", partial(tf1_session, False)),
                  Impl("tf1 make_callable", partial(tf1_session, True))]
    if peers.has("pytensor"):
        impls.append(Impl("pytensor function", pytensor_function))
    if peers.has("jax"):
        impls.append(Impl("jax jit", jax_jit))
    return [Case("W1 quadratic", "u*u + u + 1, gradient descent 0.3; time per step", "us",
                 impls, reference="python", check_steps=3, rtol=1e-5)]


def python_float():
    u = START

    def step():
        nonlocal u
        u -= LR * (2 * u + 1)
    return step, lambda: [u]


def mg_session(backend: str, use_callable: bool):
    graph = mg.Graph()
    with graph.as_default():
        u = mg.Variable(START, name="u")
        train = mg.train.GradientDescentOptimizer(LR).minimize(u * u + u + 1)
        init = mg.global_variables_initializer()
    sess = mg.Session(graph=graph, backend=backend)
    sess.run(init)
    step = sess.make_callable(train) if use_callable else partial(sess.run, train)
    return step, lambda: [sess.run(u)]


def mg_function(backend: str):
    with mg.Graph().as_default():
        u = mg.shared(START, name="u")
        cost = u * u + u + 1
        step = mg.function([], updates=[(u, u - LR * mg.grad(cost, u))], backend=backend)
    return step, lambda: [u.get_value()]


def tf1_session(use_callable: bool):
    tf = peers.tf1()
    graph = tf.Graph()
    with graph.as_default():
        u = tf.Variable(START, name="u")
        train = tf.train.GradientDescentOptimizer(LR).minimize(u * u + u + 1)
        init = tf.global_variables_initializer()
    sess = peers.tf1_session(graph)
    sess.run(init)
    step = sess.make_callable(train) if use_callable else partial(sess.run, train)
    return step, lambda: [sess.run(u)]


def pytensor_function():
    pytensor = peers.pytensor()
    u = pytensor.shared(np.float32(START), name="u")
    cost = u * u + u + 1
    step = pytensor.function([], [], updates=[(u, u - np.float32(LR) * pytensor.grad(cost, u))])
    return step, lambda: [u.get_value()]


def jax_jit():
    jax = peers.jax()
    update = jax.jit(lambda u: u - LR * jax.grad(lambda v: v * v + v + 1)(u))
    u = jax.numpy.float32(START)

    def step():
        nonlocal u
        u = update(u).block_until_ready()
    return step, lambda: [np.asarray(u)]
