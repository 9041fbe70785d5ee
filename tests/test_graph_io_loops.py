"""Graphs with loops and branches through the JSON graph format: scan (and its BPTT gradient),
cond, case and while_loop (and their gradients) export, import into a fresh graph and run
(and differentiate) as the original; the Saver's meta graph of an RNN model keeps training."""
import dataclasses
import json

import numpy as np
import pytest

import minigraph as mg
from minigraph import train
from minigraph.graph_io import GraphExportError, as_graph_def, import_graph_def
from minigraph.graph_io_bodies import is_body

RNG = np.random.RandomState(0)


def _round_trip(graph, elements, name="imported", input_map=None):
    """``(fresh graph, imported elements)``: ``graph`` through JSON text into a new graph."""
    text = json.dumps(as_graph_def(graph), allow_nan=False)
    rebuilt = mg.Graph()
    with rebuilt.as_default():
        found = import_graph_def(json.loads(text), input_map=input_map, name=name,
                                 return_elements=[e.name for e in elements])
    return rebuilt, found


def _run(graph, fetches, feeds=None, init=True):
    with mg.Session(graph=graph) as sess:
        if init:
            sess.run(graph.get_operation_by_name(_init_name(graph)))
        return sess.run(fetches, feeds)


def _init_name(graph):
    return next(n.name for n in reversed(graph.get_operations()) if n.name.endswith("init"))


def _imported_feeds(feeds, scope="imported"):
    return {f"{scope}/{name}": value for name, value in feeds.items()}


