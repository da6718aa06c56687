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
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from pipeline.charts import ChartSpec, theme
from pipeline.schema import QUALIFIER_LABELS

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_WIDTH = 720


# what HTML does not allow of the control characters: all but tab, LF, FF and CR
_HTML_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def safe_json(obj) -> Markup:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    # DEL and C1 codes, which json.dumps leaves as they are and HTML does not allow: escaped as JSON does
    text = _HTML_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
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


def _as_hex(pattern: re.Pattern, text: str) -> str:
    """`text` with what `pattern` matches (control characters) shown as \\xNN, as the terminal shows them."""
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text) if pattern.search(text) else text


def _visible(value):
    """Every text a template prints: control characters from an input file (ESC, BEL, C1 codes), which HTML does
    not allow, shown as \\xNN as the terminal shows them (tabs and line breaks stay). Markup is the pipeline's
    own (safe_json escapes these codes itself) and is left as it is."""
    if isinstance(value, str) and not isinstance(value, Markup) and _HTML_CONTROL.search(value):
        return _as_hex(_HTML_CONTROL, value)
    return value


# what the chart renderer cannot draw: vl-convert aborts the whole process on a C0 control character in a
# text (BEL, VT, FF, ESC, ...); tab and line breaks it draws
_CHART_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def visible_in_charts(obj):
    """A chart spec with every control character of its texts (source names, titles, labels from input files)
    shown as \\xNN, as the pages show them: one such character in a source's name stopped the site's build."""
    if isinstance(obj, str):
        return _as_hex(_CHART_CONTROL, obj)
    if isinstance(obj, dict):
        return {visible_in_charts(k): visible_in_charts(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [visible_in_charts(v) for v in obj]
    return obj


def environment() -> Environment:
    env = Environment(loader=PackageLoader("pipeline.site", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, finalize=_visible)
    env.filters["num"] = _num
    env.filters["pct"] = lambda v: "" if v is None or pd.isna(v) else f"{v:.0%}"
    env.filters["date"] = lambda v: "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%-d %B %Y")
    env.filters["month"] = lambda v: "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%B %Y")
    env.filters["qual"] = lambda q: QUALIFIER_LABELS.get(q, "")
    env.filters["safe_url"] = safe_url
    env.filters["blank"] = lambda v: "" if v is None or (not isinstance(v, (list, dict, str)) and pd.isna(v)) else v
    return env


def cache_dir() -> Path | None:
    """Where generated files that depend only on installed library versions are kept between builds
    (DISPLACEMENT_CACHE, else the user's cache folder); None when there is no such place."""
    if os.environ.get("DISPLACEMENT_CACHE"):
        return Path(os.environ["DISPLACEMENT_CACHE"])
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except (KeyError, RuntimeError):
        return None
    return base / "displacement" if base.is_absolute() else None


def _cache_get(name: str) -> bytes | None:
    """The cached file `name`, or None when it or its SHA-256 beside it is missing, unreadable or does not match."""
    if cache_dir() is None:
        return None
    path = cache_dir() / name
    try:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() == path.with_name(f"{name}.sha256").read_text(encoding="ascii").strip():
            return data
    except (OSError, UnicodeDecodeError):
        pass
    return None


def _cache_put(name: str, data: bytes) -> None:
    """Keep `data` as `name`, each file replaced whole; a folder that cannot be written only means no cache."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for target, body in ((name, data), (f"{name}.sha256", hashlib.sha256(data).hexdigest().encode("ascii"))):
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target}.")
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            os.replace(tmp, folder / target)
    except OSError:
        pass


def _bundle_key() -> tuple[str, str]:
    """The cache name of the Vega bundle and the Vega-Lite version it is for. The bundle (Vega, Vega-Lite and
    vega-embed in one script) takes vl-convert over a second to make and depends only on these two versions."""
    import altair as alt
    import vl_convert as vlc

    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return f"vega-bundle-vlc{vlc.__version__}-vl{major_minor}.js", major_minor


def vega_bundle() -> str:
    import vl_convert as vlc

    name, vl_version = _bundle_key()
    data = _cache_get(name)
    if data is None:
        data = vlc.javascript_bundle(vl_version=vl_version).encode("utf-8")
        _cache_put(name, data)
    return data.decode("utf-8")


class _Drawer:
    """The helper process (vl_worker.py) that draws chart images while the pages go on rendering. Requests are
    written to its stdin by a thread, so that a large spec never holds the pages up on a full pipe; each request
    names the files it writes, so the order in which things finish changes nothing."""

    script = Path(__file__).with_name("vl_worker.py")

    def __init__(self):
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen([sys.executable, "-P", str(self.script), str(os.getpid())],
                                      stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr)
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._feeder = threading.Thread(target=self._feed, name="vl-worker-feed", daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        try:
            while (line := self._requests.get()) is not None:
                self._proc.stdin.write(line)
        except OSError:
            pass  # the helper has died: finish() reports why
        finally:
            try:
                self._proc.stdin.close()
            except OSError:
                pass

    def send(self, request: dict) -> None:
        self._requests.put((json.dumps(request, separators=(",", ":")) + "\n").encode("ascii"))

    def finish(self) -> None:
        """Wait until everything asked for is written; raise if the helper failed."""
        self._requests.put(None)
        self._feeder.join()
        code = self._proc.wait()
        self._stderr.seek(0)
        err = self._stderr.read().decode("utf-8", "replace").strip()
        self._stderr.close()
        if code != 0:
            raise RuntimeError(f"drawing the chart images failed (exit {code}): {err[-2000:]}")

    def abort(self) -> None:
        self._requests.put(None)
        self._proc.kill()
        self._proc.wait()
        self._feeder.join()
        self._stderr.close()


_DRAWER: ContextVar[_Drawer | None] = ContextVar("site_image_drawer", default=None)


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
    static["title"] = visible_in_charts({"text": spec.title, "subtitle": lines})
    return static


def chart_context(spec: ChartSpec, out: Path, images: bool = True) -> dict:
    import vl_convert as vlc

    vl = visible_in_charts(page_spec(spec))
    charts_dir = out / "charts"
    charts_dir.mkdir(parents=True, exist_ok=True)
    write_csv(spec.data, charts_dir / f"{spec.name}.csv")
    if spec.data.empty:  # nothing to draw (the loaded data has no figures for it): say so, export nothing
        return {"spec": spec, "vl_json": None, "empty": True}
    if images:
        # vl-convert draws a PNG by drawing the SVG and rasterising it: rasterise the SVG already drawn
        svg_path, png_path = charts_dir / f"{spec.name}.svg", charts_dir / f"{spec.name}.png"
        drawer = _DRAWER.get()
        if drawer is not None:  # within build_site: the helper process draws while the pages render
            drawer.send({"spec": export_spec(spec, vl), "svg": str(svg_path), "png": str(png_path), "scale": 2})
        else:
            svg = vlc.vegalite_to_svg(export_spec(spec, vl))
            svg_path.write_text(svg, encoding="utf-8")
            png_path.write_bytes(vlc.svg_to_png(svg, scale=2))
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
    value = memo[key]
    return value.result() if isinstance(value, Future) else value


def fetched(query, con):
    """`query(con)`; within build_site, the result of the same query started in the background (_prefetching)."""
    return once(("query", query), lambda: query(con))


@contextmanager
def _prefetching(con, queries: list, memo: dict):
    """Run `queries` one after the other on a second cursor of `con`, in a thread: DuckDB lets go of the GIL
    while it scans, so the warehouse is read while the charts are built. Results only: nothing is written."""
    if not queries or not hasattr(con, "cursor"):
        yield
        return
    cursor = con.cursor()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="site-queries")
    try:
        for query in queries:
            memo.setdefault(("query", query), pool.submit(query, cursor))
        yield
    except BaseException:
        cursor.interrupt()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        cursor.close()


def render_page(env: Environment, template: str, out_path: Path, **ctx) -> None:
    html = env.get_template(template).render(**ctx)
    out_path.write_text(html, encoding="utf-8")


def build_site(con, out: Path, *, pages: list | None = None) -> list[Path]:
    """Render every page into `out` (a fresh folder). Returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "charts").mkdir(exist_ok=True)
    (out / "assets").mkdir(exist_ok=True)
    drawer = _Drawer()  # first, so that it starts up while the rest is imported
    try:
        _render_all(con, out, pages, drawer)
    except BaseException:
        drawer.abort()
        raise
    return sorted(p for p in out.rglob("*") if p.is_file())


