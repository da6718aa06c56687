"""Regression guards: small, hand-computed cases that pin semantics an audit found unguarded.

Each test names the mutation it guards against. The models are built from facts CSVs written here, with
their own header (the facts reader takes optional value_low / value_high / admin codes columns), through
the real ingest -> load_base_tables -> run_models path, in an in-memory DuckDB.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

D = dt.date
FIX = Path(__file__).parent / "fixtures" / "sources"
PLACE = "Guardtown"  # not in the gazetteer: the place keeps its own text

HEADER = ("fact_id,source_id,metric,basis,population,unit,value,value_low,value_high,qualifier,period_start,"
          "period_end,date_precision,published_on,country_iso3,admin1_code,admin2_code,place,role,source_org,"
          "source_title,source_url")


def fact(fid, value, start, end=None, *, source="guard", metric="displaced", basis="flow", population="all",
         unit="people", low="", high="", qualifier="exact", published="", country="SYR", admin1="", admin2="",
         place=PLACE, role="recommended", org="Guard Org", title="Guard report",
         url="https://example.org/report") -> str:
    """One line of a facts CSV with HEADER's columns (no commas in any value)."""
    return ",".join(str(v) for v in (
        fid, source, metric, basis, population, unit, value, low, high, qualifier, start, end or start, "day",
        published, country, admin1, admin2, place, role, org, title, url))


