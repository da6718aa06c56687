"""Validation: row rules set rows aside with their line, column and reason; table rules block the build;
results are kept as data and shown in Dagster; `displacement validate` reports what a build sets aside."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
GOOD = FIXTURES / "validation" / "hapi_idps_100.csv"
MISSING = FIXTURES / "validation" / "hapi_idps_missing_population.csv"
BAD_LINES = {12: ("population", "non_negative", "-500"),
             43: ("reference_period_start", "date", "2023-02-30"),
             79: ("admin2_code", "pcode", "SY08X1")}


def site_digest(site: Path) -> dict[str, str]:
    return {str(p.relative_to(site)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(site.rglob("*")) if p.is_file()}


def materialize_all():
    """Every asset with the blocking check and the aggregate checks, in-process, like `displacement build`."""
    import dagster as dg

    from pipeline import definitions
    from pipeline.assets.checks import aggregate_checks

    checks = list(definitions.all_checks)
    checks += [c for c in aggregate_checks if c not in checks]
    with dg.DagsterInstance.ephemeral() as instance:
        return dg.materialize([*definitions.all_assets, *checks], resources={"duckdb": definitions.duckdb_resource()},
                              instance=instance, raise_on_error=False)


def query(isolated, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(isolated["warehouse"]))
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_three_bad_rows_of_a_hundred_are_set_aside_with_line_column_and_reason(isolated):
    shutil.copy(GOOD, isolated["inbox"] / GOOD.name)
    result = materialize_all()
    assert result.success
    evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert {"observations_suite", "displacement_flows_suite", "displacement_daily_suite"} <= set(evals)
    assert all(e.passed for e in evals.values()), {k: e.metadata.get("failures") for k, e in evals.items()}

    # the counts, read back through Dagster
    meta = evals["observations_suite"].metadata
    assert meta["rows"].value == 86 + 97
    assert meta["rows_rejected"].value == 3
    assert meta["failed_expectations"].value == 0
    assert meta["gx_sample_rows"].value == 86 + 97 and meta["gx_failed_expectations"].value == 0
    assert evals["displacement_daily_suite"].metadata["rows"].value > 0

    files = query(isolated, f"SELECT * FROM ingest_files WHERE file = '{GOOD.name}'").iloc[0]
    assert (files.rows_read, files.rows_accepted, files.rows_rejected, files.duplicate_ids) == (100, 97, 3, 0)
    assert query(isolated, f"SELECT count(*) AS n FROM observations WHERE ingest_file = '{GOOD.name}'").n[0] == 97
    rejected = query(isolated, f"SELECT * FROM rejected_observations WHERE file = '{GOOD.name}' ORDER BY line")
    assert len(rejected) == 3
    for row in rejected.itertuples():
        column, rule, value = BAD_LINES[row.line]
        assert (row.column_name, row.rule, row.value) == (column, rule, value)
        assert row.message and row.format == "hapi-idps"

    # results kept as data: one row per expectation, with the run that produced it
    results = query(isolated, "SELECT * FROM validation_results")
    assert {"ingest_files", "observations", "observations:gx_sample", "displacement_flows",
            "displacement_daily"} <= set(results.suite)
    assert results.run_id.nunique() == 1 and results.run_id[0] == result.run_id
    assert results.success.all()
    agree = results[results.expectation == "gx_agrees_with_sql_on_sample"].iloc[0]
    assert agree.success and "agree on 183 sampled rows" in agree["sample"]


def test_validate_command_reports_exactly_what_a_build_sets_aside(isolated):
    """`displacement validate FILE --json` and a build's rejected_observations list the same rows."""
    for path in (GOOD, FIXTURES / "sources" / "hapi_refugees.json"):
        shutil.copy(path, isolated["inbox"] / path.name)
    from pipeline import ingest, warehouse

    built = ingest.ingest(ingest.input_files())
    con = duckdb.connect(str(isolated["warehouse"]))
    warehouse.load_base_tables(con, built.observations, built.rejected)
    for path in (GOOD, FIXTURES / "sources" / "hapi_refugees.json"):
        proc = subprocess.run([str(Path(sys.executable).parent / "displacement"), "validate", "--json", str(path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        stored = con.execute("SELECT line, column_name, rule, message, value FROM rejected_observations "
                             "WHERE file = ? ORDER BY line, column_name", [path.name]).fetchall()
        # a JSON file's rows are records: the report says so, and the warehouse's `line` holds the record's number
        unit = "record" if path.suffix == ".json" else "line"
        assert all(set(e) == {unit, "column", "rule", "message", "value"} for e in report["errors"]), report["errors"]
        assert sorted((e[unit], e["column"], e["rule"], e["message"], e["value"]) for e in report["errors"]) == \
            sorted(stored)
        assert report["rows_rejected"] == len({s[0] for s in stored})
        assert report["rows_accepted"] == con.execute("SELECT count(DISTINCT ingest_row) FROM observations WHERE "
                                                      "ingest_file = ?", [path.name]).fetchone()[0]
    con.close()


def test_missing_required_column_blocks_and_leaves_the_site_byte_identical(isolated):
    first = materialize_all()
    assert first.success
    site = isolated["site"]
    before = site_digest(site)
    assert before

    shutil.copy(MISSING, isolated["inbox"] / MISSING.name)
    result = materialize_all()
    evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evals) == {"observations_suite"}  # the aggregate checks never ran: their assets were skipped
    check = evals["observations_suite"]
    assert not check.passed
    assert check.metadata["failed_expectations"].value >= 1
    failures = check.metadata["failures"].value
    readable = [f for f in failures if f["expectation"] == "expect_file_to_be_readable"]
    assert readable and "population" in readable[0]["sample"]
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert done == {"observations"}
    assert site_digest(site) == before

    rejected = query(isolated, f"SELECT rule, message FROM rejected_observations WHERE file = '{MISSING.name}'")
    assert list(rejected.rule) == ["missing_column"] and "population" in rejected.message[0]
    failed = query(isolated, "SELECT suite, expectation FROM validation_results WHERE NOT success")
    assert ("ingest_files", "expect_file_to_be_readable") in set(map(tuple, failed.values.tolist()))
    # the last good count still belongs to the first run
    assert query(isolated, "SELECT rows FROM validation_last_good WHERE suite = 'observations'").rows[0] == 86


@pytest.mark.parametrize("path", sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix != ".py"
                                        and p.name != "README.md"), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_rows_read_equal_accepted_plus_rejected_for_every_fixture(path):
    from pipeline import ingest
    from pipeline.schema import InputError
    from pipeline.sources.detect import read_path

    try:
        result = read_path(path)
    except InputError:
        files = ingest.ingest([path]).files.iloc[0]  # unreadable: recorded, with nothing accepted
        assert files.error and files.rows_read == files.rows_accepted == files.rows_rejected == 0
        return
    assert result.rows_read == result.rows_accepted + result.rows_rejected
    lines = {r.line for r in result.rejected if r.line is not None}
    assert result.rows_rejected == len(lines) + sum(1 for r in result.rejected if r.line is None)
    accepted_lines = set(result.observations["ingest_row"].dropna().astype(int))
    assert not accepted_lines & lines  # a row is either accepted or set aside, never both
    files = ingest.ingest([path]).files.iloc[0]
    assert files.rows_read == files.rows_accepted + files.rows_rejected == result.rows_read


# ---- the rules themselves, on a warehouse without Dagster ----

@pytest.fixture
def loaded(default_warehouse):
    from pipeline import schema

    con = duckdb.connect()
    con.execute(schema.duckdb_ddl("observations"))
    con.register("f", default_warehouse.execute("SELECT * FROM observations").df())
    con.execute("INSERT INTO observations SELECT * FROM f")
    con.unregister("f")
    yield con
    con.close()


def test_sql_and_gx_agree_on_rows_a_reader_would_have_set_aside(loaded):
    """Rows inserted past the readers: SQL over the table and GX on the sample count the same faults."""
    from pipeline.expectations import observations

    loaded.execute("INSERT INTO observations SELECT * FROM observations ORDER BY obs_id LIMIT 2")  # repeated ids
    loaded.execute("""
        INSERT INTO observations SELECT * REPLACE (
            obs_id || 'x' AS obs_id, 'syria' AS country_iso3, value_best + 1 AS value_low, 'S-7' AS admin1_code)
        FROM observations ORDER BY obs_id DESC LIMIT 3""")
    loaded.execute("UPDATE observations SET period_end = period_start - INTERVAL 1 DAY WHERE obs_id = (SELECT min(obs_id) FROM observations)")
    full, gx = observations.check(loaded)
    assert not full.success
    failed = {(r["expectation"], r["column"]): r["unexpected_count"] for r in full.failed}
    assert failed[("expect_column_values_to_be_unique", "obs_id")] == 4
    assert failed[("expect_column_values_to_match_regex", "country_iso3")] == 3
    assert failed[("expect_column_pair_values_a_to_be_greater_than_b", "value_best,value_low")] == 3
    assert failed[("expect_column_pair_values_a_to_be_greater_than_b", "period_end,period_start")] >= 1
    assert ("expect_column_values_to_match_regex", "admin1_code") in failed
    agree = next(r for r in full.results if r["expectation"] == "gx_agrees_with_sql_on_sample")
    assert agree["success"], agree["sample"]
    assert gx.rows == 86 + 5 and len(gx.failed) == len(full.failed)


def test_gx_counts_the_same_faults_with_text_as_categoricals_as_with_plain_text(loaded):
    """The sample reaches GX with its text columns as categoricals (cheaper to copy): every expectation
    gives the same success and count as on the plain frame, faults of each kind included."""
    from pipeline.expectations import observations

    loaded.execute("INSERT INTO observations SELECT * FROM observations ORDER BY obs_id LIMIT 2")
    loaded.execute("""
        INSERT INTO observations SELECT * REPLACE (
            obs_id || 'x' AS obs_id, 'syria' AS country_iso3, value_best + 1 AS value_low, 'S-7' AS admin1_code,
            'refugee' AS metric, NULL AS source_id)
        FROM observations ORDER BY obs_id DESC LIMIT 3""")
    frame = loaded.execute("SELECT * FROM observations").df()
    rules = [r for r in observations.rules() if r.gx is not None]
    plain = observations.validate(frame, observations.SUITE_NAME, [r.gx() for r in rules])
    _, categorical = observations._gx_on_sample(frame, rules)

    def counts(result):
        return [(r["expectation"], r["column"], r["success"], r["unexpected_count"]) for r in result.results]

    assert counts(categorical) == counts(plain)
    assert sum(not r["success"] for r in plain.results) >= 6


def test_a_sudden_drop_in_rows_fails_and_a_small_one_does_not(loaded):
    from pipeline.expectations import observations

    full = observations.check(loaded, last_good_rows=1000, use_gx=False)[0]
    drop = next(r for r in full.results if r["expectation"] == "row_count_not_below_share_of_last_good_run")
    assert not full.success and not drop["success"] and "86 rows now, 1000" in drop["sample"]
    assert "DISPLACEMENT_MIN_ROW_SHARE=0" in drop["sample"]  # the way out, when the drop is meant
    assert observations.check(loaded, last_good_rows=100, use_gx=False)[0].success  # 86 of 100: not sudden


def test_repeated_ids_within_a_file_fail_the_readers_suite(tmp_path):
    """A record key on two rows that differ: nothing tells which row is true, so the file is refused."""
    from pipeline import ingest, warehouse
    from pipeline.expectations import ingest_files

    lines = GOOD.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "twice.csv"
    at = lines[0].split(",").index("population")
    changed = [",".join(str(int(c) + 1) if k == at else c for k, c in enumerate(line.split(","))) for line in lines[2:4]]
    path.write_text("\n".join(lines[:6] + changed) + "\n", encoding="utf-8")
    result = ingest.ingest([path, GOOD])
    con = duckdb.connect()
    warehouse.record_files(con, result.files)
    suite = ingest_files.check(con)
    assert not suite.success
    assert [(r["expectation"], r["sample"]) for r in suite.failed] == [("expect_obs_id_unique_within_file", "twice.csv")]
    assert result.observations["obs_id"].is_unique  # kept once in observations


def test_a_row_repeated_as_it_is_is_set_aside_and_the_file_goes_through(tmp_path):
    """The same line twice (same key, same values) is no conflict: the repeat is set aside, naming the line it
    repeats, and the rest of the file is taken."""
    from pipeline import ingest, warehouse
    from pipeline.expectations import ingest_files

    lines = GOOD.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "twice.csv"
    path.write_text("\n".join(lines[:6] + lines[2:4]) + "\n", encoding="utf-8")
    result = ingest.ingest([path])
    con = duckdb.connect()
    warehouse.record_files(con, result.files)
    assert ingest_files.check(con).success
    assert result.rejected[["line", "rule", "message"]].values.tolist() == [
        [7, "duplicate", "the same record as line 3, repeated (same key, same values); set aside"],
        [8, "duplicate", "the same record as line 4, repeated (same key, same values); set aside"]]
    assert result.files.loc[0, ["rows_read", "rows_accepted", "rows_rejected", "duplicate_ids"]].tolist() == [7, 5, 2, 0]


def test_aggregate_suites_catch_a_falling_series_and_totals_that_do_not_reconcile(default_warehouse):
    from pipeline.expectations import aggregates

    con = duckdb.connect()
    for name in ("displacement_flows", "displacement_daily"):
        con.register("f", default_warehouse.execute(f"SELECT * FROM {name}").df())
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM f")
        con.unregister("f")
    assert aggregates.check(con, "displacement_flows").success
    assert aggregates.check(con, "displacement_daily").success
    con.execute("UPDATE displacement_flows SET value_best = -5 WHERE flow_id = (SELECT min(flow_id) FROM "
                "displacement_flows WHERE kind = 'difference')")
    con.execute("UPDATE displacement_daily SET people_best = -1 WHERE date = (SELECT min(date) FROM displacement_daily "
                "WHERE series_role = 'chosen') AND series_role = 'chosen'")
    flows, daily = aggregates.check(con, "displacement_flows"), aggregates.check(con, "displacement_daily")
    assert [r["expectation"] for r in flows.failed] == ["expect_cumulative_series_never_to_fall"]
    assert {r["expectation"] for r in daily.failed} == {"expect_chosen_daily_rates_not_negative",
                                                        "expect_daily_totals_to_reconcile_with_flows"}
    con.close()


# ---- the fast paths of the observations check count what the plain statements count ----

def _break(con):
    """Faults of every kind a row rule or the unique rule catches, some among the lowest hashes (the GX
    sample), some elsewhere; the same faults as test_sql_and_gx_agree_on_rows_a_reader_would_have_set_aside
    and a few more (NULLs, vocabulary, an admin2 code outside its admin1)."""
    con.execute("INSERT INTO observations SELECT * FROM observations ORDER BY obs_id LIMIT 2")
    con.execute("""INSERT INTO observations SELECT * REPLACE (obs_id || 'x' AS obs_id, 'syria' AS country_iso3,
                   value_best + 1 AS value_low, 'S-7' AS admin1_code) FROM observations ORDER BY obs_id DESC LIMIT 3""")
    con.execute("UPDATE observations SET metric = 'bogus', source_id = NULL WHERE obs_id = "
                "(SELECT obs_id FROM observations ORDER BY hash(obs_id) LIMIT 1)")
    con.execute("UPDATE observations SET country_iso3 = 'SYR', admin1_code = 'SY01', admin2_code = 'SY0201', "
                "origin_iso3 = 'xx' WHERE obs_id = "
                "(SELECT obs_id FROM observations ORDER BY hash(obs_id) DESC LIMIT 1)")
    con.execute("UPDATE observations SET country_iso3 = NULL, admin1_code = 'S1' WHERE obs_id = "
                "(SELECT obs_id FROM observations ORDER BY hash(obs_id) DESC LIMIT 1 OFFSET 1)")


def test_rules_counted_per_distinct_value_count_what_row_by_row_counts(loaded):
    """A rule with `reads` is counted over distinct values, a NULL rule with count(col); the unique rule
    looks only at shared hashes: each gives the count of the plain per-row statement, on a clean table
    and on a broken one."""
    from pipeline.expectations import observations
    from pipeline.expectations.rules import run_sql

    rules = observations.rules()
    assert any(r.reads for r in rules) and all(r.bad is not None for r in rules if r.reads)

    def plain(r):
        if r.bad is not None:
            return loaded.execute(f"SELECT count_if(({r.bad}) IS TRUE) FROM observations").fetchone()[0]
        if r.expectation == "expect_column_values_to_be_unique":  # the statement before the hash prefilter
            return loaded.execute("SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM observations WHERE "
                                  "obs_id IS NOT NULL GROUP BY obs_id HAVING count(*) > 1)").fetchone()[0]
        return loaded.execute(r.count_sql.format(table="observations")).fetchone()[0]

    for broken in (False, True):
        if broken:
            _break(loaded)
        result = run_sql(loaded, "observations", rules, observations.SUITE_NAME)
        counts = [r["unexpected_count"] for r in result.results]
        assert counts == [plain(r) for r in rules]
        assert result.rows == loaded.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert sum(1 for c in counts if c) >= 8


def test_the_gx_sample_is_the_lowest_hashes_in_order(loaded):
    """The sample is the rows, and the order, of sorting the whole table or view: taken from the rows
    under a hash bound (total known), from the hashes alone (total unknown), and when the bound holds
    too few rows (a total far above the real one puts it too low) the same rows still."""
    from pipeline.expectations import observations

    _break(loaded)
    rows = loaded.execute("SELECT count(*) FROM observations").fetchone()[0]
    whole = "SELECT * FROM {} ORDER BY hash(obs_id), obs_id, ingest_file, ingest_row LIMIT 40"
    for table in ("observations", "observations_view"):
        if table == "observations_view":
            loaded.execute("CREATE VIEW observations_view AS SELECT * FROM observations")
        for total in (None, rows, rows * 1000):
            observations._sample(loaded, table, 40, total)
            got = loaded.execute("SELECT * FROM _gx_sample").df()
            assert len(got) == 40
            pd.testing.assert_frame_equal(got, loaded.execute(whole.format(table)).df())
        assert not loaded.execute("SELECT * FROM duckdb_tables() WHERE table_name = '_gx_candidates'").fetchall()


def test_warm_up_imports_gx_once_in_the_background_and_swallows_failures():
    code = r"""
import sys, threading, importlib.abc
fail = sys.argv[1] == "fail"
if fail:
    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "great_expectations":
                raise ImportError("refused")
    sys.meta_path.insert(0, Refuse())
from pipeline.expectations import observations as o
assert "great_expectations" not in sys.modules
o.warm_up(); first = o._warm_thread
o.warm_up(); assert o._warm_thread is first and first.daemon
first.join(120)
assert not first.is_alive()
import gc
assert gc.isenabled()  # paused for the import only
gc.disable(); o._import_gx(); assert not gc.isenabled(); gc.enable()  # left as it was found
if fail:
    assert "great_expectations" not in sys.modules
    try:
        o.validate(None)
    except ImportError as e:
        print("raised", e)
else:
    assert "great_expectations" in sys.modules
    import pandas as pd
    exp = o._gx("ExpectColumnValuesToBeUnique", column="obs_id")()
    r = o.validate(pd.DataFrame({"obs_id": ["a", "b"]}), "t", [exp])
    print("ok", r.success, r.rows)
"""
    for mode, expected in (("ok", "ok True 2"), ("fail", "raised refused")):
        proc = subprocess.run([sys.executable, "-c", code, mode], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == expected
        assert "Traceback" not in proc.stderr  # the failure in the thread is swallowed, not printed


def test_gx_is_imported_without_running_scipy_stats_which_still_works_when_used():
    code = r"""
import sys
from pipeline.expectations import observations as o
o._import_gx()
assert "great_expectations" in sys.modules
assert "scipy.spatial" not in sys.modules  # scipy.stats' own imports have not run
import pandas as pd
exp = o._gx("ExpectColumnValuesToBeUnique", column="obs_id")()
assert o.validate(pd.DataFrame({"obs_id": ["a", "b", "b"]}), "t", [exp]).results[0]["unexpected_count"] == 2
from scipy import stats
print(stats.norm.cdf(0.0), round(float(stats.entropy([0.5, 0.5])), 6))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0.5", "0.693147"]


def test_the_check_leaves_duckdb_threads_and_the_garbage_collector_as_it_found_them(loaded):
    import gc

    from pipeline.expectations import observations

    loaded.execute("SET threads = 3")
    full, gx = observations.check(loaded)
    assert full.success and gx.success
    assert loaded.execute("SELECT current_setting('threads')").fetchone()[0] == 3
    assert gc.isenabled()
    gc.disable()
    try:
        observations.check(loaded)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_in_the_gx_worker_is_raised_by_the_check(loaded, monkeypatch):
    from pipeline.expectations import observations

    def broken(*args, **kwargs):
        raise RuntimeError("gx broke")

    monkeypatch.setattr(observations, "validate", broken)
    with pytest.raises(RuntimeError, match="gx broke"):
        observations.check(loaded)


@pytest.mark.parametrize("raw", ["abc", "0,5", "nan", "-1", "1.5"])
def test_a_minimum_row_share_that_is_not_a_share_is_refused(monkeypatch, raw):
    from pipeline.expectations import observations

    monkeypatch.setenv("DISPLACEMENT_MIN_ROW_SHARE", raw)
    with pytest.raises(ValueError, match="DISPLACEMENT_MIN_ROW_SHARE.*expected a share from 0 to 1"):
        observations._min_row_share()


@pytest.mark.parametrize("raw, share", [("", 0.5), ("0", 0.0), ("0.8", 0.8), (" 1 ", 1.0)])
def test_a_minimum_row_share_is_read_from_the_environment(monkeypatch, raw, share):
    from pipeline.expectations import observations

    monkeypatch.setenv("DISPLACEMENT_MIN_ROW_SHARE", raw)
    assert observations._min_row_share() == share
