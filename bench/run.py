"""`make bench ROWS=N`: the whole pipeline on synthetic inputs in a temporary workspace, timed by stage.

    .venv/bin/python -m bench.run --rows 5000000 [--keep DIR] [--no-pandas]

1. generate (child process): bench/generate.py writes ACLED/DTM/IDMC-shaped files into <tmp>/inbox;
2. pipeline (child process, so its peak RSS is its own): DISPLACEMENT_WAREHOUSE / _SITE / _INBOX point
   into <tmp>; stages read (pipeline.ingest.ingest_into, as the `observations` asset runs it: every file
   read, mapped, checked and written to the warehouse; large plain CSVs by the bulk route in DuckDB),
   load (the reference tables and the per-file records), validate
   (the blocking suite over the observations), aggregate (every sql/ model) and render (the site,
   into <tmp>/site, never reports/site);
3. floor: DuckDB counting the rows of the same input files, in this run;
4. naive (child process): pandas read_csv/read_json, Great Expectations over the whole frame with the
   observations suite, pandas groupby.

The last line printed is one JSON object: rows, <stage>_seconds, total_seconds, floor_seconds, ratio
(total / floor), peak_rss_mb (the pipeline process), pandas_seconds (the naive path), pandas_peak_rss_mb.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("read", "load", "validate", "aggregate", "render")


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def workspace_env(work: Path) -> dict[str, str]:
    return {"DISPLACEMENT_WAREHOUSE": str(work / "warehouse.duckdb"), "DISPLACEMENT_SITE": str(work / "site"),
            "DISPLACEMENT_INBOX": str(work / "inbox")}


def _guard(work: Path) -> None:
    """Synthetic data must never reach the project's data/ or reports/."""
    from pipeline.ingest import inbox_dir
    from pipeline.publish import site_dir
    from pipeline.warehouse import warehouse_path

    for p in (inbox_dir(), site_dir(), warehouse_path()):
        if work.resolve() not in p.resolve().parents:
            raise SystemExit(f"refusing to run: {p} is not inside the benchmark workspace {work}")


def validate_observations(con) -> bool:
    """The blocking check over the loaded observations: the same function the Dagster asset check runs
    (rules compiled to DuckDB SQL over every row, GX on a sample)."""
    from pipeline.expectations.blocking import run_blocking_check

    return run_blocking_check(con, "bench").passed


def run_pipeline(work: Path) -> dict:
    """Every stage over the workspace's inbox; returns seconds per stage and what came out."""
    import duckdb

    from pipeline import ingest, publish, warehouse

    _guard(work)
    t: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        t[f"{name}_seconds"] = round(now - clock, 3)
        clock = now

    con = duckdb.connect(str(warehouse.warehouse_path()))
    files = ingest.ingest_into(con, ingest.input_files())  # read, map, check and write the observations
    lap("read")
    warehouse.load_reference_tables(con)
    warehouse.record_files(con, files)
    n_obs, n_rej = warehouse.run(con, "SELECT (SELECT count(*) FROM observations), "
                                      "(SELECT count(*) FROM rejected_observations)")[0]
    lap("load")
    checked = validate_observations(con)
    lap("validate")
    counts = warehouse.run_models(con)
    lap("aggregate")
    summary = publish.publish_site(con)
    lap("render")
    con.close()
    t["total_seconds"] = round(sum(t[f"{s}_seconds"] for s in STAGES), 3)
    return {**t, "observations": n_obs, "rejected_rows": n_rej, "validation_success": checked,
            "models": len(counts), "site_files": summary["files"]}


def floor_seconds(files: list[Path]) -> tuple[float, int]:
    """DuckDB counting the rows of the same input files (the cost of reading them once)."""
    import duckdb

    con = duckdb.connect()
    started = time.perf_counter()
    n = 0
    for f in files:
        if f.suffix == ".json":
            n += con.execute("SELECT count(*) FROM read_json(?, format = 'array')", [str(f)]).fetchone()[0]
        else:
            n += con.execute("SELECT count(*) FROM read_csv(?, header = true, all_varchar = true, delim = ',', "
                             "quote = '\"', escape = '\"', comment = '')", [str(f)]).fetchone()[0]
    took = time.perf_counter() - started
    con.close()
    return round(took, 3), n


