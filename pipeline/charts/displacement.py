"""Charts of displacement: cumulative scale by wave and daily pace."""

from __future__ import annotations

import pandas as pd

from pipeline.charts import (BLUE, GREY, ORANGE, SKY, VERMILLION, ChartSpec, _base, figure_is, tidy, iso, sources_of, tip_date,
                             whole, x_date)
from pipeline.countries import name_of
from pipeline.schema import QUALIFIER_LABELS

LOWER = "lower bound (\"more than\", \"at least\")"
APPROX = "approximate or estimated"
EXACT = "as reported"
UPPER = "upper bound (\"up to\")"
SYMBOLS = {LOWER: "\u25b2", APPROX: "\u25cf", EXACT: "\u25a0", UPPER: "\u25bc"}  # the points' shapes, as characters
OTHER = "other sources (not joined by the line)"


def _kind(q: str) -> str:
    if q in ("more_than", "at_least"):
        return LOWER
    if q in ("up_to", "less_than"):
        return UPPER
    return APPROX if q in ("approximately", "estimated") else EXACT


def _day(d) -> str:
    return f"{pd.Timestamp(d):%-d %B %Y}"


def qualifier_words(q) -> str:
    """The qualifier as it reads before a figure, with its space ("more than "), or "" for an exact figure."""
    word = QUALIFIER_LABELS.get(q, "")
    return f"{word} " if word else ""


def last_counts(data: pd.DataFrame) -> list[dict]:
    """Each wave's last recommended cumulative figure in the cumulative chart's data, in the chart's order of
    waves: the figure, its qualifier, source and date, the day the wave's count began (`began`), the day
    this figure counts from (`own_start`: later when the count was restated) and the days it covers."""
    out = []
    rec = data[data["role"] == "recommended"]
    for wave in dict.fromkeys(data["wave"]):
        g = rec[rec["wave"] == wave]
        if len(g):
            last = g.iloc[-1]
            own = last["counted_since"]
            out.append({"wave": wave, "span": wave.split(", counted since")[0], "people": last["people"],
                        "qualifier": last["qualifier"], "source_org": last["source_org"], "date": last["date"],
                        "began": g["counted_since"].iloc[0], "own_start": own, "day_of_wave": last["day_of_wave"],
                        "days": (pd.Timestamp(last["date"]) - pd.Timestamp(own)).days + 1})
    return out


