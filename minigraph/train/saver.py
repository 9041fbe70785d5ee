"""TF1 ``Saver``: checkpoints of variable values, the ``checkpoint`` index file, meta graphs.

Files of a checkpoint with prefix ``P`` (``save_path``, or ``save_path-<step>``):

- ``P.npz``: a NumPy ``.npz`` archive (read it with ``np.load``) holding one array per
  variable, keyed by its checkpoint name (the variable's op name, e.g. ``dense/kernel``, or
  the key of a ``var_list`` dict). TF writes ``P.index`` + ``P.data-*`` instead.
- ``P.meta.json`` (``write_meta_graph``): ``{"format": "minigraph-meta-graph", "version": 1,
  "graph_def": ..., "saver": {"variables": {checkpoint name: tensor name}}}``, the graph in
  ``minigraph.graph_io``'s format; ``import_meta_graph`` rebuilds it and its Saver.
- ``checkpoint`` (in the checkpoint's directory): TF's text index, ``model_checkpoint_path:
  "P"`` then one ``all_model_checkpoint_paths: "..."`` line per kept checkpoint, oldest
  first; paths are relative to that directory when the checkpoint lies in it.

Every file is written to a temp file, fsynced and renamed into place; the index is rewritten
only after the data, and old checkpoints are deleted only after the index stops naming them,
so a crash at any point leaves the previous checkpoint loadable.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
import zipfile
from dataclasses import dataclass, field

import numpy as np

from .. import graph_io
from ..errors import ClosedSessionError
from ..graph import fits_static, format_shape, get_default_graph
from ..tensor import Tensor, convert_to_tensor
from ..variables import global_variables

DATA_SUFFIX = ".npz"
META_SUFFIX = ".meta.json"
META_FORMAT = "minigraph-meta-graph"


@dataclass
class CheckpointState:
    """Contents of a ``checkpoint`` index file (TF's ``CheckpointState`` proto)."""

    model_checkpoint_path: str
    all_model_checkpoint_paths: list[str] = field(default_factory=list)


class Saver:
    """Saves and restores variables (TF1 ``tf.train.Saver``).

    ``var_list``: a list of variables (saved under their op names) or a dict checkpoint name ->
    variable; default: every global variable of the default graph. ``max_to_keep`` most recent
    checkpoints are kept (``None``/0: all), plus one every ``keep_checkpoint_every_n_hours``.
    """

    def __init__(self, var_list=None, max_to_keep: int | None = 5,
                 keep_checkpoint_every_n_hours: float = 10000.0, name: str | None = None,
                 allow_empty: bool = False, pad_step_number: bool = False):
        self._vars = _named_variables(global_variables() if var_list is None else var_list)
        self._explicit = var_list is not None
        if not self._vars and not allow_empty:
            raise ValueError("No variables to save")
        self.max_to_keep = max_to_keep
        self.name = name
        self._keep_seconds = keep_checkpoint_every_n_hours * 3600.0
        self._next_keep_time = time.time() + self._keep_seconds
        self._pad = pad_step_number
        self._last: list[tuple[str, float]] = []

    # -- bookkeeping -------------------------------------------------------------------------
    @property
    def last_checkpoints(self) -> list[str]:
        """Prefixes of the checkpoints this saver keeps, oldest first."""
        return [path for path, _ in self._last]

    def recover_last_checkpoints(self, checkpoint_paths) -> None:
        """Adopt existing checkpoints (e.g. after a restart) so rotation deletes them in turn."""
        now = time.time()
        self._last = [(p, now) for p in checkpoint_paths if os.path.exists(p + DATA_SUFFIX)]

    set_last_checkpoints = recover_last_checkpoints

    # -- saving ------------------------------------------------------------------------------
    def save(self, sess, save_path: str, global_step=None, latest_filename: str | None = None,
             write_meta_graph: bool = True, write_state: bool = True) -> str:
        """Write the variables' values in ``sess``; returns the checkpoint prefix written."""
        prefix = os.fspath(save_path)
        if global_step is not None:
            step = int(sess.run(global_step) if isinstance(global_step, Tensor) else global_step)
            prefix = f"{prefix}-{step:08d}" if self._pad else f"{prefix}-{step}"
        directory = os.path.dirname(os.path.abspath(prefix))
        if not os.path.isdir(directory):
            raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.")
        values = self._read(sess)
        graph_io.write_atomically(prefix + DATA_SUFFIX, lambda f: _write_npz(f, values))
        if write_meta_graph:
            self._write_meta(prefix + META_SUFFIX)
        dropped = self._record(prefix)
        if write_state:
            _write_state(directory, latest_filename or "checkpoint", self.last_checkpoints)
        for path in dropped:
            for suffix in (DATA_SUFFIX, META_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path + suffix)
        return prefix

    def _read(self, sess) -> dict[str, np.ndarray]:
        names = list(self._vars)
        fetched = sess.run([self._vars[n] for n in names])
        return {n: np.asarray(v) for n, v in zip(names, fetched)}

    def _record(self, prefix: str) -> list[str]:
        """Add ``prefix`` as the newest checkpoint; returns the ones rotated out, to delete
        once the index no longer names them (except one per ``keep_checkpoint_every_n_hours``)."""
        self._last = [(p, t) for p, t in self._last if p != prefix] + [(prefix, time.time())]
        dropped = []
        while self.max_to_keep and len(self._last) > self.max_to_keep:
            path, stamp = self._last.pop(0)
            if stamp > self._next_keep_time:
                self._next_keep_time += self._keep_seconds
            else:
                dropped.append(path)
        return dropped

    def export_meta_graph(self, filename: str | None = None) -> dict:
        """The meta graph (graph_def + this saver's variables); written to ``filename`` if given."""
        graph = next(iter(self._vars.values())).graph if self._vars else get_default_graph()
        meta = {"format": META_FORMAT, "version": 1, "graph_def": graph.as_graph_def(),
                "saver": {"variables": {n: v.name for n, v in self._vars.items()}}}
        if filename is not None:
            data = json.dumps(meta, separators=(",", ":"), allow_nan=False).encode()
            graph_io.write_atomically(filename, lambda f: f.write(data))
        return meta

    def _write_meta(self, path: str) -> None:
        try:
            self.export_meta_graph(path)
        except graph_io.GraphExportError as err:
            warnings.warn(f"Saver: no meta graph written ({err})", stacklevel=3)

    # -- restoring ---------------------------------------------------------------------------
    def restore(self, sess, save_path: str) -> None:
        """Load the checkpoint ``save_path`` (a prefix) into ``sess``; on any error (a missing
        variable, another shape or dtype) nothing in the session changes."""
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        if getattr(sess, "_closed", False):
            raise ClosedSessionError("attempted to restore into a closed Session")
        path = os.fspath(save_path) + DATA_SUFFIX
        arrays = read_checkpoint(save_path)
        checked = [(var.node, sess.store.check(var.node, value))
                   for var, value in self._match(arrays, path, sess)]
        for node, value in checked:
            sess.store.commit_value(node, value)

    def _match(self, arrays: dict, path: str, sess) -> list:
        """``(variable, value)`` pairs, after checking every name, shape and dtype."""
        if not self._explicit:
            extra = sorted(set(arrays) - set(self._vars))
            if extra:
                raise ValueError(f"checkpoint {path!r} holds variables the graph lacks: "
                                 f"{extra}")
        pairs = []
        for name, var in self._vars.items():
            if var.graph is not sess.graph:
                raise ValueError(f"variable {name!r} is not in the session's graph")
            if name not in arrays:
                raise ValueError(f"variable {name!r} is not in checkpoint {path!r} "
                                 f"(it holds {sorted(arrays)})")
            value, static = arrays[name], var.node.attrs["shape"]
            if value.dtype != var.dtype or not fits_static(value.shape, static):
                raise ValueError(
                    f"cannot restore variable {name!r}: the graph has "
                    f"{format_shape(static)} {var.dtype}, checkpoint {path!r} has "
                    f"{format_shape(value.shape)} {value.dtype}")
            pairs.append((var, value))
        return pairs


def _named_variables(var_list) -> dict:
    """``{checkpoint name: variable tensor}`` from a list or dict, names checked unique."""
    items = (var_list.items() if isinstance(var_list, dict)
             else [(None, v) for v in var_list])
    named: dict = {}
    for name, var in items:
        tensor = convert_to_tensor(var) if not isinstance(var, Tensor) else var
        if tensor.node.op != "variable":
            raise TypeError(f"Saver: {tensor.name!r} is not a variable (it is a "
                            f"{tensor.node.op})")
        name = tensor.node.name if name is None else name
        if name in named:
            raise ValueError(f"Saver: two variables are saved under the name {name!r}")
        named[name] = tensor
    return named


def _write_npz(f, values: dict) -> None:
    """``values`` as an ``.npz`` archive (one ``.npy`` member per name, never pickled)."""
    with zipfile.ZipFile(f, "w") as archive:
        for name, value in values.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)