def facts_file(tmp_path: Path, rows: list[str], name: str = "guard_facts.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def ingested(tmp_path: Path, rows: list[str]):
    from pipeline import ingest

    return ingest.ingest([facts_file(tmp_path, rows)])


def build(tmp_path: Path, rows: list[str]) -> duckdb.DuckDBPyConnection:
    """The whole warehouse (every model) from our own facts rows only; every row must be accepted."""
    from pipeline import warehouse

    result = ingested(tmp_path, rows)
    assert len(result.rejected) == 0, result.rejected
    assert len(result.observations) == len(rows)
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    return con


def day(n: int, base: dt.date = D(2020, 1, 1)) -> str:
    return (base + dt.timedelta(days=n - 1)).isoformat()


# ---- 1. sql/displacement_pace.sql: the 7-day window is 6 days back and the current day ----

def test_pace_rolling_windows_over_ten_daily_flows(tmp_path):
    # ten one-day flows of 1, 2, ..., 10 people, 1-10 January 2020
    con = build(tmp_path, [fact(f"P{n}", n, day(n)) for n in range(1, 11)])
    rows = con.execute(
        """SELECT date, people_best, rolling_7d, days_in_7d, rolling_30d, days_in_30d, cumulative_in_wave
           FROM displacement_pace WHERE place = ? ORDER BY date""", [PLACE]).fetchall()
    assert [r[0] for r in rows] == [D(2020, 1, n) for n in range(1, 11)]
    last = rows[-1]
    # day 10: the 7 days 4..10 -> (4+5+6+7+8+9+10)/7 = 49/7 = 7.0 (with 7 DAYS back: 52/8 = 6.5 over 8 days)
    assert last[2] == pytest.approx(7.0) and last[3] == 7
    # day 10: the 30-day window holds all ten days -> 55/10 = 5.5
    assert last[4] == pytest.approx(5.5) and last[5] == 10
    assert last[6] == pytest.approx(55.0)
    # day 7: days 1..7 -> 28/7 = 4.0; day 8: days 2..8 -> 35/7 = 5.0
    assert (rows[6][2], rows[6][3]) == (pytest.approx(4.0), 7)
    assert (rows[7][2], rows[7][3]) == (pytest.approx(5.0), 7)


# ---- 2. sql/casualties_monthly.sql: a derived month's bounds, and only one unknown month is derived ----

def test_casualties_derived_month_is_the_span_less_the_known_month(tmp_path):
    killed = dict(metric="killed", population="civilians", qualifier="estimated")
    con = build(tmp_path, [
        fact("K1", 700, "2019-01-01", "2019-02-28", low=600, high=800, published="2019-03-05", **killed),
        fact("K2", 250, "2019-01-01", "2019-01-31", low=200, high=300, published="2019-02-05", **killed),
    ])
    rows = con.execute(
        """SELECT month, derived, killed_best, len(obs_ids) FROM casualties_monthly WHERE place = ? ORDER BY month""",
        [PLACE]).fetchall()
    # February = 700 - 250 = 450, from the span and January's figure
    assert rows == [(D(2019, 1, 1), False, 250.0, 1), (D(2019, 2, 1), True, 450.0, 2)]


def test_casualties_derived_month_takes_interval_bounds(tmp_path):
    """A derived month's bounds are interval arithmetic over the span and the known months (they were always
    blank: the bounds were summed over the missing month's empty join too)."""
    killed = dict(metric="killed", population="civilians", qualifier="estimated")
    con = build(tmp_path, [
        # civilians killed January-February 2019: 700 (600-800); January alone: 250 (200-300)
        fact("K1", 700, "2019-01-01", "2019-02-28", low=600, high=800, published="2019-03-05", **killed),
        fact("K2", 250, "2019-01-01", "2019-01-31", low=200, high=300, published="2019-02-05", **killed),
    ])
    rows = con.execute(
        """SELECT month, derived, killed_low, killed_best, killed_high FROM casualties_monthly
           WHERE place = ? ORDER BY month""", [PLACE]).fetchall()
    # February = span less January: best 700-250 = 450; low = span low - January's high = 600-300 = 300;
    # high = span high - January's low = 800-200 = 600
    assert rows == [(D(2019, 1, 1), False, 200.0, 250.0, 300.0),
                    (D(2019, 2, 1), True, 300.0, 450.0, 600.0)]


def test_casualties_span_with_two_unknown_months_derives_nothing(tmp_path):
    killed = dict(metric="killed", population="civilians", qualifier="estimated")
    con = build(tmp_path, [
        # January-March 2019: 900 (800-1000); only January known (250, 200-300): February and March unknown
        fact("K3", 900, "2019-01-01", "2019-03-31", low=800, high=1000, published="2019-04-05", **killed),
        fact("K4", 250, "2019-01-01", "2019-01-31", low=200, high=300, published="2019-02-05", **killed),
    ])
    rows = con.execute("SELECT month, derived, killed_best FROM casualties_monthly WHERE place = ? ORDER BY month",
                       [PLACE]).fetchall()
    assert rows == [(D(2019, 1, 1), False, 250.0)]


# ---- 3. sql/displacement_flows.sql: differencing carries interval bounds ----

def test_flow_differenced_from_two_cumulative_points_widens_its_bounds(tmp_path):
    cum = dict(basis="cumulative", qualifier="estimated")
    con = build(tmp_path, [
        fact("C1", 100, "2020-01-01", "2020-01-10", low=90, high=110, published="2020-01-11", **cum),
        fact("C2", 200, "2020-01-01", "2020-01-20", low=190, high=210, published="2020-01-21", **cum),
    ])
    rows = con.execute(
        """SELECT kind, period_start, period_end, value_low, value_best, value_high FROM displacement_flows
           WHERE area = ? ORDER BY period_start""", [PLACE]).fetchall()
    # first point as published; difference: low 190-110 = 80, best 200-100 = 100, high 210-90 = 120
    assert rows == [("first_point", D(2020, 1, 1), D(2020, 1, 10), 90.0, 100.0, 110.0),
                    ("difference", D(2020, 1, 11), D(2020, 1, 20), 80.0, 100.0, 120.0)]


# ---- 4. sql/displacement_peaks.sql: a 4-day window needs 4 consecutive days with figures ----

def test_peak_four_day_window_needs_four_consecutive_days(tmp_path):
    # one wave: 10, 20, 30 people on 1-3 January, nothing on the 4th, 100 on the 5th
    con = build(tmp_path, [fact("W1", 10, day(1)), fact("W2", 20, day(2)), fact("W3", 30, day(3)),
                           fact("W5", 100, day(5))])
    peaks = con.execute(
        """SELECT window_days, start_date, end_date, people FROM displacement_peaks
           WHERE place = ? AND measure = 'peak_window' ORDER BY window_days""", [PLACE]).fetchall()
    # no 4 consecutive days at all (days 2-5 miss the 4th): only the 1-day peak, 100 on 5 January
    assert peaks == [(1, D(2020, 1, 5), D(2020, 1, 5), 100.0)]
    assert con.execute("SELECT count(*) FROM displacement_waves WHERE place = ?", [PLACE]).fetchone()[0] == 1


def test_peak_four_day_window_found_over_four_consecutive_days(tmp_path):
    # the positive side: 1-4 January (10+20+30+40 = 100) is a full 4-day window
    con = build(tmp_path, [fact(f"V{n}", 10 * n, day(n)) for n in range(1, 5)])
    peaks = con.execute(
        """SELECT window_days, start_date, end_date, people FROM displacement_peaks
           WHERE place = ? AND measure = 'peak_window' ORDER BY window_days""", [PLACE]).fetchall()
    assert peaks == [(1, D(2020, 1, 4), D(2020, 1, 4), 40.0), (4, D(2020, 1, 1), D(2020, 1, 4), 100.0)]


# ---- 5. sql/displacement_daily.sql: equally specific reports: the latest published is chosen ----

def test_daily_tie_between_two_reports_goes_to_the_latest_published(tmp_path):
    con = build(tmp_path, [
        # one source, the same ten days, two recommended figures: 5,000 (1 March) then 6,000 (10 March).
        # T2's obs_id sorts after T1's, so without the publication date the flow_id tie-break would pick 5,000
        fact("T1", 5000, "2020-02-20", "2020-02-29", published="2020-03-01"),
        fact("T2", 6000, "2020-02-20", "2020-02-29", published="2020-03-10"),
    ])
    chosen = con.execute(
        """SELECT count(*), count(DISTINCT date), min(people_best), max(people_best), sum(people_best)
           FROM displacement_daily WHERE place = ? AND series_role = 'chosen'""", [PLACE]).fetchone()
    # 6,000 over 10 days = 600 a day, each of the 10 days once
    assert chosen == (10, 10, 600.0, 600.0, pytest.approx(6000.0))
    other = con.execute("""SELECT DISTINCT people_best FROM displacement_daily WHERE place = ?
                           AND series_role = 'other'""", [PLACE]).fetchall()
    assert other == [(500.0,)]


# ---- 6. sql/displacement_waves.sql: a gap of 30 days keeps the wave, 31 days starts a new one ----

def test_waves_split_only_on_a_gap_of_more_than_30_days(tmp_path):
    # one-day flows on 1 January, 31 January (30 days later) and 2 March 2020 (31 days after 31 January)
    con = build(tmp_path, [fact("G1", 10, "2020-01-01"), fact("G2", 20, "2020-01-31"), fact("G3", 30, "2020-03-02")])
    waves = con.execute(
        """SELECT start_date, end_date, days_with_figures, total_people FROM displacement_waves
           WHERE place = ? ORDER BY start_date""", [PLACE]).fetchall()
    assert waves == [(D(2020, 1, 1), D(2020, 1, 31), 2, 30.0), (D(2020, 3, 2), D(2020, 3, 2), 1, 30.0)]


# ---- 7. sql/displacement_flows.sql: a cumulative series restarts when its start moves by more than 7 days ----

def test_cumulative_series_restarts_only_when_its_start_moves_more_than_7_days(tmp_path):
    cum = dict(basis="cumulative")
    con = build(tmp_path, [
        fact("R1", 100, "2020-01-01", "2020-01-10", published="2020-01-11", **cum),
        # start restated 7 days later: the same series, differenced: 300 - 100 = 200 over 11-20 January
        fact("R2", 300, "2020-01-08", "2020-01-20", published="2020-01-21", **cum),
        # start moved 8 days (8 -> 16 January): a new series, whose first point is 50
        fact("R3", 50, "2020-01-16", "2020-01-30", published="2020-01-31", **cum),
    ])
    rows = con.execute(
        """SELECT series, kind, period_start, period_end, value_best FROM displacement_flows
           WHERE area = ? ORDER BY period_end""", [PLACE]).fetchall()
    s = f"guard | displaced | all | people | {PLACE} | since "
    assert rows == [(s + "2020-01-01", "first_point", D(2020, 1, 1), D(2020, 1, 10), 100.0),
                    (s + "2020-01-01", "difference", D(2020, 1, 11), D(2020, 1, 20), 200.0),
                    (s + "2020-01-16", "first_point", D(2020, 1, 16), D(2020, 1, 30), 50.0)]


# ---- 8. pipeline/sources/base.py finalize: a best value outside its own bounds is set aside ----

def test_best_value_outside_its_bounds_is_set_aside_with_rule_bounds(tmp_path):
    result = ingested(tmp_path, [
        fact("B1", 100, "2020-01-01", low=90, high=110, qualifier="estimated"),   # line 2: fine
        fact("B2", 100, "2020-01-02", low=150, high=200, qualifier="estimated"),  # line 3: low above best
        fact("B3", 100, "2020-01-03", low=10, high=50, qualifier="estimated"),    # line 4: high below best
    ])
    rejected = [(r.line, r.column_name, r.rule, r.value) for r in result.rejected.itertuples()]
    assert rejected == [(3, "value", "bounds", "100.0"), (4, "value", "bounds", "100.0")]
    obs = result.observations
    assert obs["ingest_row"].tolist() == [2]
    assert (obs["value_low"].tolist(), obs["value_best"].tolist(), obs["value_high"].tolist()) == ([90], [100], [110])
    files = result.files.iloc[0]
    assert (files.rows_read, files.rows_accepted, files.rows_rejected) == (3, 1, 2)


# ---- 9. pipeline/sources/ucdp.py and unhcr.py: a row set aside is reported, never dropped silently ----

def test_ucdp_row_with_unknown_country_is_set_aside_with_line_and_column(tmp_path):
    from pipeline.sources.detect import read_path

    lines = (FIX / "ucdp_ged.csv").read_text(encoding="utf-8").splitlines()
    assert ",Syria,652," in lines[2]
    lines[2] = lines[2].replace(",Syria,652,", ",Atlantis,652,")  # file line 3: a country no table knows
    path = tmp_path / "ged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = read_path(path)
    assert r.format == "ucdp-ged"
    assert [(x.line, x.column, x.rule, x.value) for x in r.rejected] == [(3, "country", "country", "Atlantis")]
    # lines 2 (killed all + civilians) and 4 (killed all; no civilian figure) are kept: three observations
    assert sorted(r.observations["ingest_row"].tolist()) == [2, 2, 4]
    assert r.rows_read == 3 and r.rows_rejected == 1
    assert r.rows_read == r.observations["ingest_row"].nunique() + r.rows_rejected


def test_unhcr_rows_with_a_bad_year_are_set_aside_with_line_and_column(tmp_path):
    from pipeline.sources.detect import read_path

    lines = (FIX / "unhcr_population.csv").read_text(encoding="utf-8").splitlines()
    assert lines[2].startswith("2019,") and lines[3].startswith("2020,")
    lines[2] = "20x9" + lines[2][4:]  # file line 3: not a year at all
    lines[3] = "1850" + lines[3][4:]  # file line 4: a real date, but not a year this data can have
    path = tmp_path / "unhcr.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = read_path(path)
    assert r.format == "unhcr-population"
    assert [(x.line, x.column, x.rule, x.message, x.value) for x in r.rejected] == [
        (3, "year", "date", "expected a year such as 2019", "20x9"),
        (4, "year", "date", "expected a year such as 2019", "1850")]
    # line 2 gives refugees and asylum seekers; line 5 is all zeros (read, accepted, no figure)
    assert sorted(r.observations["ingest_row"].tolist()) == [2, 2]
    assert (r.rows_read, r.rows_accepted, r.rows_rejected) == (4, 2, 2)


# ---- 10. pipeline/expectations/observations.py MIN_ROW_SHARE = 0.5 ----

def test_row_count_drop_fails_below_half_of_the_last_good_run(tmp_path, monkeypatch):
    from pipeline import warehouse
    from pipeline.expectations import observations

    monkeypatch.delenv("DISPLACEMENT_MIN_ROW_SHARE", raising=False)
    result = ingested(tmp_path, [fact(f"N{n}", 100 + n, day(n)) for n in range(1, 28)])  # 27 rows
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)

    def drop_rule(last_good):
        full = observations.check(con, last_good_rows=last_good, use_gx=False)[0]
        rule = next(r for r in full.results if r["expectation"] == "row_count_not_below_share_of_last_good_run")
        return full.success, rule["success"], rule["unexpected_count"]

    assert drop_rule(50) == (True, True, 0)     # 27 of 50 = 54%: not below half
    assert drop_rule(54) == (True, True, 0)     # 27 of 54 = exactly half: not below
    assert drop_rule(55) == (False, False, 28)  # 27 of 55 = 49.1%: below half, 55 - 27 = 28 rows fewer


