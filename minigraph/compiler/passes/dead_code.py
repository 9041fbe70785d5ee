"""``dead_code``: keep only the nodes whose values reach a fetched output or a variable write.

Guarantees: the same outputs and writes are computed; kept nodes are the input program's own
IR nodes in the same order; every ``input`` node stays (feeds are positional). A random op
nothing needs is dropped, so its stream does not advance in that run (TF1 prunes it too).
"""
from __future__ import annotations

from dataclasses import replace

import networkx as nx

from ..ir import Program
from ..pipeline import register_pass


@register_pass("dead_code")
def eliminate_dead_code(program: Program) -> tuple[Program, list[str]]:
    """Drop nodes that are not ancestors of ``program.roots()``."""
    graph = program.to_networkx()
    sink = object()  # one walk from a node every root feeds, instead of one per root
    graph.add_edges_from((root, sink) for root in program.roots())
    needed = nx.ancestors(graph, sink) if sink in graph else set()
    nodes = [node for node in program.nodes if node in needed]
    fired = ["remove_unused"] * (len(program.nodes) - len(nodes))
    return replace(program, inputs=list(program.inputs), nodes=nodes,
                   outputs=list(program.outputs), writes=dict(program.writes)), fired
