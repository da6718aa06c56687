"""Charts of displacement: cumulative scale and daily pace."""

from __future__ import annotations

import pandas as pd

from pipeline.charts import ChartSpec, _base, sources_of

LOWER = "lower bound (more than / at least)"
APPROX = "approximate or estimated"
EXACT = "as reported"


def _kind(q: str) -> str:
    return LOWER if q in ("more_than", "at_least") else APPROX if q in ("approximately", "estimated") else EXACT


def cumulative(con, place: str = "North-west Syria", since: str = "2019-12-01") -> ChartSpec:
    alt = _base()
    reported = con.execute(
        """SELECT period_end AS date, value_best AS people, qualifier, source_org, source_title, obs_id
           FROM places
           WHERE area = ? AND metric = 'displaced' AND basis = 'cumulative' AND unit = 'people'
             AND population = 'all' AND role = 'recommended' AND period_start = ?::DATE
           ORDER BY period_end, source_org""",
        [place, since],
    ).df()
    reported["kind"] = reported["qualifier"].map(_kind)
    daily = con.execute(
        """SELECT date, sum(people_best) OVER (ORDER BY date) AS people
           FROM displacement_daily
           WHERE place = ? AND metric = 'displaced' AND population = 'all' AND unit = 'people'
             AND series_role = 'chosen' AND date >= ?::DATE
             AND date <= (SELECT max(period_end) FROM places WHERE area = ? AND basis = 'cumulative'
                          AND role = 'recommended' AND period_start = ?::DATE AND metric = 'displaced')
           ORDER BY date""",
        [place, since, place, since],
    ).df()
    daily["series"] = "daily estimate, summed"
    line = alt.Chart(daily).mark_line(color="#0072B2", strokeWidth=2).encode(
        x=alt.X("date:T", title=None), y=alt.Y("people:Q", title="people displaced since " + since, axis=alt.Axis(format="~s")),
        tooltip=[alt.Tooltip("date:T"), alt.Tooltip("people:Q", format=",.0f")],
    )
    shapes = alt.Scale(domain=[LOWER, APPROX, EXACT], range=["triangle-up", "circle", "square"])
    points = alt.Chart(reported).mark_point(filled=True, size=90, color="#D55E00").encode(
        x="date:T", y="people:Q", shape=alt.Shape("kind:N", scale=shapes, title="reported figure"),
        tooltip=[alt.Tooltip("date:T", title="up to"), alt.Tooltip("people:Q", format=",.0f"), "qualifier:N",
                 "source_org:N", "source_title:N"],
    )
    # a lower bound points upwards: a short rule from the figure towards the top of the scale
    bounds = alt.Chart(reported[reported["kind"] == LOWER]).mark_rule(color="#D55E00", strokeDash=[2, 2]).encode(
        x="date:T", y="people:Q", y2=alt.Y2("upper:Q"),
    ).transform_calculate(upper="datum.people * 1.04")
    chart = (line + bounds + points).properties(
        title={"text": f"People displaced in {place} since {pd.Timestamp(since):%-d %B %Y}",
               "subtitle": "Cumulative, people. Markers: figures as published; triangles are lower bounds (\"more than\")."},
        width="container",
    )
    data = pd.concat([
        daily.assign(kind="daily estimate, summed", qualifier=None, source_org=None, source_title=None),
        reported.drop(columns=["obs_id"]),
    ], ignore_index=True)[["date", "people", "kind", "qualifier", "source_org", "source_title"]]
    last = reported.iloc[-1] if len(reported) else None
    desc = (f"Line chart of the cumulative number of people displaced in {place} since {since}. "
            + (f"The last published figure is {last.qualifier.replace('_', ' ')} {last.people:,.0f} "
               f"up to {last.date:%-d %B %Y} ({last.source_org})." if last is not None else ""))
    return ChartSpec(
        name="cumulative_displacement", title=chart.title["text"], subtitle=chart.title["subtitle"],
        description=desc, chart=chart, data=data, sources=sources_of(con, reported["obs_id"].tolist()),
        method="Each published cumulative figure is drawn as reported. The line adds up the daily estimates "
               "made by spreading the growth between consecutive reports evenly over the days between them.",
    )


def pace(con, place: str = "North-west Syria") -> ChartSpec:
    alt = _base()
    daily = con.execute(
        """SELECT date, people_best AS people_per_day, rolling_7d, source_org, series
           FROM displacement_pace WHERE place = ? AND unit = 'people' ORDER BY date""",
        [place],
    ).df()
    obs_ids = con.execute(
        """SELECT DISTINCT unnest(obs_ids) FROM displacement_daily
           WHERE place = ? AND series_role = 'chosen' AND metric = 'displaced' AND population = 'all' AND unit = 'people'""",
        [place],
    ).fetchall()
    events = con.execute("SELECT date, label FROM key_events ORDER BY date").df()
    x = alt.X("date:T", title=None)
    bars = alt.Chart(daily).mark_bar(color="#56B4E9", opacity=0.8).encode(
        x=x, y=alt.Y("people_per_day:Q", title="people newly displaced per day", axis=alt.Axis(format="~s")),
        tooltip=[alt.Tooltip("date:T"), alt.Tooltip("people_per_day:Q", format=",.0f"), "source_org:N"],
    )
    roll = alt.Chart(daily).mark_line(color="#0072B2", strokeWidth=2).encode(x=x, y="rolling_7d:Q")
    rules = alt.Chart(events).mark_rule(color="#555", strokeDash=[4, 3]).encode(x="date:T", tooltip=["date:T", "label:N"])
    labels = alt.Chart(events).mark_text(align="left", dx=3, dy=-4, angle=0, fontSize=10, color="#333", baseline="top").encode(
        x="date:T", y=alt.value(0), text="label:N")
    chart = (bars + roll + rules + labels).properties(
        title={"text": f"How fast people fled: daily pace of displacement, {place}",
               "subtitle": "People per day between reports (bars) and the 7-day average (line). Dashed lines: key events."},
        width="container",
    )
    peak = daily.loc[daily["people_per_day"].idxmax()] if len(daily) else None
    desc = (f"Bar chart of people newly displaced per day in {place}. "
            + (f"The highest daily pace, about {peak.people_per_day:,.0f} people a day, was reached on "
               f"{peak.date:%-d %B %Y}." if peak is not None else ""))
    return ChartSpec(
        name="displacement_pace", title=chart.title["text"], subtitle=chart.title["subtitle"], description=desc,
        chart=chart, data=daily, sources=sources_of(con, [r[0] for r in obs_ids]),
        method="The number displaced between two reports of one series is spread evenly over the days between "
               "them; a shorter report inside that interval fixes its own days. One series is used for each day.",
    )
