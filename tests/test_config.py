"""Configuration: the JSON config file, then MINIGRAPH_BACKEND, then MINIGRAPH_FLAGS."""
import json
import os
import subprocess
import sys

import pytest

from minigraph.config import _Config, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOW = ("import minigraph as mg; c = mg.config; "
        "print(c.floatX, c.epsilon, c.image_data_format, getattr(c, 'backend', '-'), "
        "mg.constant(1.5).dtype, mg.backends.default_backend())")


def _env(home, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MINIGRAPH_FLAGS", "MINIGRAPH_CONFIG", "MINIGRAPH_BACKEND")}
    env.update(HOME=str(home), PYTHONPATH=ROOT, **extra)
    return env


def _python(code, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=ROOT)


def _write(path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))


def test_the_home_config_file_is_read_at_import_and_the_environment_overrides_it(tmp_path):
    _write(tmp_path / ".minigraph" / "minigraph.json",
           {"floatX": "float64", "epsilon": 1e-4, "image_data_format": "channels_first",
            "backend": "numpy"})
    out = _python(SHOW, _env(tmp_path))
    assert out.stdout.split() == ["float64", "0.0001", "channels_first", "numpy", "float64",
                                  "numpy"], out.stderr
    flags = _python(SHOW, _env(tmp_path, MINIGRAPH_FLAGS="floatX=float32,epsilon=0.01"))
    assert flags.stdout.split()[:2] == ["float32", "0.01"], flags.stderr


def test_an_invalid_file_stops_the_import_with_an_error_naming_it(tmp_path):
    path = tmp_path / "custom.json"
    _write(path, {"floatX": "float8"})
    out = _python("import minigraph", _env(tmp_path, MINIGRAPH_CONFIG=str(path)))
    assert out.returncode != 0
    assert f"minigraph config file '{path}': floatX must be one of" in out.stderr


def test_no_file_gives_the_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = load_config({})
    assert (config.floatX, config.epsilon, config.image_data_format, config.debug) == (
        "float32", 1e-7, "channels_last", False)
    assert not hasattr(config, "backend") and config.config_file is None


def test_minigraph_config_names_another_file_and_keras_spelling_works(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _write(tmp_path / ".minigraph" / "minigraph.json", {"epsilon": 0.5})
    other = tmp_path / "other.json"
    _write(other, {"floatx": "float16"})
    config = load_config({"MINIGRAPH_CONFIG": str(other)})
    assert config.floatX == "float16" and config.epsilon == 1e-7
    assert config.config_file == str(other)
    assert config.sources["floatX"] == f"minigraph config file '{other}'"


def test_priority_file_then_backend_variable_then_flags(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _write(tmp_path / ".minigraph" / "minigraph.json", {"backend": "numba"})
    assert load_config({}).backend == "numba"
    assert load_config({"MINIGRAPH_BACKEND": "numpy"}).backend == "numpy"
    both = load_config({"MINIGRAPH_BACKEND": "numpy", "MINIGRAPH_FLAGS": "backend=numba,debug"})
    assert both.backend == "numba" and both.debug and both.sources["backend"] == "MINIGRAPH_FLAGS"


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ({"floatx": "int32"}, "floatX must be one of float16, float32, float64, got 'int32'"),
    ({"epsilon": -1}, "epsilon must be a positive number, got -1"),
    ({"epsilon": "small"}, "epsilon must be a positive number"),
    ({"epsilon": True}, "epsilon must be a positive number"),
    ({"image_data_format": "NHWC"}, "image_data_format must be 'channels_last' or"),
    ({"backend": 3}, "backend must be a backend name"),
    ({"floatX": "float32", "flaotX": "float64"}, r"unknown keys \['flaotX'\]"),
])
def test_invalid_config_files_raise_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    _write(path, content)
    with pytest.raises(ValueError, match=message) as info:
        load_config({"MINIGRAPH_CONFIG": str(path)})
    assert str(path) in str(info.value)


def test_environment_errors_name_the_variable(tmp_path):
    with pytest.raises(ValueError, match="MINIGRAPH_CONFIG names .* which does not exist"):
        load_config({"MINIGRAPH_CONFIG": str(tmp_path / "missing.json")})
    with pytest.raises(ValueError, match="MINIGRAPH_FLAGS: epsilon must be a positive number"):
        _Config("epsilon=0")
    with pytest.raises(ValueError, match="MINIGRAPH_FLAGS: floatX must be"):
        _Config("floatX=float128")
    with pytest.raises(ValueError, match="MINIGRAPH_BACKEND: backend must be"):
        _Config("", backend=" ")


def test_an_empty_file_is_fine(tmp_path):
    path = tmp_path / "empty.json"
    _write(path, "")
    assert load_config({"MINIGRAPH_CONFIG": str(path)}).floatX == "float32"
