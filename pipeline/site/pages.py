"""What each page shows: PAGES lists every page (slug, template, navigation label, context builder).

The navigation is built from PAGES, so a page added here appears in every page's menu. A page's `queries` are
the slow reads it makes (whole-warehouse scans and sorts): build_site starts them at once on a second DuckDB
cursor, so that they run while the charts are drawn; the page gets their results through `fetched`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from pipeline.charts import casualties, displacement, sources as source_charts, sources_of_each
from pipeline.site.render import chart_context, fetched, once

PLACE = "North-west Syria"


@dataclass(frozen=True)
class Page:
    slug: str
    template: str
    label: str
    blurb: str
    build: Callable
    queries: tuple[Callable, ...] = ()  # each query(con) -> result, read with fetched(query, con)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows for templates: pandas' missing values become None."""
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict("records")


def _table_exists(con, name: str) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0] > 0


TABLE_ROWS_SHOWN = 1000  # a page is for reading: longer tables show their first rows and say how many there are


def _table(key, title, caption, columns, frame, total: int | None = None) -> dict:
    """`total`: the table's full row count, when `frame` was read with a LIMIT of TABLE_ROWS_SHOWN."""
    total = len(frame) if total is None else total
    return {"id": key, "title": title, "caption": caption, "columns": columns,
            "rows": _records(frame.head(TABLE_ROWS_SHOWN)), "total": total}


FIGURES_SHOWN = 2000  # a page listing millions of event rows helps nobody; the warehouse holds them all


def _chart(make, con, out, *args) -> dict:
    """The context of the chart `make(con, *args)`, made once per build (the overview repeats the topic pages'
    lead charts)."""
    return once((make, *args), lambda: chart_context(make(con, *args), out))


def common_context(con) -> dict:
    as_of = con.execute("SELECT max(published_on) FROM observations").fetchone()[0]
    # a document is its title and link (several documents may share a landing page); an organisation is a
    # source_id, whoever relayed it
    n_obs, n_documents, n_orgs = con.execute(
        """SELECT count(*), count(DISTINCT (source_url, coalesce(source_title, source_org))), count(DISTINCT source_id)
           FROM observations""").fetchone()
    return {"as_of": as_of, "n_obs": n_obs, "n_documents": n_documents, "n_orgs": n_orgs,
            "site_title": "Displacement and civilian deaths in north-west Syria, 2019-2020",
            "nav": [(p.slug, p.label) for p in PAGES]}


def headlines(con) -> list[dict]:
    out = _records(con.execute("SELECT * FROM headline_figures ORDER BY rank").df())
    for r, sources in zip(out, sources_of_each(con, [list(r["obs_ids"]) if r["obs_ids"] is not None else []
                                                     for r in out])):
        r["sources"] = sources
    return out


def index(con, out) -> dict:
    return {"title": "Displacement and civilian deaths in north-west Syria, 2019-2020",
            "headlines": fetched(headlines, con),
            "pages": [p for p in PAGES if p.slug != "index"],
            "charts": [_chart(displacement.cumulative, con, out, PLACE),
                       _chart(displacement.pace, con, out, PLACE),
                       _chart(casualties.monthly_deaths, con, out)]}


def idps_rows(con) -> tuple[int, pd.DataFrame | None]:
    """How many figures of IDPs present there are, and the first TABLE_ROWS_SHOWN of them."""
    n_idps = con.execute("SELECT count(*) FROM places WHERE metric = 'idps_present'").fetchone()[0]
    if not n_idps:
        return 0, None
    return n_idps, con.execute(
        """SELECT area, period_end, value_best, qualifier, unit_people AS unit, source_org, source_title, source_url
           FROM places WHERE metric = 'idps_present'
           -- the places this report is about first, as in the casualties table
           ORDER BY NOT report_country, area, period_end, source_org, obs_id
           LIMIT ?""", [TABLE_ROWS_SHOWN]).df()


