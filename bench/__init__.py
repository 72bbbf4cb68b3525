"""Benchmarks: ``python -m bench NAME [--quick]`` prints a table, then one JSON line of figures."""
