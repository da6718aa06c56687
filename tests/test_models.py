"""The DuckDB models on the embedded default data, against values computed by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

D = dt.date
NW = "North-west Syria"
ROOT_FIGURES = Path(__file__).resolve().parents[1] / "data" / "default" / "figures.csv"


def chosen_sum(con, place, start, end, unit="people"):
    return con.execute(
        """SELECT sum(people_best), count(*) FROM displacement_daily
           WHERE place = ? AND metric = 'displaced' AND population = 'all' AND unit = ?
             AND series_role = 'chosen' AND date BETWEEN ? AND ?""",
        [place, unit, start, end],
    ).fetchone()


def figures_file(tmp_path, name: str, rows: list[str]) -> Path:
    """A facts CSV of our own rows, with the embedded facts' header."""
    header = ROOT_FIGURES.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_observations_hold_one_row_per_default_figure(default_warehouse):
    import csv

    from pipeline.ingest import DEFAULT_FILES

    with open(DEFAULT_FILES[0], newline="", encoding="utf-8") as fh:
        fact_ids = [row["fact_id"] for row in csv.DictReader(fh)]
    n = default_warehouse.execute("SELECT count(*), count(DISTINCT obs_id) FROM observations").fetchone()
    assert n == (len(fact_ids), len(fact_ids))


def test_winter_wave_sums_to_ocha_948000_and_keeps_the_142000_in_four_days(default_warehouse):
    total, days = chosen_sum(default_warehouse, NW, D(2019, 12, 1), D(2020, 2, 23))
    assert days == 85  # every day from 1 December to 23 February, once
    assert total == pytest.approx(948_000, abs=1)
    four, n4 = chosen_sum(default_warehouse, NW, D(2020, 2, 9), D(2020, 2, 12))
    assert n4 == 4 and four == pytest.approx(142_000, abs=1)
    # the rest of OCHA's 2-12 February interval (800,000 - 586,000 = 214,000) spreads over 3-8 February
    rest, n6 = chosen_sum(default_warehouse, NW, D(2020, 2, 3), D(2020, 2, 8))
    assert n6 == 6 and rest == pytest.approx(214_000 - 142_000, abs=1)
    rates = default_warehouse.execute(
        """SELECT DISTINCT people_best FROM displacement_daily WHERE place = ? AND series_role = 'chosen'
           AND metric = 'displaced' AND unit = 'people' AND population = 'all'
           AND date BETWEEN '2020-02-09' AND '2020-02-12'""", [NW]).fetchall()
    assert rates == [(35_500.0,)]


def test_peak_four_day_window_of_the_winter_wave_is_9_to_12_february(default_warehouse):
    row = default_warehouse.execute(
        """SELECT start_date, end_date, people, people_per_day FROM displacement_peaks
           WHERE place = ? AND unit = 'people' AND measure = 'peak_window' AND window_days = 4
           ORDER BY people DESC LIMIT 1""", [NW]).fetchone()
    assert row == (D(2020, 2, 9), D(2020, 2, 12), pytest.approx(142_000), pytest.approx(35_500))


def test_maarat_al_numan_60000_in_four_days_is_15000_a_day(default_warehouse):
    rows = default_warehouse.execute(
        """SELECT date, people_best FROM displacement_daily
           WHERE place = 'Maarat al-Numan' AND metric = 'displaced' AND series_role = 'chosen' ORDER BY date""").fetchall()
    assert rows == [(D(2019, 8, d), 15_000.0) for d in (17, 18, 19, 20)]


def test_february_revisions_are_compared_never_added_and_do_not_bend_the_daily_series(default_warehouse):
    con = default_warehouse
    feb = con.execute(
        """SELECT source_id, value_best, n_sources FROM source_comparison
           WHERE place = ? AND metric = 'displaced' AND unit = 'people' AND population = 'all'
             AND period_start = '2020-02-01' AND period_end = '2020-02-29' ORDER BY source_id""", [NW]).fetchall()
    assert feb == [("hnap", 742_109.0, 2), ("ocha", 752_131.0, 2)]
    # the chosen series stops with OCHA's last sitrep figure; no day of it comes from the revision
    last_day = con.execute(
        """SELECT max(date) FROM displacement_daily WHERE place = ? AND series_role = 'chosen' AND unit = 'people'
           AND population = 'all' AND metric = 'displaced' AND date >= '2019-12-01'""", [NW]).fetchone()[0]
    assert last_day == D(2020, 2, 23)
    chosen_sources = con.execute(
        """SELECT DISTINCT source_id, role FROM displacement_daily WHERE place = ? AND series_role = 'chosen'
           AND date BETWEEN '2020-02-01' AND '2020-02-29'""", [NW]).fetchall()
    assert set(chosen_sources) == {("ocha", "recommended")}
    # and nothing is ever summed across series: at most one chosen row per date, place, metric, population, unit
    dupes = con.execute(
        """SELECT count(*) FROM (SELECT date, place, metric, population, unit FROM displacement_daily
           WHERE series_role = 'chosen' GROUP BY ALL HAVING count(*) > 1)""").fetchone()[0]
    assert dupes == 0


def test_spring_wave_series_restating_its_start_is_one_series(default_warehouse):
    total, _ = chosen_sum(default_warehouse, NW, D(2019, 4, 29), D(2019, 8, 23))
    assert total == pytest.approx(400_000, abs=1)  # OCHA: more than 400,000 by 23 August


def test_more_than_is_a_lower_bound_carried_to_daily_rates(default_warehouse):
    obs = default_warehouse.execute(
        """SELECT value_low, value_best, value_high FROM observations
           WHERE source_id = 'ocha' AND value_best = 948000 AND population = 'all'""").fetchone()
    assert obs == (948_000.0, 948_000.0, None)
    # SOHR's "at least 450,000 since April" is the only point of its series: low bound per day, no upper bound
    daily = default_warehouse.execute(
        """SELECT DISTINCT people_low, people_high, people_best FROM displacement_daily
           WHERE source_id = 'sohr' AND place = ? AND flow_start = '2019-04-01'""", [NW]).fetchall()
    days = (D(2019, 8, 21) - D(2019, 4, 1)).days + 1
    assert daily == [(pytest.approx(450_000 / days), None, pytest.approx(450_000 / days))]


def test_casualties_monthly_keeps_snhr_january_2020_and_derives_february(default_warehouse):
    rows = dict(((m, d), (k, c)) for m, d, k, c in default_warehouse.execute(
        """SELECT month, derived, killed_best, children_best FROM casualties_monthly
           WHERE source_id = 'snhr' AND place = 'Syria' AND admin1_name IS NULL""").fetchall())
    assert rows[(D(2020, 1, 1), False)] == (286.0, 73.0)
    assert rows[(D(2020, 2, 1), True)] == (707.0 - 286 - 145, None)
    assert (D(2020, 2, 1), False) not in rows


def test_headline_figures_lead_with_scale_and_pace(default_warehouse):
    rows = default_warehouse.execute("SELECT key, value_best, qualifier FROM headline_figures ORDER BY rank").fetchall()
    keys = {k: (v, q) for k, v, q in rows}
    assert keys["scale"] == (948_000.0, "more_than")
    assert keys["peak_pace"][0] == pytest.approx(35_500)
    assert keys["killed_2019"] == (3_364.0, "at_least")


def test_waves_found_in_the_data(default_warehouse):
    waves = default_warehouse.execute(
        """SELECT start_date, end_date, peak_date, round(total_people) FROM displacement_waves
           WHERE place = ? AND unit = 'people' ORDER BY start_date""", [NW]).fetchall()
    assert waves == [(D(2019, 4, 29), D(2019, 8, 23), D(2019, 4, 29), 400_000),
                     (D(2019, 12, 1), D(2020, 2, 23), D(2020, 2, 9), 948_000)]