# ---- 11. pipeline/expectations/observations.py: an admin2 P-code lies within its admin1 ----

def test_admin2_pcode_outside_its_admin1_fails_the_table_rule(tmp_path):
    from pipeline import warehouse
    from pipeline.expectations import observations

    result = ingested(tmp_path, [fact("A1", 10, day(1), admin1="SY01", admin2="SY0101"),
                                 fact("A2", 20, day(2), admin1="SY01", admin2="SY0101")])
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)

    def nesting():
        full = observations.check(con, use_gx=False)[0]
        rule = next(r for r in full.results if r["expectation"] == "admin2_code_within_admin1_code")
        return full.success, rule["success"], rule["unexpected_count"], rule["sample"]

    assert nesting() == (True, True, 0, None)  # SY0101 lies within SY01
    # a row past the readers (they would set it aside): SY0201 is a district of SY02, not of SY01
    con.execute("UPDATE observations SET admin2_code = 'SY0201' WHERE value_best = 20")
    assert nesting() == (False, False, 1, "SY0201")


# ---- 12. pipeline/expectations/aggregates.py TOLERANCE = 1e-6 (relative) ----

def test_daily_rows_scaled_by_a_thousandth_do_not_reconcile(tmp_path):
    from pipeline.expectations import aggregates

    con = build(tmp_path, [fact("S1", 1000, "2020-01-01", "2020-01-10"),
                           fact("S2", 3000, "2020-01-01", "2020-01-10", place="Othertown")])
    assert aggregates.check(con, "displacement_daily").success
    series = f"guard | displaced | all | people | {PLACE} | flows"
    assert con.execute("SELECT count(*) FROM displacement_daily WHERE series = ?", [series]).fetchone()[0] == 10

    def reconcile():
        result = aggregates.check(con, "displacement_daily")
        rule = next(r for r in result.results if r["expectation"] == "expect_daily_totals_to_reconcile_with_flows")
        return rule["success"], rule["unexpected_count"], rule["sample"]

    def scaled(factor):  # every day of the series is 1,000 / 10 = 100 people: set each to 100 x factor
        con.execute("UPDATE displacement_daily SET people_best = 100.0 * ? WHERE series = ?", [factor, series])
        return reconcile()

    # a billionth off (float noise, far inside the relative 1e-6) still reconciles
    assert scaled(1 + 1e-9) == (True, 0, None)
    # ten millionths off (ten times the tolerance): 1,000 flows against 1,000.01 daily people
    assert scaled(1.00001) == (False, 1, f"{series}: flows 1000.0, daily 1000.01")
    # a thousandth off: 1,000 flows against 1,001 daily people
    assert scaled(1.001) == (False, 1, f"{series}: flows 1000.0, daily 1001.0")


