"""Charts of civilian casualties."""

from __future__ import annotations

from pipeline.charts import ChartSpec, _base, sources_of


def monthly_deaths(con, place: str = "Syria", start: str = "2019-01-01", end: str = "2020-12-31") -> ChartSpec:
    alt = _base()
    data = con.execute(
        """SELECT month, killed_best AS civilians_killed, children_best AS children_killed, source_org,
                  CASE WHEN derived THEN 'derived by subtraction' ELSE 'as reported' END AS figure,
                  obs_ids
           FROM casualties_monthly
           WHERE place = ? AND month BETWEEN ?::DATE AND ?::DATE AND source_id = 'snhr'
           ORDER BY month""",
        [place, start, end],
    ).df()
    ids = [i for ids in data["obs_ids"] for i in ids]
    data = data.drop(columns=["obs_ids"])
    chart = alt.Chart(data).mark_bar().encode(
        x=alt.X("yearmonth(month):T", title=None, scale=alt.Scale(domain=[start, end])),
        y=alt.Y("civilians_killed:Q", title="civilians killed"),
        color=alt.Color("figure:N", scale=alt.Scale(domain=["as reported", "derived by subtraction"],
                                                    range=["#D55E00", "#E69F00"]), title=None),
        tooltip=[alt.Tooltip("yearmonth(month):T", title="month"), alt.Tooltip("civilians_killed:Q", format=","),
                 alt.Tooltip("children_killed:Q", format=","), "figure:N", "source_org:N"],
    ).properties(
        title={"text": f"Civilians killed each month in {place}, 2019-2020",
               "subtitle": "People, SNHR's monthly documentation (\"at least\"). Months without a published figure are blank, not zero."},
        width="container",
    )
    high = data.loc[data["civilians_killed"].idxmax()] if len(data) else None
    desc = (f"Bar chart of civilians killed each month in {place} in 2019 and 2020 as documented by SNHR; "
            f"{len(data)} months have a figure."
            + (f" The highest is {high.civilians_killed:,.0f} in {high.month:%B %Y}." if high is not None else ""))
    return ChartSpec(
        name="civilian_deaths_monthly", title=chart.title["text"], subtitle=chart.title["subtitle"],
        description=desc, chart=chart, data=data, sources=sources_of(con, ids),
        method="Monthly figures as SNHR published them. A month is derived when a figure for several months "
               "leaves only that month unknown (for example February 2020 = January-March less January and March).",
    )