def cumulative(con, place: str = "North-west Syria") -> ChartSpec:
    """Published cumulative totals of people displaced, one line per wave, by day of the wave."""
    alt = _base()
    rows = con.execute(
        """WITH waves AS (
               SELECT wave_id, wave_label, start_date, end_date FROM displacement_waves WHERE place = ? AND unit = 'people')
           SELECT w.wave_id, w.wave_label, w.start_date AS wave_start, w.end_date AS wave_end, p.period_start, p.period_end, p.value_best,
                  p.qualifier, p.role, p.source_org, p.source_title, p.published_on, p.source_url, p.obs_id
           FROM places AS p
           JOIN waves AS w ON abs(datediff('day', w.start_date, p.period_start)) <= 7
           WHERE p.area = ? AND p.metric = 'displaced' AND p.basis = 'cumulative' AND p.unit_people = 'people'
             AND p.population = 'all'
           ORDER BY w.start_date, p.period_end, p.role, p.source_org, p.obs_id""",
        [place, place],
    ).df()
    labels = {}
    for wave_id, g in rows.groupby("wave_id", sort=True):
        days = sorted(set(g.loc[g["role"] == "recommended", "period_start"])) or sorted(set(g["period_start"]))
        starts = [f"{pd.Timestamp(d):%-d %b}" for d in days]
        w0, w1 = pd.Timestamp(g["wave_start"].iloc[0]), pd.Timestamp(g["wave_end"].iloc[0])
        span = f"{w0:%b}-{w1:%b %Y}" if w0.year == w1.year else f"{w0:%b %Y}-{w1:%b %Y}"
        labels[wave_id] = f"{span}, counted since {' / '.join(starts)}"
    data = pd.DataFrame({
        "layer": "reported",
        "wave": rows["wave_id"].map(labels),
        "series": [labels[w] if r == "recommended" else OTHER for w, r in zip(rows["wave_id"], rows["role"])],
        "day_of_wave": (pd.to_datetime(rows["period_end"]) - pd.to_datetime(rows["wave_start"])).dt.days + 1,
        "counted_since": iso(rows["period_start"]),
        "date": iso(rows["period_end"]),
        "people": whole(rows["value_best"]),
        "qualifier": rows["qualifier"],
        "figure_is": figure_is(rows["qualifier"]),
        "kind": rows["qualifier"].map(_kind),
        "role": rows["role"],
        "source_org": rows["source_org"],
        "source_title": rows["source_title"],
        # where each figure came from, in the download too: the document's date and link
        "published_on": iso(rows["published_on"]),
        "source_url": rows["source_url"],
    })
    data = tidy(data)
    wave_names = [labels[w] for w in sorted(labels)]
    colours = alt.Scale(domain=[*wave_names, OTHER], range=[BLUE, VERMILLION, SKY, ORANGE][:len(wave_names)] + [GREY])
    kinds = [k for k in (LOWER, APPROX, EXACT, UPPER) if k in set(data["kind"])]
    shapes = alt.Scale(domain=kinds, range=[{LOWER: "triangle-up", APPROX: "circle", EXACT: "square",
                                             UPPER: "triangle-down"}[k] for k in kinds])
    # room after the last day for its point's marker (a point on the edge was cut in half)
    last_day = max([d for d in data["day_of_wave"] if d is not None] or [1])
    x = alt.X("day_of_wave:Q", title="days since the count began",
              scale=alt.Scale(domain=[0, int(last_day * 1.04) + 2], nice=False), axis=alt.Axis(tickCount=8))
    legend = alt.Legend(title=None, orient="bottom", direction="vertical", labelLimit=460)
    y = alt.Y("people:Q", title="people displaced (cumulative)", axis=alt.Axis(format="~s"))
    tips = [alt.Tooltip("series:N", title="series"), tip_date("counted_since", "counted since"),
            tip_date("date", "up to"), alt.Tooltip("people:Q", format=","), alt.Tooltip("figure_is:N", title="figure is"),
            alt.Tooltip("source_org:N", title="source"), alt.Tooltip("source_title:N", title="document")]
    # the layers share one frame, given once to the layer chart: Altair then neither copies nor hashes each layer
    base = alt.Chart()
    line = base.transform_filter("datum.role === 'recommended'").mark_line(strokeWidth=2.5).encode(
        x=x, y=y, color=alt.Color("series:N", scale=colours, legend=legend), detail="wave:N")
    # a lower bound points upwards: a dashed rule from the figure towards larger values
    bounds = base.transform_filter(alt.datum.kind == LOWER).transform_calculate(upper="datum.people * 1.06").mark_rule(
        strokeDash=[3, 2], strokeWidth=1.5).encode(x=x, y=y, y2="upper:Q",
                                                   color=alt.Color("series:N", scale=colours, legend=legend))
    points = base.mark_point(size=80, strokeWidth=2, filled=True).encode(
        x=x, y=y, color=alt.Color("series:N", scale=colours, legend=legend),
        # the key to the shapes is in the subtitle: as a legend beside the series' one, below the plot, a phone's
        # width cut its words off, and inside the plot it hid points
        shape=alt.Shape("kind:N", scale=shapes, legend=None), tooltip=tips)
    chart = alt.layer(line, bounds, points, data=data).properties(width="container", height=340)

    parts = []
    for last in last_counts(data):
        restated = f", this figure counted from {_day(last['own_start'])}" if last["own_start"] != last["began"] else ""
        parts.append(f"{qualifier_words(last['qualifier'])}{last['people']:,} people by {_day(last['date'])}, "
                     f"day {last['day_of_wave']} of the count that began on {_day(last['began'])} "
                     f"({last['source_org']}{restated})")
    desc = (f"Line chart of the published cumulative number of people displaced in {place}, one line for each "
            f"wave of the offensive, drawn against the days since each count began. "
            + ("The last figures are " + "; and ".join(parts) + ". " if parts else "")
            + "Upward triangles are lower bounds: the true number was higher.")
    return ChartSpec(
        name="cumulative_displacement",
        title=f"People displaced in {place}, wave by wave",
        subtitle="People (not movements), cumulative since each count began. Figures as published: "
                 + "; ".join(f"{SYMBOLS[k]} {k}" for k in kinds) + ". Grey: other sources, for comparison.",
        description=desc, chart=chart, data=data, sources=sources_of(con, rows["obs_id"].tolist()),
        method="Each point is a published total since the start of a wave (OCHA restated the spring count from "
               "29 April to 1 May; both belong to one series). The line joins the recommended figures only; "
               "figures from other sources are drawn beside them, never added to them. Counts of movements, "
               "in which one person displaced twice counts twice, are left out.",
        height=340,
    )


