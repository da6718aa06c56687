"""One function per chart, one theme. Each returns a ChartSpec: the Altair chart and the exact data drawn.

Chart functions take a DuckDB connection to the warehouse and query the model tables; altair is
imported here, not in the Dagster definitions, to keep loading fast.

Rules every chart follows, so the site can check them:
- one data frame (`ChartSpec.data`) feeds every layer; layers pick their rows with a filter on the
  `layer` column. That frame is the CSV download, so the CSV is exactly the data drawn.
- dates are ISO strings (`YYYY-MM-DD`) read as UTC, so a reader's time zone never shifts a day;
  numbers are rounded before drawing, so the CSV and the chart show the same figures.
- the page shows the title and subtitle as HTML; PNG and SVG exports carry them inside the image,
  with the sources, for use in articles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, BLACK = PALETTE
GREY = "#767676"  # 4.5:1 on white
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans Arabic', sans-serif"
DATE_FORMAT = "%-d %b %Y"


@dataclass
class ChartSpec:
    name: str  # file stem: charts/<name>.csv|png|svg
    title: str
    subtitle: str
    description: str  # for screen readers and as a caption a journalist could quote
    chart: object  # altair chart, without title (the page and the exports add it)
    data: pd.DataFrame  # exactly what is drawn, offered as CSV
    sources: list[dict] = field(default_factory=list)  # {org, title, url, published_on}
    method: str = ""
    height: int = 320


def theme() -> dict:
    return {
        "config": {
            "font": FONT,
            "view": {"stroke": None, "continuousWidth": 640, "continuousHeight": 320},
            "range": {"category": PALETTE},
            "axis": {"labelFontSize": 12, "titleFontSize": 12, "gridColor": "#e6e6e6", "domainColor": "#888",
                     "labelColor": "#333", "titleColor": "#333", "labelOverlap": True, "titleFontWeight": "normal"},
            "axisX": {"labelAngle": 0},
            "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "bottom", "direction": "vertical",
                       "labelLimit": 320, "symbolStrokeWidth": 2},
            "title": {"fontSize": 16, "subtitleFontSize": 12, "anchor": "start", "subtitleColor": "#444",
                      "subtitlePadding": 4, "offset": 12},
            "text": {"fontSize": 11},
        }
    }


def iso(values) -> pd.Series:
    """Dates as ISO day strings (what the chart reads and the CSV holds)."""
    s = pd.to_datetime(pd.Series(values))
    return s.dt.strftime("%Y-%m-%d").where(s.notna(), None)


def whole(values) -> pd.Series:
    """Round to whole people, keeping blanks blank."""
    return pd.Series(values, dtype="Float64").round(0).astype("Int64")


def x_date(field_: str = "date", title=None, **kw):
    import altair as alt

    return alt.X(f"{field_}:T", title=title, scale=alt.Scale(type="utc", **kw.pop("scale", {})),
                 axis=alt.Axis(format="%b %Y", tickCount=kw.pop("ticks", 6), labelOverlap=True), **kw)


def figure_is(qualifiers) -> list[str]:
    """Each qualifier in words for a tooltip ("more than", "about", "exact"), not as its code."""
    from pipeline.schema import QUALIFIER_LABELS

    return [(QUALIFIER_LABELS.get(q, "") or "exact").removeprefix("an ") for q in qualifiers]


def tip_date(field_: str = "date", title: str = "date"):
    import altair as alt

    # a UTC time unit parses the ISO date and formats it in UTC, so a reader west of Greenwich sees the same
    # day; formatType="utc" on an unparsed date field showed "NaN" in every tooltip
    return alt.Tooltip(f"utcyearmonthdate({field_}):T", title=title, format=DATE_FORMAT)


def sources_of(con, obs_ids: list[str]) -> list[dict]:
    """Provenance of the observations behind a chart, deduplicated and in a stable order."""
    return sources_of_each(con, [obs_ids])[0]


def sources_of_each(con, id_lists: list[list[str]]) -> list[list[dict]]:
    """sources_of for each list of observation ids, in one pass over the observations (a scan of millions of rows
    at scale, whatever the number of lists). When large files were ingested (warehouse.observation_tables),
    the small table of the other files' rows, where the figures the charts cite mostly are, is looked in
    first, and the per-file tables of millions of rows are scanned only for ids not found there."""
    from pipeline import warehouse

    groups, ids = [], []
    for i, obs_ids in enumerate(id_lists):
        unique = sorted(set(obs_ids))
        groups += [i] * len(unique)
        ids += unique
    out: list[list[dict]] = [[] for _ in id_lists]
    if not ids:
        return out
    query = ("SELECT DISTINCT w.i, o.obs_id, o.source_org, o.source_title, o.source_url, o.published_on "
             "FROM {} AS o JOIN (SELECT unnest(?::INTEGER[]) AS i, unnest(?::VARCHAR[]) AS obs_id) AS w "
             "ON w.obs_id = o.obs_id")
    rows = []
    tables = warehouse.observation_tables(con)
    if len(tables) > 1 and tables[0] == warehouse.EXACT_TABLE:
        rows = con.execute(query.format(warehouse.EXACT_TABLE), [groups, ids]).fetchall()
        found = {r[1] for r in rows}
        keep = [k for k, obs_id in enumerate(ids) if obs_id not in found]
        groups, ids = [groups[k] for k in keep], [ids[k] for k in keep]
    if ids:
        rows += con.execute(query.format("observations"), [groups, ids]).fetchall()

    def key(row):  # ORDER BY i, published_on NULLS LAST, source_org, source_title, source_url
        return (row[0],) + tuple((v is None, v) for v in (row[4], row[1], row[2], row[3]))

    for i, o, t, u, p in sorted({(i, o, t, u, p) for i, _, o, t, u, p in rows}, key=key):
        out[i].append({"org": o, "title": t, "url": u, "published_on": p.isoformat() if p else None})
    return out


def _base():
    import altair as alt

    alt.data_transformers.disable_max_rows()
    return alt


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Blanks as None (null in the spec, empty in the CSV), whole numbers as int: one value, two encodings."""
    out = frame.astype(object).where(frame.notna(), None)
    for col in out.columns:
        out[col] = out[col].map(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)
    return out.reset_index(drop=True)
