"""Model files for the Keras-style backend: architecture as JSON (``model_to_json`` /
``model_from_json``, the versioned graph_def of ``graph_io``) and weights (``save_weights`` /
``load_weights``).

A weights file holds one array per variable, keyed by the variable's name (``dense/kernel``):
``.npz`` (NumPy's zip of ``.npy`` arrays, always available) or ``.h5`` / ``.hdf5`` (one dataset
per variable; needs the optional ``h5py`` package). Next to it, ``<stem>.json`` describes the
contents (``{"format": "minigraph-weights", "version": 1, "weights": [{"name", "shape",
"dtype"}]}``) so a file can be checked without loading it. Loading matches variables by name
and refuses missing or (unless ``strict=False``) unexpected names, other shapes and other
dtypes, with errors naming the file and the variable.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "minigraph-weights"
VERSION = 1
_H5_SUFFIXES = (".h5", ".hdf5")


def sidecar_path(path) -> Path:
    """The JSON description written next to the weights file at ``path``."""
    return Path(path).with_suffix(".json")


def save_weights(path, variables=None) -> None:
    """Write the values of ``variables`` (default: the default graph's global variables) to
    ``path`` (``.npz``, or ``.h5`` with h5py) and the JSON sidecar; the file is replaced only
    once completely written."""
    from . import backend as K

    variables = _variables(variables)
    names = _names(variables)
    arrays = dict(zip(names, (np.array(v, order="C") for v in K.batch_get_value(variables))))
    kind = _kind(path)
    partial = f"{path}.partial"
    try:
        (_write_h5 if kind == "h5" else _write_npz)(partial, arrays)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    meta = {"format": FORMAT, "version": VERSION, "file": Path(path).name,
            "weights": [{"name": n, "shape": list(a.shape), "dtype": a.dtype.name}
                        for n, a in arrays.items()]}
    sidecar_path(path).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def load_weights(path, variables=None, strict: bool = True) -> None:
    """Set ``variables`` (default: the default graph's global variables) from the weights file
    at ``path``, matched by name. Every variable must be in the file with the same shape and
    dtype; with ``strict`` (default) the file must hold nothing else. Nothing is written unless
    every check passes."""
    from . import backend as K

    variables = _variables(variables)
    stored = _read(path)
    _check_sidecar(path, stored)
    names = _names(variables)
    missing = [n for n in names if n not in stored]
    extra = [n for n in stored if n not in set(names)]
    if missing or (strict and extra):
        raise ValueError(f"weights file {str(path)!r} does not match the variables: "
                         f"missing {missing}, unexpected {extra if strict else []} "
                         "(load_weights(..., strict=False) ignores unexpected names)")
    for name, var in zip(names, variables):
        _check_value(path, name, stored[name], K.int_shape(var), np.dtype(var.dtype))
    K.batch_set_value([(v, stored[n]) for n, v in zip(names, variables)])


def model_to_json(graph=None) -> str:
    """The architecture of ``graph`` (default: the default graph) as JSON text: its graph_def
    (``minigraph/graph_io.py``), which ``model_from_json`` rebuilds in another process."""
    from .graph import get_default_graph

    return json.dumps((graph or get_default_graph()).as_graph_def())


def model_from_json(text: str, input_map=None, name: str = ""):
    """Rebuild an architecture saved by ``model_to_json`` in the default graph (variables
    included, initialised by ``global_variables_initializer`` or by ``load_weights``)."""
    from .graph_io import import_graph_def

    return import_graph_def(json.loads(text), input_map=input_map, name=name)


def _variables(variables) -> list:
    if variables is None:
        from .variables import global_variables

        return global_variables()
    return list(variables)


def _names(variables) -> list[str]:
    names = [v.node.name for v in variables]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"variables with the same name cannot share a weights file: "
                         f"{duplicates}")
    return names


def _kind(path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return "npz"
    if suffix in _H5_SUFFIXES:
        return "h5"
    raise ValueError(f"weights file {str(path)!r}: use a .npz path (or .h5 with h5py)")


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("saving or loading .h5 weights needs the optional h5py package "
                          "(pip install h5py); .npz files need nothing") from None
    return h5py


def _write_npz(path: str, arrays: dict) -> None:
    """An ``np.load``-readable zip of ``<name>.npy`` members (``np.savez`` would reject
    names such as ``file``)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _write_h5(path: str, arrays: dict) -> None:
    with _h5py().File(path, "w") as file:
        file.attrs["format"], file.attrs["version"] = FORMAT, VERSION
        for name, array in arrays.items():
            file.create_dataset(name, data=array)


def _read(path) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    if _kind(path) == "h5":
        h5py = _h5py()
        arrays: dict = {}
        with h5py.File(path, "r") as file:
            file.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                            if isinstance(item, h5py.Dataset) else None)
        return {k: np.asarray(v) for k, v in arrays.items()}
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"weights file {str(path)!r} is not a readable .npz file: {err}") \
            from None


def _check_sidecar(path, stored: dict) -> None:
    """The sidecar, when present, must describe exactly what the file holds."""
    side = sidecar_path(path)
    if not side.exists():
        return
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
        described = {w["name"]: (tuple(w["shape"]), w["dtype"]) for w in meta["weights"]}
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"weights description {str(side)!r} is malformed: {err!r}") from None
    actual = {n: (a.shape, a.dtype.name) for n, a in stored.items()}
    if described != actual:
        differ = sorted(n for n in described.keys() | actual.keys()
                        if described.get(n) != actual.get(n))
        raise ValueError(f"weights file {str(path)!r} and its description {str(side)!r} "
                         f"disagree about {differ}; the files do not belong together")


def _check_value(path, name: str, array: np.ndarray, shape, dtype: np.dtype) -> None:
    if shape is not None and (len(shape) != array.ndim or any(
            d is not None and d != s for d, s in zip(shape, array.shape))):
        raise ValueError(f"weights file {str(path)!r}: '{name}' has shape {array.shape}, but "
                         f"the variable has shape {shape}")
    if array.dtype != dtype:
        raise TypeError(f"weights file {str(path)!r}: '{name}' is {array.dtype}, but the "
                        f"variable is {dtype}")
