"""``mg.device`` placement hints: parsing, nesting, node.device, and the session's backend."""
import pytest

import minigraph as mg
from minigraph import backends
from minigraph.device import device, merge_device, parse_device, preferred_backend, requests_gpu


@pytest.mark.parametrize("spec, canonical", [
    ("/cpu:0", "/device:CPU:0"), ("/gpu:0", "/device:GPU:0"), ("/GPU:1", "/device:GPU:1"),
    ("/device:GPU:0", "/device:GPU:0"), ("/device:cpu:0", "/device:CPU:0"),
    ("/job:worker/task:1/gpu:2", "/job:worker/task:1/device:GPU:2"), ("", ""),
])
def test_specs_parse_to_tf_canonical_strings(spec, canonical):
    assert merge_device("", spec) == canonical


def test_unknown_parts_are_refused():
    with pytest.raises(ValueError, match="Unknown attribute 'nonsense'"):
        parse_device("nonsense")
    with pytest.raises(TypeError, match="must be a string"):
        parse_device(lambda op: "/gpu:0")


def test_nodes_record_the_innermost_device():
    with device("/gpu:0"):
        gpu = mg.constant(1.0)
        with device("/cpu:0"):
            cpu = mg.constant(1.0)
        with device(""):
            kept = mg.constant(1.0)
        with device(None):
            cleared = mg.constant(1.0)
        var = mg.Variable(1.0, name="v")
    outside = mg.constant(1.0)
    assert [t.op.device for t in (gpu, cpu, kept, cleared, outside)] == [
        "/device:GPU:0", "/device:CPU:0", "/device:GPU:0", "", ""]
    assert var.op.device == var.initializer.device == "/device:GPU:0"


def test_a_gpu_request_selects_cupy_only_when_it_is_available(monkeypatch):
    graph = mg.get_default_graph()
    mg.constant(1.0)
    assert not requests_gpu(graph) and preferred_backend(graph) is None
    with device("/gpu:0"):
        assert requests_gpu(graph)  # a session created here would ask for the GPU
        assert preferred_backend(graph) in (None, "cupy")
    with device("/device:GPU:0"):
        mg.constant(2.0)
    monkeypatch.setattr(backends, "available_backends", lambda: ["numba", "numpy"])
    assert requests_gpu(graph) and preferred_backend(graph) is None  # soft placement: the CPU
    monkeypatch.setattr(backends, "available_backends", lambda: ["cupy", "numba", "numpy"])
    assert preferred_backend(graph) == "cupy"


def test_graphs_with_device_hints_still_run_on_the_cpu():
    with device("/gpu:0"):
        x = mg.placeholder(mg.float32, [2])
        y = x * 2.0
    with mg.Session() as sess:
        assert sess.run(y, {x: [1.0, 2.0]}).tolist() == [2.0, 4.0]