def _render_all(con, out: Path, pages: list | None, drawer: _Drawer) -> None:
    from pipeline.site import pages as page_defs

    memo: dict = {}
    tokens = _BUILD_MEMO.set(memo), _DRAWER.set(drawer)
    pages = pages or page_defs.PAGES
    bundle_path = out / "assets" / "vega-bundle.js"
    try:
        # the slow queries start first: they read the warehouse while Altair is imported and the charts are built
        with _prefetching(con, [q for page in pages for q in getattr(page, "queries", ())], memo):
            bundle_name, vl_version = _bundle_key()
            bundle = _cache_get(bundle_name)
            if bundle is None:  # not made yet for these versions: the helper makes it while the pages render
                drawer.send({"bundle": str(bundle_path), "vl_version": vl_version})
            else:
                bundle_path.write_bytes(bundle)
            static = Path(__file__).parent / "static"
            for f in sorted(static.iterdir()):
                shutil.copyfile(f, out / "assets" / f.name)
            env = environment()
            common = page_defs.common_context(con)
            # every page's charts first, then the HTML: the helper draws the last images while the pages render
            contexts = [page.build(con, out) for page in pages]
        for page, ctx in zip(pages, contexts):
            render_page(env, page.template, out / f"{page.slug}.html", page=page.slug, **common, **ctx)
    finally:
        _BUILD_MEMO.reset(tokens[0])
        _DRAWER.reset(tokens[1])
    drawer.finish()
    if bundle is None:
        _cache_put(bundle_name, bundle_path.read_bytes())
