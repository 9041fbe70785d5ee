"""mg.summary: summary ops (names, tags, values as TF1 computes them) and FileWriter event files,
read back with TensorBoard's own event readers."""
import io
import os

import numpy as np
import pytest

import minigraph as mg
from minigraph import summary
from minigraph.errors import InvalidArgumentError

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402
from tensorboard.util.tensor_util import make_ndarray  # noqa: E402

PIL_Image = pytest.importorskip("PIL.Image")
KEEP_ALL = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}


def _parse(value):
    """The ``Summary`` of a fetched summary (``bytes``; a 0-d object array is accepted too)."""
    return summary.Summary.FromString(np.asarray(value, dtype=object)[()])


def _run(fetches, feed_dict=None):
    with mg.Session() as sess:
        return sess.run(fetches, feed_dict)


def _accumulator(logdir):
    acc = event_accumulator.EventAccumulator(str(logdir), size_guidance=KEEP_ALL)
    acc.Reload()
    return acc


def _events(logdir):
    """Every event of every event file of ``logdir``, in file order."""
    files = sorted(f for f in os.listdir(logdir) if "tfevents" in f)
    return [e for f in files for e in EventFileLoader(os.path.join(logdir, f)).Load()]


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(PIL_Image.open(io.BytesIO(png)))


# -- ops: names, tags, collections ------------------------------------------------------------
def test_names_and_tags_follow_tf1_scopes():
    x = mg.placeholder(mg.float32, [], name="x")
    first, second = summary.scalar("loss", x), summary.scalar("loss", x)
    with mg.name_scope("train"):
        grouped = summary.scalar("acc", x, family="metrics")
        cleaned = summary.scalar("a b!c", x)
    tags = [v.tag for s in (first, second, grouped, cleaned) for v in _parse(
        _run(s, {x: 1.0})).value]
    assert tags == ["loss", "loss_1", "metrics/train/metrics/acc", "train/a_b_c"]
    assert first.name.startswith("loss/") and grouped.name.startswith("train/metrics/acc/")
    assert first.dtype == np.dtype(object) and first.shape == ()
    assert mg.get_default_graph().get_collection(summary.SUMMARIES) == [first, second, grouped,
                                                                        cleaned]


def test_collections_argument_replaces_the_default():
    x = mg.constant(1.0)
    quiet = summary.scalar("quiet", x, collections=[])
    custom = summary.histogram("custom", x, collections=["mine"])
    graph = mg.get_default_graph()
    assert graph.get_collection(summary.SUMMARIES) == []
    assert graph.get_collection("mine") == [custom]
    assert summary.merge_all() is None
    assert [v.tag for v in _parse(_run(summary.merge_all("mine"))).value] == ["custom"]
    assert quiet.node.op == "scalar_summary"


def test_fetched_summary_is_bytes():
    s = summary.scalar("loss", mg.constant(2.5))
    value = _run(s)
    assert isinstance(value, bytes)
    assert _parse(value).value[0].simple_value == 2.5


# -- ops: values ----------------------------------------------------------------------------------
def test_scalar_with_feed_dict_over_steps():
    x = mg.placeholder(mg.float64, [], name="x")
    s = summary.scalar("loss", x * 2)
    with mg.Session() as sess:
        values = [_parse(sess.run(s, {x: v})).value[0].simple_value for v in (0.5, 1.25, -3.0)]
    assert values == [1.0, 2.5, -6.0]
    ints = summary.scalar("count", mg.constant(7, mg.int64))
    assert _parse(_run(ints)).value[0].simple_value == 7.0


def test_scalar_rejects_non_scalars():
    with pytest.raises(ValueError, match="0-d value"):
        summary.scalar("bad", mg.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match="integer or float"):
        summary.scalar("bad", mg.constant(True))
    x = mg.placeholder(mg.float32, None)
    with pytest.raises(InvalidArgumentError, match="0-d value"):
        _run(summary.scalar("late", x), {x: np.ones(2, np.float32)})


def test_histogram_statistics_and_buckets():
    rng = np.random.default_rng(0)
    data = np.concatenate([rng.standard_normal(200) * 3, [0.0, 1e-13, -1e-13, 5e6]])
    histo = _parse(_run(summary.histogram("h", mg.constant(data)))).value[0].histo
    assert (histo.min, histo.max, histo.num) == (data.min(), data.max(), data.size)
    assert histo.sum == pytest.approx(data.sum(), rel=1e-12)
    assert histo.sum_squares == pytest.approx((data ** 2).sum(), rel=1e-12)
    limits, counts = np.array(histo.bucket_limit), np.array(histo.bucket)
    assert np.all(np.diff(limits) > 0) and limits[-1] == np.finfo(np.float64).max
    lower = np.concatenate([[-np.inf], limits[:-1]])  # a bucket holds [previous limit, limit)
    expected = [np.sum((data >= lo) & (data < hi)) for lo, hi in zip(lower, limits)]
    np.testing.assert_array_equal(counts, expected)


