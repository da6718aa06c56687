"""Render the report site into a folder. Deterministic: same warehouse in, same bytes out.

Every string from input data reaches HTML through Jinja2's autoescaping, and chart specs are embedded
as JSON with `<`, `>` and `&` escaped, so a place name cannot close the script element it sits in.
Links from input data are kept only when they are http(s). CSV downloads neutralise text cells that a
spreadsheet would read as a formula.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import shutil
import tempfile
import textwrap
from contextvars import ContextVar
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from pipeline.charts import ChartSpec, theme

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_WIDTH = 720


def safe_json(obj) -> Markup:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def neutralise_value(v):
    return "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that start like a formula with an apostrophe; numbers are left alone."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_string_dtype(s) or s.dtype == object:
            out[col] = s.map(neutralise_value)
    return out


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as the CSV holds it: dates as days, whole floats as integers, formulas neutralised."""
    frame = neutralise(frame)
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            frame[col] = s.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(s) and s.dropna().map(float.is_integer).all():
            frame[col] = s.astype("Int64")
    return frame


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    csv_frame(frame).to_csv(path, index=False, lineterminator="\n")


def safe_url(url) -> str | None:
    """Only web links become links: a `javascript:` or `data:` URL from input data stays text."""
    if isinstance(url, str) and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


def _num(v, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or (not isinstance(v, str) and pd.isna(v)):
        return ""
    return f"{v:,.{digits}f}"


def environment() -> Environment:
    env = Environment(loader=PackageLoader("pipeline.site", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = _num
    env.filters["pct"] = lambda v: "" if v is None or pd.isna(v) else f"{v:.0%}"
    env.filters["date"] = lambda v: "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%-d %B %Y")
    env.filters["month"] = lambda v: "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%B %Y")
    env.filters["qual"] = lambda q: {"more_than": "more than", "at_least": "at least", "approximately": "about",
                                     "estimated": "an estimated", "up_to": "up to", "less_than": "fewer than"}.get(q, "")
    env.filters["safe_url"] = safe_url
    env.filters["blank"] = lambda v: "" if v is None or (not isinstance(v, (list, dict, str)) and pd.isna(v)) else v
    return env


def cache_dir() -> Path:
    """Where generated files that depend only on installed library versions are kept between builds."""
    if os.environ.get("DISPLACEMENT_CACHE"):
        return Path(os.environ["DISPLACEMENT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "displacement"


def _cached(name: str, make) -> bytes:
    """`make()` once per name: kept in cache_dir() with its SHA-256 beside it, rebuilt when either is missing,
    unreadable or does not match. A folder that cannot be written only means no cache."""
    folder = cache_dir()
    path, digest_path = folder / name, folder / f"{name}.sha256"
    try:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() == digest_path.read_text(encoding="ascii").strip():
            return data
    except (OSError, UnicodeDecodeError):
        pass
    data = make()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for target, body in ((path, data), (digest_path, hashlib.sha256(data).hexdigest().encode("ascii"))):
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.")
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            os.replace(tmp, target)
    except OSError:
        pass
    return data


def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed in one script. Bundling takes vl-convert over a second, and the result
    depends only on the vl-convert version and the Vega-Lite version asked for, so it is cached by both."""
    import altair as alt
    import vl_convert as vlc

    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    name = f"vega-bundle-vlc{vlc.__version__}-vl{major_minor}.js"
    return _cached(name, lambda: vlc.javascript_bundle(vl_version=major_minor).encode("utf-8")).decode("utf-8")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def page_spec(spec: ChartSpec) -> dict:
    """The Vega-Lite spec embedded in the page: no title (the page shows it as HTML), our theme."""
    # not validated here against the Vega-Lite schema (a fifth of a second per build); tests/test_site.py does
    vl = spec.chart.to_dict(validate=False)
    vl.pop("title", None)
    vl["config"] = _merge(vl.get("config", {}), theme()["config"])
    vl["description"] = spec.description
    vl.setdefault("height", spec.height)
    vl["autosize"] = {"type": "fit-x", "contains": "padding"}
    return vl


def export_spec(spec: ChartSpec, vl: dict) -> dict:
    """The spec for PNG and SVG files: fixed width, with title, subtitle and sources inside the image."""
    static = copy.deepcopy(vl)
    static["width"] = EXPORT_WIDTH
    orgs = list(dict.fromkeys(s["org"] for s in spec.sources if s.get("org")))
    lines = textwrap.wrap(spec.subtitle, 110)
    if orgs:
        lines += textwrap.wrap("Sources: " + "; ".join(orgs) + ".", 110)
    static["title"] = {"text": spec.title, "subtitle": lines}
    return static


def chart_context(spec: ChartSpec, out: Path, images: bool = True) -> dict:
    import vl_convert as vlc

    vl = page_spec(spec)
    charts_dir = out / "charts"
    charts_dir.mkdir(parents=True, exist_ok=True)
    write_csv(spec.data, charts_dir / f"{spec.name}.csv")
    if spec.data.empty:  # nothing to draw (the loaded data has no figures for it): say so, export nothing
        return {"spec": spec, "vl_json": None, "empty": True}
    if images:
        # vl-convert draws a PNG by drawing the SVG and rasterising it: rasterise the SVG we already have
        svg = vlc.vegalite_to_svg(export_spec(spec, vl))
        (charts_dir / f"{spec.name}.svg").write_text(svg, encoding="utf-8")
        (charts_dir / f"{spec.name}.png").write_bytes(vlc.svg_to_png(svg, scale=2))
    return {"spec": spec, "vl_json": safe_json(vl), "empty": False}


_BUILD_MEMO: ContextVar[dict | None] = ContextVar("site_build_memo", default=None)


def once(key, make):
    """`make()` once per build_site call and key: a chart the overview repeats from a topic page is queried,
    drawn and exported once. Outside build_site, simply `make()`."""
    memo = _BUILD_MEMO.get()
    if memo is None:
        return make()
    if key not in memo:
        memo[key] = make()
    return memo[key]


def render_page(env: Environment, template: str, out_path: Path, **ctx) -> None:
    html = env.get_template(template).render(**ctx)
    out_path.write_text(html, encoding="utf-8")


def build_site(con, out: Path, *, pages: list | None = None) -> list[Path]:
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
    token = _BUILD_MEMO.set({})
    try:
        for page in pages or page_defs.PAGES:
            ctx = page.build(con, out)
            render_page(env, page.template, out / f"{page.slug}.html", page=page.slug, **common, **ctx)
    finally:
        _BUILD_MEMO.reset(token)
    return sorted(p for p in out.rglob("*") if p.is_file())
