"""Graph serialisation: as_graph_def -> JSON -> import_graph_def, input_map, write_graph."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as mg
from minigraph.graph_io import (GraphExportError, as_graph_def, import_graph_def,
                                read_graph_def)
from minigraph.ops.registry import REGISTRY, apply_op
from minigraph.testing.strategies import op_inputs, sampled_ops

ROUND_TRIP = settings(deadline=None)  # example counts come from the hypothesis profile


def _json_round_trip(graph_def):
    return json.loads(json.dumps(graph_def, allow_nan=False))


def _outputs(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _run(graph, fetches, feeds):
    with mg.Session(graph=graph) as sess:
        return sess.run(fetches, feeds)


@pytest.mark.parametrize("name", sampled_ops())
@ROUND_TRIP
@given(data=st.data())
def test_every_sampled_op_survives_export_and_import(name, data):
    inputs, attrs = data.draw(op_inputs(name))
    inputs = [np.asarray(a) for a in inputs]
    fed = [data.draw(st.booleans(), label=f"feed input {i}") for i in range(len(inputs))]
    original = mg.Graph()
    with original.as_default():
        tensors = [mg.placeholder(a.dtype, a.shape, name=f"in{i}") if f
                   else mg.constant(a, dtype=a.dtype, name=f"in{i}")
                   for i, (a, f) in enumerate(zip(inputs, fed))]
        outs = _outputs(apply_op(name, tensors, attrs))
    graph_def = _json_round_trip(original.as_graph_def())
    rebuilt = mg.Graph()
    with rebuilt.as_default():
        imported = import_graph_def(graph_def, name="", return_elements=[t.name for t in outs])
    assert as_graph_def(rebuilt) == graph_def  # same nodes, names, attrs and inferred types
    feeds = {f"in{i}:0": a for i, (a, f) in enumerate(zip(inputs, fed)) if f}
    expected, got = _run(original, outs, feeds), _run(rebuilt, imported, feeds)
    seeded = not REGISTRY[name].random or attrs.get("seed") is not None
    for e, g in zip(expected, got):
        if isinstance(e, bytes):  # a summary's serialized protobuf
            assert g == e
            continue
        assert g.dtype == e.dtype and g.shape == e.shape
        if seeded:
            np.testing.assert_array_equal(g, e)


def _deepdream_graph():
    """A 'pretrained' graph: placeholder input -> dense -> tanh, weights as constants."""
    graph = mg.Graph()
    with graph.as_default():
        x = mg.placeholder(mg.float32, (None, 3), name="input")
        w = mg.constant(np.arange(6, dtype=np.float32).reshape(3, 2) / 10, name="w")
        mg.tanh(x @ w, name="features")
    return graph


def test_input_map_feeds_a_new_tensor_into_the_imported_graph():
    graph_def = _deepdream_graph().as_graph_def()
    image = mg.placeholder(mg.float32, (4, 3), name="image")
    (features,) = import_graph_def(graph_def, input_map={"input:0": image - 1.0},
                                   return_elements=["features:0"])
    assert features.name == "import/features:0"
    assert features.node.site.startswith("test_graph_io.py:")  # the importing line
    assert features.get_shape().as_list() == [4, 2]  # shapes inferred again from the mapped input
    value = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    w = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
    with mg.Session() as sess:
        got = sess.run(features, {image: value})
    np.testing.assert_allclose(got, np.tanh((value - 1) @ w), rtol=1e-6)


def test_input_map_errors_name_the_problem():
    graph_def = _deepdream_graph().as_graph_def()
    with pytest.raises(ValueError, match="nope:0"):
        import_graph_def(graph_def, input_map={"nope:0": mg.constant(1.0)})
    with pytest.raises(TypeError, match="input:0.*float64.*float32"):
        import_graph_def(graph_def, input_map={"input": mg.placeholder(mg.float64, (2, 3))})


def test_return_elements_give_tensors_and_operations():
    graph_def = _deepdream_graph().as_graph_def()
    op, tensor = import_graph_def(graph_def, return_elements=["features", "w:0"], name="net")
    assert isinstance(op, mg.Node) and op.name == "net/features"
    assert isinstance(tensor, mg.Tensor) and tensor.name == "net/w:0"
    assert import_graph_def(graph_def) is None
    again = import_graph_def(graph_def, name="net", return_elements=["features"])
    assert again[0].name == "net_1/features"
    with pytest.raises(ValueError, match="missing"):
        import_graph_def(graph_def, return_elements=["missing:0"])


def _train_graph():
    """A two-layer net trained by Adam, every initial value a constant."""
    graph = mg.Graph()
    with graph.as_default():
        x = mg.placeholder(mg.float64, (None, 4), name="x")
        labels = mg.placeholder(mg.int64, (None,), name="labels")
        w1 = mg.Variable(np.linspace(-1, 1, 12).reshape(4, 3), name="w1")
        w2 = mg.Variable(np.linspace(1, -1, 6).reshape(3, 2), name="w2")
        logits = mg.nn.relu(x @ w1) @ w2
        loss = mg.reduce_mean(mg.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits), name="loss")
        mg.train.AdamOptimizer(0.1).minimize(
            loss, global_step=mg.train.get_or_create_global_step(), name="train")
    return graph


def _train(graph, steps=3):
    rng = np.random.default_rng(1)
    feed = {"x:0": rng.normal(size=(5, 4)), "labels:0": rng.integers(0, 2, 5)}
    with mg.Session(graph=graph) as sess:
        sess.run(mg.global_variables_initializer())
        return [sess.run(["loss:0", "train"], feed)[0] for _ in range(steps)]


def test_imported_training_graph_trains_identically():
    original = _train_graph()
    graph_def = _json_round_trip(original.as_graph_def())
    rebuilt = mg.Graph()
    with rebuilt.as_default():
        import_graph_def(graph_def, name="")
        assert [v.name for v in mg.global_variables()] == [
            v.name for v in original.get_collection("variables")]
        assert all(isinstance(v, mg.Variable) for v in mg.trainable_variables())
        assert mg.train.get_global_step() is not None
    assert _train(rebuilt) == _train(original)


def test_unexportable_ops_raise_naming_the_op():
    x = mg.placeholder(mg.float64, (3,), name="x")

    @mg.custom_gradient
    def clipped(v):
        return mg.identity(v), lambda dy: dy

    clipped(x)
    with pytest.raises(GraphExportError, match="custom_gradient 'CustomGradient'.*Python function"):
        mg.get_default_graph().as_graph_def()
    mg.reset_default_graph()
    mg.shared(np.ones(2), name="theano_w")
    with pytest.raises(GraphExportError, match="theano_w.*shared variable"):
        mg.get_default_graph().as_graph_def()


def test_graph_def_is_versioned_and_checked():
    graph_def = _deepdream_graph().as_graph_def()
    assert graph_def["format"] == "minigraph-graph" and graph_def["version"] == 1
    with pytest.raises(ValueError, match="version 2 is newer"):
        import_graph_def({**graph_def, "version": 2})
    with pytest.raises(ValueError, match="not a minigraph graph_def"):
        import_graph_def({"nodes": []})
    bad = {**graph_def, "nodes": [{**graph_def["nodes"][0], "op": "no_such_op"}]}
    with pytest.raises(ValueError, match="'input' uses op 'no_such_op'"):
        import_graph_def(bad)


def test_attr_encoding_covers_special_values():
    x = mg.constant(np.array([np.nan, np.inf, -0.0]), name="odd")
    mg.nn.leaky_relu(x, alpha=float("inf"), name="inf_alpha")
    graph_def = _json_round_trip(mg.get_default_graph().as_graph_def())
    value = graph_def["nodes"][0]["attrs"]["value"]
    assert value["__type__"] == "ndarray" and value["shape"] == [3]
    assert graph_def["nodes"][1]["attrs"]["alpha"] == {"__type__": "float", "value": "inf"}
    mg.reset_default_graph()
    import_graph_def(graph_def, name="")
    node = mg.get_default_graph().get_operation_by_name("odd")
    np.testing.assert_array_equal(node.attrs["value"], [np.nan, np.inf, -0.0])
    assert np.signbit(node.attrs["value"][2]) and not node.attrs["value"].flags.writeable
    assert mg.get_default_graph().get_operation_by_name("inf_alpha").attrs["alpha"] == np.inf


@pytest.mark.parametrize("as_text", [True, False])
def test_write_graph_and_read_it_back(tmp_path, as_text):
    graph = _deepdream_graph()
    path = mg.train.write_graph(graph, str(tmp_path / "logs"), "graph.json", as_text=as_text)
    assert path == str(tmp_path / "logs" / "graph.json")
    raw = (tmp_path / "logs" / "graph.json").read_bytes()
    assert raw.startswith(b"{") == as_text
    assert read_graph_def(path) == graph.as_graph_def()
    assert mg.train.write_graph(graph.as_graph_def(), str(tmp_path), "again.json") == str(
        tmp_path / "again.json")
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["graph.json"]