def _runs(dates: pd.Series) -> pd.Series:
    """Number consecutive days 1, 1, 1, 2, 2 ... so a line breaks where days without figures lie between."""
    d = pd.to_datetime(dates)
    return (d.diff().dt.days.fillna(1) > 1).cumsum() + 1


# Vega expression: the view is wide enough for the pace chart's text labels (the page column on a desktop
# is about 900 px wide, the PNG and SVG exports 720)
ROOM_FOR_LABELS = "width >= 600"


def pace_days(con, place: str) -> pd.DataFrame:
    """The chosen series of people newly displaced per day at `place`, in date order (`displacement_pace`):
    what the pace chart draws and the pace page's words about it are read from."""
    return con.execute(
        """SELECT date, people_best, people_low, people_high, rolling_7d, days_in_7d, source_org, wave_label
           FROM displacement_pace WHERE place = ? AND unit = 'people' ORDER BY date""",
        [place],
    ).df()


def pace(con, place: str = "North-west Syria", peak_days: int = 4) -> ChartSpec:
    alt = _base()
    daily = pace_days(con, place)
    obs_ids = [r[0] for r in con.execute(
        """SELECT DISTINCT unnest(obs_ids) FROM displacement_daily
           WHERE place = ? AND series_role = 'chosen' AND metric = 'displaced' AND population = 'all' AND unit = 'people'""",
        [place],
    ).fetchall()]
    peaks = con.execute(
        """SELECT start_date, end_date, people, people_per_day, wave_label FROM displacement_peaks
           WHERE place = ? AND unit = 'people' AND measure = 'peak_window' AND window_days = ?
           ORDER BY start_date""",
        [place, peak_days],
    ).df()
    lo, hi = (daily["date"].min(), daily["date"].max()) if len(daily) else (None, None)
    # key events annotate the figures around them; with no figures for the place there is nothing to annotate
    events = con.execute(
        """SELECT date, label, place, source_org, source_title, published_on, source_url FROM key_events
           WHERE ? IS NOT NULL AND date BETWEEN ?::DATE - 30 AND ?::DATE + 30 ORDER BY date, label""",
        [lo, lo, hi]).df()

    day = pd.DataFrame({
        "layer": "daily", "date": iso(daily["date"]), "end_date": None,
        "people_per_day": whole(daily["people_best"]), "rolling_7d": whole(daily["rolling_7d"]),
        "days_in_7d": daily["days_in_7d"].astype("Int64"), "run": _runs(daily["date"]).astype("Int64"),
        "label": daily["wave_label"], "source_org": daily["source_org"], "level": pd.NA,
    })
    # bands (gaps, peaks) run from `date` to `end_date`, both days included, in the data and its CSV
    gaps = []
    d = pd.to_datetime(daily["date"])
    for prev, nxt in zip(d[:-1], d[1:]):
        if (nxt - prev).days > 1:
            gaps.append({"layer": "gap", "date": f"{prev + pd.Timedelta(days=1):%Y-%m-%d}",
                         "end_date": f"{nxt - pd.Timedelta(days=1):%Y-%m-%d}",
                         "label": f"no figures for {(nxt - prev).days - 1} days"})
    if len(d) and len(events):  # events drawn beyond the figures: that time has no figures either, not zero
        first, last = pd.to_datetime(events["date"]).min(), pd.to_datetime(events["date"]).max()
        if first < d.iloc[0]:
            gaps.insert(0, {"layer": "gap", "date": f"{first:%Y-%m-%d}",
                            "end_date": f"{d.iloc[0] - pd.Timedelta(days=1):%Y-%m-%d}",
                            "label": f"no figures before {_day(d.iloc[0])}"})
        if last > d.iloc[-1]:
            gaps.append({"layer": "gap", "date": f"{d.iloc[-1] + pd.Timedelta(days=1):%Y-%m-%d}",
                         "end_date": f"{last:%Y-%m-%d}", "label": f"no figures after {_day(d.iloc[-1])}"})
    peak = pd.DataFrame({
        "layer": "peak", "date": iso(peaks["start_date"]), "end_date": iso(peaks["end_date"]),
        "people_per_day": whole(peaks["people_per_day"]),
        "label": [f"fastest {peak_days} days: {bound_word(daily, a, b)}{p:,.0f} a day"
                  for p, a, b in zip(peaks["people_per_day"], peaks["start_date"], peaks["end_date"])],
        "source_org": None,
    })
    span = (pd.Timestamp(hi) - pd.Timestamp(lo)).days if lo is not None else 1
    peak["anchor"] = ["right" if lo is not None and (pd.Timestamp(e) - pd.Timestamp(lo)).days > 0.5 * span else "left"
                      for e in peaks["start_date"]]
    ev = pd.DataFrame({
        "layer": "event", "date": iso(events["date"]), "label": events["label"], "source_org": events["source_org"],
        # stagger labels on three rows, and align the ones near the right edge to the right
        "level": pd.Series(range(len(events)), dtype="Int64") % 3,
        "anchor": ["right" if lo is not None and (pd.Timestamp(e) - pd.Timestamp(lo)).days > 0.7 * span else "left"
                   for e in events["date"]],
    })
    parts = [x for x in (day, pd.DataFrame(gaps), peak, ev) if len(x)]
    cols = ["layer", "date", "end_date", "people_per_day", "rolling_7d", "days_in_7d", "run", "label", "level",
            "anchor", "source_org", "described"]
    data = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    # a band as a screen reader gives it: its words and its days, written here (Vega would write the days in
    # the reader's time zone)
    band = data["layer"].isin(["gap", "peak"]) if len(data) else pd.Series(dtype=bool)
    data["described"] = [f"{lab}, {_day(a)} to {_day(b)}" if is_band else None
                         for lab, a, b, is_band in zip(data["label"], data["date"], data["end_date"], band)]
    data = data.reindex(columns=cols)
    for c in ("people_per_day", "rolling_7d", "days_in_7d", "run", "level"):
        data[c] = data[c].astype("Int64")

    data = tidy(data)
    x = x_date("date")
    top_value = max([v for v in data["people_per_day"] if v is not None] or [1])
    # headroom above the bars for three rows of event labels and one of peak labels
    y = alt.Y("people_per_day:Q", title="people newly displaced per day", axis=alt.Axis(format="~s"),
              scale=alt.Scale(domain=[0, round(top_value * 1.45, -3)], nice=False))
    # the layers share one frame, given once to the layer chart: Altair then neither copies nor hashes each layer
    base = alt.Chart()
    # a band's right edge is the end of its last day: the next midnight (UTC, as the axis)
    after = f"toDate(datum.end_date) + {24 * 3600 * 1000}"
    # a band's screen-reader label is its own words: Vega formats a computed time (`edge`, `mid`) in the
    # reader's time zone, so the exported SVG differed from one machine's zone to another's
    gap = base.transform_filter(alt.datum.layer == "gap").transform_calculate(edge=after).mark_rect(
        color="#f2f2f2").encode(x=x, x2="edge:T", tooltip=[alt.Tooltip("label:N", title="gap")],
                                description="described:N")
    # named only where the band is wide enough for the words (a short band is explained by its tooltip)
    gap_text = base.transform_filter(alt.datum.layer == "gap").transform_filter(
        f"toDate(datum.end_date) - toDate(datum.date) >= {20 * 24 * 3600 * 1000}").transform_calculate(
        mid=f"(toDate(datum.date) + {after}) / 2").mark_text(
        color="#666", fontSize=11, baseline="bottom", dy=-4, aria=False).encode(
        x=alt.X("mid:T"), y=alt.value(320), text=alt.value("no figures"))
    peak_rect = base.transform_filter(alt.datum.layer == "peak").transform_calculate(edge=after).mark_rect(
        color=ORANGE, opacity=0.35).encode(
        x=x, x2="edge:T", tooltip=[alt.Tooltip("label:N", title="peak"), tip_date("date", "from"),
                                   tip_date("end_date", "to")], description="described:N")
    bars = base.transform_filter(alt.datum.layer == "daily").mark_bar(color=SKY, width={"band": 1}).encode(
        x=x_date("utcyearmonthdate(date)"), y=y,
        tooltip=[tip_date(), alt.Tooltip("people_per_day:Q", title="people a day (estimate)", format=","),
                 alt.Tooltip("rolling_7d:Q", title="7-day average", format=","),
                 alt.Tooltip("source_org:N", title="source")])
    # the same days as a filled step under the bars: on a phone a day is under a pixel wide and the bars
    # alone faded to nothing; each day's step ends at the next midnight, as its bar does, and runs never join
    fill = base.transform_filter(alt.datum.layer == "daily").mark_area(
        color=SKY, opacity=0.75, interpolate="step-after", aria=False).encode(
        x=x_date("utcyearmonthdate(date)"), y=alt.Y("people_per_day:Q", stack=None), detail="run:N")
    roll = base.transform_filter(alt.datum.layer == "daily").mark_line(color=BLUE, strokeWidth=2.5).encode(
        x=x, y=alt.Y("rolling_7d:Q"), detail="run:N")
    rules = base.transform_filter(alt.datum.layer == "event").mark_rule(color="#333", strokeDash=[4, 3]).encode(
        x=x, tooltip=[tip_date(), alt.Tooltip("label:N", title="event"), alt.Tooltip("source_org:N", title="source")])
    # the event and peak labels need room: in a narrower view (a phone) they would run over each other, so
    # they are left out there; the rules and bands stay, with tooltips, and the description lists them all
    texts = [base.transform_filter((alt.datum.layer == "event") & (alt.datum.anchor == a)).transform_filter(
        ROOM_FOR_LABELS).transform_calculate(
        ypix="6 + 14 * datum.level").mark_text(align=a, dx=4 if a == "left" else -4, baseline="top", fontSize=11,
                                              color="#222").encode(x=x, y=alt.Y("ypix:Q", scale=None), text="label:N")
        for a in ("left", "right")]
    peak_text = [base.transform_filter((alt.datum.layer == "peak") & (alt.datum.anchor == a)).transform_filter(
        ROOM_FOR_LABELS).mark_text(
        align=a, dx=4 if a == "left" else -4, baseline="top", fontSize=11, color="#8a4b00", fontWeight="bold").encode(
        x=x, y=alt.Y("ypix:Q", scale=None), text="label:N").transform_calculate(ypix="8 + 14 * 3")
        for a in ("left", "right")]
    chart = alt.layer(gap, gap_text, peak_rect, fill, bars, roll, rules, *texts, *peak_text, data=data).properties(
        width="container", height=320)

    desc = (f"Bar chart of people newly displaced each day in {place}, with the 7-day average as a line. "
            + _highest_rate(day, daily)
            + "".join(f"In the wave from {p.wave_label}, the fastest {peak_days} days ran from {_day(p.start_date)} "
                      f"to {_day(p.end_date)}, {bound_word(daily, p.start_date, p.end_date) or 'about '}"
                      f"{p.people_per_day:,.0f} people a day. " for p in peaks.itertuples())
            + (f"Events marked: {'; '.join(f'{_day(e.date)}, {e.label}' for e in events.itertuples())}."
               if len(events) else ""))
    return ChartSpec(
        name="displacement_pace",
        title=f"How fast people fled: people displaced per day in {place}",
        subtitle="People per day (bars) and the 7-day average (line), estimated from the published totals. "
                 f"Orange: the fastest {peak_days} days of each wave. Dashed lines: key events. "
                 "Grey: no figures, not zero.",
        description=desc, chart=chart, data=data, sources=_with_event_sources(sources_of(con, obs_ids), events),
        method="The growth between two published totals of one series is spread evenly over the days between "
               "them; a shorter report inside that interval fixes its own days. One series is used for each day "
               "and sources are never added. The 7-day average is over the days that have a figure; the line "
               "stops where figures stop.",
    )


