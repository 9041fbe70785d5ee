"""Where TensorFlow is installed: tf.compat.v1's summary ops and minigraph's, built the same way,
give the same Summary protobufs (tags, scalars, histograms to the bit, text; images to the
decoded pixel)."""
import io

import numpy as np
import pytest

import minigraph as mg
from minigraph import summary as mg_summary

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorboardX")
PIL_Image = pytest.importorskip("PIL.Image")
from tensorflow.core.framework import summary_pb2  # noqa: E402

tf1 = tf.compat.v1
LIBS = [(tf1, tf1.summary), (mg, mg_summary)]


def _run_both(build, feed=None):
    """``build(lib, summary) -> fetches`` under TF1 and minigraph; their values, parsed as
    TensorFlow ``Summary`` protobufs."""
    tf1.disable_eager_execution()
    results = []
    for lib, summ in LIBS:
        graph = lib.Graph()
        with graph.as_default(), lib.Session(graph=graph) as sess:
            fetches, placeholder = build(lib, summ)
            values = sess.run(fetches, {placeholder: feed} if placeholder is not None else None)
        results.append([summary_pb2.Summary.FromString(np.asarray(v, dtype=object)[()])
                        for v in values])
    return results


def _scalars(lib, summ):
    x = lib.placeholder(lib.float32, [], name="x")
    out = [summ.scalar("loss", x), summ.scalar("loss", x * 2), summ.scalar("a b!c", x)]
    with lib.name_scope("train"):
        out += [summ.scalar("acc", x, family="metrics"), summ.scalar("/lead", x)]
    return out, x


def test_scalars_names_and_tags_match():
    theirs, ours = _run_both(_scalars, np.float32(1.25))
    assert ours == theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_histograms_match_to_the_bit(dtype):
    rng = np.random.default_rng(3)
    if dtype == np.int32:
        data = rng.integers(-(2**31), 2**31, 300, dtype=dtype)
    else:
        data = np.concatenate([rng.standard_normal(300) * 10.0 ** rng.integers(-15, 15, 300),
                               [0.0, -0.0, 1e-12, -1e-12, 1.0, 1.1]]).astype(dtype)

    def build(lib, summ):
        x = lib.placeholder(dtype, [None], name="x")
        with lib.name_scope("layer"):
            return [summ.histogram("w", x), summ.histogram("empty", x[:0])], x
    theirs, ours = _run_both(build, data)
    assert ours == theirs


def _pixels(value) -> list:
    return [np.asarray(PIL_Image.open(io.BytesIO(v.image.encoded_image_string)))
            for v in value.value]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_images_match_pixel_for_pixel(dtype, channels):
    rng = np.random.default_rng(channels)
    if dtype == np.uint8:
        batch = rng.integers(0, 256, (4, 3, 5, channels)).astype(dtype)
    else:
        batch = (rng.standard_normal((4, 3, 5, channels)) + [[[[0.0]]], [[[5.0]]], [[[0.0]]],
                                                             [[[0.0]]]]).astype(dtype)
        batch[2, 0, 1, 0] = np.nan
        batch[3] = 1e-8

    def build(lib, summ):
        x = lib.placeholder(dtype, [None, 3, 5, channels], name="x")
        return [summ.image("im", x), summ.image("one", x, max_outputs=1),
                summ.image("all", x, max_outputs=9)], x
    theirs, ours = _run_both(build, batch)
    for mine, reference in zip(ours, theirs):
        assert [v.tag for v in mine.value] == [v.tag for v in reference.value]
        for v, r in zip(mine.value, reference.value):
            assert (v.image.height, v.image.width, v.image.colorspace) == (
                r.image.height, r.image.width, r.image.colorspace)
        for a, b in zip(_pixels(mine), _pixels(reference)):
            np.testing.assert_array_equal(a, b)


def test_text_and_merge_match():
    words = [["héllo", "b"], ["c", ""]]

    def build(lib, summ):
        x = lib.placeholder(lib.float64, [], name="x")
        text = summ.text("notes", tf1.constant(words) if lib is tf1 else words)
        with lib.name_scope("stats"):
            hist = summ.histogram("h", x * lib.ones([3], lib.float64))
        merged = summ.merge([summ.scalar("s", x), hist, text])
        return [text, merged, summ.merge_all()], x
    theirs, ours = _run_both(build, 0.75)
    assert ours == theirs