def test_models_run_in_dependency_order():
    from pipeline.warehouse import model_order, models

    order = model_order()
    assert sorted(order) == sorted(models()), "every sql/ model runs, once"
    tables = {"observations", "gazetteer", "key_events"}  # loaded before the models, not made by them
    for name, (deps, _) in models().items():
        for dep in deps:
            assert dep in order or dep in tables, (name, dep)
            if dep in order:
                assert order.index(dep) < order.index(name)


def test_refugees_by_asylum_chooses_one_source_per_year_and_country():
    import duckdb

    from pipeline import ingest, warehouse

    root = Path(__file__).parent / "fixtures"
    files = [root / "sources" / "unhcr_population.csv", root / "models" / "hapi_refugees_2019.json"]
    result = ingest.ingest(files)
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    rows = con.execute(
        """SELECT year, asylum_iso3, refugees, asylum_seekers FROM refugees_by_asylum
           WHERE origin_iso3 = 'SYR' ORDER BY year, asylum_iso3""").fetchall()
    lebanon_2019 = [r for r in rows if r[:2] == (2019, "LBN")]
    # two sources report Lebanon in 2019 (910,000 and 905,000): one is used, never their sum,
    # and HAPI's breakdown by sex is not added to its total
    # both recommended and undated: the tie goes by source_id, so always the same one (hapi-refugees' 905,000)
    assert len(lebanon_2019) == 1 and lebanon_2019[0][2] == 905_000.0
    assert (2020, "DEU", 560_000.0, None) in rows


def test_a_source_s_mid_year_and_end_of_year_stocks_are_not_added(tmp_path):
    """Two stocks of one source in one year (30 June and 31 December) were summed: 7,170,000 Syrian refugees in
    Turkey for 2019. The year's stock is the later; two stocks of one date are parts of it and are added."""
    header = ("fact_id,source_id,metric,basis,population,unit,value,qualifier,period_start,period_end,"
              "date_precision,published_on,country_iso3,origin_iso3,place,role,source_org,source_title")
    con = _facts_models(tmp_path, header, [
        "A,unhcr,refugees,stock,all,people,3600000,exact,2019-06-30,2019-06-30,day,2019-09-01,TUR,SYR,Turkey,"
        "recommended,UNHCR,t",
        "B,unhcr,refugees,stock,all,people,3570000,exact,2019-12-31,2019-12-31,day,2020-06-01,TUR,SYR,Turkey,"
        "recommended,UNHCR,t",
        "C,unhcr,refugees,stock,all,people,900000,exact,2019-12-31,2019-12-31,day,2020-06-01,LBN,SYR,Lebanon,"
        "recommended,UNHCR,t",
        "D,unhcr,refugees,stock,all,people,5000,exact,2019-12-31,2019-12-31,day,2020-06-01,LBN,SYR,Lebanon,"
        "recommended,UNHCR,t",
        # the same date's stock revised in a later publication replaces it (it was added to it)
        "E,unhcr,refugees,stock,all,people,3576000,exact,2019-12-31,2019-12-31,day,2021-06-01,TUR,SYR,Turkey,"
        "recommended,UNHCR,t"])
    got = con.execute("SELECT asylum_iso3, refugees FROM refugees_by_asylum ORDER BY asylum_iso3").fetchall()
    assert got == [("LBN", 905000.0), ("TUR", 3576000.0)]


def test_gazetteer_maps_spellings_to_one_place_and_never_adds_a_place_to_its_region(tmp_path):
    import duckdb

    from pipeline import ingest, warehouse

    rows = [
        "T1,test,displaced,flow,all,people,8000,exact,2019-08-17,2019-08-20,day,2019-08-21,SYR,,,معرة النعمان,,triangulation,Test,t,,",
        "T2,test,displaced,flow,all,people,4000,exact,2019-08-21,2019-08-22,day,2019-08-23,SYR,,,Ma'arrat an-Nu'man,,triangulation,Test,t,,",
    ]
    extra = figures_file(tmp_path, "aliases.csv", rows)
    result = ingest.ingest([ROOT_FIGURES, extra])
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    places = con.execute("SELECT DISTINCT area FROM places WHERE source_id = 'test'").fetchall()
    assert places == [("Maarat al-Numan",)]
    # the region's chosen series over those days is OCHA's alone: the town's figures are not added to it
    nw = con.execute(
        """SELECT DISTINCT source_id FROM displacement_daily WHERE place = 'North-west Syria'
           AND series_role = 'chosen' AND date BETWEEN '2019-08-17' AND '2019-08-22'""").fetchall()
    assert nw == [("ocha",)]


def test_a_model_that_became_a_view_replaces_the_table_an_older_warehouse_holds():
    import duckdb

    from pipeline import ingest, warehouse

    con = duckdb.connect()
    result = ingest.ingest(ingest.DEFAULT_FILES)
    warehouse.load_base_tables(con, result.observations, result.rejected)
    con.execute("CREATE TABLE places AS SELECT 1 AS stale").fetchall()
    for _ in range(2):  # and running again over the view works too
        counts = warehouse.run_models(con)
        assert counts["places"] == len(result.observations)
    kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'places'").fetchall()
    assert kind == [("VIEW",)]


def test_models_do_not_depend_on_the_order_observations_are_stored_in(tmp_path):
    """Observations may be stored sorted by obs_id or in file and line order: every model gives the same
    rows either way, and a tie (two reports of one flow by one source, same days, same publication
    date) is broken by flow_id, never by whichever row came first."""
    import duckdb

    from pipeline import ingest, warehouse

    rows = [
        "T1,test,displaced,flow,all,people,4000,exact,2019-08-01,2019-08-04,day,2019-08-05,SYR,,,Testville,,recommended,Test,t,,",
        "T2,test,displaced,flow,all,people,8000,exact,2019-08-01,2019-08-04,day,2019-08-05,SYR,,,Testville,,recommended,Test,t,,",
    ]
    extra = figures_file(tmp_path, "ties.csv", rows)
    result = ingest.ingest([ROOT_FIGURES, extra])

    def build(path, order_by: str):
        con = duckdb.connect(str(path))
        warehouse.load_base_tables(con, result.observations, result.rejected)
        con.execute(f"CREATE TEMP TABLE stored AS SELECT * FROM observations ORDER BY {order_by}")
        con.execute("DELETE FROM observations")
        con.execute("INSERT INTO observations SELECT * FROM stored")
        warehouse.run_models(con)
        return con

    ref = build(tmp_path / "ref.duckdb", "obs_id")
    chosen = ref.execute(
        """SELECT date, count(*), min(flow_id), any_value(flow_id) FILTER (WHERE series_role = 'chosen')
           FROM displacement_daily WHERE place = 'Testville' GROUP BY date ORDER BY date""").fetchall()
    assert [row[:2] for row in chosen] == [(D(2019, 8, d), 2) for d in (1, 2, 3, 4)]
    assert all(first == picked for _, _, first, picked in chosen)
    ref.close()
    for order_by in ("obs_id DESC", "ingest_file DESC, ingest_row DESC", "hash(obs_id || 'x')"):
        con = build(":memory:", order_by)
        con.execute(f"ATTACH '{tmp_path / 'ref.duckdb'}' AS ref (READ_ONLY)")
        for name in warehouse.model_order():
            for a, b in ((name, f"ref.{name}"), (f"ref.{name}", name)):
                extra_rows = con.execute(f"SELECT count(*) FROM (FROM {a} EXCEPT ALL FROM {b})").fetchone()[0]
                assert extra_rows == 0, (name, order_by)
        con.close()


