"""Benchmarks (`make bench`, `python -m bench [NAME ...] [--quick]`): figures, not tests."""