def bound_word(daily: pd.DataFrame, start, end) -> str:
    """How the daily figures from start to end stand to the truth, as a word before them: "at least " when
    each is a lower bound (from a "more than" total), "" when exact, "about " otherwise."""
    rows = daily[(pd.to_datetime(daily["date"]) >= pd.Timestamp(start)) & (pd.to_datetime(daily["date"]) <= pd.Timestamp(end))]
    if not len(rows):
        return "about "
    low_is_best = (rows["people_low"] == rows["people_best"]).fillna(False).astype(bool)
    high_is_best = (rows["people_high"] == rows["people_best"]).fillna(False).astype(bool)
    if (low_is_best & high_is_best).all():
        return ""
    if (low_is_best & rows["people_high"].isna()).all():
        return "at least "
    return "about "


def _highest_rate(day: pd.DataFrame, daily: pd.DataFrame) -> str:
    """The highest daily rate, over the run of days that share it: each day's figure is a published total
    spread evenly over its days, so the rate belongs to that span, not to one day of it."""
    rates = day["people_per_day"]
    if not len(day) or rates.isna().all():
        return ""
    top = int(rates.idxmax())
    value, dates = rates.iloc[top], pd.to_datetime(day["date"])
    first = last = top
    while first > 0 and rates.iloc[first - 1] == value and (dates.iloc[first] - dates.iloc[first - 1]).days == 1:
        first -= 1
    while last + 1 < len(day) and rates.iloc[last + 1] == value and (dates.iloc[last + 1] - dates.iloc[last]).days == 1:
        last += 1
    word = bound_word(daily, day["date"].iloc[first], day["date"].iloc[last]) or ""
    if first == last:
        return f"The highest daily rate, {word}{value:,} people, was on {_day(day['date'].iloc[first])}. "
    return (f"The highest daily rate, {word}{value:,} people a day, ran from {_day(day['date'].iloc[first])} to "
            f"{_day(day['date'].iloc[last])}: one published figure spread evenly over those {last - first + 1} days "
            "(no source counts single days). ")