def test_histogram_of_nothing_and_of_nan():
    empty = _parse(_run(summary.histogram("e", mg.zeros([0])))).value[0].histo
    assert empty.num == 0 and list(empty.bucket) == [0.0]
    assert empty.min == np.finfo(np.float64).max and empty.max == -np.finfo(np.float64).max
    x = mg.placeholder(mg.float32, [None])
    with pytest.raises(InvalidArgumentError, match="Nan in summary histogram for: h"):
        _run(summary.histogram("h", x), {x: np.array([1.0, np.nan], np.float32)})


def test_image_tags_sizes_and_pixels():
    rng = np.random.default_rng(1)
    unit = rng.random((4, 3, 5, 3))
    values = _parse(_run(summary.image("im", mg.constant(unit), max_outputs=2))).value
    assert [v.tag for v in values] == ["im/image/0", "im/image/1"]
    for v, img in zip(values, unit):
        assert (v.image.height, v.image.width, v.image.colorspace) == (3, 5, 3)
        expected = (img * np.float32(255 / np.float32(img.max()))).astype(np.uint8)
        np.testing.assert_allclose(_pixels(v.image.encoded_image_string), expected, atol=1)
    one = _parse(_run(summary.image("one", mg.constant(unit), max_outputs=1))).value
    assert [v.tag for v in one] == ["one/image"]


def test_image_signed_uint8_and_bad_pixels():
    signed = np.array([[[[-2.0], [0.0], [1.0]]]])
    gray = _parse(_run(summary.image("s", mg.constant(signed)))).value[0].image
    assert gray.colorspace == 1
    np.testing.assert_array_equal(_pixels(gray.encoded_image_string), [[1, 128, 191]])
    rgba = np.arange(2 * 2 * 4, dtype=np.uint8).reshape(1, 2, 2, 4)
    kept = _parse(_run(summary.image("u", mg.constant(rgba)))).value[0].image
    np.testing.assert_array_equal(_pixels(kept.encoded_image_string), rgba[0])
    bad = np.array([[[[np.nan, 0.0, 0.0], [0.5, 1.0, 0.25]]]])
    fixed = _parse(_run(summary.image("b", mg.constant(bad)))).value[0].image
    np.testing.assert_array_equal(_pixels(fixed.encoded_image_string),
                                  [[[255, 0, 0], [127, 255, 63]]])


def test_image_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="channels"):
        summary.image("bad", mg.zeros([2, 3, 3]))
    with pytest.raises(ValueError, match="channels"):
        summary.image("bad", mg.zeros([1, 3, 3, 2]))
    with pytest.raises(ValueError, match="max_outputs"):
        summary.image("bad", mg.zeros([1, 3, 3, 1]), max_outputs=0)


def test_text_holds_strings_and_shape():
    value = _parse(_run(summary.text("notes", [["héllo", "b"], ["c", "d"]]))).value[0]
    assert value.tag == "notes" and value.metadata.plugin_data.plugin_name == "text"
    assert [d.size for d in value.tensor.tensor_shape.dim] == [2, 2]
    assert [s.decode() for s in value.tensor.string_val] == ["héllo", "b", "c", "d"]
    with pytest.raises(TypeError, match="no string tensors"):
        summary.text("t", mg.constant(1.0))
    with pytest.raises(TypeError, match="takes strings"):
        summary.text("t", [1, 2])


# -- merge ----------------------------------------------------------------------------------------
def test_merge_and_merge_all():
    x = mg.placeholder(mg.float32, [], name="x")
    a = summary.scalar("a", x)
    with mg.name_scope("layer"):
        b = summary.histogram("w", x * mg.ones([3]))
    c = summary.text("note", "hi")
    merged = summary.merge([a, c])
    assert merged.name == "Merge/MergeSummary:0"
    assert merged not in mg.get_default_graph().get_collection(summary.SUMMARIES)
    everything = summary.merge_all()
    only_layer = summary.merge_all(scope="layer")
    nested = summary.merge([merged, b], name="nested")
    with mg.Session() as sess:
        got = sess.run({"m": merged, "all": everything, "layer": only_layer, "nested": nested},
                       {x: 2.0})
    assert [v.tag for v in _parse(got["m"]).value] == ["a", "note"]
    assert [v.tag for v in _parse(got["all"]).value] == ["a", "layer/w", "note"]
    assert [v.tag for v in _parse(got["layer"]).value] == ["layer/w"]
    assert [v.tag for v in _parse(got["nested"]).value] == ["a", "note", "layer/w"]


def test_merge_errors():
    a = summary.scalar("a", mg.constant(1.0))
    with pytest.raises(InvalidArgumentError, match="Duplicate tag a"):
        _run(summary.merge([a, a]))
    with pytest.raises(ValueError, match="not a summary"):
        summary.merge([a, mg.constant(1.0)])
    with pytest.raises(ValueError, match="at least one"):
        summary.merge([])


