"""Benchmarks of the platform (not part of the test suite); see ``python -m bench --help``."""