def _with_event_sources(sources: list[dict], events: pd.DataFrame) -> list[dict]:
    """A chart's sources and, after them, the reports recording the key events it draws that are not among
    them already: each by its own title and publication date, with the event it records (the event's label
    and date were once given as if they were the report's)."""
    seen = {s["url"] for s in sources if s.get("url")}
    extra = []
    for e in events.itertuples():
        url = e.source_url if isinstance(e.source_url, str) and e.source_url else None
        if (url is None and not e.source_org) or (url is not None and url in seen):
            continue
        seen.add(url)
        title = e.source_title if isinstance(e.source_title, str) and e.source_title else None
        published = pd.Timestamp(e.published_on).date().isoformat() if pd.notna(e.published_on) else None
        extra.append({"org": e.source_org, "title": title, "url": url, "published_on": published,
                      "records": f"{e.label} ({_day(e.date)})"})
    return sources + extra


def _refugee_origin(con) -> tuple[str, int] | None:
    """The origin the report is about (the gazetteer's country, Syria) when refugees from it are loaded, else the
    one with the most refugees in its latest year; and that origin's latest year. (By the most refugees alone,
    one row for Afghanistan turned both charts to it.)"""
    row = con.execute(
        """WITH latest AS (
               SELECT origin_iso3, max(year) AS year FROM refugees_by_asylum WHERE refugees IS NOT NULL
               GROUP BY origin_iso3),
           totals AS (
               SELECT r.origin_iso3, l.year, sum(r.refugees) AS refugees
               FROM refugees_by_asylum AS r JOIN latest AS l USING (origin_iso3, year)
               WHERE r.refugees IS NOT NULL GROUP BY ALL)
           SELECT origin_iso3, year FROM totals
           ORDER BY origin_iso3 IN (SELECT code FROM gazetteer WHERE level = 'country') DESC, refugees DESC, origin_iso3
           LIMIT 1""").fetchone()
    return (row[0], int(row[1])) if row else None


