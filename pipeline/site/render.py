"""Render the report site into a folder. Deterministic: same warehouse in, same bytes out.

Every string from input data reaches HTML through Jinja2's autoescaping, and chart specs are embedded
as JSON with `<`, `>` and `&` escaped, so a place name cannot close the script element it sits in.
CSV downloads neutralise text cells that a spreadsheet would read as a formula.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from pipeline.charts import ChartSpec, theme

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_json(obj) -> Markup:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that start like a formula with an apostrophe; numbers are left alone."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_string_dtype(s) or s.dtype == object:
            out[col] = s.map(lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v)
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame = neutralise(frame)
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].dt.strftime("%Y-%m-%d")
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")


def environment() -> Environment:
    env = Environment(loader=PackageLoader("pipeline.site", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = lambda v: "" if v is None or pd.isna(v) else f"{v:,.0f}"
    env.filters["date"] = lambda v: "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%-d %B %Y")
    env.filters["qual"] = lambda q: {"more_than": "more than", "at_least": "at least", "approximately": "about",
                                     "estimated": "an estimated", "up_to": "up to", "less_than": "fewer than"}.get(q, "")
    return env


def vega_bundle() -> str:
    import altair as alt
    import vl_convert as vlc

    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return vlc.javascript_bundle(vl_version=major_minor)


def chart_context(spec: ChartSpec, out: Path, images: bool = True) -> dict:
    import vl_convert as vlc

    vl = spec.chart.to_dict()
    vl.update({k: v for k, v in theme().items() if k not in vl})
    charts_dir = out / "charts"
    write_csv(spec.data, charts_dir / f"{spec.name}.csv")
    if images:
        static = dict(vl, width=720)
        (charts_dir / f"{spec.name}.svg").write_text(vlc.vegalite_to_svg(static), encoding="utf-8")
        (charts_dir / f"{spec.name}.png").write_bytes(vlc.vegalite_to_png(static, scale=2))
    return {"spec": spec, "vl_json": safe_json(vl)}


def render_page(env: Environment, template: str, out_path: Path, **ctx) -> None:
    html = env.get_template(template).render(**ctx)
    out_path.write_text(html, encoding="utf-8")


def build_site(con, out: Path, *, pages: list[tuple[str, str, callable]] | None = None) -> list[Path]:
    """Render every page into `out` (a fresh folder). Returns the files written."""
    from pipeline.site import pages as page_defs

    out.mkdir(parents=True, exist_ok=True)
    (out / "charts").mkdir(exist_ok=True)
    (out / "assets").mkdir(exist_ok=True)
    (out / "assets" / "vega-bundle.js").write_text(vega_bundle(), encoding="utf-8")
    static = Path(__file__).parent / "static"
    for f in sorted(static.iterdir()):
        shutil.copyfile(f, out / "assets" / f.name)
    env = environment()
    common = page_defs.common_context(con)
    for slug, template, build in pages or page_defs.PAGES:
        ctx = build(con, out)
        render_page(env, template, out / f"{slug}.html", page=slug, **common, **ctx)
    return sorted(p for p in out.rglob("*") if p.is_file())