# ---- 13. pipeline/site/templates/_table.html and _chart.html: source titles are escaped ----

HOSTILE = '"><img src=x onerror=alert(1)>'
HOSTILE_ESCAPED = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
HOSTILE_2 = '"><img src=y onerror=alert(2)>'  # a second one, cited without a link
HOSTILE_2_ESCAPED = "&#34;&gt;&lt;img src=y onerror=alert(2)&gt;"


def test_hostile_source_title_is_escaped_in_table_title_attribute_and_chart_sources(tmp_path):
    from pipeline.site import pages
    from pipeline.site.render import environment, render_page

    def csv_field(text):
        return '"' + text.replace('"', '""') + '"'

    con = build(tmp_path, [
        # three sources, one place and period: the Sources page compares them in a chart that cites each
        fact("H1", 5000, "2020-02-01", "2020-02-10", published="2020-02-11", title=csv_field(HOSTILE)),
        fact("H2", 6000, "2020-02-01", "2020-02-10", published="2020-02-12", source="other", org="Other Org",
             title="Other report", url="https://example.org/other"),
        # not a web link: cited as plain text, no link
        fact("H3", 7000, "2020-02-01", "2020-02-10", published="2020-02-13", source="third", org="Third Org",
             title=csv_field(HOSTILE_2), url="javascript:alert(3)"),
    ])
    assert con.execute("SELECT source_title FROM observations WHERE source_id = 'guard'").fetchone()[0] == HOSTILE
    out = tmp_path / "site"
    out.mkdir()
    ctx = pages.sources_page(con, out)  # the real page builder: tables from the warehouse, the comparison chart
    assert [s["title"] for s in ctx["charts"][0]["spec"].sources] == [HOSTILE, "Other report", HOSTILE_2]
    assert any(r["source_title"] == HOSTILE for t in ctx["tables"] if t["id"] == "figures" for r in t["rows"])
    page = out / "sources.html"
    render_page(environment(), "topic.html", page, page="sources", **pages.common_context(con), **ctx)
    html = page.read_text(encoding="utf-8")
    assert "<img" not in html and "onerror=alert(1)>" not in html and "javascript:" not in html
    # the figures table: the source cell's link carries the title attribute, escaped
    assert f'<a href="https://example.org/report" rel="noopener noreferrer" title="{HOSTILE_ESCAPED}">Guard Org</a>' in html
    # the chart's cited sources: the document title, escaped
    assert (f'<cite><a href="https://example.org/report" rel="noopener noreferrer">{HOSTILE_ESCAPED}</a></cite>'
            in html)
    assert f"<cite>{HOSTILE_2_ESCAPED}</cite>" in html