def refugees_by_country(con, top: int = 15) -> ChartSpec | None:
    """Refugees by country of asylum at the end of the latest year: the largest `top` countries."""
    alt = _base()
    found = _refugee_origin(con)
    if found is None:
        return None
    origin, year = found
    named = name_of(origin)
    rows = con.execute(
        """SELECT asylum_iso3, asylum_name, refugees, asylum_seekers, source_org, obs_ids FROM refugees_by_asylum
           WHERE origin_iso3 = ? AND year = ? AND refugees IS NOT NULL
           ORDER BY refugees DESC, asylum_iso3""", [origin, year]).df()
    shown = rows.head(top)
    data = tidy(pd.DataFrame({
        "country_of_asylum": shown["asylum_name"].fillna(shown["asylum_iso3"]), "iso3": shown["asylum_iso3"],
        "refugees": whole(shown["refugees"]), "asylum_seekers": whole(shown["asylum_seekers"]),
        "year": year, "source_org": shown["source_org"]}))
    height = max(120, 24 * len(data))
    chart = alt.Chart(data).mark_bar(color=BLUE).encode(
        y=alt.Y("country_of_asylum:N", sort="-x", title=None),
        x=alt.X("refugees:Q", title=f"refugees from {named}, end of {year}", axis=alt.Axis(format="~s", orient="top")),
        tooltip=["country_of_asylum:N", alt.Tooltip("refugees:Q", format=","),
                 alt.Tooltip("asylum_seekers:Q", format=",", title="asylum seekers"),
                 alt.Tooltip("source_org:N", title="source")],
    ).properties(width="container", height=height)
    first = data.iloc[0]
    share = float(shown["refugees"].sum() / rows["refugees"].sum()) if rows["refugees"].sum() else 0.0
    ids = [i for ids in shown["obs_ids"] for i in ids]
    return ChartSpec(
        name="refugees_by_country", title=f"Where refugees from {named} lived at the end of {year}",
        subtitle=f"People, a stock at the end of the year. The {len(data)} largest of {len(rows)} countries of asylum.",
        description=f"Bar chart of refugees from {named} by country of asylum at the end of {year}: "
                    f"{first.country_of_asylum} hosted the most, {first.refugees:,}. The {len(data)} countries shown "
                    f"hosted {share:.0%} of all {rows['refugees'].sum():,.0f}.",
        chart=chart, data=data, sources=sources_of(con, ids),
        method="A stock: people present at the end of the year, not people who arrived in it. Where two sources "
               "give the same year and countries, one is used (recommended first, then the latest published).",
        height=height)


