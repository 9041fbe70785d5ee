"""to_networkx, to_dot and debugprint over user graphs and compiled programs."""
import re

import numpy as np
import pytest

import minigraph as mg
from minigraph.compiler.inspect import debugprint, program_for, to_dot, to_networkx

from .util import program_of

FUSED = ("dead_code", "fuse_elementwise", "dead_code")


def _model():
    x = mg.placeholder("float64", (None, 3), name="x")
    with mg.name_scope("dense"):
        w = mg.Variable(np.eye(3), name="w")
        with mg.name_scope("act"):
            probs = mg.softmax(mg.matmul(x, w) * 1.0)
    loss = mg.reduce_mean(-mg.reduce_sum(x * mg.log(probs), axis=1), name="loss")
    return x, w, loss


def test_to_networkx_holds_the_needed_user_nodes_with_their_attributes():
    x, w, loss = _model()
    graph = to_networkx(loss)
    assert loss.node in graph and w.initializer not in graph
    attrs = graph.nodes[loss.node]
    assert (attrs["op"], attrs["name"], attrs["scope"]) == ("reduce_mean", "loss", "")
    assert attrs["shape"] == () and attrs["dtype"] == np.float64
    assert attrs["site"].startswith("test_inspect.py:")
    matmul = next(n for n in graph if n.op == "matmul")
    assert graph.nodes[matmul]["scope"] == "dense/act"
    assert graph.edges[x.node, matmul] == {"index": 0, "positions": (0,)}


def test_to_networkx_draws_control_dependencies():
    v = mg.Variable(1.0)
    update = mg.assign_add(v, 1.0)
    with mg.control_dependencies([update]):
        y = mg.identity(v)
    graph = to_networkx([y])
    assert graph.edges[update.node, y.node] == {"control": True}


def test_to_dot_draws_name_scopes_as_nested_clusters(tmp_path):
    _, _, loss = _model()
    path = tmp_path / "graph.dot"
    text = to_dot(loss, path=path)
    assert path.read_text() == text
    assert text.startswith("digraph minigraph {") and text.rstrip().endswith("}")
    dense = text.index('label="dense";')
    assert dense < text.index('label="dense/act";') < text.index('label="MatMul\\nmatmul')
    assert text.count("subgraph cluster_") == 2
    assert text.count("->") == to_networkx(loss).number_of_edges()


def assert_valid_dot(text: str) -> set[str]:
    """Balanced blocks, unique cluster names, every edge end declared; the declared ids."""
    assert text.startswith("digraph minigraph {") and text.count("{") == text.count("}")
    clusters = re.findall(r"^\s*subgraph (\w+) \{$", text, re.M)
    assert len(clusters) == len(set(clusters)) == text.count("subgraph ")
    declared = set(re.findall(r"^\s*(\w+) \[label=", text, re.M))
    ends = {end for edge in re.findall(r"^\s*(\w+) -> (\w+)", text, re.M) for end in edge}
    assert ends <= declared
    return declared


def test_to_dot_with_a_backend_draws_fused_nodes_as_clusters_of_their_members():
    pytest.importorskip("numba")
    x = mg.placeholder("float64", (4, 3), name="x")
    with mg.name_scope("act"):
        h = mg.tanh(x * 2.0 + 1.0)
    y = mg.sigmoid(mg.matmul(h, mg.constant(np.ones((3, 3))))) * h
    text = to_dot(y, backend="numba")
    assert_valid_dot(text)
    assert text.count("subgraph cluster_fused_") == 2 and 'label="act";' in text
    assert 'label="fused 0: act/Tanh";' in text and 'label="fused 1: Multiply";' in text
    assert '[label="tanh(x0)\\nfloat64"];' in text and "matmul" in text
    assert to_dot(y) == to_dot(y, backend=None) and "fused" not in to_dot(y)


def test_to_dot_of_a_program_links_fused_outputs_and_reductions_to_their_readers():
    x = mg.placeholder("float64", (4, 3), name="x")
    e = mg.exp(x - 1.0)
    y = mg.matmul(e, mg.constant(np.ones((3, 3)))) / mg.reduce_sum(e, axis=1, keepdims=True)
    program = program_for(y, passes=FUSED)
    assert [n.op for n in program.nodes].count("fused") == 2  # exp + sum, then the division
    text = to_dot(program)
    declared = assert_valid_dot(text)
    fused = next(i for i, n in enumerate(program.inputs + program.nodes) if n.op == "fused")
    assert f"n{fused}" not in declared and f"n{fused}_o1" in declared
    assert 'shape=ellipse' in text and 'label="sum over axes (1,)"' in text
    assert re.search(rf"n{fused}_1 -> n\d+;", text)  # exp's value read by the matmul


def test_to_dot_and_to_networkx_accept_a_program():
    x, _, loss = _model()
    program = program_for(loss)
    assert to_networkx(program).number_of_nodes() == len(program.inputs) + len(program.nodes)
    assert "softmax_cross_entropy_with_logits" in to_dot(program)


def test_debugprint_lists_the_optimised_program(capsys):
    x, w, loss = _model()
    text = debugprint(loss, file="str")
    lines = text.splitlines()
    assert lines[0].startswith("%0 = input 'x:0' : (?, 3) float64  # placeholder 'x' (")
    xent = next(line for line in lines if "softmax_cross_entropy_with_logits(" in line)
    assert "{axis=1}" in xent and "test_inspect.py:" in xent and " : (?,) float64" in xent
    assert not any(" = log(" in line or " = multiply(" in line for line in lines)
    assert lines[-1] == f"outputs: %{len(lines) - 2}"
    assert debugprint(loss) is None and capsys.readouterr().out == text


def test_debugprint_without_passes_and_with_writes():
    x, w, loss = _model()
    train = mg.train.GradientDescentOptimizer(0.5).minimize(loss)
    text = debugprint([loss, train], passes=(), file="str")
    assert " = log(" in text and "outputs: %" in text and ", (op)" in text
    assert "write: 'dense/w' <- %" in text
    program = program_of([loss, train], [x])
    assert debugprint(program, file="str").count("\n") == text.count("\n")
