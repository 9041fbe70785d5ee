"""TF1's summary ops: graph nodes whose value is a serialized ``Summary`` protobuf (``bytes``).

Each op's output is a 0-d tensor of dtype ``object`` holding the bytes (TF's 0-d ``string``);
the NumPy references in ``encode`` compute what TF1's kernels compute. A summary is named like
TF1's: under the current name scope, in a scope of its own cleaned name (``loss``,
``loss_1``, ...), which is also its tag, and it joins the graph's ``summaries`` collection.
"""
from __future__ import annotations

import contextlib
import re

import numpy as np

from ..graph import TensorType, get_default_graph
from ..ops._samples import _strategies, rng_from
from ..ops.registry import InferError, apply_op, defop
from ..tensor import Tensor, convert_to_tensor
from . import encode

SUMMARIES = "summaries"
"""The collection summaries join by default (TF's ``GraphKeys.SUMMARIES``)."""

BYTES = TensorType((), np.dtype(object))
"""A summary op's output: one serialized ``Summary``."""

_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w.]")


# -- static rules -------------------------------------------------------------------------------
def _check_dtype(t: TensorType, ok: bool, what: str) -> None:
    if not ok:
        raise InferError(f"this summary takes {what} values, not {t.dtype}")


def _infer_scalar(types, tag):
    (t,) = types
    _check_dtype(t, t.dtype.kind in "iuf", "integer or float")
    if t.shape is not None and len(t.shape) != 0:
        raise InferError(f"scalar summary '{tag}' needs a 0-d value, got a rank-{len(t.shape)} "
                         "tensor (summarize a reduction such as reduce_mean instead)")
    return BYTES


def _infer_histogram(types, tag):
    _check_dtype(types[0], types[0].dtype.kind in "iuf", "integer or float")
    return BYTES


def _infer_image(types, tag, max_outputs):
    (t,) = types
    _check_dtype(t, t.dtype.kind == "f" or t.dtype == np.uint8, "float or uint8")
    if t.shape is not None and (len(t.shape) != 4 or t.shape[-1] not in (None, 1, 3, 4)):
        raise InferError(f"image summary '{tag}' needs a [batch, height, width, channels] tensor "
                         "with 1, 3 or 4 channels")
    if max_outputs < 1:
        raise InferError(f"max_outputs must be at least 1, got {max_outputs}")
    return BYTES


def _infer_text(types, tag, strings, shape):
    return BYTES


def _infer_merge(types):
    if not types:
        raise InferError("merge needs at least one summary to merge")
    for k, t in enumerate(types):
        if t.dtype != BYTES.dtype or (t.shape is not None and len(t.shape) != 0):
            raise InferError(f"input {k} is not a summary (a 0-d object tensor of serialized "
                             f"Summary bytes): {t.describe()}")
    return BYTES


# -- sample rules (fuzzed by the registry test) ----------------------------------------------
def _draw_tag(draw) -> str:
    from hypothesis import strategies as st

    return draw(st.sampled_from(["loss", "train/accuracy", "layer_1/weights"]))


def _sample_scalar(draw):
    return [rng_from(draw).standard_normal(())], {"tag": _draw_tag(draw)}


def _sample_histogram(draw):
    rng = rng_from(draw)
    shape = draw(_strategies().shapes())
    return [rng.standard_normal(shape) * 10.0 ** rng.integers(-14, 14)], {"tag": _draw_tag(draw)}


def _sample_image(draw):
    from hypothesis import strategies as st

    rng = rng_from(draw)
    shape = (draw(st.integers(0, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4)),
             draw(st.sampled_from([1, 3, 4])))
    images = (rng.integers(0, 256, shape).astype(np.uint8) if draw(st.booleans())
              else rng.standard_normal(shape) + draw(st.sampled_from([0.0, 3.0])))
    return [images], {"tag": _draw_tag(draw), "max_outputs": draw(st.integers(1, 3))}


def _sample_text(draw):
    from hypothesis import strategies as st

    shape = draw(_strategies().shapes(max_dims=2, max_side=3))
    words = draw(st.lists(st.text(max_size=6), min_size=int(np.prod(shape)),
                          max_size=int(np.prod(shape))))
    return [], {"tag": _draw_tag(draw), "strings": tuple(w.encode() for w in words),
                "shape": shape}


defop("scalar_summary", _infer_scalar,
      lambda value, tag: encode.serialized([encode.scalar_value(tag, value)]),
      kind="other", differentiable=False, sample=_sample_scalar,
      doc="A Summary holding one number (TF's ScalarSummary).")
defop("histogram_summary", _infer_histogram,
      lambda values, tag: encode.serialized([encode.histogram_value(tag, values)]),
      kind="other", differentiable=False, sample=_sample_histogram,
      doc="A Summary holding a histogram of a tensor's values (TF's HistogramSummary).")