def scale(con, out) -> dict:
    tables = []
    n_idps, idps = fetched(idps_rows, con)
    if n_idps:
        tables.append(_table("idps", "Internally displaced people present", "A stock: people present at a date.",
                             [("area", "place", "text"), ("period_end", "as of", "date"),
                              ("value_best", "people", "num"), ("qualifier", "qualifier", "qual"),
                              ("source_org", "source", "source")], idps, total=n_idps))
    chart = _chart(displacement.cumulative, con, out, PLACE)
    return {"title": "Scale: how many people were displaced",
            "intro": [" ".join(["Each wave of the offensive on north-west Syria has its own count, started on the "
                                "day the escalation began."] + _wave_counts(chart)),
                      "Published totals are drawn as they were published. A figure given as \"more than\" is a "
                      "lower bound: its marker points up, because the true number was higher."
                      + ("" if tables else " No figures of internally displaced people present (a stock) were "
                                           "loaded, so this page shows new displacement only.")],
            "charts": [chart], "tables": tables}


def _wave_counts(chart: dict) -> list[str]:
    """The scale page's words on each wave's last count, latest wave first, from the data the chart draws: the
    days a figure covers are its own (a restated count's from its restated start)."""
    out = []
    for last in reversed(displacement.last_counts(chart["spec"].data) if not chart["empty"] else []):
        q = last["qualifier"]
        # "passed" says "more than"; any other qualifier is said in words ("reached about 400,000")
        passed = "passed" if q in ("more_than", "at_least") else \
            "reached " + displacement.qualifier_words(q)
        start, end = pd.Timestamp(last["own_start"]), pd.Timestamp(last["date"])
        out.append(f"{last['source_org']}'s count for the wave of {last['span']} {passed.rstrip()} "
                   f"{last['people']:,} people in the {last['days']} days from {start:%-d %B %Y} to {end:%-d %B %Y}.")
    return out


def pace(con, out) -> dict:
    peaks = con.execute(
        """SELECT wave_label, measure, window_days, threshold, start_date, end_date, people, people_per_day, days_taken
           FROM displacement_peaks WHERE place = ? AND unit = 'people'
           -- wave by wave (the first in time first), each wave's peak windows by length, then its milestones
           ORDER BY min(start_date) OVER (PARTITION BY wave_id), wave_id, measure = 'days_to_pass', window_days,
               threshold""", [PLACE]).df()
    daily = displacement.pace_days(con, PLACE)
    # a window's total is a lower bound where its days come from "more than" totals; a milestone is a date
    words = {"at least": "at_least", "about": "approximately", "": "exact"}
    peaks["bound"] = [words[displacement.bound_word(daily, a, b).strip()] if m == "peak_window" else None
                      for m, a, b in zip(peaks["measure"], peaks["start_date"], peaks["end_date"])]
    peaks["what"] = [f"fastest {int(w)} day{'s' if w > 1 else ''}" if m == "peak_window" else
                     f"days to pass {int(t):,}" for m, w, t in zip(peaks["measure"], peaks["window_days"],
                                                                   peaks["threshold"])]
    events = con.execute("SELECT date, label, place, source_org, source_title, published_on, source_url FROM key_events "
                         "ORDER BY date, label").df()
    # the longest stretch one published figure is spread over: flat bars there hide whatever surge it holds
    longest = con.execute(
        """SELECT flow_start, flow_end, flow_end - flow_start + 1 AS days FROM displacement_daily
           WHERE place = ? AND series_role = 'chosen' AND metric = 'displaced' AND population = 'all'
               AND unit = 'people'
           GROUP BY ALL ORDER BY days DESC, flow_start LIMIT 1""", [PLACE]).fetchone()
    averaged = ([f"A figure is spread evenly over the days between the two reports it comes from, so where reports "
                 f"are far apart the bars are flat: the longest such stretch here is {longest[2]} days, from "
                 f"{longest[0]:%-d %B %Y} to {longest[1]:%-d %B %Y}, and a surge within it is averaged away. The "
                 "headline figures and the Sources page give the shorter counts other sources published."]
                if longest and longest[2] >= 14 else [])
    return {"title": "Pace: how fast people fled",
            "intro": ["The published totals are turned into people per day: the growth between two reports is "
                      "spread evenly over the days between them. Bars show each day; the line is the 7-day average. "
                      "Between the waves there were no figures at all, so the chart leaves that time blank instead "
                      "of drawing a line across it.", *averaged],
            "charts": [_chart(displacement.pace, con, out, PLACE)],
            "tables": [
                _table("peaks", "Peak windows and milestones", f"{PLACE}, people. Estimates from the daily series, where "
                       "each day has its report's figure spread evenly over the days it covers: the fastest day is the "
                       "fastest such average, shared by every day of its report. A milestone's day is where that "
                       "evenly spread series passes the number, not a day any source reported: a surge late in a "
                       "long report's days would pass it later.",
                       [("wave_label", "wave", "text"), ("what", "measure", "text"), ("start_date", "from", "date"),
                        ("end_date", "to", "date"), ("bound", "qualifier", "qual"), ("people", "people", "num"),
                        ("people_per_day", "people per day", "num"), ("days_taken", "days taken", "num")], peaks),
                _table("events", "Key events", "Events marked on the chart, with the report that records them.",
                       [("date", "date", "date"), ("label", "event", "text"), ("place", "place", "text"),
                        ("source_org", "source", "source"), ("source_title", "report", "text"),
                        ("published_on", "published", "date")], events)]}


