"""The published site in a real browser (Debian's chromium driven by playwright), opened from disk.

Every page: each chart draws marks, no console error, no request leaves file://, a screenshot per page
in tests/artifacts/. A hostile inbox file: nothing runs, the text stays visible as text, CSV cells are
neutralised.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
HOSTILE_PLACE = "</script><script>alert(1)</script>"
HOSTILE_ORG = "<img src=x onerror=alert(2)>"
HOSTILE_CELL = '=HYPERLINK("http://x","y")'


def _ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, timeout=600, env=env)
        proc = subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True, text=True, timeout=1200,
                              env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"chromium is not installed and `apt-get install -y chromium` could not run: {exc}")
    if proc.returncode != 0 or not CHROMIUM.exists():
        pytest.skip("chromium is not installed and `apt-get install -y chromium` failed: "
                    + (proc.stderr or proc.stdout)[-500:])


@pytest.fixture(scope="module")
def browser():
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _build(tmp: Path, inbox_files: dict[str, str] | None = None) -> Path:
    from pipeline.commands.build import build

    paths = {"warehouse": tmp / "warehouse.duckdb", "site": tmp / "site", "inbox": tmp / "inbox"}
    paths["inbox"].mkdir(parents=True)
    for name, text in (inbox_files or {}).items():
        (paths["inbox"] / name).write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DISPLACEMENT_WAREHOUSE", str(paths["warehouse"]))
        mp.setenv("DISPLACEMENT_SITE", str(paths["site"]))
        mp.setenv("DISPLACEMENT_INBOX", str(paths["inbox"]))
        result = build()
    assert result.success, "build failed"
    assert (paths["site"] / "index.html").is_file()
    return tmp


@pytest.fixture(scope="module")
def default_build(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("default"))


def _hostile_csv() -> str:
    rows = list(csv.DictReader((ROOT / "data" / "default" / "figures.csv").open(encoding="utf-8", newline="")))
    header = list(rows[0].keys())
    base = next(r for r in rows if r["fact_id"] == "D20")  # a triangulation count since 1 December 2019
    a = dict(base, fact_id="H1", place=HOSTILE_PLACE, place_as_published=HOSTILE_PLACE, source_org=HOSTILE_ORG,
             source_id="hostile", source_title=HOSTILE_CELL, notes=HOSTILE_CELL, value="700000",
             period_end="2020-02-10", source_url="javascript:alert(3)")
    b = dict(base, fact_id="H2", source_org=HOSTILE_ORG, source_id="hostile", source_title=HOSTILE_CELL,
             notes="+SUM(1,2)", value="850000", period_end="2020-02-15")
    c = dict(base, fact_id="H3", place=HOSTILE_PLACE, source_org=HOSTILE_ORG, value="-5", source_title="@x")
    out = [",".join(header)]
    for r in (a, b, c):
        out.append(",".join('"' + str(r.get(h, "")).replace('"', '""') + '"' for h in header))
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("hostile"), {"hostile.csv": _hostile_csv()})


def _visit(browser, page_path: Path, shot: Path | None = None, width: int = 1100):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors, requests, dialogs = [], [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(page_path.as_uri())
    n = page.locator(".vis").count()
    if n:
        page.wait_for_function(
            "() => [...document.querySelectorAll('.vis')].every(v => v.dataset.rendered)", timeout=30000)
    states = page.eval_on_selector_all(".vis", "els => els.map(e => [e.id, e.dataset.rendered, "
                                               "e.querySelectorAll('svg path, svg rect, svg symbol').length])")
    page.wait_for_timeout(200)  # let any late event (a dialog, an error) arrive
    if shot:
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
    text = page.inner_text("body")
    page.close()
    return {"states": states, "errors": errors, "requests": requests, "dialogs": dialogs, "text": text}


def _pages(site: Path) -> list[Path]:
    from pipeline.site.pages import PAGES

    return [site / f"{p.slug}.html" for p in PAGES]


def test_every_page_renders_offline_with_marks_and_no_errors(browser, default_build):
    site = default_build / "site"
    charts = 0
    for path in _pages(site):
        seen = _visit(browser, path, ARTIFACTS / f"{path.stem}.png")
        for vis_id, state, marks in seen["states"]:
            assert state == "true", f"{path.name} {vis_id}: {state}"
            assert marks > 0, f"{path.name} {vis_id} drew no marks"
            charts += 1
        assert not seen["errors"], (path.name, seen["errors"])
        assert all(u.startswith("file://") for u in seen["requests"]), (path.name, seen["requests"])
        assert seen["requests"], "the page should at least load its own assets"
    assert charts >= 5
    for slug in ("index", "pace"):  # phone width: the charts must still draw
        seen = _visit(browser, site / f"{slug}.html", ARTIFACTS / f"{slug}-phone.png", width=390)
        assert all(s == "true" and m > 0 for _, s, m in seen["states"]), seen["states"]


def _chart_labels(browser, page_path: Path, width: int) -> dict[str, list[tuple[str, dict]]]:
    """Per chart of the page, the texts it drew (its text marks and its axes' labels) at a viewport width,
    with their boxes on screen, whether each lies within the chart's width, and whether it is an axis label."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(page_path.as_uri())
    if page.locator(".vis").count():
        page.wait_for_function(
            "() => [...document.querySelectorAll('.vis')].every(v => v.dataset.rendered)", timeout=30000)
    labels = page.eval_on_selector_all(
        ".vis",
        "vs => vs.map(v => {const s = v.querySelector('svg').getBoundingClientRect(); "
        "return [v.id, [...v.querySelectorAll('g.mark-text.role-mark text, g.role-axis-label text')]"
        ".filter(e => e.textContent.trim()).map(e => {const b = e.getBoundingClientRect(); "
        "return [e.textContent, {x: b.x, y: b.y, w: b.width, h: b.height, "
        "inside: b.left >= s.left - 1 && b.right <= s.right + 1, axis: !!e.closest('g.role-axis-label')}];})];})")
    page.close()
    return dict(labels)


def _overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def test_pace_chart_labels_never_run_over_each_other_and_leave_narrow_views(browser, default_build):
    pace = default_build / "site" / "pace.html"
    for width in (390, 768, 1100):
        labels = [(t, b) for t, b in _chart_labels(browser, pace, width)["vis-displacement_pace"] if not b["axis"]]
        texts = [t for t, _ in labels]
        clashes = [(a, b) for i, (a, ba) in enumerate(labels) for b, bb in labels[i + 1:] if _overlap(ba, bb)]
        assert not clashes, (width, clashes)
        if width >= 768:  # room for them: the events and the fastest days are named on the chart
            assert any("Maarat al-Numan" in t for t in texts) and any(t.startswith("fastest 4 days") for t in texts)
        else:  # a phone: only the short "no figures" note stays; the description below names every event
            assert texts == ["no figures"], texts


def test_no_chart_cuts_off_text_or_draws_it_over_other_text_on_a_phone_or_a_desktop(browser, default_build):
    seen = 0
    for path in _pages(default_build / "site"):
        for width in (390, 1100):
            for vis_id, texts in _chart_labels(browser, path, width).items():
                cut = [t for t, b in texts if not b["inside"]]
                assert not cut, (path.name, vis_id, width, "cut off at the chart's edge", cut)
                labels = [(t, b) for t, b in texts if not b["axis"]]  # an axis spaces its own labels
                clashes = [(a, b) for i, (a, ba) in enumerate(labels) for b, bb in labels[i + 1:] if _overlap(ba, bb)]
                assert not clashes, (path.name, vis_id, width, clashes)
                seen += len(labels)
    assert seen > 20  # the charts' own labels were found (the casualty shares, the events, the bar values)


def test_quality_page_reports_files_and_every_suite(browser, default_build):
    site = default_build / "site"
    con = duckdb.connect(str(default_build / "warehouse.duckdb"), read_only=True)
    try:
        files = con.execute("SELECT file, rows_read FROM ingest_files ORDER BY file").fetchall()
        expectations = con.execute("SELECT suite, count(*) FROM validation_results GROUP BY suite").fetchall()
        names = [r[0] for r in con.execute("SELECT DISTINCT expectation FROM validation_results").fetchall()]
    finally:
        con.close()
    text = _visit(browser, site / "quality.html")["text"]
    for file, rows in files:
        assert file in text and f"{rows:,}" in text
    for suite, n in expectations:
        assert f"{n} of {n} expectations met" in text or f"of {n} expectations met" in text, suite
    assert expectations, "the build records its validation results"
    html = (site / "quality.html").read_text(encoding="utf-8")  # expectations sit in <details>, folded when passed
    for name in names:
        assert f"<td>{name}</td>" in html, name
    # each suite's table is a part of the "Validation suites" section: its heading one level below
    suites = html.split('id="h-suites"', 1)[1]
    assert suites.count("<h3 ") == len(expectations) and "<h2 " not in suites


def test_hostile_input_runs_nothing_stays_visible_and_is_neutralised(browser, hostile_build):
    site = hostile_build / "site"
    texts = {}
    for path in _pages(site):
        seen = _visit(browser, path, ARTIFACTS / f"hostile-{path.stem}.png")
        assert not seen["dialogs"], (path.name, seen["dialogs"])
        assert not seen["errors"], (path.name, seen["errors"])
        assert all(u.startswith("file://") for u in seen["requests"]), (path.name, seen["requests"])
        assert all(s == "true" and m > 0 for _, s, m in seen["states"]), (path.name, seen["states"])
        texts[path.stem] = seen["text"]
    shown = texts["sources"] + texts["quality"]
    for s in (HOSTILE_PLACE, HOSTILE_ORG):
        assert s in shown, f"{s!r} is neither shown as text nor listed as rejected"
    # no injected link: a javascript: URL from input data is never an href
    for path in _pages(site):
        assert 'href="javascript:' not in path.read_text(encoding="utf-8").lower()
    # every CSV: a text cell never starts like a formula; the hostile title reached one and was neutralised
    found = False
    for f in sorted((site / "charts").glob("*.csv")):
        with f.open(encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    if cell[:1] in ("=", "+", "-", "@"):
                        float(cell)  # only numbers may start so
                    found |= cell == "'" + HOSTILE_CELL
    assert found, "the hostile source title should appear, neutralised, in a chart's CSV"


def _png_size(path: Path) -> tuple[int, int]:
    import struct

    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_index_screenshot_for_the_readme(browser, default_build):
    """The README's picture of the report is the project's own file, a real screenshot of a page width; the
    browser tests' own screenshot of the overview is one too (set DISPLACEMENT_UPDATE_SCREENSHOT=1 to copy
    it over the README's, which is otherwise left alone to keep the tree clean)."""
    readme = ROOT / "reports" / "screenshot-index.png"
    assert "](reports/screenshot-index.png)" in (ROOT / "README.md").read_text(encoding="utf-8")
    width, height = _png_size(readme)
    assert width >= 1000 and height >= 600 and readme.stat().st_size > 50_000, (width, height)
    shot = ARTIFACTS / "index.png"
    _visit(browser, default_build / "site" / "index.html", shot)
    width, height = _png_size(shot)
    assert width >= 1000 and shot.stat().st_size > 50_000, (width, height, shot.stat().st_size)
    if os.environ.get("DISPLACEMENT_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, readme)