def test_a_monthly_casualty_figure_is_one_row_even_if_its_place_name_has_two_levels(tmp_path):
    """A country-level figure (area = the country code) and a place that happens to be written the same
    way: the monthly row is kept once, at its own figure's level (it was once joined to every level the
    name had anywhere, which doubled it)."""
    import duckdb

    from pipeline import ingest, warehouse

    rows = [
        "K1,test,killed,flow,civilians,people,120,exact,2020-01-01,2020-01-31,month,2020-02-05,YEM,,Aden,,,recommended,Test,t,,",
        "K2,test,killed,flow,civilians,people,40,exact,2020-02-01,2020-02-29,month,2020-03-05,YEM,,,,,recommended,Test,t,,",
        "P1,test2,displaced,flow,all,people,500,exact,2020-02-03,2020-02-04,day,2020-02-05,YEM,,,YEM,,recommended,Test,t,,",
    ]
    extra = figures_file(tmp_path, "levels.csv", rows)
    result = ingest.ingest([extra])
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    # outside the gazetteer's countries a place is named with its country, so the place "YEM" is "YEM, YEM"
    # now and never meets the country's area; the monthly rows below must come out the same either way
    levels = con.execute("SELECT DISTINCT area, area_level FROM places WHERE area LIKE 'YEM%' ORDER BY 1").fetchall()
    assert levels == [("YEM", "country"), ("YEM, YEM", "place")]
    got = con.execute("""SELECT month, place, admin1_name, killed_best FROM casualties_monthly
                         WHERE source_id = 'test' ORDER BY month""").fetchall()
    # a governorate the gazetteer does not know is named with its country
    assert got == [(D(2020, 1, 1), "Aden, YEM", "Aden", 120.0), (D(2020, 2, 1), "YEM", None, 40.0)]


def test_peak_windows_that_tie_take_the_earliest_even_when_float_sums_differ_in_the_last_digit(tmp_path):
    """Windows around a one-day spike in a flat series have the same total, but float sums of 539.833...
    (9,705 over 18 days, 6,470 over 12: counts are whole, their daily rates are not) and 19,655 taken over
    different frames can differ in their last digit (as on the 5M benchmark's data). Such windows are a tie
    (totals within a millionth of a person), and the earliest is the peak, as documented: the window ending
    on the spike."""
    import duckdb

    from pipeline import ingest, warehouse

    rows = [
        "T1,test,displaced,flow,all,people,9705,exact,2020-06-01,2020-06-18,day,2020-07-02,SYR,,,Testville,,recommended,Test,t,,",
        "T2,test,displaced,flow,all,people,19655,exact,2020-06-19,2020-06-19,day,2020-07-02,SYR,,,Testville,,recommended,Test,t,,",
        "T3,test,displaced,flow,all,people,6470,exact,2020-06-20,2020-07-01,day,2020-07-02,SYR,,,Testville,,recommended,Test,t,,",
    ]
    result = ingest.ingest([figures_file(tmp_path, "spike.csv", rows)])
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    peaks = con.execute(
        """SELECT window_days, start_date, end_date, people FROM displacement_peaks
           WHERE place = 'Testville' AND measure = 'peak_window' ORDER BY window_days""").fetchall()
    assert [p[:3] for p in peaks] == [(1, D(2020, 6, 19), D(2020, 6, 19)), (4, D(2020, 6, 16), D(2020, 6, 19)),
                                      (7, D(2020, 6, 13), D(2020, 6, 19)), (30, D(2020, 6, 1), D(2020, 6, 30))]
    assert [p[3] for p in peaks] == [pytest.approx(19_655 + (n - 1) * 3235 / 6) for n in (1, 4, 7, 30)]


def test_days_to_pass_a_threshold_count_a_running_total_that_reaches_it_within_float_error(default_warehouse):
    """OCHA's "some 900,000" since 1 December was reported on 20 February 2020 (day 82): the daily series
    sums to 899,999.9999999999 there, a float error, and that day passes 900,000, not the next."""
    days = {t: (end, taken) for t, end, taken in default_warehouse.execute(
        """SELECT threshold, end_date, days_taken FROM displacement_peaks
           WHERE place = ? AND unit = 'people' AND measure = 'days_to_pass' AND wave_label LIKE 'December%'""",
        [NW]).fetchall()}
    assert days[900_000] == (D(2020, 2, 20), 82)
    total, n = chosen_sum(default_warehouse, NW, D(2019, 12, 1), D(2020, 2, 20))
    assert n == 82 and total == pytest.approx(900_000, abs=1e-6)


def _models_on(tmp_path, rows, name="extra.csv", with_default=False):
    import duckdb

    from pipeline import ingest, warehouse

    files = ([*ingest.DEFAULT_FILES] if with_default else []) + [figures_file(tmp_path, name, rows)]
    result = ingest.ingest(files)
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    return con


def test_deaths_of_everyone_are_never_published_as_civilian_deaths(tmp_path):
    """HAPI's political_violence fatalities (and ACLED's on HDX) count everyone killed, combatants included;
    civilian_targeting's count civilians. The monthly table keeps the two apart, and the civilians chart
    draws only civilians."""
    from pipeline.charts import casualties

    rows = [
        "A1,acled-hapi,killed,flow,all,people,55,exact,2020-01-01,2020-01-31,month,2020-02-05,SYR,,Idlib,,,recommended,ACLED via HAPI,t,,",
        "A2,acled-hapi,killed,flow,civilians,people,18,exact,2020-01-01,2020-01-31,month,2020-02-05,SYR,,Idlib,,,recommended,ACLED via HAPI,t,,",
        "A3,acled-hapi,killed,flow,all,people,40,exact,2020-02-01,2020-02-29,month,2020-03-05,SYR,,Idlib,,,recommended,ACLED via HAPI,t,,",
    ]
    con = _models_on(tmp_path, rows)
    got = con.execute("""SELECT month, population, killed_best FROM casualties_monthly
                         WHERE source_id = 'acled-hapi' ORDER BY month, population""").fetchall()
    assert got == [(D(2020, 1, 1), "all", 55.0), (D(2020, 1, 1), "civilians", 18.0), (D(2020, 2, 1), "all", 40.0)]
    spec = casualties.monthly_deaths(con, place="Idlib governorate", source_id="acled-hapi")
    assert spec.data["civilians_killed"].dropna().tolist() == [18]
    from pipeline.site import pages

    table, _ = pages.monthly_rows(con)
    assert table[["killed_best", "who"]].values.tolist() == [[18, "civilians"], [55, "everyone, combatants included"],
                                                             [40, "everyone, combatants included"]]


def test_a_monthly_death_toll_republished_is_counted_once_and_the_derived_month_stays(tmp_path):
    """SNHR's own January 2020 report, loaded beside the default data's relay of it by MEMO: one January
    row (the later publication's), and February is still derived from the two-month figure."""
    rows = ["X1,snhr,killed,flow,civilians,people,286,at least,2020-01-01,2020-01-31,day,2020-02-03,SYR,,,Syria,Syria,"
            "recommended,SNHR,SNHR monthly report January 2020,https://example.org/snhr-jan-2020,"]
    con = _models_on(tmp_path, rows, with_default=True)
    got = con.execute("""SELECT month, derived, killed_best, children_best, obs_ids FROM casualties_monthly
                         WHERE source_id = 'snhr' AND place = 'Syria' AND month IN ('2020-01-01', '2020-02-01')
                         ORDER BY month""").fetchall()
    assert [g[:4] for g in got] == [(D(2020, 1, 1), False, 286.0, 73.0), (D(2020, 2, 1), True, 707.0 - 286 - 145, None)]
    x1 = con.execute("SELECT obs_id FROM observations WHERE ingest_file = 'extra.csv'").fetchone()[0]
    assert got[0][4] == [x1]


def _winter(con):
    total, days = chosen_sum(con, NW, D(2019, 12, 1), D(2020, 2, 23))
    low = con.execute("""SELECT min(people_best) FROM displacement_daily WHERE place = ? AND metric = 'displaced'
                         AND population = 'all' AND unit = 'people'""", [NW]).fetchone()[0]
    return total, days, low


