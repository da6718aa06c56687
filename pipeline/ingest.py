"""Gather every input file (the embedded default data and the inbox), read each, keep what fails."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline import schema
from pipeline.schema import InputError, ReadResult

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = [ROOT / "data" / "default" / "figures.csv"]
BULK_WORKERS = 2  # bulk files loaded at once (see ingest_into)
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


def ingest_into(con, paths: list[Path], *, bulk_min_bytes: int | None = None) -> pd.DataFrame:
    """Read every file into the warehouse tables `observations` and `rejected_observations` (replaced);
    returns one row per file for `ingest_files`.

    A large plain CSV whose reader can state its mapping in SQL takes the bulk route
    (pipeline/sources/bulk.py: DuckDB parses and checks it, no row passes through Python); every other
    file the exact route (its reader, then base.finalize, in pandas). Both give the same rows and the same
    rejections. The observations are stored file by file (a bulk file's rows in no particular order:
    `ingest_row` keeps each one's line); an obs_id seen in several files is kept once, from the last file
    that has it (`_drop_repeats`).
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from pipeline import warehouse
    from pipeline.sources import bulk
    from pipeline.sources.detect import detect, read_path
    from pipeline.warehouse import create_base_tables

    create_base_tables(con)
    # each file's route, from its head: a large plain CSV whose reader has a bulk mapping goes to DuckDB;
    # the others are read in pandas (one core, holding the GIL), one file ahead in a thread while
    # DuckDB works on the bulk files (which releases it), and stored in their turn
    plan = []
    for path in paths:
        scan = bulk.prescan(path, min_bytes=bulk_min_bytes)
        reader = None
        if scan is not None:
            try:
                reader = detect(bulk.sniff_of(scan))
            except InputError:
                reader = None  # the exact route gives the message
        plan.append((path, scan, reader if reader is not None and hasattr(reader, "bulk_spec") else None))
    exact_next = [i for i, (_, _, reader) in enumerate(plan) if reader is None]
    ahead: dict[int, object] = {}
    reading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exact-read")

    def read_ahead() -> None:
        if exact_next and not ahead:
            i = exact_next.pop(0)
            ahead[i] = reading.submit(_read, plan[i][0], read_path)

    read_ahead()
    files, spans = [], []  # spans: the table of each file's observations and their rowids there
    # each file's set-aside rows, stored after _drop_repeats, which may add a bulk file's repeated rows to them
    deferred: list[list[pd.DataFrame]] = []
    # Bulk files load two at a time, each on a cursor of its own, while this thread takes the files in
    # order: one file's Python and single-threaded steps then leave the cores to the other's DuckDB work
    # (the 5 ACLED files of the 5M benchmark: 9.6-9.8 s against 9.8-11.4 s one at a time). Each file has
    # its own table, and its set-aside rows come back as a frame, appended here in file order, so the
    # warehouse is the same either way.
    scans = ThreadPoolExecutor(max_workers=BULK_WORKERS, thread_name_prefix="scan-body")
    loads = ThreadPoolExecutor(max_workers=BULK_WORKERS, thread_name_prefix="bulk-load")
    local, cursors, guard = threading.local(), [], threading.Lock()
    loading: dict[int, object] = {}

    def load(i: int, path: Path, scan, reader):
        cur = getattr(local, "cur", None)
        if cur is None:
            cur = local.cur = con.cursor()
            with guard:
                cursors.append(cur)
        rejected: list[pd.DataFrame] = []
        summary = bulk.load(cur, scan, reader, scans.submit(bulk.scan_body, path),
                            table=f"{warehouse.BULK_PREFIX}{i}", rejected=rejected)
        return summary, rejected

    try:
        loading.update({i: loads.submit(load, i, path, scan, reader) for i, (path, scan, reader) in enumerate(plan)
                        if reader is not None})
        for i, (path, scan, reader) in enumerate(plan):
            start = _next_rowid(con)
            summary = None
            if i in loading:
                summary, rejected = loading.pop(i).result()
                if summary is not None:
                    deferred.append(rejected)
            if summary is None:  # not tried in bulk, or the bulk route declined it: one list a file either way
                future = ahead.pop(i, None)
                outcome = future.result() if future is not None else _read(path, read_path)
                read_ahead()
                deferred.append([])
                summary = _exact(con, path, outcome, deferred[-1])
            files.append(summary)
            spans.append((summary.get("table") or "observations", start, _next_rowid(con)))
    finally:
        for future in loading.values():
            future.cancel()
        loads.shutdown(wait=True)  # no cursor is closed under a running load
        reading.shutdown(cancel_futures=True)
        scans.shutdown(cancel_futures=True)
        for cur in cursors:
            cur.close()
    _drop_repeats(con, files, spans, deferred)
    for frames in deferred:  # in file order, each file's in line order
        for frame in frames:
            _append(con, "rejected_observations", frame)
    branches = [f["branch"] for f in files if f.get("branch")]
    if branches:  # the view over the exact route's rows and each bulk file's own table
        warehouse.run(con, f"ALTER TABLE observations RENAME TO {warehouse.EXACT_TABLE}")
        warehouse.run(con, f"CREATE VIEW observations AS SELECT * FROM {warehouse.EXACT_TABLE} UNION ALL "
                           + " UNION ALL ".join(branches))
    frame = pd.DataFrame(files, columns=["file", "format", "rows_read", "rows_accepted", "rows_rejected", "error",
                                         "sha256", "duplicate_ids", "rows_replaced"])
    for c in ("duplicate_ids", "rows_replaced"):
        frame[c] = frame[c].fillna(0).astype(int)
    return frame


def _next_rowid(con) -> int:
    return con.execute("SELECT coalesce(max(rowid), -1) + 1 FROM observations").fetchall()[0][0]


def _read(path: Path, read_path) -> ReadResult | InputError:
    """The exact route's reading of one file: its ReadResult, or the InputError that says why not."""
    try:
        return read_path(path)
    except InputError as exc:
        return exc


def _exact(con, path: Path, outcome: ReadResult | InputError, rejected: list) -> dict:
    """One file read by its reader in pandas (`_read`): its rows appended to `observations`, its set-aside
    rows to `rejected` (a frame, for the caller to store)."""
    if isinstance(outcome, InputError):
        exc = outcome
        # a table rule, not a row rule: the blocking check fails on it (pipeline/expectations/ingest_files.py)
        rule = "missing_column" if "missing" in str(exc) and "column" in str(exc) else "unreadable"
        rejected.append(pd.DataFrame([{
            "file": path.name, "line": None, "column_name": None, "rule": rule, "message": str(exc), "value": None,
            "format": None, "ingest_sha256": None}], columns=REJECTED_COLUMNS).astype({"line": "Int64"}))
        return {"file": path.name, "format": None, "rows_read": 0, "rows_accepted": 0, "rows_rejected": 0,
                "error": str(exc), "sha256": None, "duplicate_ids": 0}
    result = outcome
    obs = result.observations
    # the reader hashed the file already (every observation carries it): hash it again only if none
    sha = str(obs["ingest_sha256"].iloc[0]) if len(obs) else schema.file_sha256(path)
    rej = pd.DataFrame([{"file": path.name, "line": r.line, "column_name": r.column, "rule": r.rule,
                         "message": r.message, "value": r.value, "format": result.format, "ingest_sha256": sha}
                        for r in result.rejected], columns=REJECTED_COLUMNS).astype({"line": "Int64"})
    if len(obs):
        _append(con, "observations", obs)
    if len(rej):
        rejected.append(rej)
    return {"file": path.name, "format": result.format, "rows_read": result.rows_read,
            "rows_accepted": result.rows_accepted, "rows_rejected": result.rows_rejected, "error": None,
            "sha256": sha, "duplicate_ids": 0}


def _append(con, table: str, frame: pd.DataFrame) -> None:
    con.register("_append_frame", frame)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM _append_frame").fetchall()
    finally:
        con.unregister("_append_frame")


def _drop_repeats(con, files: list[dict], spans: list[tuple[str, int, int]], rejected: list[list]) -> None:
    """Set aside a bulk file's rows that only repeat an earlier row of it (the exact route's reader does so
    in read_path), count each file's repeated obs_ids (the source's key on two rows of one file that
    differ: a table rule the blocking check fails on), then keep every obs_id once, at its row in the last
    file that has it (the same file dropped twice, or a figure re-delivered, is kept once; a record revised
    in a later export keeps the revision). One aggregation when nothing repeats, as is usual.

    spans: per file, the table holding its rows (`observations`, or the file's own bulk table) and the
    range of rowids they took there. rejected: per file, its set-aside rows (frames), not yet stored."""
    from pipeline.sources.bulk import q as _q

    tables = list(dict.fromkeys(t for t, _, _ in spans))
    every = " UNION ALL ".join(f"SELECT obs_id, {k} AS t, rowid AS r, ingest_row FROM {_q(t)}"
                               for k, t in enumerate(tables))
    # grouping 64-bit hashes is about twice as fast as grouping the id strings; only ids whose hash repeats
    # are then grouped exactly. NOT MATERIALIZED: DuckDB would otherwise store `every` (it is read three
    # times), 5 million rows, to read back a handful (0.51-0.62 s -> 0.34 s on the 5M benchmark)
    found = con.execute(f"WITH every AS NOT MATERIALIZED ({every}), "
                        "h AS (SELECT hash(obs_id) AS h FROM every GROUP BY h HAVING count(*) > 1), "
                        "ids AS (SELECT obs_id FROM every WHERE hash(obs_id) IN (SELECT h FROM h) "
                        "GROUP BY obs_id HAVING count(*) > 1) "
                        "SELECT obs_id, t, r, ingest_row FROM every WHERE obs_id IN (SELECT obs_id FROM ids)"
                        ).fetchall()
    if not found:
        return

    def file_of(t: int, rowid: int) -> int:
        # a bulk table holds one file; in `observations` files are appended one after another, each a
        # contiguous range of rowids (within a bulk file the parallel insert need not keep line order, so
        # "first" is by line)
        return next(i for i, (table, start, end) in enumerate(spans)
                    if table == tables[t] and (table != "observations" or start <= rowid < end))

    # the row kept: the last file's (files come in name order, so of exports named by date the newest: ACLED
    # revises an event in place under its id), its first line there
    found = _set_aside_bulk_repeats(con, files, tables, found, file_of, rejected)
    found = sorted((obs_id, -file_of(t, rowid), line if line is not None else -1, t, rowid)
                   for obs_id, t, rowid, line in found)
    per_file: dict[tuple[int, str], int] = {}
    later: dict[int, list[int]] = {}
    replaced: dict[int, set] = {}  # per file, the lines whose record a later file carries
    previous = kept_in = None
    for obs_id, last_first, line, t, rowid in found:
        i = -last_first
        per_file[(i, obs_id)] = per_file.get((i, obs_id), 0) + 1
        if obs_id == previous:
            later.setdefault(t, []).append(rowid)
            if i != kept_in:
                replaced.setdefault(i, set()).add(line)
        else:
            kept_in = i
        previous = obs_id
    for i, lines in replaced.items():
        files[i]["rows_replaced"] = len(lines)
    for (i, _), n in per_file.items():
        if n > 1:
            files[i]["duplicate_ids"] = files[i].get("duplicate_ids", 0) + n
    for t, rowids in later.items():
        con.register("_later", pd.DataFrame({"r": rowids}))
        con.execute(f"DELETE FROM {_q(tables[t])} WHERE rowid IN (SELECT r FROM _later)").fetchall()
        con.unregister("_later")


def _set_aside_bulk_repeats(con, files, tables, found, file_of, rejected) -> list:
    """Of the rows whose obs_id repeats (`found`: obs_id, table index, rowid, line), those of a bulk file that
    repeat an earlier row of the same file in every value are deleted and set aside, with that file's other
    rejections in line order; returns the rest of `found`."""
    from pipeline.sources.bulk import q as _q
    from pipeline.sources.detect import REPEAT_RULE, repeat_message, repeated_rows

    groups: dict[tuple[int, str], list[int]] = {}
    for obs_id, t, rowid, _ in found:
        if tables[t] != "observations":
            groups.setdefault((t, obs_id), []).append(rowid)
    gone: set[tuple[int, int]] = set()
    for t in sorted({t for (t, _), rowids in groups.items() if len(rowids) > 1}):
        rowids = [r for (u, _), rs in groups.items() if u == t and len(rs) > 1 for r in rs]
        con.register("_maybe", pd.DataFrame({"r": rowids}))
        rows = con.execute(f"SELECT rowid AS _r, * FROM {_q(tables[t])} WHERE rowid IN (SELECT r FROM _maybe)").df()
        con.unregister("_maybe")
        later = repeated_rows(rows.drop(columns="_r"))
        if not later:
            continue
        doomed = rows.loc[rows["ingest_row"].isin(list(later)), "_r"].astype("int64").tolist()
        con.register("_later", pd.DataFrame({"r": doomed}))
        con.execute(f"DELETE FROM {_q(tables[t])} WHERE rowid IN (SELECT r FROM _later)").fetchall()
        con.unregister("_later")
        gone.update((t, r) for r in doomed)
        i = file_of(t, doomed[0])
        f = files[i]
        frame = pd.DataFrame([(f["file"], line, None, REPEAT_RULE, repeat_message("line", first), None, f["format"],
                               f["sha256"]) for line, first in sorted(later.items())], columns=REJECTED_COLUMNS)
        merged = pd.concat([*rejected[i], frame], ignore_index=True)
        merged = merged.assign(_c=merged["column_name"].fillna("")).sort_values(["line", "_c"], kind="stable")
        rejected[i] = [merged.drop(columns="_c").reset_index(drop=True)]
        f["rows_accepted"] -= len(later)
        f["rows_rejected"] += len(later)
    return [row for row in found if (row[1], row[2]) not in gone]


def ingest(paths: list[Path], *, bulk_min_bytes: int | None = None) -> Ingested:
    """ingest_into an in-memory DuckDB, returned as frames (observations sorted by obs_id): for tests and
    for `displacement validate`, which check files without a warehouse."""
    import duckdb

    con = duckdb.connect()
    try:
        files = ingest_into(con, paths, bulk_min_bytes=bulk_min_bytes)
        obs = schema.conform(con.execute("SELECT * FROM observations ORDER BY obs_id").df())
        rej = con.execute(f"SELECT {', '.join(REJECTED_COLUMNS)} FROM rejected_observations ORDER BY rowid").df()
    finally:
        con.close()
    rej = rej.astype({"line": "Int64"})
    for c in REJECTED_COLUMNS:
        if c != "line":
            rej[c] = rej[c].astype(object).where(rej[c].notna(), None)
    return Ingested(obs, rej, files)
