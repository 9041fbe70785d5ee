"""to_networkx, to_dot and debugprint over user graphs and compiled programs."""
import numpy as np

import minigraph as mg
from minigraph.compiler.inspect import debugprint, program_for, to_dot, to_networkx

from .util import program_of


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