@pytest.mark.parametrize("value, published", [(142_000, "2020-02-14"), (150_000, "2020-02-20")],
                         ids=["copy", "restated"])
def test_a_nested_figure_given_twice_is_taken_from_its_interval_once(tmp_path, value, published):
    """OCHA's 142,000 for 9-12 February 2020, loaded again from a copy of the same report, or restated later
    as 150,000: the 2-12 February interval keeps 214,000 in all, the latest figure is the one nested, and a
    restated first figure stays beside it (subtracted twice, the rates went negative and the blocking check
    refused the build)."""
    row = (f"R23,ocha,displaced,flow,all,people,{value},some,2020-02-09,2020-02-12,day,{published},SYR,,,"
           "North-west Syria,NW Syria,recommended,OCHA,Another report,https://example.org/again,")
    con = _models_on(tmp_path, [row], with_default=True)
    total, days, low = _winter(con)
    assert days == 85 and total == pytest.approx(948_000, abs=1) and low >= 0
    four, _ = chosen_sum(con, NW, D(2020, 2, 9), D(2020, 2, 12))
    rest, n6 = chosen_sum(con, NW, D(2020, 2, 3), D(2020, 2, 8))
    assert n6 == 6 and (four, rest) == (pytest.approx(value, abs=1), pytest.approx(214_000 - value, abs=1))
    kinds = con.execute("""SELECT value_best, kind FROM displacement_flows WHERE area = ? AND period_start = '2020-02-09'
                           AND period_end = '2020-02-12' ORDER BY value_best""", [NW]).fetchall()
    assert kinds == ([(142_000, "nested")] if value == 142_000 else [(142_000, "overlapping"), (150_000, "nested")])


def test_a_week_inside_a_month_of_the_same_source_is_not_counted_twice(tmp_path):
    """One source's 120,000 for October 2019 and its 50,000 for 14-20 October: the week is part of the
    month, so the month's other 24 days share 70,000 and October sums to 120,000."""
    rows = [
        "M1,tst,displaced,flow,all,people,120000,exact,2019-10-01,2019-10-31,day,2019-11-05,SYR,,,Testland,,recommended,Test,t,,",
        "W1,tst,displaced,flow,all,people,50000,exact,2019-10-14,2019-10-20,day,2019-10-22,SYR,,,Testland,,recommended,Test,t,,",
    ]
    con = _models_on(tmp_path, rows)
    total, days = chosen_sum(con, "Testland", D(2019, 10, 1), D(2019, 10, 31))
    assert days == 31 and total == pytest.approx(120_000)
    week, _ = chosen_sum(con, "Testland", D(2019, 10, 14), D(2019, 10, 20))
    assert week == pytest.approx(50_000)
    rate = con.execute("""SELECT DISTINCT round(people_best, 6) FROM displacement_daily WHERE place = 'Testland'
                          AND series_role = 'chosen' AND date = '2019-10-02'""").fetchall()
    assert rate == [(round(70_000 / 24, 6),)]
    wave = con.execute("SELECT total_people FROM displacement_waves WHERE place = 'Testland'").fetchall()
    assert [w[0] for w in wave] == [pytest.approx(120_000)]


def test_an_acled_event_dated_only_to_its_month_is_not_a_monthly_total():
    """The ACLED fixture's SYR90003 has time_precision 3 (its month): one event, not Kafr Nuran's month."""
    import duckdb

    from pipeline import ingest, warehouse

    result = ingest.ingest([Path(__file__).parent / "fixtures" / "sources" / "acled_events.csv"])
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    month_events = con.execute("""SELECT count(*) FROM observations WHERE source_id = 'acled' AND metric = 'killed'
                                  AND date_precision = 'month'""").fetchone()[0]
    assert month_events == 1
    assert con.execute("SELECT count(*) FROM casualties_monthly").fetchone()[0] == 0
    from pipeline.sources import acled

    sql = (Path(__file__).resolve().parents[1] / "sql" / "casualties_monthly.sql").read_text(encoding="utf-8")
    assert f"source_title = '{acled.EVENTS_TITLE}'" in sql  # the model names the readers' own title


def test_a_week_across_two_of_a_running_total_s_intervals_is_part_of_it_not_added_to_it(tmp_path):
    """OCHA's 200,000 for 26 January-2 February 2020 straddles its running total's point of 27 January: the
    week is inside the running total, so the winter wave still sums to 948,000 and the week to 200,000 (it
    was added on top: 989,789)."""
    row = ("W01,ocha,displaced,flow,all,people,200000,exact,2020-01-26,2020-02-02,day,2020-02-03,SYR,,,"
           "North-west Syria,NW Syria,recommended,OCHA,A weekly figure,https://example.org/week,")
    con = _models_on(tmp_path, [row], with_default=True)
    total, days, low = _winter(con)
    assert days == 85 and total == pytest.approx(948_000, abs=1) and low >= 0
    week, n = chosen_sum(con, NW, D(2020, 1, 26), D(2020, 2, 2))
    assert n == 8 and week == pytest.approx(200_000, abs=1)
    wave = con.execute("""SELECT total_people FROM displacement_waves WHERE place = ? AND start_date >= '2019-11-01'
                          AND start_date < '2020-03-01'""", [NW]).fetchall()
    assert [w[0] for w in wave] == [pytest.approx(948_000, abs=1)]


def test_each_district_is_its_own_area_never_one_figure_of_its_governorate(tmp_path):
    """HDX HAPI gives conflict deaths per district (admin2) with no place of their own. They were all filed
    under their governorate, and casualties_monthly kept one district's figure as the governorate's month
    ("published twice"): Idleb's December 2019 read 80, the Maarrat An Nu'man district alone."""
    import duckdb

    from pipeline import ingest, warehouse

    fixture = Path(__file__).parent / "fixtures" / "sources" / "hapi_conflict_events.csv"
    result = ingest.ingest([fixture])
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    rows = con.execute("""SELECT place, killed_best FROM casualties_monthly
                          WHERE month = '2019-12-01' AND population = 'all' AND admin1_name = 'Idleb'
                          ORDER BY place""").fetchall()
    assert rows == [("Ariha, Idleb", 65.0), ("Maarrat An Nu'man, Idleb", 80.0)]
    # a district is never looked up as the town or governorate of the same name
    levels = set(con.execute("SELECT DISTINCT area_level FROM places WHERE admin2_name IS NOT NULL").fetchall())
    assert levels == {("admin2",)}


def test_equal_figures_of_two_districts_are_two_figures(tmp_path):
    """Two districts' weeks of one source with the same value were taken for one figure loaded twice, and a
    third district's shorter figure was nested in another district's week: the governorate chose 10,000 of
    40,000. Each district is now its own series; the governorate (named with no district) keeps its own."""
    header = "fact_id,source_id,metric,basis,population,unit,value,qualifier,period_start,period_end," \
             "date_precision,published_on,country_iso3,admin1_name,admin2_name,place,role,source_org,source_title"
    rows = [f"{fid},tst,displaced,flow,all,people,{value},exact,{start},{end},day,2020-01-13,SYR,Idleb,{district},,"
            "recommended,Test,t" for fid, value, start, end, district in [
                ("A", 10000, "2020-01-06", "2020-01-12", "Ariha"), ("B", 20000, "2020-01-06", "2020-01-12", "Harim"),
                ("C", 10000, "2020-01-06", "2020-01-12", "Jisr-Ash-Shugur"),
                ("B2", 5000, "2020-01-08", "2020-01-09", "Harim"), ("G", 45000, "2020-01-06", "2020-01-12", "")]]
    path = tmp_path / "districts.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    import duckdb

    from pipeline import ingest, warehouse

    result = ingest.ingest([path])
    assert not len(result.rejected)
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    got = {place: chosen_sum(con, place, D(2020, 1, 6), D(2020, 1, 12))[0]
           for place in ("Ariha, Idleb", "Harim, Idleb", "Jisr-Ash-Shugur, Idleb", "Idlib governorate")}
    assert got == {"Ariha, Idleb": pytest.approx(10000), "Harim, Idleb": pytest.approx(20000),
                   "Jisr-Ash-Shugur, Idleb": pytest.approx(10000), "Idlib governorate": pytest.approx(45000)}
    kinds = dict(con.execute("SELECT area, kind FROM displacement_flows WHERE value_best = 5000").fetchall())
    assert kinds == {"Harim, Idleb": "nested"}  # inside its own district's week