def refugees_over_time(con) -> ChartSpec | None:
    """All refugees from the main origin, year by year: the countries of asylum added up (one source each)."""
    alt = _base()
    found = _refugee_origin(con)
    if found is None:
        return None
    origin, _ = found
    named = name_of(origin)
    rows = con.execute(
        """SELECT year, sum(refugees) AS refugees, count(*) AS countries, flatten(list(obs_ids)) AS obs_ids
           FROM refugees_by_asylum WHERE origin_iso3 = ? AND refugees IS NOT NULL
           GROUP BY year ORDER BY year""", [origin]).df()
    years = rows["year"].astype("int64")
    data = tidy(pd.DataFrame({"year": rows["year"].astype("Int64"), "refugees": whole(rows["refugees"]),
                              "countries_of_asylum": rows["countries"].astype("Int64"),
                              # a run of consecutive years: the line is not drawn across years without figures
                              "run": (years.diff().fillna(1) > 1).cumsum().astype("int64") + 1}))
    chart = alt.Chart(data).mark_line(color=BLUE, point=True).encode(
        x=alt.X("year:Q", title=None, scale=alt.Scale(zero=False), axis=alt.Axis(format="d", labelAngle=0)),
        y=alt.Y("refugees:Q", title=f"refugees from {named}", axis=alt.Axis(format="~s")),
        detail="run:N",
        tooltip=[alt.Tooltip("year:Q", format="d"), alt.Tooltip("refugees:Q", format=","), "countries_of_asylum:Q"],
    ).properties(width="container", height=260)
    peak = data.loc[data["refugees"].astype("float").idxmax()]
    ids = sorted({i for ids in rows["obs_ids"] for i in ids})
    return ChartSpec(
        name="refugees_over_time", title=f"Refugees from {named}, year by year",
        subtitle="People, a stock at the end of each year, all countries of asylum together.",
        description=f"Line chart of refugees from {named} at the end of each year from {data['year'].min()} to "
                    f"{data['year'].max()}; the highest is {peak.refugees:,} at the end of {peak.year}.",
        chart=chart, data=data, sources=sources_of(con, ids),
        method="The countries of asylum are different places, so their stocks add up; for each country and year one "
               "source is used, never two. Years without figures are left blank: the line is not drawn across them.",
        height=260)