def monthly_rows(con) -> tuple[pd.DataFrame, int]:
    """The first TABLE_ROWS_SHOWN monthly casualty figures, and how many there are."""
    monthly = con.execute(
        """SELECT month, place, source_org,
                  CASE population WHEN 'civilians' THEN 'civilians' ELSE 'everyone, combatants included' END AS who,
                  killed_low, killed_best, killed_high, children_best, women_best, derived,
                  CASE WHEN derived THEN 'the span less the months known' ELSE notes END AS notes
           FROM casualties_monthly
           -- the places this report is about first (the gazetteer's): with a global file loaded, the table's
           -- first rows were other countries' districts, and Syria's fell past the rows shown
           ORDER BY country_iso3 NOT IN (SELECT code FROM gazetteer WHERE level = 'country'), place, month, source_org,
               population DESC, obs_ids
           LIMIT ?""",
        [TABLE_ROWS_SHOWN]).df()
    monthly["children_share"] = monthly["children_best"] / monthly["killed_best"]
    return monthly, con.execute("SELECT count(*) FROM casualties_monthly").fetchone()[0]


def casualties_page(con, out) -> dict:
    monthly, n_monthly = fetched(monthly_rows, con)
    return {"title": "Casualties: people killed, civilians apart",
            "intro": ["Civilian deaths are documented by monitoring groups name by name, so their monthly figures "
                      "are lower bounds (\"at least\"). The chart follows one source through 2019 and 2020, so "
                      "that months are counted by one method; the table lists every monthly figure loaded, from "
                      "every source, with what each says it includes. One difference remains within that source: "
                      "SNHR counts deaths under torture within some monthly figures and apart from others (the "
                      "notes say which), so two months can differ by those deaths alone.",
                      "A month marked derived was not published on its own: it is what a figure for several months "
                      "leaves once the other months are taken away."],
            "charts": [_chart(casualties.monthly_deaths, con, out)],
            "tables": [_table("monthly", "Every monthly figure", "People killed per month: civilians, or everyone "
                              "killed where a figure does not count civilians apart (political violence in ACLED's "
                              "data counts combatants too, and includes the civilians). A blank low or high means the figure gives no such "
                              "bound; a blank count of children or women, that none was published.",
                              [("month", "month", "month"), ("place", "place", "text"), ("source_org", "source", "text"),
                               ("who", "killed", "text"),
                               ("killed_low", "low", "num"), ("killed_best", "best", "num"), ("killed_high", "high", "num"),
                               ("children_best", "children", "num"), ("children_share", "share of children", "pct"),
                               ("women_best", "women", "num"), ("derived", "derived", "flag"),
                               ("notes", "notes", "text")], monthly,
                              total=n_monthly)]}


def documents(con) -> pd.DataFrame:
    """Every document cited, with the number of figures taken from it."""
    # one row per document (its title and link), however many organisations relayed it
    return con.execute(
        """SELECT string_agg(DISTINCT source_org, '; ' ORDER BY source_org) AS source_org,
                  coalesce(source_title, min(source_org)) AS source_title, source_url,
                  min(published_on) AS published_on, count(*) AS figures
           FROM observations
           GROUP BY source_url, source_title
           ORDER BY source_org, published_on NULLS LAST, source_title, source_url""").df()


