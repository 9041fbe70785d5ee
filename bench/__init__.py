"""Benchmark suite: minigraph against NumPy and the installed peers (``python -m bench``)."""
