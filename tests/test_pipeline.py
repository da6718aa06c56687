"""The Dagster layer: definitions load, every asset materializes, the site is reproducible, checks block."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_definitions_validate_like_the_cli(tmp_path):
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    proc = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_definitions_hold_every_model_and_the_blocking_check():
    from pipeline.definitions import defs
    from pipeline.warehouse import models

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"observations", "report_site", *models()} <= keys
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert "observations_suite" in checks


def site_digest(site: Path) -> dict[str, str]:
    return {str(p.relative_to(site)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(site.rglob("*")) if p.is_file()}


def test_build_materializes_everything_and_is_byte_identical_twice(isolated):
    from pipeline.commands.build import build

    first = build()
    assert first.success
    checks = {c.check_name: c for c in first.get_asset_check_evaluations()}
    assert {"observations_suite", "displacement_flows_suite", "displacement_daily_suite"} <= set(checks), sorted(checks)
    assert all(c.passed for c in checks.values()), sorted(checks)
    assert checks["observations_suite"].metadata["rows"].value == 86
    site = isolated["site"]
    for name in ("index.html", "assets/vega-bundle.js", "charts/cumulative_displacement.csv",
                 "charts/displacement_pace.png", "charts/civilian_deaths_monthly.svg"):
        assert (site / name).is_file(), name
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "948,000" in html and "OCHA" in html
    assert "http://" not in html.split("<footer>")[0].split("<main>")[0]  # no remote scripts or styles
    digest = site_digest(site)
    previews = _previews(first)
    # a model table is stored in no particular order; its preview is its first rows by every column
    import duckdb

    with duckdb.connect(str(isolated["warehouse"]), read_only=True) as con:
        first_rows = con.execute("SELECT date, place, series FROM displacement_daily ORDER BY ALL LIMIT 5").fetchall()
    assert [(r["date"], r["place"], r["series"]) for r in previews["displacement_daily"]] == [
        (d.isoformat(), p, s) for d, p, s in first_rows]
    again = build()
    assert again.success
    assert site_digest(site) == digest
    assert _previews(again) == previews


def _previews(result) -> dict:
    return {e.asset_key.to_user_string(): [r.data for r in e.materialization.metadata["preview"].value.records]
            for e in result.get_asset_materialization_events() if "preview" in e.materialization.metadata}


def test_failed_blocking_check_leaves_published_site_untouched(isolated):
    from pipeline.commands.build import build

    assert build().success
    before = site_digest(isolated["site"])
    # a figure whose lower bound exceeds its best value passes the reader only if the reader is bypassed:
    # write a facts file with an unknown country code, which the row rules accept but the suite rejects
    bad = (ROOT / "data" / "default" / "figures.csv").read_text(encoding="utf-8").splitlines()
    header, row = bad[0], bad[1].replace(",SYR,", ",syria,", 1).replace("D01,", "X01,", 1)
    (isolated["inbox"] / "bad.csv").write_text(header + "\n" + row + "\n", encoding="utf-8")
    result = build()
    evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evals["observations_suite"].passed is False
    assert evals["observations_suite"].metadata["failed_expectations"].value >= 1
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "report_site" not in done and "displacement_daily" not in done
    assert site_digest(isolated["site"]) == before


def cli_build() -> subprocess.CompletedProcess:
    """`displacement build`, as a user runs it, with this process's environment."""
    return subprocess.run([str(Path(sys.executable).parent / "displacement"), "build"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_cli_build_reports_where_the_site_is(isolated):
    proc = cli_build()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "index.html" in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.parametrize("runner", [["-m", "pipeline.cli"], None])
def test_usage_errors_are_one_line_with_exit_2(runner):
    cmd = [sys.executable, *runner] if runner else [str(Path(sys.executable).parent / "displacement")]
    proc = subprocess.run([*cmd, "validate", "/nonexistent/file.csv"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "/nonexistent/file.csv" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_build_with_an_unreadable_inbox_file_says_which_and_why_without_a_traceback(isolated):
    (isolated["inbox"] / "junk.csv").write_bytes(bytes(range(256)) * 8)
    proc = cli_build()
    assert proc.returncode == 1
    assert "junk.csv" in proc.stderr and "the published site was left as it was" in proc.stderr
    assert "Traceback" not in proc.stderr and "Stack Trace" not in proc.stderr
    assert not (isolated["site"] / "index.html").exists()


def test_build_takes_large_csvs_by_the_bulk_route_through_dagster(isolated, monkeypatch):
    """The `observations` asset runs ingest_into: a large ACLED export goes in by the bulk route inside the
    Dagster run (the small DTM and IDMC files by the exact route), its broken rows are set aside with
    their reasons, and the blocking check and the site still pass."""
    import duckdb

    from bench.generate import generate
    from pipeline.commands.build import build
    from pipeline.sources import bulk

    truth = generate(isolated["inbox"], 8_000)
    (isolated["inbox"] / "truth.json").unlink()
    taken = []
    real = bulk.load

    def spy(con, scan, reader, body=None, **kw):
        out = real(con, scan, reader, body, **kw)
        taken.append((scan.path.name, out is not None))
        return out

    monkeypatch.setattr(bulk, "load", spy)
    result = build()
    assert result.success
    assert taken == [(truth.acled_files[0], True)]
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["observations_suite"].passed
    assert checks["observations_suite"].metadata["rows"].value == (
        86 + truth.acled_events + truth.dtm_rows + truth.idmc_rows)
    con = duckdb.connect(str(isolated["warehouse"]), read_only=True)
    try:
        read, accepted, rejected = con.execute("SELECT rows_read, rows_accepted, rows_rejected FROM ingest_files "
                                               "WHERE file = ?", [truth.acled_files[0]]).fetchone()
        rules = dict(con.execute("SELECT rule, count(*) FROM rejected_observations WHERE file = ? GROUP BY rule",
                                 [truth.acled_files[0]]).fetchall())
    finally:
        con.close()
    assert (read, accepted) == (truth.acled_rows, truth.acled_events)
    assert rejected == sum(truth.acled_rejected.values()) and rules == truth.acled_rejected
    assert (isolated["site"] / "index.html").is_file()


# A process that holds the warehouse through the resource, as another run's step would: it writes a row,
# says so, and keeps the connection (and the lock) open for the given seconds.
HOLDER = """import sys, time
from pipeline.assets.resources import WarehouseResource
with WarehouseResource(database=sys.argv[1]).get_connection() as con:
    con.execute("CREATE TABLE IF NOT EXISTS t (who TEXT)")
    con.execute("INSERT INTO t VALUES ('holder')")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
print(time.time(), flush=True)
"""


def hold_warehouse(path: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "held", line + proc.stderr.read()
    return proc


def test_a_step_waits_for_the_warehouse_lock_and_does_not_touch_the_file_until_then(tmp_path, monkeypatch):
    """The pool's slot claim can let two steps start at once (see WarehouseResource): the second must not even
    try to open the DuckDB file until the first has let go of it, and then it goes on."""
    import duckdb

    from pipeline.assets.resources import WarehouseResource

    db = tmp_path / "warehouse.duckdb"
    holder = hold_warehouse(db, 1.5)
    calls = []
    real_connect = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: calls.append(time.time()) or real_connect(*a, **k))
    with WarehouseResource(database=str(db)).get_connection() as con:
        con.execute("INSERT INTO t VALUES ('waiter')")
        rows = [r[0] for r in con.execute("SELECT who FROM t").fetchall()]
    released = float(holder.stdout.readline())
    assert holder.wait(timeout=60) == 0
    assert rows == ["holder", "waiter"]
    assert len(calls) == 1 and calls[0] >= released - 0.05, (calls, released)


def test_only_a_local_warehouse_file_gets_a_lock_file(tmp_path):
    from pipeline.assets.resources import lock_path_for

    assert lock_path_for(str(tmp_path / "w.duckdb")) == tmp_path / "w.duckdb.lock"
    assert lock_path_for(":memory:") is None and lock_path_for("md:displacement") is None


def test_cli_build_says_which_warehouse_is_busy_when_the_lock_wait_runs_out(isolated, monkeypatch):
    holder = hold_warehouse(isolated["warehouse"], 30)
    try:
        monkeypatch.setenv("DISPLACEMENT_LOCK_TIMEOUT", "0.5")
        proc = cli_build()
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 1
    assert f"{isolated['warehouse']}.lock" in proc.stderr and "DISPLACEMENT_LOCK_TIMEOUT" in proc.stderr, proc.stderr
    assert "step failed: observations" in proc.stderr
    assert "Traceback" not in proc.stderr and not (isolated["site"] / "index.html").exists()


def test_cli_build_names_a_lock_timeout_that_is_not_a_number(isolated, monkeypatch):
    monkeypatch.setenv("DISPLACEMENT_LOCK_TIMEOUT", "ten minutes")
    proc = cli_build()
    assert proc.returncode == 1
    assert "DISPLACEMENT_LOCK_TIMEOUT='ten minutes': expected a number of seconds" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
