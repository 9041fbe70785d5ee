"""W3: ``y = tanh(a*x + b) * sigmoid(x)`` and ``d(sum y)/dx`` over large float32 vectors, against
the memory-bandwidth floor: 16 bytes per element (three inputs read, one output written), timed
as an ``np.copyto`` moving the same number of bytes."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

import minigraph as mg

from .. import peers
from ..harness import Case, Impl

BYTES_PER_ELEMENT = 16


@dataclass(frozen=True)
class Data:
    a: np.ndarray
    x: np.ndarray
    b: np.ndarray

    @classmethod
    def make(cls, n: int) -> "Data":
        rng = np.random.default_rng(0)
        a, x, b = (rng.standard_normal(n, dtype=np.float32) for _ in range(3))
        return cls(a, x, b)


def cases(quick: bool, backends: list[str]) -> list[Case]:
    data = Data.make(1_000_000 if quick else 10_000_000)
    return [_case(data, backends, gradient) for gradient in (False, True)]


def _case(data: Data, backends: list[str], gradient: bool) -> Case:
    n = len(data.x)
    impls = [Impl("numpy", partial(numpy_gradient if gradient else numpy_forward, data)),
             Impl("bandwidth floor", partial(copy_floor, n))]
    if "cupy" in backends:
        impls.append(Impl("device copy floor (GPU)", partial(device_copy_floor, n)))
    impls += [Impl(f"minigraph[{b}] function", partial(mg_function, data, gradient, b))
              for b in backends]
    for package, name, setup in PEERS:
        if peers.has(package):
            impls.append(Impl(name, partial(setup, data, gradient)))
    what = "d(sum y)/dx" if gradient else "y = tanh(a*x + b) * sigmoid(x)"
    return Case(f"W3 {'gradient' if gradient else 'forward'}", f"{what}, {n:,} float32",
                "ms", impls, reference="numpy", floor="bandwidth floor", rtol=1e-4,
                note=lambda t: f"copy bandwidth {BYTES_PER_ELEMENT * n / t / 1e9:.1f} GB/s")


def _keep_last(compute, to_numpy=np.asarray):
    """``(step, result)`` for a stateless computation: the result is the last step's output."""
    out = None

    def step():
        nonlocal out
        out = compute()
    return step, lambda: [to_numpy(out)]


def numpy_forward(d: Data):
    """Into preallocated buffers (no 40 MB temporaries per operation)."""
    t, s = np.empty_like(d.x), np.empty_like(d.x)

    def compute():
        np.tanh(np.add(np.multiply(d.a, d.x, out=t), d.b, out=t), out=t)
        np.add(np.exp(np.negative(d.x, out=s), out=s), 1, out=s)
        return np.divide(t, s, out=t)
    return _keep_last(compute)


def numpy_gradient(d: Data):
    """``s * ((1 - t*t) * a + t * (1 - s))`` with ``t = tanh(a*x + b)``, ``s = sigmoid(x)``."""
    t, s, g, u = (np.empty_like(d.x) for _ in range(4))

    def compute():
        np.tanh(np.add(np.multiply(d.a, d.x, out=t), d.b, out=t), out=t)
        np.add(np.exp(np.negative(d.x, out=s), out=s), 1, out=s)
        np.reciprocal(s, out=s)
        np.multiply(np.subtract(1, np.multiply(t, t, out=g), out=g), d.a, out=g)
        np.multiply(np.subtract(1, s, out=u), t, out=u)
        return np.multiply(np.add(g, u, out=g), s, out=g)
    return _keep_last(compute)


def copy_floor(n: int):
    """Copies 2n float32: reads 8n bytes and writes 8n, the 16 bytes/element of W3."""
    src, dst = np.ones(2 * n, np.float32), np.empty(2 * n, np.float32)
    return partial(np.copyto, dst, src), None


def device_copy_floor(n: int):
    """The GPU rows' floor: a device copy moving the same 16 bytes per element (read 8, write
    8), synchronised; W3's GPU target is >= 80% of this bandwidth."""
    import cupy

    src, dst = cupy.ones(2 * n, cupy.float32), cupy.empty(2 * n, cupy.float32)
    sync = peers.device_synchronizer("cupy")

    def step():
        cupy.copyto(dst, src)
        sync()
    return step, None


def _formula(tanh, sigmoid, a, x, b):
    return tanh(a * x + b) * sigmoid(x)


def mg_function(d: Data, gradient: bool, backend: str):
    with mg.Graph().as_default():
        a, x, b = (mg.placeholder(mg.float32, [len(d.x)], name=n) for n in "axb")
        y = _formula(mg.tanh, mg.sigmoid, a, x, b)
        f = mg.function([a, x, b], mg.grad(mg.reduce_sum(y), x) if gradient else y,
                        backend=backend)
    return _keep_last(partial(f, d.a, d.x, d.b))


def tf1_callable(d: Data, gradient: bool):
    tf = peers.tf1()
    graph = tf.Graph()
    with graph.as_default():
        a, x, b = (tf.placeholder(tf.float32, [len(d.x)], name=n) for n in "axb")
        y = _formula(tf.tanh, tf.sigmoid, a, x, b)
        out = tf.gradients(tf.reduce_sum(y), x)[0] if gradient else y
    f = peers.tf1_session(graph).make_callable(out, [a, x, b])
    return _keep_last(partial(f, d.a, d.x, d.b))


def pytensor_function(d: Data, gradient: bool):
    pytensor = peers.pytensor()
    pt = pytensor.tensor
    a, x, b = (pt.vector(n, dtype="float32") for n in "axb")
    y = _formula(pt.tanh, pt.sigmoid, a, x, b)
    f = pytensor.function([a, x, b], pytensor.grad(y.sum(), x) if gradient else y)
    return _keep_last(partial(f, d.a, d.x, d.b))


def jax_jit(d: Data, gradient: bool):
    """Inputs are moved to the device once, outside the timed step."""
    jax = peers.jax()
    jnp = jax.numpy
    forward = partial(_formula, jnp.tanh, jax.nn.sigmoid)
    fn = jax.grad(lambda a, x, b: jnp.sum(forward(a, x, b)), argnums=1) if gradient else forward
    f = jax.jit(fn)
    a, x, b = (jnp.asarray(v) for v in (d.a, d.x, d.b))
    return _keep_last(lambda: f(a, x, b).block_until_ready())


def torch_eager(d: Data, gradient: bool):
    torch = peers.torch()
    a, x, b = (torch.from_numpy(v) for v in (d.a, d.x, d.b))
    forward = partial(_formula, torch.tanh, torch.sigmoid)
    if gradient:
        x.requires_grad_()
        return _keep_last(lambda: torch.autograd.grad(forward(a, x, b).sum(), x)[0],
                          lambda t: t.numpy())

    def compute():
        with torch.no_grad():
            return forward(a, x, b)
    return _keep_last(compute, lambda t: t.numpy())


PEERS = [("tensorflow", "tf1 make_callable", tf1_callable),
         ("pytensor", "pytensor function", pytensor_function),
         ("jax", "jax jit", jax_jit), ("torch", "torch", torch_eager)]
