"""Global settings: a JSON config file, then the environment, read once at import.

Sources, lowest priority first (as Keras reads ``~/.keras/keras.json`` and then
``KERAS_BACKEND``):

1. the config file ``~/.minigraph/minigraph.json`` (or the path in ``MINIGRAPH_CONFIG``), a JSON
   object with any of the keys ``floatX`` (Keras's spelling ``floatx`` also works),
   ``backend``, ``epsilon`` and ``image_data_format``; a missing default file is fine, a
   missing ``MINIGRAPH_CONFIG`` file is an error;
2. ``MINIGRAPH_BACKEND`` (the ``KERAS_BACKEND`` of minigraph);
3. ``MINIGRAPH_FLAGS``, e.g. ``floatX=float64,backend=numpy,debug``, which wins over both.
   Device flags: ``device=cuda`` runs sessions and functions on the GPU (the ``cupy``
   backend; ``device=cpu`` is the default); where no GPU is usable that is an error unless
   ``allow_fallback=True`` (then a warning and the CPU). ``host_ops=True`` lets the GPU
   backend run ops it has no kernel for through their NumPy reference on the host (with a
   warning); ``cuda_graphs=False`` stops it replaying training steps as CUDA graphs.

Invalid values raise ``ValueError`` naming where they came from (the file's path, or the
environment variable).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

FLOAT_TYPES = ("float16", "float32", "float64")
IMAGE_DATA_FORMATS = ("channels_last", "channels_first")
FILE_KEYS = ("floatX", "backend", "epsilon", "image_data_format")
DEVICES = {"cpu": "cpu", "cuda": "cuda", "gpu": "cuda"}
BOOL_FLAGS = ("allow_fallback", "host_ops", "cuda_graphs")
_TRUE, _FALSE = ("", "1", "true", "yes", "on"), ("0", "false", "no", "off")
_KEY_ALIASES = {"floatx": "floatX"}


class _Config:
    """Mutable configuration: ``floatX`` (default float dtype name), ``epsilon`` (fuzz factor
    of the Keras-style backend), ``image_data_format``, ``debug``, ``device`` (``cpu`` or
    ``cuda``) and the boolean ``BOOL_FLAGS``; ``backend`` exists only when some source names
    one (``minigraph.backends.default_backend`` picks otherwise).
    ``sources`` says where each validated setting came from; ``config_file`` is the file read
    (``None`` when there was none)."""

    def __init__(self, flags: str = "", file_values: dict | None = None,
                 file_source: str = "config file", backend: str | None = None):
        self.floatX = "float32"
        self.epsilon = 1e-7
        self.image_data_format = "channels_last"
        self.debug = False
        self.device = "cpu"
        self.allow_fallback = self.host_ops = False
        self.cuda_graphs = True
        self.sources: dict[str, str] = {}
        self.config_file: str | None = None
        for key, value in (file_values or {}).items():
            self._set(key, value, file_source)
        if backend is not None:
            self._set("backend", backend, "MINIGRAPH_BACKEND")
        for item in filter(None, (part.strip() for part in flags.split(","))):
            key, _, value = item.partition("=")
            if key == "debug":
                self.debug = value in ("", "1", "true", "True")
            elif key in FILE_KEYS or key == "device" or key in BOOL_FLAGS:
                self._set(key, value, "MINIGRAPH_FLAGS")
            else:
                setattr(self, key, value or True)

    def _set(self, key: str, value, source: str) -> None:
        """Validate one setting and store it; errors name ``source``."""
        if key == "floatX":
            if value not in FLOAT_TYPES:
                raise ValueError(f"{source}: floatX must be one of {', '.join(FLOAT_TYPES)}, "
                                 f"got {value!r}")
        elif key == "epsilon":
            value = _positive_float(value, source)
        elif key == "image_data_format":
            if value not in IMAGE_DATA_FORMATS:
                raise ValueError(f"{source}: image_data_format must be 'channels_last' or "
                                 f"'channels_first', got {value!r}")
        elif key == "backend":
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{source}: backend must be a backend name such as 'numba' "
                                 f"or 'numpy', got {value!r}")
            value = value.strip()
        elif key == "device":
            if str(value).lower() not in DEVICES:
                raise ValueError(f"{source}: device must be 'cpu' or 'cuda', got {value!r}")
            value = DEVICES[str(value).lower()]
        elif key in BOOL_FLAGS:
            value = _flag(key, value, source)
        setattr(self, key, value)
        self.sources[key] = source


def _flag(key: str, value, source: str) -> bool:
    """A boolean flag: ``key`` alone or ``=1/true/yes/on`` is on, ``=0/false/no/off`` off."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{source}: {key} must be True or False, got {value!r}")


def _positive_float(value, source: str) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if not number > 0 or number == float("inf"):
        raise ValueError(f"{source}: epsilon must be a positive number, got {value!r}")
    return number


def config_path(environ=os.environ) -> tuple[Path, bool]:
    """The config file to read and whether it was named explicitly (``MINIGRAPH_CONFIG``)."""
    named = environ.get("MINIGRAPH_CONFIG")
    if named:
        return Path(named).expanduser(), True
    return Path("~/.minigraph/minigraph.json").expanduser(), False


def read_config_file(path: Path, required: bool) -> dict:
    """The settings in the JSON file at ``path`` (keys normalised); ``{}`` when an optional
    file is missing. Raises ``ValueError`` naming the file for anything it cannot use."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ValueError(f"MINIGRAPH_CONFIG names {str(path)!r}, which does not exist")
        return {}
    except OSError as err:
        raise ValueError(f"minigraph config file {str(path)!r} cannot be read: {err}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as err:
        raise ValueError(f"minigraph config file {str(path)!r} is not valid JSON: {err}") \
            from None
    if not isinstance(data, dict):
        raise ValueError(f"minigraph config file {str(path)!r} must hold a JSON object such as "
                         f'{{"floatX": "float32"}}, got {type(data).__name__}')
    unknown = sorted(k for k in data if _KEY_ALIASES.get(k, k) not in FILE_KEYS)
    if unknown:
        raise ValueError(f"minigraph config file {str(path)!r}: unknown keys {unknown}; "
                         f"known keys: {list(FILE_KEYS)}")
    return {_KEY_ALIASES.get(k, k): v for k, v in data.items()}


def load_config(environ=os.environ) -> _Config:
    """The configuration from the config file and the environment (see the module docstring)."""
    path, required = config_path(environ)
    values = read_config_file(path, required)
    source = f"minigraph config file {str(path)!r}"
    config = _Config(environ.get("MINIGRAPH_FLAGS", ""), values, source,
                     environ.get("MINIGRAPH_BACKEND"))
    config.config_file = str(path) if path.is_file() else None
    return config


config = load_config()