def read_checkpoint(save_path: str) -> dict[str, np.ndarray]:
    """Every array of the checkpoint with prefix ``save_path``, by name."""
    path = os.fspath(save_path) + DATA_SUFFIX
    if not os.path.exists(path):
        raise ValueError(f"The passed save_path is not a valid checkpoint: {save_path} "
                         f"({path} does not exist)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"checkpoint {path!r} cannot be read: {err}") from None


# -- the checkpoint index file -----------------------------------------------------------------


def _write_state(directory: str, filename: str, paths: list[str]) -> None:
    """The TF ``checkpoint`` text file naming the newest checkpoint and all kept ones."""
    rel = [_relative(p, directory) for p in paths]
    lines = [f"model_checkpoint_path: {json.dumps(rel[-1])}"]
    lines += [f"all_model_checkpoint_paths: {json.dumps(p)}" for p in rel]
    data = ("\n".join(lines) + "\n").encode()
    graph_io.write_atomically(os.path.join(directory, filename), lambda f: f.write(data))


def _relative(path: str, directory: str) -> str:
    absolute = os.path.abspath(path)
    return (os.path.basename(absolute) if os.path.dirname(absolute) == directory
            else absolute)


def get_checkpoint_state(checkpoint_dir: str, latest_filename: str | None = None):
    """The ``CheckpointState`` of ``checkpoint_dir`` (paths made absolute), or None."""
    path = os.path.join(checkpoint_dir, latest_filename or "checkpoint")
    if not os.path.exists(path):
        return None
    fields: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            key, _, value = line.partition(":")
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = None
            if not isinstance(parsed, str):
                raise ValueError(f"{path}:{number}: not a checkpoint state line: {line!r}")
            fields.setdefault(key.strip(), []).append(parsed)
    if "model_checkpoint_path" not in fields:
        raise ValueError(f"{path} names no model_checkpoint_path")
    base = os.path.abspath(checkpoint_dir)
    paths = [os.path.join(base, p) for p in fields.get("all_model_checkpoint_paths", [])]
    return CheckpointState(os.path.join(base, fields["model_checkpoint_path"][-1]), paths)


def latest_checkpoint(checkpoint_dir: str, latest_filename: str | None = None):
    """Prefix of the newest checkpoint in ``checkpoint_dir`` whose data exists, else None."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None or not os.path.exists(state.model_checkpoint_path + DATA_SUFFIX):
        return None
    return state.model_checkpoint_path


# -- meta graphs -------------------------------------------------------------------------------


def import_meta_graph(meta_graph_or_file, import_scope: str | None = None):
    """Rebuild a meta graph (dict or ``.meta.json`` path) in the default graph; returns a
    Saver over the imported variables under their checkpoint names (None without any)."""
    meta = meta_graph_or_file
    if not isinstance(meta, dict):
        with open(meta_graph_or_file, encoding="utf-8") as f:
            meta = json.load(f)
    if meta.get("format") != META_FORMAT:
        raise ValueError(f"not a minigraph meta graph (expected format {META_FORMAT!r})")
    names = meta["saver"]["variables"]
    found = graph_io.import_graph_def(meta["graph_def"], name=import_scope or "",
                                      return_elements=list(names.values()))
    if not names:
        return None
    return Saver(var_list=dict(zip(names, found)))


__all__ = ["Saver", "CheckpointState", "get_checkpoint_state", "latest_checkpoint",
           "import_meta_graph", "read_checkpoint"]
