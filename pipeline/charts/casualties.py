"""Charts of civilian casualties."""

from __future__ import annotations

import pandas as pd

from pipeline.charts import BLUE, ORANGE, VERMILLION, ChartSpec, _base, tidy, iso, sources_of, sources_of_each, whole

REPORTED = "civilians killed, as published"
DERIVED = "civilians killed, derived by subtraction"
CHILDREN = "of whom children"


def _bound(low, best, high) -> str:
    if pd.notna(low) and pd.notna(high) and low != high:
        return "range"
    if pd.notna(low) and pd.isna(high) and low == best:
        return "lower bound"
    if pd.notna(high) and pd.isna(low) and high == best:
        return "upper bound"
    return "as published" if pd.notna(low) or pd.notna(high) else "no bounds given"


def monthly_deaths(con, place: str = "Syria", source_id: str = "snhr", start: str = "2019-01-01",
                   end: str = "2020-12-31") -> ChartSpec:
    alt = _base()
    rows = con.execute(
        """SELECT month, killed_best, killed_low, killed_high, children_best, source_org, derived, obs_ids
           FROM casualties_monthly
           WHERE place = ? AND source_id = ? AND population = 'civilians' AND month BETWEEN ?::DATE AND ?::DATE
           ORDER BY month""",
        [place, source_id, start, end],
    ).df()
    share = (rows["children_best"] / rows["killed_best"]).round(3)
    data = pd.DataFrame({
        "layer": "month",
        "month": iso(rows["month"]),
        "civilians_killed": whole(rows["killed_best"]),
        "killed_low": whole(rows["killed_low"]),
        "killed_high": whole(rows["killed_high"]),
        "bounds": [_bound(lo, b, hi) for lo, b, hi in zip(rows["killed_low"], rows["killed_best"], rows["killed_high"])],
        "children_killed": whole(rows["children_best"]),
        "children_share": share.where(rows["children_best"].notna()),
        "figure": [DERIVED if d else REPORTED for d in rows["derived"]],
        "source_org": rows["source_org"],
        # where each month came from, in the download too: its documents (a derived month's are the span's and
        # the known months'), each as title, date and link
        "documents": [" | ".join(", ".join(str(x) for x in (s.get("title") or s.get("org"), s.get("published_on"),
                                                            s.get("url")) if x)
                                 for s in srcs) for srcs in sources_of_each(con, [list(i) for i in rows["obs_ids"]])],
    })
    # the share alone ("19%"), as narrow as a month's bar: "19% children" ran over the next month's bar
    data["share_label"] = [f"{s:.0%}" if pd.notna(s) else None for s in data["children_share"]]
    data = tidy(data)
    ids = sorted({i for ids in rows["obs_ids"] for i in ids})
    colours = alt.Scale(domain=[REPORTED, DERIVED, CHILDREN], range=[VERMILLION, ORANGE, BLUE])
    x = alt.X("utcyearmonth(month):T", title=None, scale=alt.Scale(domain=[start, end], type="utc"),
              axis=alt.Axis(format="%b %Y", tickCount=8))
    xc = alt.X("utcyearmonth(month):T", title=None, bandPosition=0.5, scale=alt.Scale(domain=[start, end], type="utc"))
    y = alt.Y("civilians_killed:Q", title="civilians killed in the month")
    tips = [alt.Tooltip("utcyearmonth(month):T", title="month", format="%B %Y"),
            alt.Tooltip("civilians_killed:Q", title="civilians killed", format=","),
            alt.Tooltip("bounds:N", title="bounds"),
            alt.Tooltip("children_killed:Q", title="of whom children", format=","),
            alt.Tooltip("children_share:Q", title="share of children", format=".0%"),
            alt.Tooltip("figure:N"), alt.Tooltip("source_org:N", title="source")]
    # the layers share one frame, given once to the layer chart: Altair then neither copies nor hashes each layer
    base = alt.Chart()
    bars = base.mark_bar(width={"band": 0.8}).encode(
        x=x, y=y, color=alt.Color("figure:N", scale=colours, title=None), tooltip=tips)
    derived_outline = base.transform_filter(alt.datum.figure == DERIVED).mark_bar(
        width={"band": 0.8}, fillOpacity=0, stroke="#333", strokeDash=[3, 2], strokeWidth=1.2).encode(x=x, y=y)
    kids = base.transform_filter("isValid(datum.children_killed)").mark_bar(width={"band": 0.4}).encode(
        x=x, y=alt.Y("children_killed:Q"), color=alt.ColorDatum(CHILDREN), tooltip=tips)
    share_text = base.transform_filter("isValid(datum.children_share)").mark_text(
        baseline="bottom", dy=-10, fontSize=10, color="#123").encode(x=xc, y=y, text="share_label:N")
    lower = base.transform_filter(alt.datum.bounds == "lower bound").mark_point(
        shape="triangle-up", filled=True, size=40, color="#333").encode(x=xc, y=y)
    rng = base.transform_filter(alt.datum.bounds == "range").mark_rule(color="#333", strokeWidth=1.5).encode(
        x=xc, y=alt.Y("killed_low:Q"), y2="killed_high:Q")
    layers = [bars, derived_outline, kids, share_text, lower] + ([rng] if (data["bounds"] == "range").any() else [])
    chart = alt.layer(*layers, data=data).properties(width="container", height=320)

    n_derived = int((data["figure"] == DERIVED).sum())
    high = data.loc[data["civilians_killed"].idxmax()] if len(data) else None
    desc = (f"Bar chart of civilians killed each month in {place} in {start[:4]}-{end[:4]} as documented by "
            f"{rows['source_org'].iloc[0].split(' (')[0] if len(rows) else source_id}; {len(data)} months have a figure"
            + (f", {n_derived} of them derived by subtraction" if n_derived else "") + "."
            + (f" The highest is {high.civilians_killed:,.0f} in {pd.Timestamp(high.month):%B %Y}." if high is not None else "")
            + "".join(f" In {pd.Timestamp(r.month):%B %Y}, {r.children_killed:,.0f} of them were children "
                      f"({r.children_share:.0%})." for r in data.itertuples() if pd.notna(r.children_share)))
    return ChartSpec(
        name="civilian_deaths_monthly",
        title=f"Civilians killed each month in {place}, {start[:4]}-{end[:4]}",
        subtitle="People, one source's monthly documentation. ▲: a lower bound (\"at least\"). Blue: children, where "
                 "the month's report gives them, and their share of the month above its bar. Dashed outline: derived. Blank months: no figure, not zero.",
        description=desc, chart=chart, data=data, sources=sources_of(con, ids),
        method="Monthly figures as the source published them. A month is derived when a figure for several "
               "months leaves only that month unknown (for example February 2020 = January to March less "
               "January and March), and its bounds are worked out from theirs: less months that are lower bounds "
               "(\"at least\"), it is an upper bound. The share of children is the month's children "
               "over its civilians, from the same report.",
    )