def _killed(fid, value, start, end, published, org="SNHR", qualifier="exact"):
    return (f"{fid},snhr,killed,flow,civilians,people,{value},{qualifier},{start},{end},day,{published},SYR,,,Syria,,"
            f"recommended,{org},t,,")


def test_a_month_two_spans_leave_unknown_is_derived_once_from_the_shorter(tmp_path):
    """A source's 2019 total and its January-March total both leave February unknown: February was derived
    twice (3,000 less eleven months, and 700 less two), two rows for one month."""
    import calendar

    rows = [_killed("Y", 3000, "2019-01-01", "2019-12-31", "2020-01-05"),
            _killed("Q", 700, "2019-01-01", "2019-03-31", "2019-04-05")]
    rows += [_killed(f"m{m}", 200, f"2019-{m:02d}-01", f"2019-{m:02d}-{calendar.monthrange(2019, m)[1]}",
                     f"2019-{m:02d}-28") for m in range(1, 13) if m != 2]
    con = _models_on(tmp_path, rows)
    feb = con.execute("SELECT killed_best, derived FROM casualties_monthly WHERE month = '2019-02-01'").fetchall()
    assert feb == [(300.0, True)]  # 700 less January's and March's 200
    assert con.execute("SELECT count(*) FROM casualties_monthly WHERE year(month) = 2019").fetchone()[0] == 12


def test_a_year_s_death_toll_and_its_relay_make_one_headline(tmp_path):
    """SNHR's "at least 3,364" for 2019 and the same figure relayed by MEMO were two killed_2019 cards."""
    rows = [_killed("S1", 3364, "2019-01-01", "2019-12-31", "2020-01-01", qualifier="at least"),
            _killed("S2", 3364, "2019-01-01", "2019-12-31", "2020-01-03", org="SNHR (via MEMO)", qualifier="at least")]
    con = _models_on(tmp_path, rows)
    cards = con.execute("SELECT key, value_best, source_org FROM headline_figures WHERE key LIKE 'killed%'").fetchall()
    assert cards == [("killed_2019", 3364.0, "SNHR (via MEMO)")]


def test_a_district_named_without_its_governorate_is_not_a_town_of_the_same_name(tmp_path):
    """A district given with no governorate was named by itself ("Harim"), the name another source's town has:
    the two were compared as one place. It is named with its country instead."""
    header = "fact_id,source_id,metric,basis,population,unit,value,qualifier,period_start,period_end," \
             "date_precision,published_on,country_iso3,admin2_name,place,role,source_org,source_title"
    path = tmp_path / "harim.csv"
    path.write_text(header + "\n"
                    "A,tst,displaced,flow,all,people,10000,exact,2020-01-06,2020-01-12,day,2020-01-13,SYR,Harim,,"
                    "recommended,Test,t\n"
                    "B,town,displaced,flow,all,people,500,exact,2020-01-06,2020-01-12,day,2020-01-13,SYR,,Harim,"
                    "recommended,Town,t\n", encoding="utf-8")
    import duckdb

    from pipeline import ingest, warehouse

    result = ingest.ingest([path])
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    areas = dict(con.execute("SELECT source_id, area FROM places").fetchall())
    assert areas == {"tst": "Harim, SYR", "town": "Harim"}
    assert con.execute("SELECT count(*) FROM source_comparison").fetchone()[0] == 0


def test_regions_of_two_countries_with_one_name_are_two_areas(tmp_path):
    """A global file names regions of several countries alike (Ghana's and Zambia's "Northern"): both months
    were one area's month "published twice", and one country's deaths were dropped."""
    header = "fact_id,source_id,metric,basis,population,unit,value,qualifier,period_start,period_end," \
             "date_precision,published_on,country_iso3,admin1_name,role,source_org,source_title"
    path = tmp_path / "northern.csv"
    path.write_text(header + "\n" + "".join(
        f"{iso},glob,killed,flow,civilians,people,{n},exact,2024-01-01,2024-01-31,month,2024-02-05,{iso},Northern,"
        "recommended,Global,t\n" for iso, n in (("GHA", 7), ("ZMB", 3))), encoding="utf-8")
    import duckdb

    from pipeline import ingest, warehouse

    result = ingest.ingest([path])
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    got = con.execute("SELECT place, killed_best FROM casualties_monthly ORDER BY place").fetchall()
    assert got == [("Northern, GHA", 7.0), ("Northern, ZMB", 3.0)]


def _facts_models(tmp_path, header: str, lines: list[str], name: str = "f.csv"):
    import duckdb

    from pipeline import ingest, warehouse

    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    result = ingest.ingest([path])
    assert not len(result.rejected), result.rejected
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    return con


def test_two_countries_towns_of_one_name_are_two_places(tmp_path):
    """Lebanon's and Libya's Tripoli were one area: Libya's days were nested in Lebanon's month (whose remainder
    went negative and refused the build), running totals were differenced across the two, and the months of
    deaths of one were dropped as the other's published twice."""
    header = ("fact_id,source_id,metric,basis,population,unit,value,qualifier,period_start,period_end,"
              "date_precision,published_on,country_iso3,place,role,source_org,source_title")
    con = _facts_models(tmp_path, header, [
        "A,glob,displaced,flow,all,people,800,exact,2024-03-01,2024-03-31,day,2024-04-02,LBN,Tripoli,recommended,G,t",
        "B,glob,displaced,flow,all,people,3000,exact,2024-03-05,2024-03-08,day,2024-03-09,LBY,Tripoli,recommended,G,t",
        "C,glob,killed,flow,civilians,people,40,exact,2024-05-01,2024-05-31,month,2024-06-02,LBN,Tripoli,recommended,"
        "G,t",
        "D,glob,killed,flow,civilians,people,95,exact,2024-05-01,2024-05-31,month,2024-06-03,LBY,Tripoli,recommended,"
        "G,t"])
    assert _reconciled(con)
    kinds = dict(con.execute("SELECT area, kind FROM displacement_flows").fetchall())
    assert kinds == {"Tripoli, LBN": "reported_flow", "Tripoli, LBY": "reported_flow"}
    assert chosen_sum(con, "Tripoli, LBN", D(2024, 3, 1), D(2024, 3, 31))[0] == pytest.approx(800)
    deaths = con.execute("SELECT place, killed_best FROM casualties_monthly ORDER BY place").fetchall()
    assert deaths == [("Tripoli, LBN", 40.0), ("Tripoli, LBY", 95.0)]


def test_the_gazetteer_names_places_of_its_own_country_only_and_the_country_one_way(tmp_path):
    """Aleppo, Pennsylvania was filed under Aleppo governorate; a relay naming Syria by its code ("SYR") was
    another area than the report naming it "Syria", so one month's deaths were counted twice."""
    header = ("fact_id,source_id,metric,basis,population,unit,value,qualifier,period_start,period_end,"
              "date_precision,published_on,country_iso3,admin1_name,place,role,source_org,source_title")
    con = _facts_models(tmp_path, header, [
        "A,us,displaced,flow,all,people,60000,exact,2024-03-01,2024-03-04,day,2024-03-05,USA,Pennsylvania,Aleppo,"
        "recommended,U,t",
        "K1,snhr,killed,flow,civilians,people,286,at least,2020-01-01,2020-01-31,month,2020-02-01,SYR,,Syria,"
        "recommended,SNHR,t",
        "K2,snhr,killed,flow,civilians,people,286,at least,2020-01-01,2020-01-31,month,2020-02-02,SYR,,,"
        "recommended,SNHR (via MEMO),t"])
    got = sorted(con.execute("SELECT area, area_level, report_country FROM places").fetchall())
    assert got == [("Aleppo, USA", "place", False), ("Syria", "country", True), ("Syria", "country", True)]
    assert con.execute("SELECT place, killed_best FROM casualties_monthly").fetchall() == [("Syria", 286.0)]