def figure_rows(con) -> tuple[pd.DataFrame, int]:
    """The first FIGURES_SHOWN figures loaded, and how many there are."""
    # places is a view that joins every observation to the gazetteer, one row per observation (tests/test_models.py
    # holds it to that): ordering or counting all of it joins millions of rows. The first FIGURES_SHOWN rows in
    # metric order lie within the first metrics that together have that many observations, so only those are
    # joined and sorted (no metric to stop at: every row); the count is the observations'.
    last_metric = con.execute(
        """SELECT max(metric) FROM (SELECT metric, sum(count(*)) OVER (ORDER BY metric) - count(*) AS before
                                    FROM observations GROUP BY metric)
           WHERE before < ?""", [FIGURES_SHOWN]).fetchone()[0]
    figures = con.execute(
        """SELECT area AS place, metric, basis, population, unit, period_start, period_end, qualifier, value_best,
                  role, source_org, source_title, source_url, notes, ingest_file, ingest_row
           FROM places WHERE coalesce(metric <= ?::VARCHAR, true)
           ORDER BY metric, area, period_start, period_end, source_org, obs_id
           LIMIT ?""", [last_metric, FIGURES_SHOWN]).df()
    figures["what"] = [f"{m}, {b}, {p}, {u}" for m, b, p, u in
                       zip(figures["metric"], figures["basis"], figures["population"], figures["unit"])]
    figures["line"] = [f"{f}:{r}" for f, r in zip(figures["ingest_file"], figures["ingest_row"])]
    return figures, con.execute("SELECT count(*) FROM observations").fetchone()[0]


def sources_page(con, out) -> dict:
    spec = source_charts.comparison(con)
    compared = con.execute(
        """SELECT place, metric, population, unit, period_start, period_end, source_org, qualifier, value_best,
                  spread, n_sources, chosen_best, chosen_days, date_diff('day', period_start, period_end) + 1 AS days, role
           FROM source_comparison WHERE n_sources > 1
           ORDER BY place, metric, period_start, period_end, value_best DESC, source_org""").df()
    listing = fetched(documents, con)
    figures, n_figures = fetched(figure_rows, con)
    return {"title": "Sources: where they agree and disagree",
            "intro": ["Reports often give different numbers for the same place and time: they count different "
                      "things (people or movements), over slightly different days, or revise earlier figures. "
                      "This report never adds figures from different sources together. Where two sources cover "
                      "exactly the same place and period, they are set side by side below."],
            "charts": [chart_context(spec, out)] if spec else [],
            "empty": None if spec else "No two sources reported the same place and period.",
            "tables": [
                _table("compared", "Same place, same period", "Spread: the highest figure less the lowest, of each "
                       "source's latest figure for the period (a source's own revision is no disagreement).",
                       [("place", "place", "text"), ("metric", "metric", "text"), ("period_start", "from", "date"),
                        ("period_end", "to", "date"), ("source_org", "source", "text"), ("qualifier", "qualifier", "qual"),
                        ("value_best", "figure", "num"), ("spread", "spread", "num"),
                        ("chosen_best", "this report's daily estimates, summed", "num"),
                        ("chosen_days", "days with an estimate", "num"), ("days", "days in the period", "num")],
                       compared),
                _table("documents", "Every document cited", "Each published document, with the number of figures "
                       "taken from it.", [("source_org", "organisation", "text"), ("source_title", "document", "link"),
                                          ("published_on", "published", "date"), ("figures", "figures", "num")],
                       listing),
                _table("figures", "Every figure loaded" if n_figures <= FIGURES_SHOWN else
                       f"The first {FIGURES_SHOWN:,} of {n_figures:,} figures loaded",
                       "One row per published figure, with its qualifier and the input file and line it came from.",
                       [("place", "place", "text"), ("what", "what (metric, basis, who, unit)", "text"),
                        ("period_start", "from", "date"), ("period_end", "to", "date"), ("qualifier", "qualifier", "qual"),
                        ("value_best", "figure", "num"), ("source_org", "source", "source"), ("role", "role", "text"),
                        ("notes", "notes", "text"), ("line", "file:line", "text")], figures)]}


