"""TF1's ``tf.summary``: summary ops (graph nodes whose value is a serialized ``Summary``) and
``FileWriter``, which writes them and graphs to event files for ``tensorboard --logdir``.

Building and writing summaries needs ``tensorboardX`` (and Pillow for images); importing this
package does not.
"""
from .graph_proto import graph_def
from .ops import SUMMARIES, clean_tag, histogram, image, merge, merge_all, scalar, text
from .writer import FileWriter, FileWriterCache

_PROTOS = {"Summary": "summary_pb2", "SummaryMetadata": "summary_pb2", "Event": "event_pb2",
           "SessionLog": "event_pb2", "GraphDef": "graph_pb2"}


def __getattr__(name):
    """The protobuf classes (``Summary``, ``Event``, ...), loaded from tensorboardX on use."""
    if name in _PROTOS:
        from ._proto import tbx

        return getattr(tbx(f"proto.{_PROTOS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SUMMARIES", "FileWriter", "FileWriterCache", "clean_tag", "graph_def", "histogram",
           "image", "merge", "merge_all", "scalar", "text"]
