"""Select the nodes a set of fetches needs, in execution order, and check what must be fed."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import PlaceholderNotFedError
from ..graph import Node, ancestors, format_shape
from ..ops.registry import get_op
from ..tensor import Tensor


@dataclass
class Schedule:
    """Nodes to run (topological), fetched values, fed tensors and the variables written."""

    nodes: list[Node]
    fetches: list  # Tensor or Node (a Node fetch yields None)
    fed: list[Tensor]
    writes: dict  # variable node -> state node that assigns it


def build_schedule(fetches, fed) -> Schedule:
    """Guarantees: every needed placeholder is fed, and no variable is assigned twice."""
    fed_set = set(fed)
    roots = [f.node if isinstance(f, Tensor) else f
             for f in fetches if not (isinstance(f, Tensor) and f in fed_set)]
    nodes = ancestors(roots, fed_set)
    for node in nodes:
        if node.op == "placeholder":
            _raise_unfed(node, fetches, fed_set)
    return Schedule(nodes, list(fetches), list(fed), _collect_writes(nodes))


def _collect_writes(nodes) -> dict:
    writes = {}
    for node in nodes:
        if get_op(node.op).kind == "state":
            var = node.attrs["var"]
            if var in writes:
                raise ValueError(f"variable '{var.name}' is assigned twice in one run: by "
                                 f"{writes[var].describe()} and {node.describe()}")
            writes[var] = node
    return writes


def _raise_unfed(placeholder: Node, fetches, fed_set):
    t = placeholder.out_types[0]
    culprit = next((f for f in fetches if _reaches(f, placeholder, fed_set)), fetches[0])
    culprit_name = culprit.name if isinstance(culprit, (Tensor, Node)) else str(culprit)
    raise PlaceholderNotFedError(
        f"you must feed a value for placeholder '{placeholder.name}' with dtype {t.dtype} "
        f"and shape {format_shape(t.shape)} (created at {placeholder.site}); "
        f"fetch '{culprit_name}' needs it")


def _reaches(fetch, target: Node, fed_set) -> bool:
    return target in ancestors([fetch.node if isinstance(fetch, Tensor) else fetch], fed_set)