def _assert_close(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def _check(graph, fetches, feeds):
    """Run ``fetches`` in ``graph`` and in its round trip; the results agree."""
    rebuilt, found = _round_trip(graph, fetches)
    expected = _run(graph, fetches, feeds)
    _assert_close(_run(rebuilt, found, _imported_feeds(feeds)), expected)
    _assert_bodies_in(rebuilt)
    return rebuilt, found


def _assert_bodies_in(graph):
    """Every body of ``graph`` names tensors and nodes of ``graph`` only."""
    def walk(value):
        if is_body(value):
            for field in dataclasses.fields(value):
                walk(getattr(value, field.name))
        elif isinstance(value, tuple) and not isinstance(value, mg.TensorType):
            for v in value:
                walk(v)
        elif isinstance(value, (mg.Tensor, mg.Operation)):
            assert value.graph is graph, value

    bodies = [v for n in graph.get_operations() for v in n.attrs.values() if is_body(v)]
    assert bodies
    for body in bodies:
        walk(body)


def _ops(graph, op):
    return [n for n in graph.get_operations() if n.op == op]


# -- scan ---------------------------------------------------------------------------------------


def _rnn_graph():
    graph = mg.Graph()
    with graph.as_default():
        x = mg.placeholder(mg.float64, (6, 2, 3), name="x")
        w = mg.Variable(RNG.randn(3, 4) * 0.5, name="w")
        u = mg.Variable(RNG.randn(4, 4) * 0.5, name="u")
        h0 = mg.zeros((2, 4), mg.float64)
        hs, _ = mg.scan(lambda xt, h: mg.tanh(mg.matmul(xt, w) + mg.matmul(h, u)),
                        sequences=[x], outputs_info=[h0], name="rnn")
        loss = mg.reduce_sum(hs[-1] ** 2) + 0.1 * mg.reduce_sum(hs)
        mg.global_variables_initializer()
    return graph, loss


def _train_losses(graph, loss, step, feeds, steps=3):
    with mg.Session(graph=graph) as sess:
        sess.run(graph.get_operation_by_name(_init_name(graph)))
        return [sess.run([loss, step], feeds)[0] for _ in range(steps)]


def test_scan_rnn_and_its_bptt_training_step_round_trip():
    graph, loss = _rnn_graph()
    with graph.as_default():
        step = train.GradientDescentOptimizer(0.1).minimize(loss)
    graph_def = json.loads(json.dumps(as_graph_def(graph)))
    assert [b["class"] for b in graph_def["bodies"]] == ["ScanBody", "GradBody"]
    rebuilt = mg.Graph()
    with rebuilt.as_default():
        new_loss, new_step = import_graph_def(graph_def, name="",
                                              return_elements=[loss.name, step.name])
    assert as_graph_def(rebuilt) == graph_def  # same nodes, attrs, bodies and inferred types
    feeds = {"x:0": RNG.randn(6, 2, 3)}
    expected = _train_losses(graph, loss, step, feeds)
    assert expected[2] < expected[0]
    _assert_close(_train_losses(rebuilt, new_loss, new_step, feeds), expected)


def test_a_loop_and_its_gradient_share_one_imported_body():
    graph, loss = _rnn_graph()
    with graph.as_default():
        mg.gradients(loss, mg.trainable_variables())
    rebuilt, _ = _round_trip(graph, [loss])
    (scan,), (grad,) = _ops(rebuilt, "scan"), _ops(rebuilt, "scan_grad")
    assert grad.attrs["grad"].forward is scan.attrs["body"]
    assert scan.attrs["body"].outputs[0].graph is rebuilt


def test_gradients_of_an_imported_scan_match_the_original():
    graph, loss = _rnn_graph()
    rebuilt, (new_loss,) = _round_trip(graph, [loss])
    feeds = {"x:0": RNG.randn(6, 2, 3)}
    with graph.as_default():
        wrt = [graph.get_tensor_by_name(n) for n in ("x:0", "w:0", "u:0")]
        expected = _run(graph, mg.gradients(loss, wrt), feeds)
    with rebuilt.as_default():
        wrt = [rebuilt.get_tensor_by_name(f"imported/{n}") for n in ("x:0", "w:0", "u:0")]
        got = _run(rebuilt, mg.gradients(new_loss, wrt), _imported_feeds(feeds))
    _assert_close(got, expected)


def test_scan_with_taps_and_go_backwards_round_trips_with_gradients():
    graph = mg.Graph()
    with graph.as_default():
        x = mg.placeholder(mg.float64, (7, 3), name="x")
        init = mg.placeholder(mg.float64, (2, 3), name="s0")
        w = mg.Variable(RNG.randn(3) * 0.5, name="w")

        def step(x_prev, x_now, x_next, s_2, s_1, scale):
            s = mg.sin(s_2) * w + s_1 * scale + x_prev * x_next - x_now
            return s, mg.reduce_sum(s * x_now)

        (states, sums), _ = mg.scan(
            step, sequences=[dict(input=x, taps=[-1, 0, 2])],
            outputs_info=[dict(initial=init, taps=[-2, -1]), None],
            non_sequences=[mg.constant(0.5, mg.float64)], go_backwards=True)
        loss = mg.reduce_sum(states ** 2) + mg.reduce_sum(sums)
        grads = mg.gradients(loss, [x, init, w])
        mg.global_variables_initializer()
    _check(graph, [states, sums, *grads], {"x:0": RNG.randn(7, 3), "s0:0": RNG.randn(2, 3)})


def test_nested_scan_round_trips_with_gradients():
    graph = mg.Graph()
    with graph.as_default():
        x = mg.placeholder(mg.float64, (4, 5), name="x")
        w = mg.Variable(1.5, dtype=mg.float64, name="w")

        def row(r):
            inner, _ = mg.scan(lambda v, acc: mg.tanh(acc * w + v), sequences=[r],
                               outputs_info=[mg.constant(0.0, mg.float64)], name="inner")
            return inner

        out, _ = mg.scan(row, sequences=[x], name="outer")
        loss = mg.reduce_sum(out ** 2)
        grads = mg.gradients(loss, [x, w])
        mg.global_variables_initializer()
    rebuilt, _ = _check(graph, [out, *grads], {"x:0": RNG.randn(4, 5)})
    assert len(_ops(rebuilt, "scan")) == len(_ops(graph, "scan")) >= 2


def test_input_map_reaches_the_values_a_body_captures():
    graph = mg.Graph()
    with graph.as_default():
        x = mg.placeholder(mg.float64, (4,), name="x")
        scale = mg.placeholder(mg.float64, (), name="scale")
        out, _ = mg.scan(lambda v, acc: acc * scale + v, sequences=[x],
                         outputs_info=[mg.constant(0.0, mg.float64)])
    xv = RNG.randn(4)
    rebuilt = mg.Graph()
    with rebuilt.as_default():
        two = mg.constant(2.0, mg.float64)
        (new_out,) = import_graph_def(as_graph_def(graph), input_map={"scale:0": two},
                                      return_elements=[out.name])
    expected = _run(graph, out, {"x:0": xv, "scale:0": 2.0}, init=False)
    np.testing.assert_allclose(_run(rebuilt, new_out, {"import/x:0": xv}, init=False), expected)


# -- cond, case, while_loop ---------------------------------------------------------------------


def _cond_graph():
    graph = mg.Graph()
    with graph.as_default():
        pred = mg.placeholder(mg.bool, (), name="pred")
        x = mg.placeholder(mg.float64, (3,), name="x")
        w = mg.Variable(RNG.randn(3), name="w")
        b = mg.exp(x) * 0.5
        y = mg.cond(pred, lambda: mg.reduce_sum(x * w) * x, lambda: mg.sin(x) + b * w)
        loss = mg.reduce_sum(y ** 2)
        mg.global_variables_initializer()
    return graph, y, loss


@pytest.mark.parametrize("pred", [True, False])
def test_cond_with_captured_values_and_its_gradient_round_trip(pred):
    graph, y, loss = _cond_graph()
    with graph.as_default():
        grads = mg.gradients(loss, [graph.get_tensor_by_name("x:0"),
                                    graph.get_tensor_by_name("w:0")])
    _check(graph, [y, *grads], {"pred:0": pred, "x:0": RNG.randn(3)})


@pytest.mark.parametrize("pred", [True, False])
def test_gradients_of_an_imported_cond_match_the_original(pred):
    graph, _, loss = _cond_graph()
    rebuilt, (new_loss,) = _round_trip(graph, [loss])
    feeds = {"pred:0": pred, "x:0": RNG.randn(3)}
    with graph.as_default():
        expected = _run(graph, mg.gradients(loss, [graph.get_tensor_by_name("x:0")]), feeds)
    with rebuilt.as_default():
        x = rebuilt.get_tensor_by_name("imported/x:0")
        got = _run(rebuilt, mg.gradients(new_loss, [x]), _imported_feeds(feeds))
    _assert_close(got, expected)


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_case_round_trips(index):
    graph = mg.Graph()
    with graph.as_default():
        i = mg.placeholder(mg.int32, (), name="i")
        x = mg.placeholder(mg.float64, (2,), name="x")
        y = mg.case([(mg.equal(i, 0), lambda: x * 2.0), (mg.equal(i, 1), lambda: mg.exp(x)),
                     (mg.equal(i, 2), lambda: x - 1.0)], default=lambda: -x, exclusive=True)
        grad = mg.gradients(mg.reduce_sum(y * y), [x])
        mg.global_variables_initializer()
    _check(graph, [y, *grad], {"i:0": index, "x:0": RNG.randn(2)})


def _while_graph(limit, tensor_limit=False):
    graph = mg.Graph()
    with graph.as_default():
        n = mg.placeholder(mg.int32, (), name="n")
        v0 = mg.placeholder(mg.float64, (3,), name="v0")
        w = mg.Variable(RNG.randn(3) * 0.5, name="w")
        _, v = mg.while_loop(lambda i, v: i < n, lambda i, v: (i + 1, mg.sin(v) * w + v),
                             [mg.constant(0), v0],
                             maximum_iterations=mg.constant(limit) if tensor_limit else limit)
        loss = mg.reduce_sum(v ** 2)
        mg.global_variables_initializer()
    return graph, v, loss


@pytest.mark.parametrize("n", [2, 9])
def test_while_loop_with_maximum_iterations_and_its_gradient_round_trip(n):
    graph, v, loss = _while_graph(limit=4)
    with graph.as_default():
        grads = mg.gradients(loss, [graph.get_tensor_by_name("v0:0"),
                                    graph.get_tensor_by_name("w:0")])
    rebuilt, _ = _check(graph, [v, *grads], {"n:0": n, "v0:0": RNG.randn(3)})
    assert [node.attrs["maximum_iterations"] for node in _ops(rebuilt, "while_loop")] == [4]
    assert len(_ops(rebuilt, "while_grad")) == 1


def test_gradients_of_an_imported_while_loop_match_the_original():
    graph, _, loss = _while_graph(limit=3, tensor_limit=True)
    rebuilt, (new_loss,) = _round_trip(graph, [loss])
    feeds = {"n:0": 7, "v0:0": RNG.randn(3)}
    names = ("v0:0", "w:0")
    with graph.as_default():
        expected = _run(graph, mg.gradients(loss, [graph.get_tensor_by_name(n) for n in names]),
                        feeds)
    with rebuilt.as_default():
        wrt = [rebuilt.get_tensor_by_name(f"imported/{n}") for n in names]
        got = _run(rebuilt, mg.gradients(new_loss, wrt), _imported_feeds(feeds))
    _assert_close(got, expected)


# -- meta graphs and what stays unexportable ----------------------------------------------------


def _lstm_model():
    x = mg.placeholder(mg.float64, (2, 5, 3), name="x")
    target = mg.placeholder(mg.float64, (2, 4), name="target")
    cell = mg.nn.rnn_cell.BasicLSTMCell(4)
    outputs, state = mg.nn.dynamic_rnn(cell, x, dtype=mg.float64)
    loss = mg.reduce_mean((outputs[:, -1] + state.c - target) ** 2)
    step = train.AdamOptimizer(0.05).minimize(loss)
    mg.get_default_graph().add_to_collection("loss", loss)
    mg.get_default_graph().add_to_collection("train_op", step)
    return loss, step


def test_saver_meta_graph_of_an_lstm_model_restores_and_keeps_training(tmp_path):
    feeds = {"x:0": RNG.randn(2, 5, 3), "target:0": RNG.randn(2, 4)}
    loss, step = _lstm_model()
    sess = mg.Session()
    sess.run(mg.global_variables_initializer())
    for _ in range(2):
        sess.run(step, feeds)
    prefix = train.Saver().save(sess, str(tmp_path / "lstm"))
    expected = [sess.run([loss, step], feeds)[0] for _ in range(3)]
    mg.reset_default_graph()
    saver = train.import_meta_graph(prefix + ".meta.json")
    graph = mg.get_default_graph()
    (new_loss,), (new_step,) = graph.get_collection("loss"), graph.get_collection("train_op")
    with mg.Session() as sess2:
        saver.restore(sess2, prefix)
        got = [sess2.run([new_loss, new_step], feeds)[0] for _ in range(3)]
    _assert_close(got, expected)
    assert got[2] < got[0]


def test_custom_gradient_stays_unexportable_even_inside_a_loop():
    @mg.custom_gradient
    def clipped(v):
        return mg.identity(v), lambda dy: mg.clip_by_value(dy, -1.0, 1.0)

    x = mg.placeholder(mg.float64, (4,), name="x")
    mg.scan(lambda v: clipped(v) * 2.0, sequences=[x])
    with pytest.raises(GraphExportError,
                       match=r"custom_gradient '.*CustomGradient.*'.*Python function"):
        mg.get_default_graph().as_graph_def()


def test_a_bad_body_reference_is_a_clear_error():
    graph, loss = _rnn_graph()
    graph_def = as_graph_def(graph)
    with pytest.raises(ValueError, match="body 0 is not an entry"):
        import_graph_def({**graph_def, "bodies": []}, name="")
    bad = [{**graph_def["bodies"][0], "class": "Lambda"}]
    with pytest.raises(ValueError, match="body class 'Lambda'"):
        import_graph_def({**graph_def, "bodies": bad}, name="")
