"""Random differentiable expression graphs for fuzzing autodiff: ``graphs()``.

A draw is a small straight-line program. Inputs ``x0, x1, ...`` are NumPy arrays; each step
``v0, v1, ...`` applies one registered op through its public function (``mg.tanh``,
``mg.matmul``, ``v[1:3]``, ``mg.nn.softmax`` ...), with explicit guard steps that keep values
in each op's domain and away from kinks (see ``graph_moves``). A draw unpacks as
``(fn, inputs)`` for ``check_grads``; its ``repr`` is the Python code that rebuilds it.
"""
from __future__ import annotations

import collections
import linecache

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .graph_moves import DEFAULT_OPS, MARGIN, MAX_SIDE, Builder, Step, catalog, run_step

_MAX_MAGNITUDE = 1e5  # finite differences stay well conditioned below this
_SOURCES: collections.deque = collections.deque()  # recent code kept in linecache


class RandomGraph(tuple):
    """``(fn, inputs)`` as ``check_grads`` takes them; ``repr`` is code that rebuilds both."""

    def __new__(cls, code: str, inputs: list, input_ids: list, steps: list, outputs: list):
        namespace = _exec_code(code)
        self = super().__new__(cls, (namespace["fn"], inputs))
        self.code, self.steps, self.outputs, self._input_ids = code, steps, outputs, input_ids
        return self

    fn = property(lambda self: self[0], doc="Builds the graph from one tensor per input.")
    inputs = property(lambda self: self[1], doc="The input arrays (float, or int labels).")

    @property
    def ops(self) -> list:
        """Registry names of the ops in the program, in step order."""
        return [step.op for step in self.steps]

    def evaluate(self, inputs=None) -> list:
        """The outputs computed straight from each op's NumPy ``ref`` (no graph, no session)."""
        env = dict(zip(self._input_ids, self.inputs if inputs is None else inputs))
        for step in self.steps:
            env[step.out] = run_step(step, env)
        return [env[i] for i in self.outputs]

    def __repr__(self) -> str:
        return self.code

    def _repr_pretty_(self, printer, cycle) -> None:
        """Hypothesis prints falsifying examples with this: the code, on lines of its own."""
        printer.text("\n" + self.code)


def _exec_code(code: str) -> dict:
    """Run generated code; linecache lets tracebacks and creation sites show its lines."""
    import minigraph as mg

    filename = f"<random graph {abs(hash(code)):x}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    _SOURCES.append(filename)
    if len(_SOURCES) > 64:
        linecache.cache.pop(_SOURCES.popleft(), None)
    namespace = {"mg": mg, "np": np}
    exec(compile(code, filename, "exec"), namespace)
    return namespace


def _array_code(a: np.ndarray) -> str:
    """Exact NumPy literal: Python floats repr round-trip, so values rebuild bit for bit."""
    dtype = "" if a.dtype == np.float64 else f", dtype=np.{a.dtype.name}"
    reshape = f".reshape({a.shape})" if a.size == 0 else ""
    return f"np.array({a.tolist()!r}{dtype}){reshape}"


def _program(b: Builder) -> RandomGraph:
    """The program's code; unused inputs are dropped and the rest named in order."""
    for value in b.values:
        assume(np.all(np.abs(value) < _MAX_MAGNITUDE))
    used = {o for s in b.steps for o in s.operands if isinstance(o, int)}
    outputs = [s.out for s in b.steps if s.out not in used]
    inputs = [i for i in b.inputs if i in used] or b.inputs[:1]
    outputs = outputs or inputs
    names = {i: f"x{k}" for k, i in enumerate(inputs)}
    names.update({s.out: f"v{k}" for k, s in enumerate(b.steps)})
    result = ", ".join(names[i] for i in outputs)
    lines = ["import numpy as np", "import minigraph as mg", "", "",
             f"def fn({', '.join(names[i] for i in inputs)}):",
             *(f"    {names[s.out]} = {_render(s, names)}" for s in b.steps),
             f"    return {result if len(outputs) == 1 else '[' + result + ']'}", "", "",
             "inputs = [", *(f"    {_array_code(b.values[i])}," for i in inputs), "]"]
    return RandomGraph("\n".join(lines) + "\n", [b.values[i] for i in inputs], inputs,
                       b.steps, outputs)


def _render(step: Step, names: dict) -> str:
    return step.code.format(*(names[o] if isinstance(o, int) else repr(o)
                              for o in step.operands))


@st.composite
def graphs(draw, max_nodes: int = 6, ops=None, dtypes=("float64",), max_inputs: int = 3,
           min_side: int = 1) -> RandomGraph:
    """Random differentiable graphs as ``(fn, inputs)`` pairs ready for ``check_grads``.

    ``max_nodes`` bounds the ops drawn from ``ops`` (registry names; default ``DEFAULT_OPS``);
    each may add guard steps (tanh, square, add, subtract, reshape) and fresh inputs (matmul
    weights, cross-entropy labels). ``dtypes`` are the float dtypes a draw may use (float32 is
    a smoke option: ``check_grads`` is loose there); ``min_side=0`` allows empty dims. The
    draw's ``repr`` is the Python code that rebuilds it; ``evaluate()`` runs it in NumPy.
    """
    moves = catalog(ops)
    dtype = np.dtype(draw(st.sampled_from(list(dtypes))))
    builder = Builder(draw, dtype)
    shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=min_side, max_side=MAX_SIDE)
    for shape in draw(st.lists(shapes, min_size=1, max_size=max_inputs)):
        builder.input(shape)
    draw(st.lists(_grown(builder, moves), min_size=1, max_size=max_nodes))
    return _program(builder)


@st.composite
def _grown(draw, builder: Builder, moves):
    """One move, drawn as a list element so the shrinker can delete it whole."""
    outer, builder.draw = builder.draw, draw
    try:
        _, move = draw(st.sampled_from(moves))
        move(builder, builder.pick())
    finally:
        builder.draw = outer


__all__ = ["DEFAULT_OPS", "MARGIN", "RandomGraph", "Step", "graphs"]
