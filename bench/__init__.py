"""Benchmarks run by `make bench`: every bench/bench_*.py with a main() is run in turn."""
