"""Benchmarks: `make bench` (see __main__.py for the method)."""
