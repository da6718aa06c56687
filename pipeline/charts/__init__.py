"""One function per chart, one theme. Each returns a ChartSpec: the Altair chart and the exact data drawn.

Chart functions take a DuckDB connection to the warehouse and query the model tables; altair is
imported here, not in the Dagster definitions, to keep loading fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans Arabic', sans-serif"


@dataclass
class ChartSpec:
    name: str  # file stem: charts/<name>.csv|png|svg
    title: str
    subtitle: str
    description: str  # for screen readers and as a caption a journalist could quote
    chart: object  # altair.Chart
    data: pd.DataFrame  # exactly what is drawn, offered as CSV
    sources: list[dict] = field(default_factory=list)  # {org, title, url, published_on}
    method: str = ""


def theme() -> dict:
    return {
        "config": {
            "font": FONT,
            "view": {"stroke": None, "continuousWidth": 640, "continuousHeight": 300},
            "range": {"category": PALETTE},
            "axis": {"labelFontSize": 12, "titleFontSize": 12, "gridColor": "#e6e6e6", "domainColor": "#888"},
            "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "bottom"},
            "title": {"fontSize": 16, "subtitleFontSize": 13, "anchor": "start", "subtitleColor": "#444"},
        }
    }


def sources_of(con, obs_ids: list[str]) -> list[dict]:
    """Provenance of the observations behind a chart, deduplicated and in a stable order."""
    if not obs_ids:
        return []
    rows = con.execute(
        """SELECT DISTINCT source_org, source_title, source_url, published_on
           FROM observations WHERE obs_id IN (SELECT unnest(?::VARCHAR[]))
           ORDER BY published_on NULLS LAST, source_org, source_title""",
        [sorted(set(obs_ids))],
    ).fetchall()
    return [{"org": o, "title": t, "url": u, "published_on": p.isoformat() if p else None} for o, t, u, p in rows]


def _base():
    import altair as alt

    alt.data_transformers.disable_max_rows()
    return alt