# ---- 14. pipeline/fetch/core.py: secrets from the environment are redacted in every form ----

def test_quote_plus_form_of_a_secret_is_redacted_and_fetch_errors_never_carry_it(monkeypatch):
    from urllib.parse import quote_plus

    from pipeline.fetch import core

    monkeypatch.setattr(core, "_SECRETS", set())  # this test's secrets only, forgotten afterwards
    secret = "s3cret key/with+plus"
    monkeypatch.setenv("GUARD_TEST_API_KEY", secret)
    assert core.credential("GUARD_TEST_API_KEY", "The guard test API") == secret
    plus = quote_plus(secret, safe="")
    assert plus == "s3cret+key%2Fwith%2Bplus"  # a form body or query string's spelling, unlike quote's %20

    # a query parameter whose name says nothing: only the value redaction can catch it
    url = f"https://api.example.org/v1/items?q={plus}&page=2"
    assert core.redact(url) == f"https://api.example.org/v1/items?q={core.REDACTED}&page=2"
    assert core.redact(f"q={plus.replace('%2F', '%2f').replace('%2B', '%2b')}") == f"q={core.REDACTED}"
    assert core.redact(f"body: user=a&token={plus}") == f"body: user=a&token={core.REDACTED}"

    for message in (f"HTTP 401 from {url}", f"the server echoed {secret!r} back", f"form {plus} refused"):
        text = str(core.FetchError(message))
        assert secret not in text and plus not in text and core.REDACTED in text
    assert str(core.FetchError(f"the server echoed {secret} back")) == f"the server echoed {core.REDACTED} back"


