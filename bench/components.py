"""What the pipeline cannot do without, measured on a benchmark workspace: a floor under `total_seconds`.

    .venv/bin/python -m bench.run --rows 5000000 --keep bench/out/r5m     # once: inputs + warehouse
    .venv/bin/python -m bench.components --work bench/out/r5m

Each step below is one the pipeline must take whatever else is made faster, timed alone in this process
(the GX import in a fresh interpreter, as every pipeline run pays it):

- floor: DuckDB counting the rows of the input files (bench.run's `floor_seconds`);
- parse: DuckDB reading each bulk file's needed columns into memory (the bulk route's first step,
  `pipeline.sources.bulk.load_raw`, without the quote and line checks that run beside it);
- persist: writing the warehouse's observations from memory into a new DuckDB file, as the pipeline
  stores them (a bulk file's rows in a table of their own, only the columns that vary);
  `persist_every_column_seconds` is the same rows written as one table of all 32 columns;
- gx_import: importing Great Expectations as the validation stage does (it runs GX on a sample);
- models: every sql/ model over a copy of the warehouse.

The last line printed is one JSON object: seconds per step, their sum, and each as a multiple of the
floor. Synthetic inputs only; nothing here writes outside the workspace and the temporary folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _parse_seconds(files: list[Path]) -> float:
    import duckdb

    from pipeline.sources import bulk
    from pipeline.sources.detect import detect

    con = duckdb.connect()
    took = 0.0
    for path in files:
        scan = bulk.prescan(path)
        if scan is None:
            continue
        reader = detect(bulk.sniff_of(scan))
        if not hasattr(reader, "bulk_spec"):
            continue
        started = time.perf_counter()
        bulk.load_raw(con, scan, getattr(reader, "BULK_COLUMNS", None))
        took += time.perf_counter() - started
        con.execute("DROP VIEW IF EXISTS _bulk_raw_lines").fetchall()
        con.execute("DROP TABLE IF EXISTS _bulk_raw").fetchall()
    con.close()
    return took


def _persist_seconds(warehouse: Path, scratch: Path) -> tuple[float, float, int]:
    """Seconds to write the observations as the warehouse stores them (each table under the view: a bulk
    file's own table holds only its varying columns), seconds to write them as one table of every
    canonical column, and the rows."""
    import duckdb

    from pipeline import warehouse as wh

    with duckdb.connect(str(warehouse), read_only=True) as src:
        tables = wh.observation_tables(src)
    con = duckdb.connect(str(scratch / "persist.duckdb"))
    con.execute("ATTACH ? AS w (READ_ONLY)", [str(warehouse)]).fetchall()
    con.execute("SET preserve_insertion_order = false").fetchall()
    took = 0.0
    for i, table in enumerate(tables):
        con.execute(f'CREATE TEMP TABLE mem{i} AS SELECT * FROM w."{table}"').fetchall()
        started = time.perf_counter()
        con.execute(f"CREATE TABLE stored{i} AS SELECT * FROM mem{i}").fetchall()
        con.execute("CHECKPOINT").fetchall()
        took += time.perf_counter() - started
        con.execute(f"DROP TABLE mem{i}").fetchall()
    con.execute("CREATE TEMP TABLE mem AS SELECT * FROM w.observations").fetchall()
    rows = con.execute("SELECT count(*) FROM mem").fetchall()[0][0]
    started = time.perf_counter()
    con.execute("CREATE TABLE every_column AS SELECT * FROM mem").fetchall()
    con.execute("CHECKPOINT").fetchall()
    wide = time.perf_counter() - started
    con.close()
    return took, wide, rows


def _gx_import_seconds() -> float:
    # as the validation stage imports it: the collector paused, scipy.stats left for first use
    code = ("import time, duckdb, pandas\n"
            "from pipeline.expectations import observations\n"
            "t = time.perf_counter()\n"
            "observations._import_gx()\n"
            "import great_expectations\n"
            "print(time.perf_counter() - t)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def _models_seconds(warehouse: Path, scratch: Path) -> float:
    import duckdb

    from pipeline import warehouse as wh

    copy = scratch / "models.duckdb"
    shutil.copy(warehouse, copy)
    con = duckdb.connect(str(copy))
    started = time.perf_counter()
    wh.run_models(con)
    took = time.perf_counter() - started
    con.close()
    return took


def components(work: Path) -> dict:
    from bench.run import floor_seconds

    files = sorted(p for p in (work / "inbox").iterdir() if p.name.startswith("SYNTHETIC_"))
    warehouse = work / "warehouse.duckdb"
    if not files or not warehouse.exists():
        raise SystemExit(f"{work}: no benchmark workspace here (make one with: python -m bench.run --keep {work})")
    floor, rows = floor_seconds(files)
    scratch = Path(tempfile.mkdtemp(prefix="displacement-components-"))
    try:
        parse = _parse_seconds(files)
        persist, wide, obs = _persist_seconds(warehouse, scratch)
        gx = _gx_import_seconds()
        models = _models_seconds(warehouse, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # ratios from the rounded figures printed, so that the line is consistent with itself
    steps = {k: round(v, 3) for k, v in (("parse_seconds", parse), ("persist_seconds", persist),
                                         ("gx_import_seconds", gx), ("models_seconds", models))}
    floor = round(floor, 3)
    total = round(sum(steps.values()), 3)
    out = {"input_rows": rows, "observations": obs, "floor_seconds": floor, **steps, "sum_seconds": total,
           "sum_ratio": round(total / floor, 2) if floor else None,
           "persist_every_column_seconds": round(wide, 3)}
    out["ratio_of_each"] = {k.removesuffix("_seconds"): round(v / floor, 2) for k, v in steps.items()} if floor else None
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--work", type=Path, required=True, help="a workspace kept by: python -m bench.run --keep DIR")
    a = p.parse_args(argv)
    print(json.dumps(components(a.work)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
