"""Graph pictures: ``to_dot(collapse_scopes=...)`` and rendering with Graphviz's ``dot``.

``mlp_training_graph`` builds the picture in the README (docs/mlp_graph.png)::

    python -c "from tests.compiler.test_dot_render import mlp_training_graph as g; \
import minigraph as mg; mg.to_dot(g(), 'docs/mlp_graph.png', collapse_scopes=True)"
"""
import re
import shutil

import numpy as np
import pytest

import minigraph as mg
from minigraph.compiler.inspect import GraphvizNotFoundError, render_dot, to_dot

from .test_inspect import assert_valid_dot

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz `dot` is not installed (apt-get install graphviz)")


def mlp_training_graph() -> list:
    """A 784-256-10 ReLU MLP with Adam, scoped as TF1 code scopes it: ``[train_op, loss]``."""
    x = mg.placeholder(mg.float32, [None, 784], name="x")
    labels = mg.placeholder(mg.int64, [None], name="labels")
    h = x
    for scope, n_in, n_out in (("hidden", 784, 256), ("logits", 256, 10)):
        with mg.name_scope(scope):
            w = mg.Variable(np.zeros((n_in, n_out), np.float32), name="weights")
            b = mg.Variable(np.zeros(n_out, np.float32), name="biases")
            h = mg.matmul(h, w) + b
            h = mg.nn.relu(h) if scope == "hidden" else h
    with mg.name_scope("loss"):
        loss = mg.reduce_mean(mg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                             logits=h))
    optimizer = mg.train.AdamOptimizer(1e-3)
    with mg.name_scope("gradients"):
        grads_and_vars = optimizer.compute_gradients(loss)
    return [optimizer.apply_gradients(grads_and_vars), loss]


def _labels(text: str) -> list[str]:
    return re.findall(r'^\s*\w+ \[label="([^"]*)"', text, re.M)


def test_collapsed_scopes_draw_one_box_per_top_level_scope():
    text = to_dot(mlp_training_graph(), collapse_scopes=True)
    assert_valid_dot(text)
    assert "subgraph" not in text
    labels = _labels(text)
    assert "hidden\\nweights (784, 256)\\nbiases (256,)\\n+4 other variables\\n3 ops" in labels
    assert "logits\\nweights (256, 10)\\nbiases (10,)\\n+4 other variables\\n2 ops" in labels
    names = [label.split("\\n")[0] for label in labels]
    assert sorted(names) == ["Adam", "beta1_power", "beta2_power", "gradients", "hidden",
                             "labels", "logits", "loss", "x"]  # the Adam op joined its scope
    edges = re.findall(r"^\s*(\w+) -> (\w+)", text, re.M)
    assert len(edges) == len(set(edges)) and all(a != b for a, b in edges)
    ids = {label.split("\\n")[0]: ident for ident, label in
           re.findall(r'^\s*(\w+) \[label="([^"]*)"', text, re.M)}
    for src, dst in [("x", "hidden"), ("hidden", "logits"), ("logits", "loss"),
                     ("loss", "gradients"), ("gradients", "Adam"), ("hidden", "Adam")]:
        assert (ids[src], ids[dst]) in edges


def test_collapsing_at_a_depth_keeps_outer_scopes_apart():
    x = mg.placeholder(mg.float32, [2], name="x")
    with mg.name_scope("net"):
        with mg.name_scope("a"):
            y = mg.tanh(x) * 2.0
        with mg.name_scope("b"):
            z = mg.exp(y) + 1.0
    assert [label.split("\\n")[0] for label in _labels(to_dot(z, collapse_scopes=1))] == \
        ["x", "net"]
    deeper = to_dot(z, collapse_scopes=2)
    assert [label.split("\\n")[0] for label in _labels(deeper)] == ["x", "net/a", "net/b"]
    assert "net/a\\n3 ops" in _labels(deeper)


def test_collapsed_programs_draw_too():
    text = to_dot(mlp_training_graph()[1], backend="numpy", collapse_scopes=True)
    assert_valid_dot(text)
    assert any(label.startswith("hidden\\n") for label in _labels(text))


def test_rendering_without_graphviz_names_the_system_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    x = mg.placeholder(mg.float32, [2], name="x")
    with pytest.raises(GraphvizNotFoundError, match="system package `graphviz`"):
        render_dot(mg.exp(x), tmp_path / "g.png")
    with pytest.raises(GraphvizNotFoundError):
        to_dot(mg.exp(x), tmp_path / "g.svg")
    to_dot(mg.exp(x), tmp_path / "g.dot")  # DOT text needs no Graphviz
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    with pytest.raises(ValueError, match="format must be one of png, svg, pdf"):
        render_dot("digraph {}", tmp_path / "g.png", format="bmp")


@needs_dot
def test_render_png_and_svg(tmp_path):
    fetches = mlp_training_graph()
    png = render_dot(fetches, tmp_path / "mlp.png", collapse_scopes=True)
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "full.svg"
    to_dot(fetches[1], svg)
    assert "<svg" in svg.read_text() and "hidden" in svg.read_text()
    render_dot(to_dot(fetches[1]), tmp_path / "loss", format="svg")
    assert "<svg" in (tmp_path / "loss").read_text()


@needs_dot
def test_graphviz_failures_are_reported(tmp_path):
    with pytest.raises(RuntimeError, match="dot -Tpng` failed"):
        render_dot("digraph { a -> }", tmp_path / "bad.png")