# ---- base.finalize: a year typed wrong is set aside; it once reached the validation and broke the build ----

def test_a_date_outside_1900_2099_is_set_aside_and_the_check_still_runs(tmp_path):
    from pipeline import warehouse
    from pipeline.expectations import observations

    result = ingested(tmp_path, [fact("Y0", 10, "2020-01-01"), fact("Y1", 10, "1019-12-01", "2019-12-31"),
                                 fact("Y2", 10, "2019-12-01", "2919-12-31"),
                                 fact("Y3", 10, "2019-12-01", published="0022-11-30"),
                                 fact("Y4", 10, "1900-01-01", "2099-12-31")])
    got = result.rejected[["line", "column_name", "rule", "value"]].values.tolist()
    assert got == [[3, "period_start", "date_range", "1019-12-01"], [4, "period_end", "date_range", "2919-12-31"],
                   [5, "published_on", "date_range", "0022-11-30"]]
    assert set(result.rejected["message"]) == {"expected a date between 1900 and 2099"}
    assert sorted(result.observations["ingest_row"]) == [2, 6]  # the range's own ends are dates it accepts
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    assert all(r.success for r in observations.check(con))


# ---- base.finalize: a count is a whole number; "1.234" (a dot between thousands) is not one person and a bit ----

@pytest.mark.parametrize("value, low, high, column", [("1.234", "", "", "value"), ("2.5", "", "", "value"),
                                                      ("10", "9.5", "", "value_low"), ("10", "", "10.25", "value_high")])