def test_a_syrian_town_outside_the_gazetteer_can_lead_the_flight_headline(tmp_path):
    """The headlines lead with the report's country, not only with the gazetteer's three towns."""
    row = ("X1,tst,displaced,flow,all,people,90000,exact,2020-02-10,2020-02-11,day,2020-02-12,SYR,,,Ariha,,"
           "recommended,Test,t,,")
    con = _models_on(tmp_path, [row], with_default=True)
    assert con.execute("SELECT place, value_best FROM headline_figures WHERE key = 'place_flight'").fetchone() == \
        ("Ariha", 90000.0)


def _tl(fid, basis, value, start, end, published, place="Testland"):
    return (f"{fid},tst,displaced,{basis},all,people,{value},exact,{start},{end},day,{published},SYR,,,{place},,"
            "recommended,Test,t,,")


@pytest.mark.parametrize("restated", ["last", "first"])
def test_a_running_total_restated_for_the_same_day_ends_on_the_source_s_last_total(tmp_path, restated):
    """One source's running total since 1 January: 100,000 by 10 January, 150,000 by 20 January, restated as
    160,000 by 20 January, and 200,000 by 30 January. Both 20 January points were in the differencing: one
    interval ended on 150,000 and the next began from 160,000, and the series summed to 190,000 (or 180,000
    when the first point was the restated one). The latest published point of a day stands."""
    if restated == "last":
        points = [("P1", 100000, "2020-01-10", "2020-01-11"), ("P2", 150000, "2020-01-20", "2020-01-21"),
                  ("P3", 160000, "2020-01-20", "2020-01-25"), ("P4", 200000, "2020-01-30", "2020-01-31")]
    else:
        points = [("P1", 100000, "2020-01-10", "2020-01-11"), ("P2", 120000, "2020-01-10", "2020-01-15"),
                  ("P4", 200000, "2020-01-30", "2020-01-31")]
    con = _models_on(tmp_path, [_tl(fid, "cumulative", value, "2020-01-01", end, published)
                                for fid, value, end, published in points])
    total, days = chosen_sum(con, "Testland", D(2020, 1, 1), D(2020, 1, 30))
    assert days == 30 and total == pytest.approx(200_000) and _reconciled(con)
    if restated == "last":
        ten_days, _ = chosen_sum(con, "Testland", D(2020, 1, 11), D(2020, 1, 20))
        assert ten_days == pytest.approx(60_000)  # 160,000 less 100,000


def test_two_running_totals_of_one_source_reported_in_turn_are_each_differenced(tmp_path):
    """A source giving "since 1 December" and "since 1 January" totals in turn: each report was compared with the
    one before it, so every change of start began a series anew and "since 1 December: 500,000 by 30 January"
    became a first point over two months instead of 150,000 more than its 350,000 of 15 January."""
    con = _models_on(tmp_path, [_tl("A1", "cumulative", 350000, "2019-12-01", "2020-01-15", "2020-01-16"),
                                _tl("B1", "cumulative", 150000, "2020-01-01", "2020-01-20", "2020-01-21"),
                                _tl("A2", "cumulative", 500000, "2019-12-01", "2020-01-30", "2020-01-31")])
    flows = con.execute("""SELECT series, kind, period_start, period_end, value_best FROM displacement_flows
                           WHERE area = 'Testland' ORDER BY series, period_start""").fetchall()
    s = "tst | displaced | all | people | Testland | since "
    assert flows == [(s + "2019-12-01", "first_point", D(2019, 12, 1), D(2020, 1, 15), 350000.0),
                     (s + "2019-12-01", "difference", D(2020, 1, 16), D(2020, 1, 30), 150000.0),
                     (s + "2020-01-01", "first_point", D(2020, 1, 1), D(2020, 1, 20), 150000.0)]
    assert _reconciled(con)


def _reconciled(con):
    from pipeline.expectations import aggregates

    return all(r["success"] for table in aggregates.SUITES for r in aggregates.check(con, table).results)


def test_two_overlapping_weeks_inside_a_month_keep_the_month_s_total(tmp_path):
    """Two weeks of one source that overlap (14-20 and 18-24 October) inside its October: only the latest
    published week is taken from the month (the other days could not be told apart otherwise); October still
    sums to 120,000 and the flows reconcile."""
    con = _models_on(tmp_path, [_tl("M1", "flow", 120000, "2019-10-01", "2019-10-31", "2019-11-05"),
                                _tl("W1", "flow", 50000, "2019-10-14", "2019-10-20", "2019-10-21"),
                                _tl("W2", "flow", 30000, "2019-10-18", "2019-10-24", "2019-10-25")])
    kinds = dict(con.execute("SELECT value_best, kind FROM displacement_flows WHERE area = 'Testland'").fetchall())
    assert kinds == {120000: "reported_flow", 50000: "overlapping", 30000: "nested"}
    total, days = chosen_sum(con, "Testland", D(2019, 10, 1), D(2019, 10, 31))
    # the earlier week overlaps the nested one: it is compared but never chosen over the month's remainder
    # (chosen, it added 13,571 people: 133,571 for a month the source put at 120,000)
    assert days == 31 and total == pytest.approx(120_000) and _reconciled(con)
    week, _ = chosen_sum(con, "Testland", D(2019, 10, 18), D(2019, 10, 24))
    assert week == pytest.approx(30_000)


def test_a_month_whose_every_day_its_halves_take_but_do_not_add_up_to_keeps_both_and_the_build_goes_on(tmp_path):
    """October 120,000, and halves of 50,000 and 60,000 from the same source: nested in the month, the halves
    left its other 10,000 no day, the rate was NULL, the 10,000 was lost and the reconciliation check refused
    the whole build. The halves are now chosen as the finer figures; the month stays beside them, compared."""
    con = _models_on(tmp_path, [_tl("M", "flow", 120000, "2019-10-01", "2019-10-31", "2019-11-05"),
                                _tl("H1", "flow", 50000, "2019-10-01", "2019-10-15", "2019-10-16"),
                                _tl("H2", "flow", 60000, "2019-10-16", "2019-10-31", "2019-11-01")])
    kinds = dict(con.execute("SELECT value_best, kind FROM displacement_flows WHERE area = 'Testland'").fetchall())
    assert kinds == {120000: "reported_flow", 50000: "reported_flow", 60000: "reported_flow"}
    total, days = chosen_sum(con, "Testland", D(2019, 10, 1), D(2019, 10, 31))
    assert days == 31 and total == pytest.approx(110_000) and _reconciled(con)
    month = con.execute("""SELECT sum(people_best), count(*) FROM displacement_daily WHERE place = 'Testland'
                           AND flow_end - flow_start = 30""").fetchone()
    assert month == (pytest.approx(120_000), 31)  # compared, whole, on every day
    # halves that do add up to the month are still nested in it, as before
    con = _models_on(tmp_path, [_tl("M", "flow", 110000, "2019-10-01", "2019-10-31", "2019-11-05"),
                                _tl("H1", "flow", 50000, "2019-10-01", "2019-10-15", "2019-10-16"),
                                _tl("H2", "flow", 60000, "2019-10-16", "2019-10-31", "2019-11-01")], name="b.csv")
    kinds = dict(con.execute("SELECT value_best, kind FROM displacement_flows WHERE area = 'Testland'").fetchall())
    assert kinds == {110000: "reported_flow", 50000: "nested", 60000: "nested"} and _reconciled(con)


