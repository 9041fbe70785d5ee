"""Global settings read once from ``MINIGRAPH_FLAGS`` (e.g. ``floatX=float64,debug``)."""
import os


class _Config:
    """Mutable configuration; ``floatX`` is the default float dtype name."""

    def __init__(self, flags: str):
        self.floatX = "float32"
        self.debug = False
        for item in filter(None, (part.strip() for part in flags.split(","))):
            key, _, value = item.partition("=")
            if key == "floatX":
                if value not in ("float16", "float32", "float64"):
                    raise ValueError(f"MINIGRAPH_FLAGS: floatX must be a float type, got {value!r}")
                self.floatX = value
            elif key == "debug":
                self.debug = value in ("", "1", "true", "True")
            else:
                setattr(self, key, value or True)


config = _Config(os.environ.get("MINIGRAPH_FLAGS", ""))