defop("image_summary", _infer_image,
      lambda images, tag, max_outputs: encode.serialized(
          encode.image_values(tag, images, max_outputs)),
      kind="other", differentiable=False, sample=_sample_image,
      doc="A Summary holding PNG images of a batch (TF's ImageSummary).")
defop("text_summary", _infer_text,
      lambda tag, strings, shape: encode.serialized([encode.text_value(tag, strings, shape)]),
      kind="other", differentiable=False, sample=_sample_text,
      doc="A Summary holding strings for TensorBoard's text plugin (TF's text summary).")
defop("merge_summary", _infer_merge,
      lambda *summaries: encode.serialized(encode.merged_values(summaries)),
      kind="other", differentiable=False,
      extra={"no_sample_reason": "its inputs are serialized summaries, which no constant holds; "
                                 "tests/test_summary.py covers it"},
      doc="One Summary holding the values of several (TF's MergeSummary).")


# -- public API ---------------------------------------------------------------------------------
def scalar(name: str, tensor, collections=None, family=None) -> Tensor:
    """A summary of one number: a curve over steps in TensorBoard's Scalars tab."""
    return _summary("scalar_summary", name, [tensor], {}, collections, family)


def histogram(name: str, values, collections=None, family=None) -> Tensor:
    """A summary of the distribution of a tensor's values (Histograms/Distributions tabs);
    a NaN or infinite value is an error when it runs, as in TF."""
    return _summary("histogram_summary", name, [values], {}, collections, family)


def image(name: str, tensor, max_outputs: int = 3, collections=None, family=None) -> Tensor:
    """A summary of up to ``max_outputs`` images of a ``[batch, height, width, channels]``
    tensor (1, 3 or 4 channels; uint8 as is, floats rescaled to [0, 255] per image)."""
    return _summary("image_summary", name, [tensor], {"max_outputs": int(max_outputs)},
                    collections, family)


def text(name: str, tensor, collections=None) -> Tensor:
    """A summary of text (a str, bytes or an array of them) for TensorBoard's Text tab."""
    if isinstance(tensor, Tensor):
        raise TypeError(f"text summary {name!r}: minigraph has no string tensors; pass the text "
                        "itself (a str, bytes, or a nested list or array of them)")
    array = np.asarray(tensor, dtype=object)
    if not all(isinstance(s, (str, bytes)) for s in array.flat):
        raise TypeError(f"text summary {name!r} takes strings, got {tensor!r}")
    strings = tuple(s.encode() if isinstance(s, str) else bytes(s) for s in array.flat)
    return _summary("text_summary", name, [], {"strings": strings, "shape": array.shape},
                    collections, None)


def merge(inputs, collections=None, name=None) -> Tensor:
    """One summary holding the values of all ``inputs`` (their tags must differ)."""
    inputs = list(inputs)
    graph = _graph_of(inputs)
    with graph.name_scope(name or "Merge"):
        merged = apply_op("merge_summary", [convert_to_tensor(s) for s in inputs])
    _collect(graph, merged, collections, default=())
    return merged


def merge_all(key: str = SUMMARIES, scope=None, name=None) -> Tensor | None:
    """``merge`` of the default graph's ``key`` collection (``None`` when it is empty)."""
    summaries = get_default_graph().get_collection(key, scope)
    return merge(summaries, name=name) if summaries else None


def clean_tag(name):
    """``name`` with the characters TensorBoard tags may not hold replaced by ``_`` and no
    leading slash (as TF1 cleans summary names)."""
    if name is None:
        return None
    return _INVALID_TAG_CHARACTERS.sub("_", name).lstrip("/")


def _summary(op, name, inputs, attrs, collections, family) -> Tensor:
    graph = _graph_of(inputs)
    with _summary_scope(graph, name, family) as tag:
        summary = apply_op(op, [convert_to_tensor(v) for v in inputs], {"tag": tag, **attrs})
    _collect(graph, summary, collections, default=(SUMMARIES,))
    return summary


@contextlib.contextmanager
def _summary_scope(graph, name, family):
    """Open a unique name scope for the summary (``family/name`` with a family) and yield its
    tag: the scope path, prefixed with the family again so TensorBoard shows it in that tab."""
    name, family = clean_tag(name), clean_tag(family)
    with graph.name_scope(name if family is None else f"{family}/{name}") as scope:
        tag = scope.rstrip("/")
        yield tag if family is None else f"{family}/{tag}"


def _graph_of(values):
    return next((v.graph for v in values if isinstance(v, Tensor)), None) or get_default_graph()


def _collect(graph, summary, collections, default) -> None:
    for key in default if collections is None else collections:
        graph.add_to_collection(key, summary)


__all__ = ["SUMMARIES", "clean_tag", "histogram", "image", "merge", "merge_all", "scalar",
           "text"]