def test_a_figure_inside_an_overlapping_week_is_not_chosen_either(tmp_path):
    """A day's 20,000 inside the earlier of two overlapping weeks was nested in that week, and chosen on its day
    over the month's remainder: October summed to 136,250 against the source's 120,000."""
    con = _models_on(tmp_path, [_tl("M1", "flow", 120000, "2019-10-01", "2019-10-31", "2019-11-05"),
                                _tl("W1", "flow", 50000, "2019-10-14", "2019-10-20", "2019-10-21"),
                                _tl("W2", "flow", 30000, "2019-10-18", "2019-10-24", "2019-10-25"),
                                _tl("D1", "flow", 20000, "2019-10-15", "2019-10-15", "2019-10-16")])
    total, days = chosen_sum(con, "Testland", D(2019, 10, 1), D(2019, 10, 31))
    assert days == 31 and total == pytest.approx(120_000) and _reconciled(con)


def test_a_covered_interval_inside_a_longer_one_keeps_its_place_and_its_flows_are_compared(tmp_path):
    """A quarter of 300,000 holding a month of 120,000 given as halves of 50,000 and 60,000: with the halves
    taken out of the month and the month out of the quarter, the quarter summed to 290,000. The month keeps its
    place in the quarter, with its own total, and the halves are compared beside it: the quarter's total holds
    whatever the halves add up to (moved into the quarter instead, they left it a remainder with no day)."""
    con = _models_on(tmp_path, [_tl("Q", "flow", 300000, "2019-10-01", "2019-12-31", "2020-01-05"),
                                _tl("M", "flow", 120000, "2019-10-01", "2019-10-31", "2019-11-05"),
                                _tl("H1", "flow", 50000, "2019-10-01", "2019-10-15", "2019-10-16"),
                                _tl("H2", "flow", 60000, "2019-10-16", "2019-10-31", "2019-11-01")])
    kinds = dict(con.execute("SELECT value_best, kind FROM displacement_flows WHERE area = 'Testland'").fetchall())
    assert kinds == {300000: "reported_flow", 120000: "nested", 50000: "overlapping", 60000: "overlapping"}
    total, days = chosen_sum(con, "Testland", D(2019, 10, 1), D(2019, 12, 31))
    assert days == 92 and total == pytest.approx(300_000) and _reconciled(con)
    october, _ = chosen_sum(con, "Testland", D(2019, 10, 1), D(2019, 10, 31))
    assert october == pytest.approx(120_000)
    # the review's case: the quarter's three months take all its days and add up to it, one of them given as
    # halves that do not: the quarter and every month hold, and the build is not refused
    con = _models_on(tmp_path, [_tl("Q", "flow", 300000, "2019-10-01", "2019-12-31", "2020-01-05"),
                                _tl("M1", "flow", 100000, "2019-10-01", "2019-10-31", "2019-11-05"),
                                _tl("M2", "flow", 100000, "2019-11-01", "2019-11-30", "2019-12-05"),
                                _tl("M3", "flow", 100000, "2019-12-01", "2019-12-31", "2020-01-02"),
                                _tl("H1", "flow", 40000, "2019-10-01", "2019-10-15", "2019-10-16"),
                                _tl("H2", "flow", 50000, "2019-10-16", "2019-10-31", "2019-11-01")], name="b.csv")
    total, days = chosen_sum(con, "Testland", D(2019, 10, 1), D(2019, 12, 31))
    assert days == 92 and total == pytest.approx(300_000) and _reconciled(con)


def test_an_overlapping_week_whose_halves_do_not_add_up_to_it_still_leaves_the_month_whole(tmp_path):
    """W2 overlaps the month's taken week W1, and its own two parts take all its days without adding up to it:
    the parts were freed from W2 and chosen over the month's remainder (October 91,012 against 120,000)."""
    con = _models_on(tmp_path, [_tl("M", "flow", 120000, "2019-10-01", "2019-10-31", "2019-11-05"),
                                _tl("W1", "flow", 50000, "2019-10-14", "2019-10-20", "2019-10-25"),
                                _tl("W2", "flow", 30000, "2019-10-17", "2019-10-27", "2019-10-21"),
                                _tl("C1", "flow", 12000, "2019-10-17", "2019-10-22", "2019-10-22"),
                                _tl("C2", "flow", 8000, "2019-10-23", "2019-10-27", "2019-10-28")])
    total, days = chosen_sum(con, "Testland", D(2019, 10, 1), D(2019, 10, 31))
    assert days == 31 and total == pytest.approx(120_000) and _reconciled(con)


def test_covered_intervals_two_levels_deep_leave_the_year_whole(tmp_path):
    """A year holding a quarter whose months do not add up to it, one month of which is halves that do not add
    up to it either: the month stayed nested in the year though compared only, and the year lost 10,000. The
    quarter keeps its place in the year; everything inside it is compared."""
    con = _models_on(tmp_path, [_tl("Y", "flow", 500000, "2019-07-01", "2019-12-31", "2020-01-10"),
                                _tl("Q", "flow", 300000, "2019-10-01", "2019-12-31", "2020-01-05"),
                                _tl("M1", "flow", 120000, "2019-10-01", "2019-10-31", "2019-11-05"),
                                _tl("M2", "flow", 100000, "2019-11-01", "2019-11-30", "2019-12-05"),
                                _tl("M3", "flow", 70000, "2019-12-01", "2019-12-31", "2020-01-02"),
                                _tl("H1", "flow", 50000, "2019-10-01", "2019-10-15", "2019-10-16"),
                                _tl("H2", "flow", 60000, "2019-10-16", "2019-10-31", "2019-11-01")])
    total, days = chosen_sum(con, "Testland", D(2019, 7, 1), D(2019, 12, 31))
    assert days == 184 and total == pytest.approx(500_000) and _reconciled(con)
    summer, _ = chosen_sum(con, "Testland", D(2019, 7, 1), D(2019, 9, 30))
    assert summer == pytest.approx(500_000 - 300_000)
    compared = {v for v, c in con.execute("SELECT value_best, compared_only FROM displacement_flows").fetchall() if c}
    assert compared == {120000, 100000, 70000, 50000, 60000}


def test_a_peak_of_lower_bounds_is_a_lower_bound_and_a_zero_day_has_no_wave_total(tmp_path):
    """The peak-rate headline was "estimated" even where the pace page said "at least" of the same days; days
    reported as zero after a wave, in none, got a running total of their own across all such days."""
    rows = [_tl("A", "flow", 40000, "2019-10-01", "2019-10-04", "2019-10-05").replace(",exact,", ",more than,"),
            _tl("B", "flow", 6000, "2019-10-05", "2019-10-10", "2019-10-11"),
            _tl("Z", "flow", 0, "2019-10-11", "2019-10-26", "2019-10-27")]
    con = _models_on(tmp_path, [r.replace("Testland", "North-west Syria") for r in rows])
    head = con.execute("SELECT value_best, qualifier FROM headline_figures WHERE key = 'peak_pace'").fetchone()
    assert head == (pytest.approx(10_000), "at_least")
    zero = con.execute("""SELECT count(*), count(wave_id), count(cumulative_in_wave) FROM displacement_pace
                          WHERE place = 'North-west Syria' AND people_best = 0""").fetchone()
    assert zero == (16, 0, 0)


def test_the_scale_headline_is_a_count_not_a_ceiling(tmp_path):
    """"Up to 1,200,000" led the Overview over OCHA's "more than 948,000": the largest number, not a count."""
    row = ("U1,ocha,displaced,cumulative,all,people,1200000,up to,2019-12-01,2020-02-23,day,2020-02-27,SYR,,,"
           "North-west Syria,,recommended,OCHA,t,,")
    con = _models_on(tmp_path, [row], with_default=True)
    assert con.execute("SELECT value_best, qualifier FROM headline_figures WHERE key = 'scale'").fetchone() == \
        (948000.0, "more_than")


