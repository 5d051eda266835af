"""Benchmark scenarios; ``scripts/bench.py`` finds every module here with ``SCENARIOS``."""
