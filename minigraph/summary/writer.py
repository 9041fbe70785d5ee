"""TF1's ``FileWriter``: writes summaries and graphs to TensorBoard event files.

The record format, file naming and the leading ``brain.Event:2`` version event are
tensorboardX's (``EventsWriter``). Events are written synchronously into the file's buffer, which
is flushed once ``max_queue`` events are pending or ``flush_secs`` have passed (checked as
events arrive), and by ``flush()`` / ``close()``: after ``flush()`` returns every event added
before it is on disk.
"""
from __future__ import annotations

import itertools
import os
import threading
import time

import numpy as np

from ..graph import get_default_graph
from ._proto import tbx
from .graph_proto import graph_def as to_graph_def

_FILE_NUMBERS = itertools.count()


class FileWriter:
    """Writes ``Summary`` protobufs (or a summary op's fetched bytes) and graphs to a new event
    file in ``logdir``, for ``tensorboard --logdir``."""

    def __init__(self, logdir, graph=None, max_queue: int = 10, flush_secs: float = 120,
                 filename_suffix: str | None = None):
        self._logdir, self._suffix = str(logdir), filename_suffix or ""
        self._max_queue, self._flush_secs = max_queue, flush_secs
        self._lock = threading.Lock()
        self._seen_tags: set = set()
        self._events = None
        self._open()
        if graph is not None:
            self.add_graph(graph)

    def _open(self) -> None:
        """A new event file; the pid and a counter in its name keep writers of the same logdir
        opened in the same second apart (TF2 names its files this way too)."""
        tbx("record_writer").directory_check(self._logdir)
        unique = f".{os.getpid()}.{next(_FILE_NUMBERS)}{self._suffix}"
        self._events = tbx("event_file_writer").EventsWriter(
            os.path.join(self._logdir, "events"), unique)
        self._pending, self._flushed_at = 0, time.monotonic()

    def get_logdir(self) -> str:
        return self._logdir

    # -- adding events --------------------------------------------------------------------------
    def add_summary(self, summary, global_step=None) -> None:
        """Log a ``Summary``: a protobuf, its serialized bytes, or a summary op's fetched value.
        As TF1, a tag's plugin metadata is written only with its first value."""
        summary = _as_summary(summary)
        for value in summary.value:
            if value.HasField("metadata"):
                if value.tag in self._seen_tags:
                    value.ClearField("metadata")
                else:
                    self._seen_tags.add(value.tag)
        self._add(tbx("proto.event_pb2").Event(summary=summary), global_step)

    def add_graph(self, graph=None, global_step=None, graph_def=None) -> None:
        """Log a minigraph ``Graph`` (or a ready ``GraphDef``) for TensorBoard's Graphs tab."""
        if graph is None and graph_def is None:
            raise ValueError("add_graph needs a graph or a graph_def")
        graph_def = graph_def if graph_def is not None else to_graph_def(graph)
        self._add(tbx("proto.event_pb2").Event(graph_def=graph_def.SerializeToString()),
                  global_step)

    def add_session_log(self, session_log, global_step=None) -> None:
        """Log a ``SessionLog`` (e.g. ``START``, which makes TensorBoard drop data logged after
        ``global_step`` by an earlier run that crashed)."""
        self._add(tbx("proto.event_pb2").Event(session_log=session_log), global_step)

    def add_run_metadata(self, run_metadata, tag, global_step=None) -> None:
        """Accepted for TF1 compatibility: minigraph sessions collect no run metadata."""

    def add_event(self, event) -> None:
        """Write an ``Event`` protobuf as it is."""
        with self._lock:
            if self._events is None:
                raise ValueError(f"the FileWriter for {self._logdir!r} is closed; reopen() it "
                                 "to write a new event file")
            self._events.write_event(event)
            self._pending += 1
            if (self._pending >= self._max_queue
                    or time.monotonic() - self._flushed_at >= self._flush_secs):
                self._flush_locked()

    def _add(self, event, global_step) -> None:
        event.wall_time = time.time()
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    # -- lifetime -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Put every event added so far on disk."""
        with self._lock:
            if self._events is not None:
                self._flush_locked()

    def _flush_locked(self) -> None:
        self._events.flush()
        self._pending, self._flushed_at = 0, time.monotonic()

    def close(self) -> None:
        """Flush and close the event file (``reopen()`` starts a new one)."""
        with self._lock:
            if self._events is not None:
                self._events.close()
                self._events = None

    def reopen(self) -> None:
        """After ``close()``, continue in a new event file of the same logdir."""
        with self._lock:
            if self._events is None:
                self._open()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FileWriterCache:
    """One shared ``FileWriter`` per logdir (TF1's ``FileWriterCache``)."""

    _writers: dict = {}
    _lock = threading.Lock()

    @staticmethod
    def get(logdir) -> FileWriter:
        """The logdir's writer, created (with the default graph) on first use."""
        with FileWriterCache._lock:
            writer = FileWriterCache._writers.get(str(logdir))
            if writer is None:
                writer = FileWriterCache._writers[str(logdir)] = FileWriter(
                    logdir, graph=get_default_graph())
            return writer

    @staticmethod
    def clear() -> None:
        """Close and forget every cached writer."""
        with FileWriterCache._lock:
            for writer in FileWriterCache._writers.values():
                writer.close()
            FileWriterCache._writers.clear()


def _as_summary(summary):
    """A fresh tensorboardX ``Summary`` from bytes, a 0-d array of bytes, or any Summary
    protobuf (TensorFlow's included: they share the wire format)."""
    if isinstance(summary, np.ndarray) and summary.ndim == 0:
        summary = summary[()]
    if not isinstance(summary, bytes):
        if not hasattr(summary, "SerializeToString"):
            raise TypeError(f"add_summary takes a Summary protobuf or its serialized bytes, got "
                            f"{type(summary).__name__}")
        summary = summary.SerializeToString()
    return tbx("proto.summary_pb2").Summary.FromString(summary)
