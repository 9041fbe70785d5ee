"""Random expression graphs: forward values, gradients, printed code, shrinking, planted bugs."""
import numpy as np
import pytest
from hypothesis import find, given, settings

import minigraph as mg
from minigraph.ops import _samples
from minigraph.ops.registry import REGISTRY
from minigraph.testing import check_grads
from minigraph.testing.graphs import DEFAULT_OPS, graphs

# reduce_prod's gradient (prod_grad) has no gradient of its own
SECOND_ORDER_OPS = [op for op in DEFAULT_OPS if op != "reduce_prod"]


def _fraction(divisor):
    """A smaller example budget that still scales with the active hypothesis profile."""
    return settings(deadline=None, max_examples=max(2, settings.default.max_examples // divisor))


def _session_values(fn, inputs):
    """``fn`` built on placeholders and run by a Session."""
    graph = mg.Graph()
    with graph.as_default():
        tensors = [mg.placeholder(a.dtype, a.shape) for a in inputs]
        out = fn(*tensors)
        outputs = out if isinstance(out, list) else [out]
        with mg.Session(graph=graph) as session:
            return session.run(outputs, dict(zip(tensors, inputs)))


def _assert_all_close(actual, expected, **tolerance):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape and a.dtype == e.dtype
        np.testing.assert_allclose(a, e, **tolerance)


@settings(deadline=None)
@given(graphs())
def test_session_matches_direct_numpy_evaluation(graph):
    _assert_all_close(_session_values(*graph), graph.evaluate(), rtol=1e-12, atol=1e-12)


@settings(deadline=None)
@given(graphs())
def test_gradients_match_finite_differences(graph):
    check_grads(*graph)


@_fraction(3)
@given(graphs(max_nodes=3, ops=SECOND_ORDER_OPS))
def test_second_order_gradients_match_finite_differences(graph):
    check_grads(*graph, order=2)


@_fraction(3)
@given(graphs(max_nodes=4, min_side=0))
def test_empty_dimensions(graph):
    _assert_all_close(_session_values(*graph), graph.evaluate(), rtol=1e-12, atol=1e-12)
    check_grads(*graph)


@_fraction(3)
@given(graphs(max_nodes=3, dtypes=("float32",)))
def test_float32_smoke(graph):
    assert all(a.dtype == np.float32 for a in graph.inputs if a.dtype.kind == "f")
    _assert_all_close(_session_values(*graph), graph.evaluate(), rtol=1e-6, atol=1e-6)
    check_grads(*graph)


@settings(deadline=None)
@given(graphs())
def test_repr_is_code_that_rebuilds_the_graph(graph):
    namespace = {"mg": mg, "np": np}
    exec(repr(graph), namespace)
    assert len(namespace["inputs"]) == len(graph.inputs)
    for rebuilt, original in zip(namespace["inputs"], graph.inputs):
        assert rebuilt.dtype == original.dtype and rebuilt.shape == original.shape
        assert np.array_equal(rebuilt, original)
    _assert_all_close(_session_values(namespace["fn"], namespace["inputs"]),
                      _session_values(*graph), rtol=0, atol=0)


@_fraction(3)
@given(graphs(ops=["tanh", "matmul", "log"]))
def test_ops_restricts_the_moves_and_guards_show_in_the_code(graph):
    assert set(graph.ops) <= {"tanh", "matmul", "log", "reshape", "square", "add"}
    if "log" in graph.ops:
        assert "mg.add(" in repr(graph) and "mg.square(" in repr(graph)


@pytest.mark.parametrize("op, call", [
    ("matmul", "mg.matmul("),
    ("sparse_softmax_cross_entropy_with_logits", "mg.nn.sparse_softmax_cross_entropy_with_logits("),
    ("maximum", "mg.maximum("),
    ("getitem", "]"),
])
def test_shrinking_gives_small_readable_programs(op, call):
    found = find(graphs(), lambda g: op in g.ops,
                 settings=settings(database=None, derandomize=True, max_examples=500))
    assert len(found.steps) <= 3, repr(found)
    assert len(found.inputs) <= 2, repr(found)
    assert call in repr(found)


def test_graph_unpacks_as_fn_and_inputs():
    graph = find(graphs(), lambda g: len(g.steps) >= 2, settings=settings(database=None))
    fn, inputs = graph
    assert fn is graph.fn and inputs is graph.inputs
    assert repr(graph).startswith("import numpy as np")


def test_unknown_ops_are_rejected():
    with pytest.raises(ValueError, match="no op named 'no_such_op'"):
        find(graphs(ops=["no_such_op"]), lambda g: True)
    with pytest.raises(ValueError, match="no move for op 'concat'"):
        find(graphs(ops=["concat"]), lambda g: True)


# -- the fuzzer catches a planted gradient bug ---------------------------------------------------

_PLANTED = "graph_fuzz_planted_tanh"


@pytest.fixture
def planted_op():
    """``tanh`` with a derivative that forgets to square ``y`` (removed again afterwards)."""
    mg.defop(_PLANTED, lambda types: types[0], np.tanh, kind="elementwise", scalar="tanh(x0)",
             vjp=lambda node, dys: [dys[0] * (1 - node.outputs[0])], sample=_samples.unary())
    yield _PLANTED
    REGISTRY.pop(_PLANTED)


def test_graph_fuzzer_catches_a_planted_gradient_bug(planted_op, monkeypatch):
    monkeypatch.setattr(mg.config, "backend", "numpy")  # about the fuzzer: hundreds of shrinks

    @settings(deadline=None, database=None, derandomize=True, max_examples=200)
    @given(graphs(ops=[planted_op, "add", "multiply", "reduce_sum", "matmul"]))
    def gradients_are_right(graph):
        check_grads(*graph)

    with pytest.raises(AssertionError, match="gradient mismatch") as info:
        gradients_are_right()
    report = "\n".join(getattr(info.value, "__notes__", []))
    assert f"mg.apply_op({planted_op!r}" in report
