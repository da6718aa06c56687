"""Readers: one module per real publisher format, pure functions, no Dagster inside.

Each reader module exposes `FORMAT` (a short name), `detect(sniff) -> bool` (by content, never
by file name) and `read(sniff) -> ReadResult`. `detect.read_path` picks the reader for a file.
"""
