"""The DuckDB warehouse: load observations, run the SQL models in sql/ in dependency order.

Each file in sql/ makes the table it is named after and declares what it reads on its first line
(`-- depends: a, b`). Plain functions over a DuckDB connection, so tests need no Dagster.
"""

from __future__ import annotations

import os
import re
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb
import pandas as pd

from pipeline import schema

ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = ROOT / "sql"
DEFAULT_DIR = ROOT / "data" / "default"
BASE_TABLES = ("observations", "rejected_observations", "gazetteer", "key_events")


def warehouse_path() -> Path:
    return Path(os.environ.get("DISPLACEMENT_WAREHOUSE", ROOT / "data" / "warehouse.duckdb"))


def models(sql_dir: Path = SQL_DIR) -> dict[str, tuple[set[str], str]]:
    """name -> (dependencies, SQL text) for every model file."""
    out = {}
    for path in sorted(sql_dir.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        m = re.match(r"--\s*depends:\s*(.*)", text)
        deps = {d.strip() for d in m.group(1).split(",") if d.strip()} if m else set()
        out[path.stem] = (deps, text)
    return out


def model_order(sql_dir: Path = SQL_DIR) -> list[str]:
    graph = {name: deps - set(BASE_TABLES) for name, (deps, _) in models(sql_dir).items()}
    return list(TopologicalSorter(graph).static_order())


def run(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    """Execute and consume the result (DuckDB 2 refuses new work while a result is unfinished)."""
    return con.execute(sql, params or []).fetchall()


# A large file read by the bulk route keeps its rows in a table of its own holding only the columns that
# vary (pipeline/sources/bulk.py); `observations` is then a view: the other rows (table
# observations_exact) and each such table, its constant columns (source, metric, unit, file, ...) given
# once in the view. DuckDB spends about as long writing a column that repeats one value as one that
# varies: writing ACLED's 14 varying columns instead of all 32 halved the cost of storing 5 million rows.
EXACT_TABLE = "observations_exact"
BULK_PREFIX = "observations_bulk_"


def _stored_tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """observations, observations_exact and observations_bulk_<n> as they exist: name -> table type."""
    found = run(con, "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = current_schema() "
                     "AND (table_name = 'observations' OR table_name = ? OR starts_with(table_name, ?))",
                [EXACT_TABLE, BULK_PREFIX])
    return {name: kind for name, kind in found
            if not name.startswith(BULK_PREFIX) or name[len(BULK_PREFIX):].isdigit()}


def observation_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables that hold the observations: `observations` itself, or the tables its view reads."""
    found = _stored_tables(con)
    if found.get("observations") == "BASE TABLE":
        return ["observations"]
    bulk = sorted((n for n in found if n.startswith(BULK_PREFIX)), key=lambda n: int(n[len(BULK_PREFIX):]))
    return ([EXACT_TABLE] if EXACT_TABLE in found else []) + bulk


def create_base_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Empty `observations` (a table) and `rejected_observations`, replacing any before (a view over
    per-file tables included, and per-file tables a failed run left behind)."""
    for name, kind in _stored_tables(con).items():
        if name != "observations" or kind == "VIEW":
            run(con, f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {name}")
    run(con, schema.duckdb_ddl("observations"))
    run(con, "CREATE OR REPLACE TABLE rejected_observations (file VARCHAR, line BIGINT, column_name VARCHAR, "
             "rule VARCHAR, message VARCHAR, value VARCHAR, format VARCHAR, ingest_sha256 VARCHAR)")


def load_base_tables(con: duckdb.DuckDBPyConnection, observations: pd.DataFrame, rejected: pd.DataFrame) -> None:
    create_base_tables(con)
    canonical = list(observations.columns) == schema.COLUMN_NAMES and all(
        str(observations[name].dtype) == dtype for name, (dtype, _, _) in schema.COLUMNS.items())
    obs = observations if canonical else schema.conform(observations)  # ingest's frame is already canonical
    if not obs["obs_id"].is_monotonic_increasing:  # and already sorted: no second copy of a million rows
        obs = obs.sort_values("obs_id", kind="stable")
    con.register("obs_frame", obs)
    run(con, "INSERT INTO observations SELECT * FROM obs_frame")
    con.unregister("obs_frame")
    if len(rejected):
        con.register("rej_frame", rejected)
        run(con, "INSERT INTO rejected_observations SELECT file, line, column_name, rule, message, value, "
                    "format, ingest_sha256 FROM rej_frame")
        con.unregister("rej_frame")
    load_reference_tables(con)


def load_reference_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The embedded gazetteer and key events (data/default/), as tables."""
    for name in ("gazetteer", "key_events"):
        path = DEFAULT_DIR / f"{name}.csv"
        run(con, f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM read_csv(?, header = true, all_varchar = true)",
                    [str(path)])
    run(con, "CREATE OR REPLACE TABLE key_events AS SELECT CAST(date AS DATE) AS date, place, label, source_org, "
                "source_title, CAST(published_on AS DATE) AS published_on, source_url FROM key_events")


def run_models(con: duckdb.DuckDBPyConnection, names: list[str] | None = None) -> dict[str, int]:
    """Run the models (all, in order, or just `names` in order); return row counts."""
    all_models = models()
    counts = {}
    for name in model_order():
        if names is not None and name not in names:
            continue
        sql = all_models[name][1]
        _drop_if_other_kind(con, name, "VIEW" if re.search(r"CREATE\s+OR\s+REPLACE\s+VIEW", sql, re.I) else "BASE TABLE")
        run(con, sql)
        counts[name] = run(con, f"SELECT count(*) FROM {name}")[0][0]
    return counts


def _drop_if_other_kind(con: duckdb.DuckDBPyConnection, name: str, kind: str) -> None:
    """A model that changed from table to view (or back) replaces the old object of the other kind."""
    found = run(con, "SELECT table_type FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
                [name])
    if found and found[0][0] != kind:
        run(con, f"DROP {'VIEW' if found[0][0] == 'VIEW' else 'TABLE'} {name}")


def record_files(con: duckdb.DuckDBPyConnection, files: pd.DataFrame) -> None:
    """Per input file: format, rows read, accepted, rejected (they reconcile), obs_ids repeated within the
    file, accepted rows whose record a later file carries (kept from there), or why it was unreadable."""
    run(con, "CREATE OR REPLACE TABLE ingest_files (file VARCHAR, format VARCHAR, rows_read BIGINT, "
             "rows_accepted BIGINT, rows_rejected BIGINT, error VARCHAR, sha256 VARCHAR, duplicate_ids BIGINT, "
             "rows_replaced BIGINT)")
    if len(files):
        files = files.copy()
        for c in ("duplicate_ids", "rows_replaced"):
            if c not in files.columns:
                files[c] = 0
        con.register("files_frame", files)
        run(con, "INSERT INTO ingest_files SELECT file, format, rows_read, rows_accepted, rows_rejected, error, sha256, "
                 "duplicate_ids, rows_replaced FROM files_frame")
        con.unregister("files_frame")


VALIDATION_COLUMNS = ("run_id VARCHAR, suite VARCHAR, engine VARCHAR, expectation VARCHAR, column_name VARCHAR, "
                      "success BOOLEAN, unexpected_count BIGINT, sample VARCHAR, rows BIGINT, checked_at TIMESTAMP")


def _ensure_validation_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("validation_results", "validation_history"):
        have = [r[0] for r in run(con, "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                       "AND table_schema = current_schema() ORDER BY ordinal_position", [table])]
        if have and "run_id" not in have:  # a warehouse from before results carried their run
            run(con, f"DROP TABLE {table}")
        run(con, f"CREATE TABLE IF NOT EXISTS {table} ({VALIDATION_COLUMNS})")


def record_validation(con: duckdb.DuckDBPyConnection, result, run_id: str | None = None) -> None:
    """Keep a suite's results as data, one row per expectation: `validation_results` holds each suite's
    latest run (what the site shows), `validation_history` every run."""
    _ensure_validation_tables(con)
    engine = getattr(result, "engine", "duckdb")
    rows = [[run_id, result.suite, engine, r["expectation"], r["column"], bool(r["success"]),
             int(r["unexpected_count"]), r["sample"], int(result.rows)] for r in result.results]
    run(con, "DELETE FROM validation_results WHERE suite = ?", [result.suite])
    run(con, "DELETE FROM validation_history WHERE suite = ? AND run_id IS NOT DISTINCT FROM ?", [result.suite, run_id])
    if rows:  # one statement per table (executemany ran one INSERT per row: 0.17 s for 70 rows)
        frame = pd.DataFrame(rows, columns=["run_id", "suite", "engine", "expectation", "column_name", "success",
                                            "unexpected_count", "sample", "rows"]).astype(
            {"run_id": "object", "column_name": "object", "sample": "object"})
        con.register("_validation_rows", frame)
        try:
            for table in ("validation_results", "validation_history"):
                run(con, f"INSERT INTO {table} SELECT CAST(run_id AS VARCHAR), suite, engine, expectation, "
                         "CAST(column_name AS VARCHAR), success, unexpected_count, CAST(sample AS VARCHAR), rows, "
                         "current_timestamp FROM _validation_rows")
        finally:
            con.unregister("_validation_rows")


def last_good_rows(con: duckdb.DuckDBPyConnection, suite: str) -> int | None:
    """Rows the suite's table had in the last run whose check passed (None before the first)."""
    run(con, "CREATE TABLE IF NOT EXISTS validation_last_good (suite VARCHAR PRIMARY KEY, rows BIGINT, run_id VARCHAR, "
             "checked_at TIMESTAMP)")
    found = run(con, "SELECT rows FROM validation_last_good WHERE suite = ?", [suite])
    return int(found[0][0]) if found else None


def record_good_rows(con: duckdb.DuckDBPyConnection, suite: str, rows: int, run_id: str | None = None) -> None:
    last_good_rows(con, suite)  # creates the table
    run(con, "INSERT OR REPLACE INTO validation_last_good VALUES (?, ?, ?, current_timestamp)", [suite, rows, run_id])