def test_a_source_s_own_revision_is_no_disagreement_between_sources(tmp_path):
    """A says 100,000 then 130,000 for a week; B says 130,000: the spread was 30,000, as if the sources disagreed.
    Every figure is still listed; the spread is between the sources' latest figures."""
    rows = [_tl("A1", "flow", 100000, "2019-10-01", "2019-10-07", "2019-10-08"),
            _tl("A2", "flow", 130000, "2019-10-01", "2019-10-07", "2019-10-15"),
            _tl("B1", "flow", 130000, "2019-10-01", "2019-10-07", "2019-10-09").replace(",tst,", ",other,")]
    con = _models_on(tmp_path, rows)
    got = con.execute("SELECT source_id, value_best, n_sources, spread FROM source_comparison "
                      "ORDER BY source_id, value_best").fetchall()
    assert got == [("other", 130000.0, 2, 0.0), ("tst", 100000.0, 2, 0.0), ("tst", 130000.0, 2, 0.0)]


def test_a_chain_of_three_nested_figures_belongs_to_its_running_total(tmp_path):
    """A day inside a week inside a month inside a running total's interval: every one is nested, all
    belong to the running total's series, the interval still sums to its difference, and flows reconcile."""
    con = _models_on(tmp_path, [_tl("C0", "cumulative", 10000, "2019-09-01", "2019-09-30", "2019-10-01"),
                                _tl("C1", "cumulative", 200000, "2019-09-01", "2019-11-30", "2019-12-01"),
                                _tl("M1", "flow", 120000, "2019-10-01", "2019-10-31", "2019-11-01"),
                                _tl("W1", "flow", 50000, "2019-10-14", "2019-10-20", "2019-10-21"),
                                _tl("D1", "flow", 20000, "2019-10-15", "2019-10-15", "2019-10-16")])
    series = {s for (s,) in con.execute("SELECT DISTINCT series FROM displacement_flows WHERE area = 'Testland'"
                                        ).fetchall()}
    assert series == {"tst | displaced | all | people | Testland | since 2019-09-01"}
    total, days = chosen_sum(con, "Testland", D(2019, 10, 1), D(2019, 11, 30))
    assert days == 61 and total == pytest.approx(190_000)
    day, _ = chosen_sum(con, "Testland", D(2019, 10, 15), D(2019, 10, 15))
    assert day == pytest.approx(20_000) and _reconciled(con)


def test_a_week_in_a_restated_month_is_taken_from_the_latest_month_whatever_the_ids(tmp_path):
    """October given twice (120,000, then 125,000 a fortnight later) and a week inside it: the week is taken
    from the latest October, whatever the figures' ids (their hash order chose before)."""
    for a, b in (("M1", "M2"), ("MA", "MB"), ("Q1", "Q2"), ("X1", "X2")):
        con = _models_on(tmp_path, [_tl(a, "flow", 120000, "2019-10-01", "2019-10-31", "2019-11-05"),
                                    _tl(b, "flow", 125000, "2019-10-01", "2019-10-31", "2019-11-20"),
                                    _tl("W1", "flow", 50000, "2019-10-14", "2019-10-20", "2019-10-21")],
                         name=f"{a}.csv")
        total, _ = chosen_sum(con, "Testland", D(2019, 10, 1), D(2019, 10, 31))
        assert total == pytest.approx(125_000), (a, b)


def test_a_week_across_a_running_total_s_first_point_is_part_of_it(tmp_path):
    """Points on 30 September, 15 and 31 October, and a week across the first (28 September-4 October): the
    first two intervals become one around the week, and the running total still sums to 100,000."""
    for week in (("2019-09-28", "2019-10-04", 30000), ("2019-09-28", "2019-10-20", 70000)):
        con = _models_on(tmp_path, [_tl("C0", "cumulative", 10000, "2019-09-01", "2019-09-30", "2019-10-01"),
                                    _tl("C1", "cumulative", 60000, "2019-09-01", "2019-10-15", "2019-10-16"),
                                    _tl("C2", "cumulative", 100000, "2019-09-01", "2019-10-31", "2019-11-01"),
                                    _tl("W1", "flow", week[2], week[0], week[1], "2019-10-21")])
        total, days = chosen_sum(con, "Testland", D(2019, 9, 1), D(2019, 10, 31))
        assert days == 61 and total == pytest.approx(100_000), week
        part, _ = chosen_sum(con, "Testland", D.fromisoformat(week[0]), D.fromisoformat(week[1]))
        assert part == pytest.approx(week[2]) and _reconciled(con)


def test_a_curated_acled_monthly_total_stays_and_children_sit_beside_civilians_only(tmp_path):
    """A monthly total curated from ACLED is a total (only ACLED's event rows are left out), and a month's
    children are given beside its civilians, not beside everyone killed."""
    rows = [
        "Z1,acled,killed,flow,all,people,321,exact,2020-01-01,2020-01-31,month,2020-02-05,SYR,,,Idlib,,recommended,ACLED,Monthly overview,https://example.org/acled,",
        "A1,tst,killed,flow,all,people,55,exact,2020-01-01,2020-01-31,month,2020-02-05,SYR,,,Idlib,,recommended,Test,t,,",
        "A2,tst,killed,flow,civilians,people,18,exact,2020-01-01,2020-01-31,month,2020-02-05,SYR,,,Idlib,,recommended,Test,t,,",
        "A3,tst,killed,flow,children,people,5,exact,2020-01-01,2020-01-31,month,2020-02-05,SYR,,,Idlib,,recommended,Test,t,,",
    ]
    con = _models_on(tmp_path, rows)
    got = con.execute("""SELECT source_id, population, killed_best, children_best FROM casualties_monthly
                         ORDER BY source_id, population""").fetchall()
    assert got == [("acled", "all", 321.0, None), ("tst", "all", 55.0, None), ("tst", "civilians", 18.0, 5.0)]


def test_an_organisation_s_figures_from_an_hxl_file_are_the_same_source_as_its_curated_ones(tmp_path):
    """OCHA's flows re-published in an HXL file: still 18 organisations, and the winter wave still 948,000."""
    import duckdb

    from pipeline import ingest, warehouse
    from pipeline.site.pages import common_context

    hxl = tmp_path / "ocha_hxl.csv"
    hxl.write_text("Org,Country,Place,Start,End,Newly displaced\n"
                   "#org,#country+code,#loc+name,#date+start,#date+end,#affected+idps+new\n"
                   "OCHA,SYR,North-west Syria,2020-02-09,2020-02-12,142000\n", encoding="utf-8")
    base = ingest.ingest(ingest.DEFAULT_FILES)
    result = ingest.ingest([*ingest.DEFAULT_FILES, hxl])
    assert len(result.observations) == len(base.observations) + 1
    assert set(result.observations.loc[result.observations["ingest_file"] == "ocha_hxl.csv", "source_id"]) == {"ocha"}
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    assert common_context(con)["n_orgs"] == 18
    total, days, low = _winter(con)
    assert days == 85 and total == pytest.approx(948_000, abs=1) and low >= 0


def test_a_relay_of_one_document_is_spelled_one_way_in_the_default_figures():
    """SNHR's March 2020 report relayed by MEMO was 'SNHR (via MEMO)' on one row and 'SNHR (via Middle East
    Monitor)' on another: the chart listed the one document twice, as from two relays."""
    import csv

    spellings: dict[tuple[str, str], set[str]] = {}
    with ROOT_FIGURES.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if "(via " in row["source_org"]:
                spellings.setdefault((row["source_id"], row["source_url"]), set()).add(row["source_org"])
    assert spellings and not {k: v for k, v in spellings.items() if len(v) > 1}
