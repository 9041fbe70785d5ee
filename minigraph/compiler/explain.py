"""``explain``: what a backend makes of some fetches, in one report for people to read.

The report holds the optimised program, the rules each pass fired, the fusion groups and the
generated kernel source, and prints them as titled sections (``ExplainReport.sections``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..backends import default_backend
from ..graph import Node
from ..tensor import Tensor
from . import optimise
from .inspect import fetch_list, format_program, value_names
from .ir import IRNode, Program, Value
from .pipeline import summarize


@dataclass
class FusionGroup:
    """One ``fused`` node: its kernel's name, the user op it stands for and its output values."""

    name: str
    node: IRNode
    origin: str
    """The user op the node's errors name (the group's last member), with its site."""
    outputs: tuple[Value, ...]

    @property
    def expressions(self) -> list[str]:
        """``vK = expr`` per member in DAG order, over value ids (``v0..`` are the inputs)."""
        dag = self.node.attrs["dag"]
        first = len(dag.inputs)
        return [f"v{first + j} = {_over_values(node.expr, node.operands)}"
                for j, node in enumerate(dag.nodes)]


@dataclass
class ExplainReport:
    """A compiled program explained: ``str(report)`` prints every section."""

    backend: str
    program: Program
    passes: list[tuple[str, list[str]]]
    fusion_groups: list[FusionGroup]
    kernels: dict[str, str]
    """Kernel name -> the full source the backend generates for it: each fusion group's (named
    as in ``fusion_groups``) and, on the cupy backend, each hand-written CUDA kernel's."""
    buffers: list[str]
    """The memory plan of the program bound to the fed shapes: buffers, who uses them, and
    the variables updated in place."""
    runner: str
    """The generated Python function that runs the bound program."""

    def sections(self) -> list[tuple[str, str]]:
        """``(title, text)`` of each section, in print order."""
        return [(f"optimised graph ({self.backend} backend)", format_program(self.program)),
                ("passes", _format_passes(self.passes)),
                ("fusion groups", _format_groups(self.fusion_groups, self.program)),
                ("buffer plan", "".join(f"{line}\n" for line in self.buffers) or "(none)\n"),
                ("runner", self.runner),
                ("kernels", _format_kernels(self.kernels))]

    def __str__(self) -> str:
        return "\n".join(f"== {title} ==\n{text}" for title, text in self.sections())


def explain(fetches, feed_list=(), backend: str | None = None,
            feed_shapes=None) -> ExplainReport:
    """Compile ``fetches`` (a tensor, op or list) from the ``feed_list`` tensors as ``backend``
    (default: the session default) would, and report what it made of them. The buffer plan is
    for ``feed_shapes`` (default: the fed tensors' static shapes, which must then be known)."""
    backend = backend or default_backend()
    record: list = []
    targets = [_fetchable(f) for f in fetch_list(fetches)]
    fed = [_fetchable(t) for t in feed_list]
    program, lowering = optimise(targets, fed, backend, record)
    bound = lowering.lower(program).bind(_shapes(fed, feed_shapes))
    fused = [node for node in program.nodes if node.op == "fused"]
    groups = [FusionGroup(f"fused_{k}", node, node.describe(), node.outputs)
              for k, node in enumerate(fused)]
    source = _KERNEL_SOURCES.get(backend)
    kernels = {g.name: source(g.node) for g in groups} if source else {}
    hand = getattr(bound, "kernel_sources", None)  # backends generating more than fusions
    if hand is not None:
        kernels.update(hand(fused=False))
    return ExplainReport(backend, program, record, groups, kernels, bound.plan.describe(),
                         bound.source)


def _shapes(fed, feed_shapes) -> tuple:
    """The shapes to bind: given, or the fed tensors' static ones."""
    if feed_shapes is not None:
        return tuple(tuple(s) for s in feed_shapes)
    unknown = [t.name for t in fed if t.type.shape is None or None in t.type.shape]
    if unknown:
        raise ValueError(f"explain: fed tensors {unknown} have unknown dims; pass feed_shapes "
                         "(Session.explain takes them from feed_dict values)")
    return tuple(t.type.shape for t in fed)


def _over_values(expr: str, operands: tuple) -> str:
    """``expr`` on one line with its operands ``x0, x1..`` renamed to the DAG values they are."""
    return re.sub(r"\bx(\d+)\b", lambda m: f"v{operands[int(m[1])]}", " ".join(expr.split()))


def _fetchable(value):
    """An op stays an op; tensors and variables become tensors (as a Session resolves them)."""
    if isinstance(value, (Node, Tensor)):
        return value
    if hasattr(value, "_as_tensor"):
        return value._as_tensor()
    raise TypeError(f"cannot fetch or feed {value!r} (a {type(value).__name__}); expected a "
                    "tensor, operation or variable")


def _numba_source(node: IRNode) -> str:
    """The Numba module the numba backend generates for a ``fused`` node."""
    from kernels.numba.fusion import generate_source

    return generate_source(node.attrs["dag"])


def _cuda_source(node: IRNode) -> str:
    """The CUDA source the cupy backend generates for a ``fused`` node."""
    from kernels.cupy.fusion_source import generate_cuda

    return generate_cuda(node.attrs["dag"]).source


_KERNEL_SOURCES = {"numba": _numba_source, "cupy": _cuda_source}
"""Backend name -> the generator of a fused node's kernel source (backends without one run
fused nodes through the DAG interpreter)."""


def _format_passes(passes: list) -> str:
    return "".join(f"{name}: {summarize(fired)}\n" for name, fired in passes) or "(none)\n"


def _format_groups(groups: list[FusionGroup], program: Program) -> str:
    """Per group: its outputs (value, DAG value, type) and origin, its inputs, its members."""
    names = value_names(program)
    lines = []
    for group in groups:
        dag = group.node.attrs["dag"]
        outputs = ", ".join(f"{names[v]} = {_dag_output(out)} : {v.type.describe()}"
                            for v, out in zip(group.outputs, dag.outputs))
        lines.append(f"{group.name}: {outputs}  # {group.origin}")
        lines.append("  " + ", ".join(f"v{k} = {names[v]}"
                                      for k, v in enumerate(group.node.inputs)))
        lines += [f"  {expr}" for expr in group.expressions]
    return "\n".join(lines) + "\n" if lines else "(none)\n"


def _dag_output(out) -> str:
    if out.reduce is None:
        return f"v{out.value}"
    return f"{out.reduce}(v{out.value}, axes={out.axes or 'all'})"


def _format_kernels(kernels: dict) -> str:
    return "".join(f"# -- kernel {name}\n{source}" for name, source in kernels.items()) \
        or "(none)\n"