def test_a_count_with_a_fraction_is_set_aside(tmp_path, value, low, high, column):
    # the column is named as in the file: the facts table calls the figure `value`
    result = ingested(tmp_path, [fact("W0", "7.0", "2020-01-01"), fact("W1", value, "2020-01-01", low=low, high=high)])
    assert result.rejected[["line", "column_name", "rule"]].values.tolist() == [[3, column, "whole_number"]]
    assert "a dot is read as a decimal point" in result.rejected["message"].iloc[0]
    assert result.observations["value_best"].tolist() == [7.0]  # 7.0 is a whole number, written with a point


# ---- sql/displacement_flows.sql: a difference of two qualified totals carries the qualifier they allow ----

@pytest.mark.parametrize("first, second, expected", [
    ("exact", "more_than", "more_than"), ("exact", "approximately", "approximately"),
    ("more_than", "more_than", "approximately"), ("at_least", "exact", "up_to"), ("up_to", "exact", "at_least"),
    ("up_to", "more_than", "more_than"), ("less_than", "at_least", "more_than"), ("up_to", "at_least", "at_least"),
    ("more_than", "up_to", "less_than"), ("approximately", "exact", "approximately"),
])
def test_a_difference_is_as_qualified_as_its_two_points_allow(tmp_path, first, second, expected):
    cum = dict(basis="cumulative")
    con = build(tmp_path, [fact("Q1", 200, "2020-01-01", "2020-01-10", qualifier=first, published="2020-01-11", **cum),
                           fact("Q2", 400, "2020-01-01", "2020-01-20", qualifier=second, published="2020-01-21",
                                **cum)])
    got = con.execute("""SELECT kind, qualifier, value_best FROM displacement_flows WHERE area = ?
                         ORDER BY period_start""", [PLACE]).fetchall()
    assert got == [("first_point", first, 200.0), ("difference", expected, 200.0)]
