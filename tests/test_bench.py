"""The benchmark at a small size: the fast path must also be the right one.

Runs `bench.run.bench` end to end (generate, pipeline, DuckDB floor, naive pandas + GX path) in a
temporary workspace and checks the warehouse against the totals the generator knows it wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
ROWS = 20_000


def _site_state() -> dict[str, float]:
    site = ROOT / "reports" / "site"
    return {str(p): p.stat().st_mtime for p in site.rglob("*") if p.is_file()} if site.exists() else {}


@pytest.fixture(scope="module")
def benched(tmp_path_factory):
    from bench.run import bench

    before = _site_state()
    work = tmp_path_factory.mktemp("bench") / "work"
    stats = bench(ROWS, work=work, pandas=True, chunk_rows=ROWS // 2 + 1)
    truth = json.loads((work / "truth.json").read_text())
    con = duckdb.connect(str(work / "warehouse.duckdb"), read_only=True)
    yield stats, truth, con, work, before
    con.close()


def test_last_line_has_every_figure(benched):
    stats = benched[0]
    for key in ("rows", "read_seconds", "load_seconds", "validate_seconds", "aggregate_seconds", "render_seconds",
                "total_seconds", "floor_seconds", "ratio", "peak_rss_mb", "pandas_seconds"):
        assert stats[key] is not None, key
    assert stats["rows"] == ROWS
    assert stats["input_files"] == 4  # two ACLED files, DTM, IDMC
    assert stats["ratio"] == pytest.approx(stats["total_seconds"] / stats["floor_seconds"], rel=0.01)


def test_floor_counts_every_input_row(benched):
    stats, truth = benched[0], benched[1]
    # the DTM file's HXL row is a data row to read_csv
    assert stats["floor_rows"] == truth["acled_rows"] + truth["dtm_rows"] + 1 + truth["idmc_rows"]


def test_acled_totals_equal_the_generators(benched):
    _, truth, con, *_ = benched
    n, killed, civ = con.execute(
        "SELECT count(*), sum(value_best), sum(value_best) FILTER (WHERE population = 'civilians') "
        "FROM observations WHERE source_id = 'acled'").fetchone()
    assert n == truth["acled_events"]
    assert killed == truth["fatalities"]
    assert civ == truth["civilian_fatalities"]
    # month of the period's midpoint: the event's own month for day, week and month precision
    month = "strftime(period_start + CAST((period_end - period_start) // 2 AS INTEGER), '%Y-%m')"
    by_month = dict(con.execute(f"SELECT {month}, sum(value_best) FROM observations WHERE source_id = 'acled' "
                                "GROUP BY 1").fetchall())
    assert {k: v for k, v in by_month.items() if v} == truth["fatalities_by_month"]
    civ_month = dict(con.execute(f"SELECT {month}, sum(value_best) FROM observations WHERE source_id = 'acled' "
                                 "AND population = 'civilians' GROUP BY 1").fetchall())
    assert {k: v for k, v in civ_month.items() if v} == truth["civilian_fatalities_by_month"]
    by_country = dict(con.execute("SELECT country_iso3, sum(value_best) FROM observations "
                                  "WHERE source_id = 'acled' GROUP BY 1").fetchall())
    assert by_country == truth["fatalities_by_country"]


def test_broken_rows_are_set_aside_with_their_lines(benched):
    _, truth, con, *_ = benched
    rules = dict(con.execute("SELECT rule, count(DISTINCT (file, line)) FROM rejected_observations "
                             "WHERE file LIKE 'SYNTHETIC_acled%' GROUP BY rule").fetchall())
    assert rules == truth["acled_rejected"]
    # every rejected line really is that line of its file (header = line 1)
    for file, line, value in con.execute("SELECT file, line, value FROM rejected_observations "
                                         "WHERE file LIKE 'SYNTHETIC_acled%' AND value IS NOT NULL "
                                         "ORDER BY file, line LIMIT 20").fetchall():
        text = (benched[3] / "inbox" / file).read_text().split("\n")[line - 1]
        assert value in text
    files = con.execute("SELECT sum(rows_read), sum(rows_accepted), sum(rows_rejected) FROM ingest_files "
                        "WHERE file LIKE 'SYNTHETIC_acled%'").fetchone()
    assert files == (truth["acled_rows"], truth["acled_events"], sum(truth["acled_rejected"].values()))


def test_dtm_and_idmc_totals_equal_the_generators(benched):
    _, truth, con, *_ = benched
    all_rounds, latest = con.execute(
        "SELECT sum(value_best), sum(value_best) FILTER (WHERE role = 'recommended') FROM observations "
        "WHERE source_id = 'iom-dtm'").fetchone()
    assert (all_rounds, latest) == (truth["idps_all_rounds"], truth["idps_latest_round"])
    displaced, recommended = con.execute(
        "SELECT sum(value_best), sum(value_best) FILTER (WHERE role = 'recommended') FROM observations "
        "WHERE source_id = 'idmc-idu'").fetchone()
    assert (displaced, recommended) == (truth["idmc_displaced"], truth["idmc_displaced_recommended"])


def test_models_see_every_synthetic_figure(benched):
    _, truth, con, *_ = benched
    killed = con.execute("SELECT sum(value_best) FROM places WHERE source_id = 'acled'").fetchone()[0]
    assert killed == truth["fatalities"]
    # every synthetic displacement figure becomes one flow (none repeats another, and every cumulative point
    # moves its series on), so none is lost or counted twice on the way to the daily series
    flows = con.execute("SELECT count(*) FROM displacement_flows").fetchone()[0]
    figures = con.execute("SELECT count(*) FROM places WHERE metric IN ('displaced', 'returned') "
                          "AND basis IN ('flow', 'cumulative')").fetchone()[0]
    assert flows == figures > 0


def test_synthetic_data_stays_in_the_workspace(benched):
    stats, _, _, work, before = benched
    assert (work / "site" / "index.html").exists()
    assert _site_state() == before  # the published site was not touched
    assert not any("SYNTHETIC" in p.name for p in (ROOT / "data").rglob("*"))
    assert os.environ.get("DISPLACEMENT_SITE") is None or "bench" not in os.environ["DISPLACEMENT_SITE"]


def test_components_time_what_the_pipeline_cannot_skip(benched):
    """bench.components on the same workspace: every step timed, the persisted rows are the warehouse's."""
    from bench.components import components

    _, truth, con, work, _ = benched
    out = components(work)
    steps = ("parse", "persist", "gx_import", "models")
    assert all(out[f"{s}_seconds"] > 0 for s in steps)
    assert out["sum_seconds"] == pytest.approx(sum(out[f"{s}_seconds"] for s in steps), abs=0.01)
    assert out["observations"] == con.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert out["input_rows"] == truth["acled_rows"] + truth["dtm_rows"] + 1 + truth["idmc_rows"]
    assert out["ratio_of_each"]["persist"] == pytest.approx(out["persist_seconds"] / out["floor_seconds"], abs=0.006)