def refugees(con, out) -> dict:
    specs = [s for s in (displacement.refugees_over_time(con), displacement.refugees_by_country(con)) if s]
    spec = specs[0] if specs else None
    return {"title": "Refugees by country of asylum",
            "intro": ["Refugees are people who crossed an international border; they are counted as a stock, "
                      "the number present in a country at a date."],
            "charts": [chart_context(s, out) for s in specs],
            "empty": None if spec else (
                "No UNHCR data was loaded, so there is nothing to show here yet. To add it, download the "
                "refugee population table for Syria as origin from UNHCR's Refugee Data Finder "
                "(https://www.unhcr.org/refugee-statistics/download/) as CSV, or run `displacement fetch unhcr`, "
                "and drop the file into data/inbox/; then run `displacement build`. The reader recognises the file "
                "by its columns, whatever its name."),
            "tables": []}


def quality(con, out) -> dict:
    files = con.execute("SELECT file, format, rows_read, rows_accepted, rows_rejected, rows_replaced, error "
                        "FROM ingest_files ORDER BY file").df() if _table_exists(con, "ingest_files") else pd.DataFrame()
    reasons = con.execute(
        """SELECT file, rule, column_name, count(*) AS rows FROM rejected_observations
           GROUP BY ALL ORDER BY file, rows DESC, rule, column_name""").df()
    rejected = con.execute(
        """SELECT file, line, column_name, rule, message, value FROM rejected_observations
           ORDER BY file, line, column_name, rule LIMIT 500""").df()
    n_rejected = con.execute("SELECT count(*) FROM rejected_observations").fetchone()[0]
    results = con.execute(
        """SELECT suite, expectation, column_name, success, unexpected_count, sample, rows FROM validation_results
           ORDER BY suite, success, expectation, column_name""").df() if _table_exists(con, "validation_results") \
        else pd.DataFrame()
    suites = []
    if len(results):
        for suite, g in results.groupby("suite", sort=True):
            suites.append({"suite": suite, "passed": bool(g["success"].all()), "n": len(g),
                           "failed": int((~g["success"].astype(bool)).sum()), "rows": int(g["rows"].max()),
                           "table": _table(f"suite-{suite}", f"Suite {suite}", None,
                                           [("expectation", "expectation", "text"), ("column_name", "column", "text"),
                                            ("success", "passed", "bool"), ("unexpected_count", "rows failing", "num"),
                                            ("sample", "sample of failing values", "text")], g)})
    return {"title": "Data quality: what was read, kept and set aside",
            "intro": ["Every input file is read row by row. A row that breaks a rule (a missing date, an unknown "
                      "metric, a value below zero) is set aside with the file, line, column and reason, and the "
                      "good rows of the same file go on. A record that several files carry (the same export twice, or "
                      "a newer export revising it) is kept once, from the last file in name order. Then a validation "
                      "suite checks the whole table; if it "
                      "fails, nothing downstream is rebuilt and the published site stays as it was."],
            "files": _records(files), "reasons": _records(reasons), "rejected": _records(rejected),
            "n_rejected": n_rejected, "suites": suites}


def methodology(con, out) -> dict:
    return {"title": "Methodology: how the numbers are made"}


PAGES = [
    Page("index", "index.html", "Overview", "The headline figures and where they come from.", index, (headlines,)),
    Page("scale", "topic.html", "Scale", "How many people were displaced in each wave, as published.", scale,
         (idps_rows,)),
    Page("pace", "topic.html", "Pace", "People displaced per day, the fastest days and the events behind them.", pace),
    Page("casualties", "topic.html", "Casualties", "Civilians killed each month, and how many were children.",
         casualties_page, (monthly_rows,)),
    Page("sources", "topic.html", "Sources", "Where sources agree and disagree, and every document cited.",
         sources_page, (documents, figure_rows)),
    Page("refugees", "topic.html", "Refugees", "Refugees by country of asylum, when UNHCR data is loaded.", refugees),
    Page("quality", "quality.html", "Data quality", "Rows read, kept and set aside, and every validation result.",
         quality),
    Page("methodology", "methodology.html", "Methodology", "Stock, flow and movements; zeros, blanks, rounding; "
         "how overlapping reports are reconciled.", methodology),
]
