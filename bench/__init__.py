"""Benchmark of the whole pipeline on synthetic inputs (never published): `make bench ROWS=N`."""
