"""Gather every input file (the embedded default data and the inbox), read each, keep what fails."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import schema
from pipeline.schema import InputError, ReadResult

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = [ROOT / "data" / "default" / "figures.csv"]
REJECTED_COLUMNS = ["file", "line", "column_name", "rule", "message", "value", "format", "ingest_sha256"]


def inbox_dir() -> Path:
    return Path(os.environ.get("DISPLACEMENT_INBOX", ROOT / "data" / "inbox"))


def input_files(inbox: Path | None = None) -> list[Path]:
    """The default facts, then every file in the inbox (sorted, so runs are reproducible)."""
    inbox = inbox or inbox_dir()
    extra = sorted(p for p in inbox.glob("*") if p.is_file() and not p.name.startswith(".") and p.name != "README.md") \
        if inbox.exists() else []
    return DEFAULT_FILES + extra


@dataclass
class Ingested:
    observations: pd.DataFrame
    rejected: pd.DataFrame
    files: pd.DataFrame  # one row per file: format, rows read/accepted/rejected, error


def ingest(paths: list[Path]) -> Ingested:
    from pipeline.sources.detect import read_path

    frames, rejected, files = [], [], []
    for path in paths:
        try:
            result: ReadResult = read_path(path)
        except InputError as exc:
            # a table rule, not a row rule: the blocking check fails on it (pipeline/expectations/ingest_files.py)
            rule = "missing_column" if "missing" in str(exc) and "column" in str(exc) else "unreadable"
            files.append({"file": path.name, "format": None, "rows_read": 0, "rows_accepted": 0,
                          "rows_rejected": 0, "error": str(exc), "sha256": None, "duplicate_ids": 0})
            rejected.append({"file": path.name, "line": None, "column_name": None, "rule": rule,
                             "message": str(exc), "value": None, "format": None, "ingest_sha256": None})
            continue
        frames.append(result.observations)
        # rows of one file sharing an obs_id: the source's own key repeated (a table rule); the same id in
        # two files is a re-delivery and is kept once below
        duplicate_ids = int(result.observations["obs_id"].duplicated(keep=False).sum())
        # the reader hashed the file already (every observation carries it): hash it again only if none
        sha = (str(result.observations["ingest_sha256"].iloc[0]) if len(result.observations)
               else schema.file_sha256(path))
        for r in result.rejected:
            rejected.append({"file": path.name, "line": r.line, "column_name": r.column, "rule": r.rule,
                             "message": r.message, "value": r.value, "format": result.format, "ingest_sha256": sha})
        files.append({"file": path.name, "format": result.format, "rows_read": result.rows_read,
                      "rows_accepted": result.rows_accepted, "rows_rejected": result.rows_rejected,
                      "error": None, "sha256": sha, "duplicate_ids": duplicate_ids})
    obs = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (
        frames[0] if frames else schema.empty_observations())
    del frames
    # the same file dropped twice (or a figure re-delivered) has the same obs_id: keep it once
    repeated = obs["obs_id"].duplicated(keep="first")
    if repeated.any():
        obs = obs.loc[~repeated]
    obs = sort_by_obs_id(obs)
    rej = pd.DataFrame(rejected, columns=REJECTED_COLUMNS).astype({"line": "Int64"})
    return Ingested(schema.conform(obs), rej, pd.DataFrame(files))


def sort_by_obs_id(obs: pd.DataFrame) -> pd.DataFrame:
    """obs sorted by obs_id (unique), as sort_values would; obs_ids are 20 hex digits, which numpy sorts
    as fixed-width bytes several times faster than pandas sorts Python strings."""
    ids = obs["obs_id"]
    if ids.isna().any():
        return obs.sort_values("obs_id", kind="stable")
    if ids.is_monotonic_increasing:
        return obs
    try:
        order = np.argsort(np.asarray(ids.to_numpy(dtype=object), dtype="S20"), kind="stable")
        fixed = True
    except (UnicodeEncodeError, TypeError, ValueError):
        fixed = False
    if not fixed or ids.str.len().max() > 20:  # not ids made by schema.make_obs_id: sort them as text
        return obs.sort_values("obs_id", kind="stable")
    return obs.take(order)
