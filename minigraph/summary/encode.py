"""``Summary`` values from NumPy data, computed as TF1's summary kernels compute them: these
are the NumPy references of the summary ops, so the bytes they give are what TF1 would log."""
from __future__ import annotations

import functools
import io
import math
import sys

import numpy as np

from ._proto import pillow_image, shape_proto, tbx

DBL_MAX = sys.float_info.max
BAD_COLOR = np.array([255, 0, 0, 255], np.uint8)
"""What a non-finite pixel becomes (TF's default ``bad_color``: opaque red)."""
TINY = np.float32(1e-6)
"""A float image whose largest magnitude is below this is drawn black (TF's zero threshold)."""


def serialized(values) -> np.ndarray:
    """A summary op's output: a 0-d object array holding the serialized ``Summary``."""
    summary = tbx("proto.summary_pb2").Summary(value=list(values))
    return np.array(summary.SerializeToString(), dtype=object)


def _value(**fields):
    return tbx("proto.summary_pb2").Summary.Value(**fields)


def scalar_value(tag: str, value):
    """``simple_value`` of a 0-d number (TF's ScalarSummary)."""
    if np.ndim(value) != 0:
        raise ValueError(f"scalar summary '{tag}' needs a 0-d value, got shape {np.shape(value)}")
    return _value(tag=tag, simple_value=float(value))


@functools.cache
def bucket_limits() -> np.ndarray:
    """TF's default histogram bucket edges: from 1e-12 growing by 10% up to 1e20, then DBL_MAX,
    mirrored for negatives, with 0 in the middle (bucket ``k`` holds ``[limit[k-1], limit[k])``)."""
    positive = []
    edge = 1.0e-12
    while edge < 1.0e20:
        positive.append(edge)
        edge *= 1.1
    positive.append(DBL_MAX)
    positive = np.array(positive)
    return np.concatenate([-positive[::-1], [0.0], positive])


def histogram_value(tag: str, values):
    """A ``HistogramProto`` of ``values`` over TF's default buckets, encoded as TF encodes it."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(x).all():
        raise ValueError(f"Nan in summary histogram for: {tag}")
    limits = bucket_limits()
    counts = np.bincount(np.searchsorted(limits, x, side="right"),
                         minlength=limits.size).astype(np.float64)
    # TF keeps every non-empty bucket and collapses each run of empty ones into its last bucket
    keep = (counts != 0) | np.append(counts[1:] != 0, True)
    # sums in sequence, as TF's Histogram::Add accumulates them (so they agree to the bit)
    sums = (np.cumsum(x)[-1], np.cumsum(x * x)[-1]) if x.size else (0.0, 0.0)
    histo = tbx("proto.summary_pb2").HistogramProto(
        min=x.min() if x.size else DBL_MAX, max=x.max() if x.size else -DBL_MAX, num=x.size,
        sum=sums[0], sum_squares=sums[1], bucket_limit=limits[keep], bucket=counts[keep])
    return _value(tag=tag, histo=histo)


def image_values(tag: str, images, max_outputs: int) -> list:
    """PNG images of the first ``max_outputs`` of a ``[batch, height, width, channels]`` batch,
    tagged ``tag/image/i`` (``tag/image`` when ``max_outputs`` is 1), as TF's ImageSummary."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(f"image summary '{tag}' needs a [batch, height, width, channels] "
                         f"tensor with 1, 3 or 4 channels, got shape {images.shape}")
    summary = tbx("proto.summary_pb2").Summary
    values = []
    for i, image in enumerate(images[:max_outputs]):
        height, width, channels = image.shape
        encoded = summary.Image(height=height, width=width, colorspace=channels,
                                encoded_image_string=png(to_uint8(image)))
        values.append(_value(tag=f"{tag}/image/{i}" if max_outputs > 1 else f"{tag}/image",
                             image=encoded))
    return values


def to_uint8(image: np.ndarray) -> np.ndarray:
    """One ``[height, width, channels]`` image as uint8: uint8 data is kept; floats are rescaled
    as TF does (all >= 0: the largest becomes 255; any negative: 0 goes to 128 and the largest
    magnitude to 127 away from it), pixels with a non-finite channel become ``BAD_COLOR``."""
    if image.dtype == np.uint8:
        return image
    finite = np.isfinite(image).all(axis=-1)
    good = image[finite].astype(np.float32)
    low, high = (good.min(), good.max()) if good.size else (math.inf, -math.inf)
    if low < 0:
        top = max(abs(low), abs(high))
        scale, offset = (0.0 if top < TINY else np.float32(127) / top), 128.0
    else:
        scale, offset = (0.0 if high < TINY else np.float32(255) / high), 0.0
    kind = image.dtype.type  # TF computes in the image's own dtype, with a float32 scale
    pixels = np.where(finite[..., None], image, 0) * kind(scale) + kind(offset)
    out = pixels.astype(np.uint8)
    out[~finite] = BAD_COLOR[:image.shape[-1]]
    return out


def png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a ``[height, width, channels]`` uint8 image (grey, RGB or RGBA)."""
    buffer = io.BytesIO()
    pillow_image().fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(
        buffer, format="PNG")
    return buffer.getvalue()


def text_value(tag: str, strings: tuple, shape: tuple):
    """A string ``TensorProto`` for TensorBoard's text plugin (TF's text summary)."""
    summary_pb2, tensor_pb2 = tbx("proto.summary_pb2"), tbx("proto.tensor_pb2")
    tensor = tensor_pb2.TensorProto(dtype=tbx("proto.types_pb2").DT_STRING,
                                    tensor_shape=shape_proto(shape), string_val=list(strings))
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
    return _value(tag=tag, tensor=tensor, metadata=metadata)


def merged_values(summaries) -> list:
    """The values of several serialized summaries, in order; a tag may appear only once."""
    summary = tbx("proto.summary_pb2").Summary
    values, tags = [], set()
    for k, data in enumerate(summaries):
        try:
            part = summary.FromString(bytes(np.asarray(data, dtype=object)[()]))
        except Exception as err:
            raise ValueError(f"could not parse summary input {k}: {err}") from None
        for value in part.value:
            if value.tag and value.tag in tags:
                raise ValueError(f"Duplicate tag {value.tag} found in summary inputs")
            tags.add(value.tag)
        values.extend(part.value)
    return values
