"""Where sources agree and disagree: the figures several sources gave for the same place and period."""

from __future__ import annotations

import pandas as pd

from pipeline.charts import BLACK, ChartSpec, PALETTE, _base, figure_is, tidy, iso, sources_of, whole

OURS = "this report's daily estimates, summed"


# Vega expression: the widest a bar's label may be, in pixels: at most 340, and under half the page's width
LABEL_LIMIT = "containerSize()[0] ? clamp(floor(containerSize()[0] * 0.42), 110, 340) : 340"

def _period(a, b) -> str:
    a, b = pd.Timestamp(a), pd.Timestamp(b)
    if a.year == b.year and a.month == b.month:
        return f"{a.day}-{b:%-d %B %Y}" if a != b else f"{b:%-d %B %Y}"
    return f"{a:%-d %B %Y} to {b:%-d %B %Y}"


def comparison(con) -> ChartSpec | None:
    alt = _base()
    rows = con.execute(
        """SELECT place, metric, population, unit, period_start, period_end, source_org, role, qualifier,
                  value_best, chosen_best, chosen_days, spread, obs_id
           FROM source_comparison WHERE n_sources > 1
           ORDER BY place, metric, population, unit, period_start, period_end, value_best DESC, source_org, obs_id"""
    ).df()
    if not len(rows):
        return None
    label = [f"{m} ({p}, {u}), {pl}, {_period(a, b)}" for m, p, u, pl, a, b in
             zip(rows["metric"], rows["population"], rows["unit"], rows["place"], rows["period_start"], rows["period_end"])]
    reported = pd.DataFrame({
        "layer": "reported", "comparison": label, "source_org": rows["source_org"], "role": rows["role"],
        "qualifier": rows["qualifier"], "value": whole(rows["value_best"]),
        "period_start": iso(rows["period_start"]), "period_end": iso(rows["period_end"]),
        "spread": whole(rows["spread"]),
    })
    ours = rows.assign(comparison=label).drop_duplicates("comparison")
    ours = ours[ours["chosen_best"].notna()]
    estimate = pd.DataFrame({
        "layer": "estimate", "comparison": ours["comparison"], "source_org": OURS, "role": "estimate",
        "qualifier": "estimated", "value": whole(ours["chosen_best"]),
        "period_start": iso(ours["period_start"]), "period_end": iso(ours["period_end"]),
        "spread": whole(ours["spread"]),
        # the daily series may not reach every day of the period: then its sum is over fewer days
        "days_estimated": ours["chosen_days"].astype("Int64"),
        "days": [(pd.Timestamp(b) - pd.Timestamp(a)).days + 1 for a, b in zip(ours["period_start"], ours["period_end"])],
    })
    data = pd.concat([reported, estimate], ignore_index=True)
    data["figure_is"] = figure_is(data["qualifier"])
    data.insert(2, "row", [
        f"{c.split(', ')[-1]}: {o}" + (f" ({int(e)} of {int(n)} days)" if pd.notna(e) and e < n else "")
        for c, o, e, n in zip(data["comparison"], data["source_org"], data.get("days_estimated", pd.NA),
                              data.get("days", pd.NA))])
    data = tidy(data)
    orgs = sorted(set(reported["source_org"]))
    colours = alt.Scale(domain=[*orgs, OURS], range=[PALETTE[i % 6] for i in range(len(orgs))] + [BLACK])
    # one bar per source and comparison, labelled "period: source" so several comparisons stack readably; the
    # label in two lines (period, then source), as wide as the view allows: on a phone a one-line label as
    # wide as on a desktop left no room for the bars (the exports, with no page around them, take 340 px)
    y = alt.Y("row:N", title=None, sort=None, axis=alt.Axis(
        labelExpr="split(datum.label, ': ')", labelFontSize=11, labelLineHeight=13,
        labelLimit=alt.ExprRef(expr=LABEL_LIMIT)))
    top = max([v for v in data["value"] if v is not None] or [1])
    # room after the longest bar for its figure: a larger share of a narrower plot
    x = alt.X("value:Q", title="people", axis=alt.Axis(format="~s"), scale=alt.Scale(
        domainMin=0, domainMax=alt.ExprRef(expr=f"{top} * (containerSize()[0] && containerSize()[0] < 600 ? 1.55 : 1.15)"),
        nice=False))
    tips = ["comparison:N", alt.Tooltip("source_org:N", title="source"), alt.Tooltip("value:Q", format=","),
            alt.Tooltip("figure_is:N", title="figure is"), "role:N"]
    # the layers share one frame, given once to the layer chart: Altair then neither copies nor hashes each layer
    base = alt.Chart()
    bars = base.mark_bar(height={"band": 0.7}).encode(
        y=y, x=x, color=alt.Color("source_org:N", scale=colours, legend=None), tooltip=tips)
    text = base.mark_text(align="left", dx=4, fontSize=11, color="#222").encode(
        y=y, x=x, text=alt.Text("value:Q", format=","))
    n = len(data)
    chart = alt.layer(bars, text, data=data).properties(width="container", height=max(90, 34 * n))
    parts = []
    for comp, g in reported.groupby("comparison", sort=False):
        vals = "; ".join(f"{r.source_org} {r.value:,}" for r in g.itertuples())
        hi, lo = g["value"].max(), g["value"].min()
        parts.append(f"{comp}: {vals}, a difference of {hi - lo:,} ({(hi - lo) / hi:.1%})")
    def covered(e, n) -> str:
        return f"; the daily series has figures for only {e} of those {n} days" if e < n else ""

    desc = ("Bar chart of figures that several sources published for the same place and period. "
            + ". ".join(parts) + ". The black bar shows what this report's own daily estimates add up to over "
            "the same days"
            + "".join(f" ({v:,.0f} for {c}{covered(e, n)})" for c, v, e, n in
                      zip(estimate["comparison"], estimate["value"], estimate["days_estimated"], estimate["days"]))
            + ".")
    return ChartSpec(
        name="source_comparison", title="Where sources agree and disagree",
        subtitle="People. Each bar is one source's figure for the same place and period. "
                 "Black: this report's daily estimates summed over those days (over fewer when it lacks some).",
        description=desc, chart=chart, data=data, sources=sources_of(con, rows["obs_id"].tolist()),
        method="Figures are set side by side and never added. The difference is the highest figure less the "
               "lowest. This report's estimate comes from the series it chose for each day (recommended first), "
               "which may count a different thing: for example a cumulative total since 1 December differenced "
               "between reports, against a monthly count of arrivals.",
        height=max(90, 34 * len(data)),
    )