# -- FileWriter and TensorBoard's readers -------------------------------------------------------
def _training_graph():
    """A tiny model under name scopes, its summaries and a feed placeholder."""
    x = mg.placeholder(mg.float32, [None, 3], name="x")
    with mg.name_scope("dense"):
        w = mg.Variable(np.ones((3, 2), np.float32), name="w")
        y = mg.matmul(x, w)
    with mg.name_scope("objective"):
        loss = mg.reduce_mean(y * y)
    summary.scalar("loss", loss)
    summary.histogram("weights", w)
    summary.image("inputs", mg.reshape(x, [-1, 1, 3, 1]), max_outputs=2)
    summary.text("note", "step data")
    return x, loss, summary.merge_all()


def test_file_writer_round_trip(tmp_path):
    x, loss, merged = _training_graph()
    rng = np.random.default_rng(2)
    feeds = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]
    with mg.Session() as sess, summary.FileWriter(tmp_path, sess.graph) as writer:
        sess.run(mg.global_variables_initializer())
        for step, batch in enumerate(feeds):
            writer.add_summary(sess.run(merged, {x: batch}), global_step=step * 10)
    acc = _accumulator(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [
        (step * 10, pytest.approx(float(np.mean((b @ np.ones((3, 2))) ** 2)), rel=1e-6))
        for step, b in enumerate(feeds)]
    histos = acc.Histograms("weights")
    assert [h.step for h in histos] == [0, 10, 20]
    assert histos[0].histogram_value.num == 6 and histos[0].histogram_value.sum == 6.0
    images = acc.Images("inputs/image/1")
    assert len(images) == 3 and (images[0].width, images[0].height) == (3, 1)
    assert sorted(acc.Tags()["images"]) == ["inputs/image/0", "inputs/image/1"]
    texts = acc.Tensors("note")
    assert [make_ndarray(t.tensor_proto)[()] for t in texts] == [b"step data"] * 3
    names = {node.name: node for node in acc.Graph().node}
    assert {"x", "dense/w", "dense/MatMul", "objective/ReduceMean",
            "loss/ScalarSummary"} <= set(names)
    matmul = names["dense/MatMul"]
    assert matmul.op == "matmul" and list(matmul.input) == ["x", "dense/w"]
    assert [d.size for d in matmul.attr["_output_shapes"].list.shape[0].dim] == [-1, 2]


def test_text_metadata_is_written_once_per_tag(tmp_path):
    note = summary.text("note", "hello")
    with mg.Session() as sess, summary.FileWriter(tmp_path) as writer:
        for step in range(3):
            writer.add_summary(sess.run(note), step)
    values = [v for e in _events(tmp_path) if e.HasField("summary") for v in e.summary.value]
    assert [v.HasField("metadata") for v in values] == [True, False, False]
    assert _accumulator(tmp_path).Tags()["tensors"] == ["note"]


def test_graph_def_inputs_types_and_control_edges():
    a = mg.placeholder(mg.float64, [None, 2], name="a")
    with mg.control_dependencies([a.node]):
        b = mg.identity(a, name="b")
    _, indices = mg.unique(mg.reshape(b, [-1]))
    mg.identity(indices, name="c")
    nodes = {n.name: n for n in summary.graph_def(mg.get_default_graph()).node}
    assert list(nodes["b"].input) == ["a", "^a"]
    assert list(nodes["c"].input) == [f"{indices.node.name}:1"]
    assert nodes["a"].attr["dtype"].type == 2  # DT_DOUBLE
    assert [d.size for d in nodes["a"].attr["shape"].shape.dim] == [-1, 2]
    assert list(nodes[indices.node.name].attr["_output_types"].list.type) == [2, 3]


def test_writer_flush_close_reopen(tmp_path):
    s = summary.scalar("v", mg.placeholder(mg.float32, [], name="p"))
    writer = summary.FileWriter(tmp_path, max_queue=100, flush_secs=1000,
                                filename_suffix=".mine")
    with mg.Session() as sess:
        for step in range(3):
            writer.add_summary(sess.run(s, {"p:0": float(step)}), step)
        writer.flush()  # everything on disk without closing
        assert [e.step for e in _accumulator(tmp_path).Scalars("v")] == [0, 1, 2]
        writer.close()
        writer.close()
        with pytest.raises(ValueError, match="closed"):
            writer.add_summary(sess.run(s, {"p:0": 9.0}), 9)
        writer.reopen()
        writer.add_summary(summary.Summary(value=[summary.Summary.Value(tag="v",
                                                                        simple_value=5.0)]), 5)
        writer.add_run_metadata(None, "step5")
        writer.close()
    files = [f for f in os.listdir(tmp_path) if "tfevents" in f]
    assert len(files) == 2 and all(f.endswith(".mine") for f in files)
    assert [e.step for e in _accumulator(tmp_path).Scalars("v")] == [0, 1, 2, 5]
    assert writer.get_logdir() == str(tmp_path)


def test_file_writer_cache_shares_writers(tmp_path):
    mg.constant(1.0, name="marker")
    try:
        writer = summary.FileWriterCache.get(tmp_path)
        assert summary.FileWriterCache.get(str(tmp_path)) is writer
    finally:
        summary.FileWriterCache.clear()
    assert "marker" in {n.name for n in _accumulator(tmp_path).Graph().node}
