"""What each page shows: a list of (slug, template, context builder)."""

from __future__ import annotations

from pipeline.charts import casualties, displacement
from pipeline.site.render import chart_context


def common_context(con) -> dict:
    as_of = con.execute("SELECT max(published_on) FROM observations").fetchone()[0]
    n_obs, n_sources = con.execute("SELECT count(*), count(DISTINCT source_org) FROM observations").fetchone()
    return {"as_of": as_of, "n_obs": n_obs, "n_sources": n_sources,
            "nav": [("index", "Overview")]}


def index(con, out) -> dict:
    headlines = con.execute(
        """SELECT key, label, value_best, value_low, value_high, qualifier, unit, period_start, period_end, place,
                  source_org, source_title, source_url
           FROM headline_figures ORDER BY rank"""
    ).df().to_dict("records")
    charts = [chart_context(spec, out) for spec in (
        displacement.cumulative(con), displacement.pace(con), casualties.monthly_deaths(con))]
    return {"title": "Displacement and civilian deaths in north-west Syria, 2019-2020",
            "headlines": headlines, "charts": charts}


PAGES = [("index", "index.html", index)]