def naive_pandas(files: list[Path]) -> dict:
    """The path one writes first: pandas read_csv, GX over the whole frame with the same suite, groupby."""
    import pandas as pd

    from pipeline import schema
    from pipeline.expectations.observations import validate

    started = time.perf_counter()
    frames = []
    for f in files:
        if f.suffix == ".json":
            raw = pd.read_json(f)
            frames.append(pd.DataFrame({
                "source_id": "idmc-idu", "source_org": "IDMC", "metric": "displaced", "basis": "flow",
                "population": "all", "unit": "movements", "value_best": raw["figure"].astype("Float64"),
                "qualifier": "exact", "period_start": pd.to_datetime(raw["displacement_start_date"].str[:10]),
                "period_end": pd.to_datetime(raw["displacement_end_date"].str[:10]), "date_precision": "day",
                "country_iso3": raw["iso3"], "role": "recommended", "_key": raw["id"].astype(str)}))
        elif "dtm" in f.name:
            raw = pd.read_csv(f, skiprows=[1])
            day = pd.to_datetime(raw["reportingDate"].str[:10])
            frames.append(pd.DataFrame({
                "source_id": "iom-dtm", "source_org": "IOM DTM", "metric": "idps_present", "basis": "stock",
                "population": "all", "unit": "people", "value_best": raw["numPresentIdpInd"].astype("Float64"),
                "qualifier": "exact", "period_start": day, "period_end": day, "date_precision": "day",
                "country_iso3": raw["admin0Pcode"], "role": "recommended", "_key": raw["id"].astype(str)}))
        else:
            raw = pd.read_csv(f)
            day = pd.to_datetime(raw["event_date"], errors="coerce")
            frames.append(pd.DataFrame({
                "source_id": "acled", "source_org": "ACLED", "metric": "killed", "basis": "flow",
                "population": raw["civilian_targeting"].notna().map({True: "civilians", False: "all"}),
                "unit": "people", "value_best": pd.to_numeric(raw["fatalities"], errors="coerce").astype("Float64"),
                "qualifier": "exact", "period_start": day, "period_end": day, "date_precision": "day",
                "country_iso3": raw["country"].map({"Syria": "SYR"}).fillna("XXX"), "role": "recommended",
                "_key": raw["event_id_cnty"]}))
        del raw
    frame = pd.concat(frames, ignore_index=True)
    del frames
    frame["obs_id"] = frame["source_id"] + "|" + frame["_key"]
    frame = frame.drop(columns="_key")
    for name in schema.COLUMN_NAMES:
        if name not in frame.columns:
            frame[name] = None
    frame = frame[schema.COLUMN_NAMES]
    read_s = time.perf_counter() - started
    result = validate(frame)
    validate_s = time.perf_counter() - started - read_s
    monthly = (frame[frame["metric"] == "killed"].groupby([frame["period_start"].dt.to_period("M"), "population"])
               ["value_best"].sum())
    took = time.perf_counter() - started
    return {"pandas_seconds": round(took, 3), "pandas_read_seconds": round(read_s, 3),
            "pandas_validate_seconds": round(validate_s, 3), "pandas_groupby_seconds": round(took - read_s - validate_s, 3),
            "pandas_rows": len(frame), "pandas_months": int(monthly.index.get_level_values(0).nunique()),
            "pandas_validation_success": bool(result.success), "pandas_peak_rss_mb": peak_rss_mb()}


def _child(stage: str, work: Path) -> dict:
    """Run one stage in a fresh interpreter; its last stdout line is a JSON object."""
    env = dict(os.environ, **workspace_env(work), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--child", stage, "--work", str(work)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"bench: the {stage} stage failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(rows: int, *, work: Path | None = None, pandas: bool = True, seed: int | None = None,
          chunk_rows: int = 1_000_000) -> dict:
    keep = work is not None
    work = Path(work) if keep else Path(tempfile.mkdtemp(prefix="displacement-bench-"))
    try:
        if keep and work.exists():
            shutil.rmtree(work)
        (work / "inbox").mkdir(parents=True)
        started = time.perf_counter()
        gen = _child(f"generate:{rows}:{seed or ''}:{chunk_rows}", work)
        gen_s = time.perf_counter() - started
        files = [work / "inbox" / f for f in gen["files"]]
        floor, counted = floor_seconds(files)
        out = _child("pipeline", work)
        stats = {"rows": rows, **{f"{s}_seconds": out[f"{s}_seconds"] for s in STAGES},
                 "total_seconds": out["total_seconds"], "floor_seconds": floor,
                 "ratio": round(out["total_seconds"] / floor, 2) if floor else None,
                 "peak_rss_mb": out["peak_rss_mb"], "pandas_seconds": None}
        if pandas:
            naive = _child("pandas", work)
            stats["pandas_seconds"] = naive["pandas_seconds"]
            stats["speedup_vs_pandas"] = round(naive["pandas_seconds"] / out["total_seconds"], 2)
            stats["pandas_peak_rss_mb"] = naive["pandas_peak_rss_mb"]
            stats["pandas_stages"] = {k: naive[k] for k in ("pandas_read_seconds", "pandas_validate_seconds",
                                                            "pandas_groupby_seconds")}
        stats.update({"seconds_per_million_rows": round(out["total_seconds"] / rows * 1e6, 3) if rows else None,
                      "input_files": len(files), "input_mb": round(sum(f.stat().st_size for f in files) / 2**20, 1),
                      "floor_rows": counted, "observations": out["observations"],
                      "rejected_rows": out["rejected_rows"], "validation_success": out["validation_success"],
                      "generate_seconds": round(gen_s, 3), "cpus": os.cpu_count()})
        return stats
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--rows", type=int, default=5_000_000)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--chunk-rows", type=int, default=1_000_000, help="ACLED events per file (ACLED splits exports)")
    p.add_argument("--no-pandas", action="store_true", help="skip the naive pandas + GX path")
    p.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (e.g. bench/out/run)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        work = a.work
        if a.child.startswith("generate:"):
            from bench.generate import SEED, generate

            _, rows, seed, chunk = a.child.split(":")
            truth = generate(work / "inbox", int(rows), seed=int(seed) if seed else SEED, chunk_rows=int(chunk))
            (work / "inbox" / "truth.json").rename(work / "truth.json")
            out = {"files": truth.files}
        elif a.child == "pipeline":
            out = run_pipeline(work)
        elif a.child == "pandas":
            files = sorted(f for f in (work / "inbox").iterdir() if f.name.startswith("SYNTHETIC_"))
            out = naive_pandas(files)
        else:
            raise SystemExit(f"unknown stage {a.child}")
        out["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(out))
        return 0
    stats = bench(a.rows, work=a.keep, pandas=not a.no_pandas, seed=a.seed, chunk_rows=a.chunk_rows)
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
