"""The report site: escaping, CSV neutralisation, every page present and linked, CSV = data drawn."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from pathlib import Path

import pandas as pd
import pytest

from pipeline.site import pages as page_defs
from pipeline.site.render import build_site, neutralise, neutralise_value, safe_json, safe_url

SLUGS = [p.slug for p in page_defs.PAGES]


def test_neutralise_prefixes_formula_text_and_leaves_numbers():
    frame = pd.DataFrame({"text": ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2", "@SUM(A1)", "plain", None],
                          "num": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0], "int": [-1, 2, -3, 4, 5, 6]})
    out = neutralise(frame)
    assert out["text"].tolist()[:5] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'-2", "'@SUM(A1)", "plain"]
    assert pd.isna(out["text"].iloc[5])
    assert out["num"].tolist() == frame["num"].tolist() and out["int"].tolist() == frame["int"].tolist()
    assert neutralise_value(-3) == -3


def test_safe_json_cannot_close_its_script_element():
    hostile = {"place": "</script><script>alert(1)</script>", "amp": "a & b", "sep": "x\u2028y", "cmt": "<!--",
               "ctl": "Ma\x85arrat\x1b\x7f"}
    text = str(safe_json(hostile))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", text)  # no raw control character in the page either
    assert json.loads(text) == hostile
    # printed in a page, the chart's JSON is left as it is, and still parses (it was rewritten to \x85 once)
    from pipeline.site.render import environment

    assert json.loads(environment().from_string("{{ x }}").render(x=safe_json(hostile))) == hostile


def test_only_web_links_become_links():
    assert safe_url("https://reliefweb.int/x") == "https://reliefweb.int/x"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", None, ""):
        assert safe_url(bad) is None


@pytest.fixture(scope="module")
def site(default_warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build_site(default_warehouse, out)
    return out


def test_every_page_exists_and_links_to_every_other(site):
    assert SLUGS[0] == "index" and {"scale", "pace", "casualties", "sources", "refugees", "quality",
                                    "methodology"} <= set(SLUGS)
    for slug in SLUGS:
        html = (site / f"{slug}.html").read_text(encoding="utf-8")
        links = set(re.findall(r'href="([a-z]+)\.html"', html))
        assert set(SLUGS) <= links, (slug, set(SLUGS) - links)
        assert 'aria-current="page"' in html
        assert "<h1 " in html and "http://" not in html.split("<main>")[0]  # no remote scripts or styles


def test_chart_tooltips_give_their_dates_in_words(site):
    """Every tooltip date read "NaN": a `formatType` of "utc" on an ISO date field that Vega-Lite never parses.
    The SVG exports carry each mark's tooltip in its aria-label, as the browser shows it on hover."""
    labels = {}
    for svg in sorted((site / "charts").glob("*.svg")):
        labels[svg.stem] = re.findall(r'aria-label="([^"]*)"', svg.read_text(encoding="utf-8"))
    assert not [(name, a) for name, found in labels.items() for a in found if "NaN" in a]
    day = r"\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (19|20)\d\d"
    assert any(re.search(r"; up to: " + day, a) for a in labels["cumulative_displacement"])
    assert any(re.search(r"(^|; )date: " + day, a) for a in labels["displacement_pace"])
    assert any(re.search(r"; month: (January|February|March|April|May|June|July|August|September|October|"
                         r"November|December) 20\d\d", a) for a in labels["civilian_deaths_monthly"])
    # qualifiers in words, as the pages give them, not as codes
    assert any("; figure is: more than;" in a for a in labels["cumulative_displacement"])
    assert not [a for found in labels.values() for a in found if "more_than" in a or "approximately" in a]
    # day one of the winter wave is 1 December 2019, formatted in UTC as it is stored (in other zones:
    # test_chart_images_do_not_depend_on_the_machine_s_time_zone)
    assert any("counted since: 1 Dec 2019" in a for a in labels["cumulative_displacement"])


def test_chart_images_do_not_depend_on_the_machine_s_time_zone(site, tmp_path):
    """The pace chart's bands gave their computed edges to screen readers in the drawing machine's time zone:
    the SVG built in Kiritimati or on Adak differed from one built in UTC."""
    import subprocess
    import sys

    html = (site / "pace.html").read_text(encoding="utf-8")
    spec = re.search(r'<script type="application/json" data-chart="vis-displacement_pace">(.*?)</script>', html, re.S)
    (tmp_path / "spec.json").write_text(spec.group(1), encoding="utf-8")
    draw = ("import sys, vl_convert; print(vl_convert.vegalite_to_svg(open(sys.argv[1], encoding='utf-8').read()))")
    svgs = {}
    for tz in ("UTC", "Pacific/Kiritimati", "America/Adak"):
        env = {**__import__("os").environ, "TZ": tz}
        svgs[tz] = subprocess.run([sys.executable, "-c", draw, str(tmp_path / "spec.json")], capture_output=True,
                                  text=True, env=env, check=True, timeout=120).stdout
    assert "fastest 4 days: about 35,500 a day, 9 February 2020 to 12 February 2020" in svgs["UTC"]  # its days too
    assert svgs["UTC"] == svgs["Pacific/Kiritimati"] == svgs["America/Adak"]


def test_every_column_has_a_header_and_headings_nest(site):
    """Screen readers announce a column by its header: the qualifier columns had none. The validation suites'
    tables sat at the level of the section holding them."""
    for slug in SLUGS:
        html = (site / f"{slug}.html").read_text(encoding="utf-8")
        assert not re.findall(r"<th[^>]*>\s*</th>", html), slug
        levels = [int(h) for h in re.findall(r"<h([1-6])[ >]", html)]
        assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), (slug, levels)


def test_charts_have_title_once_subtitle_sources_description_and_files(site):
    n = 0
    for slug in SLUGS:
        html = (site / f"{slug}.html").read_text(encoding="utf-8")
        for name, spec in re.findall(r'<script type="application/json" data-chart="vis-([a-z_]+)">(.*?)</script>',
                                     html, re.S):
            n += 1
            vl = json.loads(spec)
            assert "title" not in vl, "the page shows the title; the spec must not repeat it"
            fig = html.split(f'id="fig-{name}"')[1].split("</figure>")[0]
            assert f'id="h-{name}"' in fig and 'class="subtitle"' in fig and "<strong>Sources:</strong>" in fig
            assert re.search(r'<li>[^<]+, <cite><a href="https?://', fig), "sources need links"
            assert re.search(r'role="img" aria-label="[^"]{40,}"', fig)
            assert vl["description"]
            for ext in ("csv", "png", "svg"):
                assert (site / "charts" / f"{name}.{ext}").stat().st_size > 0
                assert f'href="charts/{name}.{ext}"' in fig
            svg = (site / "charts" / f"{name}.svg").read_text(encoding="utf-8")
            assert "Sources:" in svg or "Source" in svg  # exports carry their sources
    assert n >= 5


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(neutralise_value(v))


def test_csv_is_exactly_the_data_drawn(site):
    seen = 0
    for slug in SLUGS:
        html = (site / f"{slug}.html").read_text(encoding="utf-8")
        for name, spec in re.findall(r'data-chart="vis-([a-z_]+)">(.*?)</script>', html, re.S):
            vl = json.loads(spec)
            datasets = vl["datasets"]
            assert len(datasets) == 1, f"{name}: every layer draws from one frame"
            rows = next(iter(datasets.values()))
            with open(site / "charts" / f"{name}.csv", encoding="utf-8", newline="") as f:
                table = list(csv.reader(f))
            header, body = table[0], table[1:]
            assert len(body) == len(rows), name
            for got, row in zip(body, rows):
                assert set(row) <= set(header)
                want = [_cell(row.get(col)) for col in header]
                assert got == want, (name, got, want)
            seen += 1
    assert seen >= 5


def test_downloads_say_where_each_figure_came_from(site):
    """A downloaded CSV is read apart from the page: each figure carries its document's date and link there."""
    cum = pd.read_csv(site / "charts" / "cumulative_displacement.csv")
    last = cum[cum["people"] == 948000].iloc[0]
    assert last["source_org"] == "OCHA" and last["published_on"] == "2020-02-26"
    assert last["source_url"].startswith("https://")
    deaths = pd.read_csv(site / "charts" / "civilian_deaths_monthly.csv")
    april = deaths[deaths["month"] == "2019-04-01"].iloc[0]
    assert april["documents"] == ("SNHR monthly report April 2019 (reported by etilaf.org), 2019-05-01, https://en.etilaf"
                                  ".org/all-news/local-news/rights-group-says-324-civilians-killed-across-syria-in-april")
    assert deaths["documents"].notna().all()
    # the share of children is as narrow as a bar ("23%"): "19% children" ran over the derived month beside it
    assert set(deaths["share_label"].dropna()) == {"23%", "26%", "19%", "9%"}


def test_lower_bounds_blank_months_and_events_are_drawn(site):
    cum = pd.read_csv(site / "charts" / "cumulative_displacement.csv")
    assert {"2019-04-29", "2019-05-01", "2019-12-01"} <= set(cum["counted_since"])
    assert (cum.loc[cum["qualifier"] == "more_than", "kind"].str.startswith("lower bound")).all()
    assert cum["people"].max() == 959000 and 948000 in set(cum["people"])
    pace = pd.read_csv(site / "charts" / "displacement_pace.csv")
    assert set(pace["layer"]) == {"daily", "gap", "peak", "event"}
    daily = pace[pace["layer"] == "daily"]
    assert daily["run"].nunique() == 2, "the line must break across the months without figures"
    assert any("Maarat al-Numan" in e for e in pace.loc[pace["layer"] == "event", "label"])
    deaths = pd.read_csv(site / "charts" / "civilian_deaths_monthly.csv")
    feb = deaths[deaths["month"] == "2020-02-01"].iloc[0]
    assert feb["figure"].endswith("derived by subtraction") and feb["civilians_killed"] == 276
    apr = deaths[deaths["month"] == "2019-04-01"].iloc[0]
    assert apr["children_share"] == pytest.approx(74 / 324, abs=0.001) and apr["bounds"] == "lower bound"
    comp = pd.read_csv(site / "charts" / "source_comparison.csv")
    assert {752131, 742109} <= set(comp["value"])


def _table_rows(html: str, key: str) -> list[list[str]]:
    """The body rows of the page table `key`, each as its cells' text; a cell in <strong> keeps the tag's name."""
    section = html.split(f'aria-labelledby="h-{key}"', 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)
        rows.append([("strong:" if c.strip().startswith("<strong>") else "") + unescape(re.sub(r"<[^>]+>", "", c)).strip()
                     for c in cells])
    return rows


def test_peaks_table_lists_each_wave_in_turn_windows_by_length_then_milestones(site):
    rows = _table_rows((site / "pace.html").read_text(encoding="utf-8"), "peaks")
    waves = list(dict.fromkeys(r[0] for r in rows))
    assert waves == ["April 2019 to August 2019", "December 2019 to February 2020"]
    for wave in waves:
        measures = [r[1] for r in rows if r[0] == wave]
        windows = [m for m in measures if m.startswith("fastest")]
        milestones = [m for m in measures if m.startswith("days to pass")]
        assert measures == windows + milestones, (wave, measures)
        assert windows == ["fastest 1 day", "fastest 4 days", "fastest 7 days", "fastest 30 days"]
        assert milestones == sorted(milestones, key=lambda m: int(m.rsplit(" ", 1)[1].replace(",", "")))
    # the waves follow each other as contiguous blocks, in time order
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), key=waves.index)
    # a milestone's day comes from figures spread evenly over their days: the caption says it is no reported day
    html = " ".join(unescape((site / "pace.html").read_text(encoding="utf-8")).split())
    assert "A milestone's day is where that evenly spread series passes the number, not a day any source reported" \
        in html


def test_only_derived_months_are_emphasised_in_the_casualty_table(site):
    rows = _table_rows((site / "casualties.html").read_text(encoding="utf-8"), "monthly")
    derived = {(r[0], r[-2]) for r in rows}
    assert ("February 2020", "strong:yes") in derived  # the month found by subtraction stands out
    assert {flag for _, flag in derived} == {"strong:yes", "no"}


def test_the_casualty_table_says_which_months_count_deaths_under_torture(site):
    """SNHR counts deaths under torture within some monthly figures and apart from others: April 2019's 324
    includes 54, August 2019's 267 leaves 25 apart. The page says so instead of calling the months comparable."""
    html = (site / "casualties.html").read_text(encoding="utf-8")
    notes = {(r[0], r[2]): r[-1] for r in _table_rows(html, "monthly")}
    assert notes[("April 2019", "SNHR (via Syrian Coalition site)")] == "includes 54 deaths under torture"
    assert notes[("August 2019", "SNHR")] == "25 deaths under torture are given apart, not in this figure"
    assert notes[("February 2020", "SNHR (via Middle East Monitor)")] == "the span less the months known"
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    assert "stay comparable" not in text and "SNHR counts deaths under torture within some monthly figures" in text


def test_a_figure_narrower_than_its_place_says_what_it_counted_where_it_is_shown(site):
    """OCHA's 187 civilians killed in February 2020 counts deaths in airstrikes and shelling only, and SNHR's 662
    those by one party in one zone: filed under North-west Syria, they were shown with nothing to say so. The
    source's own words for where and what it counted go with the figure; another spelling of the place does not."""
    html = (site / "casualties.html").read_text(encoding="utf-8")
    notes = {(r[0], r[2]): r[-1] for r in _table_rows(html, "monthly")}
    assert notes[("February 2020", "OCHA")] == ("place as published: NW Syria (airstrikes and shelling); "
                                              "qualifier as published: some")
    sources = " ".join(unescape(re.sub(r"<[^>]+>", " ", (site / "sources.html").read_text(encoding="utf-8"))).split())
    assert "place as published: fourth de-escalation zone (Idlib/Hama), by Syrian-Russian alliance" in sources
    assert not re.search(r"place as published: NW Syria(?! \()", sources)  # an alias of North-west Syria


def test_the_source_s_own_qualifier_word_goes_with_the_figure(site):
    """OCHA's "nearly 390,000" read "about 390,000" everywhere, under a footer saying that figures keep their
    sources' qualifiers: quoted from the site, OCHA was misquoted. The word is now in the figure's notes."""
    sources = " ".join(unescape(re.sub(r"<[^>]+>", " ", (site / "sources.html").read_text(encoding="utf-8"))).split())
    assert "390,000" in sources and "qualifier as published: nearly" in sources
    assert "qualifier as published: more than" not in sources and "qualifier as published: about" not in sources
    footer = (site / "index.html").read_text(encoding="utf-8").split("<footer>", 1)[1]
    assert "with the source's own word in a curated figure's notes" in " ".join(unescape(footer).split())


def test_headline_cards_say_how_an_estimate_is_made_and_what_a_figure_counts(site):
    """The peak rate card cited OCHA for "an estimated 35,500" a day, a division that is this report's; the
    Maarat al-Numan card gave a press relay's inferred days as known. Each card now carries its figure's notes,
    or how the estimate was made."""
    html = (site / "index.html").read_text(encoding="utf-8")
    cards = [" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split())
             for c in html.split('<ul class="headlines">', 1)[1].split("</ul>", 1)[0].split("<li>")[1:]]
    pace = next(c for c in cards if "35,500" in c)
    assert "This report's estimate: the 142,000 people of the fastest 4 days in its daily series, divided by 4." in pace
    flight = next(c for c in cards if "Maarat al-Numan" in c)
    assert "are inferred from the events it reports" in flight and "qualifier as published: around" in flight


def test_refugees_page_explains_how_to_add_unhcr_data(site):
    text = unescape(re.sub(r"<[^>]+>", " ", (site / "refugees.html").read_text(encoding="utf-8")))
    assert "No UNHCR data was loaded" in text and "data/inbox/" in text


def test_quality_page_renders_without_ingest_records(site):
    # the in-memory warehouse has no ingest_files or validation_results: the page says so instead of failing
    html = (site / "quality.html").read_text(encoding="utf-8")
    assert "No files were recorded." in html and "No validation results were recorded." in html


def test_every_page_forbids_inline_and_evaluated_script(site):
    """Scripts come only from the site's own files, and none may evaluate strings as code: Vega draws
    with its expression interpreter (charts.js passes ast: true; the browser tests draw every chart)."""
    for p in site.glob("*.html"):
        html = p.read_text(encoding="utf-8")
        csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', html)
        assert csp, p.name
        rules = dict((part.split()[0], part.split()[1:]) for part in csp.group(1).split(";") if part.strip())
        assert rules["script-src"] == ["'self'"] and rules["default-src"] == ["'none'"], (p.name, rules)
    assert "ast: true" in (site / "assets" / "charts.js").read_text(encoding="utf-8")


def test_no_build_time_in_pages(site):
    for p in site.glob("*.html"):
        text = p.read_text(encoding="utf-8")
        assert not re.search(r"\d{2}:\d{2}:\d{2}", text), p.name
    # the date given is the latest figure's publication, said as such ("Data as of" read like a build date)
    assert "Latest figure published 1 January 2021:" in (site / "index.html").read_text(encoding="utf-8")


def test_page_escapes_hostile_strings(default_warehouse, tmp_path):
    from pipeline.site.render import environment, render_page

    out = tmp_path / "x.html"
    render_page(environment(), "topic.html", out, page="scale", title="<b>t</b>", site_title="s", nav=[],
                as_of=None, n_obs=1, n_documents=1, n_orgs=1, intro=["</script><script>alert(1)</script>"], charts=[],
                tables=[{"id": "t", "title": "t", "caption": None, "columns": [("a", "a", "text"), ("b", "b", "source")],
                         "rows": [{"a": "<img src=x onerror=alert(2)>", "b": "x", "source_url": "javascript:alert(3)"}]}])
    html = out.read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html and "javascript:" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html and "&lt;b&gt;t&lt;/b&gt;" in html and "<b>t</b>" not in html


def test_control_characters_from_a_file_are_shown_not_written_raw(tmp_path):
    """ESC, BEL and C1 codes are not allowed in HTML: a place named with a terminal title sequence is printed as
    the terminal prints it (\\x1b), in text and in attributes; tabs and line breaks stay."""
    from pipeline.site.render import environment, render_page

    out = tmp_path / "x.html"
    place = "Ariha\x1b]0;pwned\x07\u0085 <b>"
    render_page(environment(), "topic.html", out, page="scale", title="t", site_title="s", nav=[], as_of=None,
                n_obs=1, n_documents=1, n_orgs=1, intro=["line one\tand\nline two"], charts=[],
                tables=[{"id": "t", "title": "t", "caption": None, "columns": [("a", "a", "text"), ("b", "b", "source")],
                         "rows": [{"a": place, "b": place, "source_title": place,
                                   "source_url": "https://example.org/r"}]}])
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", html)
    assert html.count("Ariha\\x1b]0;pwned\\x07\\x85 &lt;b&gt;") >= 2
    assert "line one\tand\nline two" in html


def test_a_control_character_in_a_source_s_name_is_drawn_visible_and_the_site_still_builds(tmp_path):
    """The chart renderer (vl-convert) aborted the whole build on a BEL or form feed in a text it drew: one
    source named so in one inbox file stopped every later build, though `validate` took the file. Charts
    now show such characters as \\xNN, as the pages do."""
    import duckdb

    from pipeline import ingest, warehouse

    extra = tmp_path / "bell.csv"
    extra.write_text("fact_id,metric,basis,unit,value,qualifier,period_start,period_end,published_on,country_iso3,"
                     "place,role,source_org\n"
                     "B1,displaced,cumulative,people,160000,more than,2019-04-29,2019-05-05,2019-05-08,SYR,"
                     "North-west Syria,triangulation,Bell\x07 Org\n", encoding="utf-8")
    result = ingest.ingest([*ingest.DEFAULT_FILES, extra])
    assert not len(result.rejected)
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    out = tmp_path / "site"
    build_site(con, out)
    svg = (out / "charts" / "cumulative_displacement.svg").read_text(encoding="utf-8")
    assert "Bell\\x07 Org;" in svg and not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", svg)
    assert (out / "charts" / "cumulative_displacement.png").stat().st_size > 0
    html = (out / "scale.html").read_text(encoding="utf-8")
    assert "Bell\\x07 Org" in html


def test_site_without_north_west_syria_figures_says_so_instead_of_failing(tmp_path, monkeypatch):
    """Data for another country only (an ACLED event file): every page renders; empty charts say so."""
    import duckdb

    from pipeline import ingest, warehouse

    result = ingest.ingest([Path(__file__).parent / "fixtures" / "sources" / "acled_events.csv"])
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    monkeypatch.setattr(page_defs, "TABLE_ROWS_SHOWN", 2)
    out = tmp_path / "site"
    build_site(con, out)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "No figures for this chart in the data loaded" in index
    assert not (out / "charts" / "displacement_pace.png").exists()
    sources = (out / "sources.html").read_text(encoding="utf-8")
    total = len(result.observations)
    assert total > 2 and f"Showing the first 2 of {total:,} rows" in sources


def test_other_countries_figures_never_take_the_lead_of_a_report_on_syria(tmp_path, monkeypatch):
    """With a global file loaded, a Sudanese total led the Overview instead of OCHA's 948,000, a town elsewhere
    gave the fastest flight, one Afghan refugee row turned both refugee charts to Afghanistan, and the
    casualties table's first thousand rows were other countries' districts."""
    import duckdb

    from pipeline import ingest, warehouse

    extra = tmp_path / "world.csv"
    extra.write_text(
        "fact_id,metric,basis,population,unit,value,qualifier,period_start,period_end,published_on,country_iso3,"
        "admin1_name,place,role,source_org\n"
        "W1,displaced,cumulative,all,people,2500000,more than,2023-04-15,2024-01-31,2024-02-01,SDN,,,recommended,X\n"
        "W2,killed,flow,civilians,people,1200,exact,2024-01-01,2024-12-31,2025-01-05,SDN,,,recommended,X\n"
        "W3,displaced,flow,all,people,400000,exact,2024-03-01,2024-03-04,2024-03-05,PSE,,Sampletown,recommended,X\n"
        "W4,killed,flow,civilians,people,5,exact,2024-01-01,2024-01-31,2024-02-01,AFG,Badakhshan,,recommended,X\n"
        "W5,killed,flow,civilians,people,9,exact,2024-01-01,2024-01-31,2024-02-01,SYR,Idleb,Harim,recommended,X\n"
        + "".join(f"H{i},idps_present,stock,all,people,{1000 + i},exact,2024-01-31,2024-01-31,2024-02-01,HTI,{a},,"
                  "recommended,X\n" for i, a in enumerate(("Artibonite", "Centre", "Grand'Anse")))
        + "S1,idps_present,stock,all,people,2700000,exact,2020-03-31,2020-03-31,2020-04-01,SYR,,North-west Syria,"
          "recommended,X\n", encoding="utf-8")
    unhcr = Path(__file__).parent / "fixtures" / "sources" / "unhcr_population.csv"
    afghans = tmp_path / "unhcr_afg.csv"
    afghans.write_text(unhcr.read_text(encoding="utf-8").splitlines()[0] + "\n"
                       "2025,Afghanistan,AFG,AFG,Pakistan,PAK,PAK,9000000,-,0,0,0,0,0,-,0\n", encoding="utf-8")
    result = ingest.ingest([*ingest.DEFAULT_FILES, extra, unhcr, afghans])
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    heads = {k: (v, p) for k, v, p in con.execute("SELECT key, value_best, place FROM headline_figures").fetchall()}
    assert heads["scale"] == (948000.0, "North-west Syria")
    assert heads["place_flight"][1] == "Maarat al-Numan" and heads["peak_pace"][1] == "North-west Syria"
    assert set(heads) == {"scale", "peak_pace", "place_flight", "killed_2019", "killed_2020"}
    monkeypatch.setattr(page_defs, "TABLE_ROWS_SHOWN", 3)
    out = tmp_path / "site"
    build_site(con, out)
    rows = _table_rows((out / "casualties.html").read_text(encoding="utf-8"), "monthly")
    assert "Badakhshan, AFG" not in {r[1] for r in rows}
    # any Syrian place leads, not only the gazetteer's few: Harim is in no gazetteer
    monkeypatch.setattr(page_defs, "TABLE_ROWS_SHOWN", 100)
    build_site(con, tmp_path / "site2")
    places = [r[1] for r in _table_rows((tmp_path / "site2" / "casualties.html").read_text(encoding="utf-8"),
                                        "monthly")]
    assert places.index("Harim") < places.index("Badakhshan, AFG")
    idps = _table_rows((out / "scale.html").read_text(encoding="utf-8"), "idps")
    assert idps[0][:3] == ["North-west Syria", "31 March 2020", "2,700,000"]
    refugees = " ".join(unescape(re.sub(r"<[^>]+>", " ", (out / "refugees.html").read_text(encoding="utf-8"))).split())
    assert "Refugees from Syria" in refugees and "Refugees from Afghanistan" not in refugees


def test_refugees_page_draws_stocks_by_year_and_by_country_when_unhcr_data_is_loaded(tmp_path):
    import duckdb

    from pipeline import ingest, warehouse

    fixture = Path(__file__).parent / "fixtures" / "sources" / "unhcr_population.csv"
    later = tmp_path / "unhcr_2023.csv"  # two years without figures, then 2023
    later.write_text(fixture.read_text(encoding="utf-8").splitlines()[0] + "\n"
                     "2023,Syrian Arab Rep.,SYR,SYR,Germany,GFR,DEU,610000,-,0,0,0,0,0,-,0\n", encoding="utf-8")
    result = ingest.ingest([*ingest.DEFAULT_FILES, fixture, later])
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    out = tmp_path / "site"
    build_site(con, out)
    html = (out / "refugees.html").read_text(encoding="utf-8")
    # the country's name, not its code
    assert "Refugees from Syria, year by year" in html and "Where refugees from Syria lived at the end of 2023" in html
    by_year = list(csv.DictReader(io.StringIO((out / "charts" / "refugees_over_time.csv").read_text(encoding="utf-8"))))
    # 2021 and 2022 have no figures: the line is drawn in two runs, never across the gap
    assert [(r["year"], r["refugees"], r["run"]) for r in by_year] == [("2019", "910000", "1"), ("2020", "560000", "1"),
                                                                        ("2023", "610000", "2")]
    spec = json.loads(re.search(r'data-chart="vis-refugees_over_time">(.*?)</script>', html, re.S).group(1))
    assert spec["encoding"]["detail"]["field"] == "run" and spec["encoding"]["x"]["type"] == "quantitative"
    by_country = list(csv.DictReader(io.StringIO((out / "charts" / "refugees_by_country.csv").read_text(encoding="utf-8"))))
    assert [(r["iso3"], r["refugees"]) for r in by_country] == [("DEU", "610000")]


def test_chart_specs_are_valid_vega_lite(site):
    """build_site embeds specs without Altair's validation (a fifth of a second per build): it is done here."""
    import jsonschema
    from altair.vegalite.v6.schema import load_schema

    validator = jsonschema.Draft7Validator(load_schema())
    n = 0
    for slug in SLUGS:
        html = (site / f"{slug}.html").read_text(encoding="utf-8")
        for name, spec in re.findall(r'data-chart="vis-([a-z_]+)">(.*?)</script>', html, re.S):
            errors = [e.message for e in validator.iter_errors(json.loads(spec))]
            assert not errors, (name, errors[:3])
            n += 1
    assert n >= 5


def test_vega_bundle_is_made_once_and_remade_when_the_cached_copy_is_damaged(tmp_path, monkeypatch):
    import vl_convert as vlc

    from pipeline.site import render

    calls = []
    monkeypatch.setenv("DISPLACEMENT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(vlc, "javascript_bundle", lambda vl_version: calls.append(vl_version) or f"/* {vl_version} */")
    first = render.vega_bundle()
    assert render.vega_bundle() == first and len(calls) == 1
    cached = [p for p in (tmp_path / "cache").iterdir() if p.suffix == ".js"]
    assert len(cached) == 1 and cached[0].read_text(encoding="utf-8") == first
    cached[0].write_text("/* damaged */", encoding="utf-8")
    assert render.vega_bundle() == first and len(calls) == 2
    monkeypatch.setenv("DISPLACEMENT_CACHE", str(tmp_path / "file"))
    (tmp_path / "file").write_text("not a folder")
    assert render.vega_bundle() == first and len(calls) == 3  # an unusable cache folder only means no cache


def test_a_failure_drawing_the_images_fails_the_build(default_warehouse, tmp_path, monkeypatch):
    """The images are drawn by a helper process; when it fails, build_site says so instead of leaving files out."""
    from pipeline.site import render

    broken = tmp_path / "broken_worker.py"
    broken.write_text("import sys\nsys.stdin.read()\nsys.exit('vl-convert is broken')\n", encoding="utf-8")
    monkeypatch.setattr(render._Drawer, "script", broken)
    with pytest.raises(RuntimeError, match="vl-convert is broken"):
        build_site(default_warehouse, tmp_path / "site")


def test_documents_are_counted_and_listed_once_each_whoever_relayed_them(site, default_warehouse):
    con = default_warehouse
    n_docs, n_orgs = con.execute("SELECT count(DISTINCT (source_url, source_title)), count(DISTINCT source_id) "
                                 "FROM observations").fetchone()
    assert n_docs == 50  # the default figures cite 50 documents (each with one title, a test of the data says)
    html = (site / "index.html").read_text(encoding="utf-8")
    # "sources", not "organisations": three of them are press reports that name no organisation
    assert f"published figures from {n_docs} documents by {n_orgs} sources (organisations, and press reports that " \
           "name none)." in html
    rows = _table_rows((site / "sources.html").read_text(encoding="utf-8"), "documents")
    assert len(rows) == n_docs
    titles = [r[1] for r in rows]
    assert len(set(titles)) == len(titles), "a document listed twice"
    assert sum(int(r[3]) for r in rows) == con.execute("SELECT count(*) FROM observations").fetchone()[0]


def test_pace_chart_bands_are_inclusive_cover_time_without_figures_and_cite_the_events(site):
    pace = pd.read_csv(site / "charts" / "displacement_pace.csv")
    daily, gaps, peaks = (pace[pace["layer"] == k] for k in ("daily", "gap", "peak"))
    days = set(daily["date"])
    # a peak band's last day is a day with a figure, the last of its 4 (the page's "to" date)
    for p in peaks.itertuples():
        span = pd.date_range(p.date, p.end_date)
        assert len(span) == 4 and {f"{d:%Y-%m-%d}" for d in span} <= days
    # no band of "no figures" covers a day that has one; the time after the last figure up to the last event
    # drawn is such a band
    for g in gaps.itertuples():
        assert not {f"{d:%Y-%m-%d}" for d in pd.date_range(g.date, g.end_date)} & days
    last = max(days)
    assert ((gaps["date"] == f"{pd.Timestamp(last) + pd.Timedelta(days=1):%Y-%m-%d}")
            & (gaps["end_date"] == pace.loc[pace["layer"] == "event", "date"].max())).any()
    html = unescape((site / "pace.html").read_text(encoding="utf-8"))
    # the highest rate is one figure spread over days: the page says so, and names no single day for it
    assert "ran from 9 February 2020 to 12 February 2020: one published figure spread evenly over those 4 days" in html
    assert "in one day" not in html
    # the days are also a filled step under the bars, unstacked and broken between runs: on a phone a bar is
    # under a pixel wide and the bars alone faded away
    spec = json.loads(re.search(r'data-chart="vis-displacement_pace">(.*?)</script>', html, re.S).group(1))
    areas = [layer for layer in spec["layer"] if (layer.get("mark") or {}).get("type") == "area"]
    assert len(areas) == 1 and areas[0]["mark"]["interpolate"] == "step-after"
    assert areas[0]["encoding"]["y"]["stack"] is None and areas[0]["encoding"]["detail"]["field"] == "run"
    # the reports recording the events drawn are cited with the chart (Khan Sheikhoun: WFP's report)
    chart_section = html.split('id="vis-displacement_pace"', 1)[1].split("Download:", 1)[0]
    assert "wfp-syria-north-western-syria-emergency-situation-report-6" in chart_section
    # each by its own title and date, then the event it records: the event's label and date were given as the
    # report's ("OCHA, the report of: Ceasefire of 31 August 2019 (31 August 2019)")
    text = " ".join(unescape(re.sub(r"<[^>]+>", "", chart_section)).split())
    assert ("OCHA, Recent Developments in Northwestern Syria Situation Report No. 11 (as of 6 September 2019) "
            "(6 September 2019), which records the event: Ceasefire of 31 August 2019 (31 August 2019)") in text
    assert "the report of" not in text
    events = _table_rows(html, "events")
    assert ["31 August 2019", "Ceasefire of 31 August 2019", "North-west Syria", "OCHA",
            "Recent Developments in Northwestern Syria Situation Report No. 11 (as of 6 September 2019)",
            "6 September 2019"] in events


def test_a_comparison_says_when_the_daily_estimates_cover_fewer_days_than_the_period(site):
    comp = pd.read_csv(site / "charts" / "source_comparison.csv")
    ours = comp[comp["layer"] == "estimate"].iloc[0]
    # February 2020 has 29 days; the daily series stops on 23 February
    assert (ours["days_estimated"], ours["days"]) == (23, 29) and ours["row"].endswith("(23 of 29 days)")
    html = unescape((site / "sources.html").read_text(encoding="utf-8"))
    assert "the daily series has figures for only 23 of those 29 days" in html
    rows = _table_rows((site / "sources.html").read_text(encoding="utf-8"), "compared")
    assert all(r[-2:] == ["23", "29"] for r in rows), rows


def test_the_cumulative_chart_keys_its_shapes_in_words_above_it_not_in_a_legend_a_phone_cuts(site):
    """At 390 px the shape legend sat beside the series' legend and lost its words: the triangles' key was gone."""
    html = (site / "scale.html").read_text(encoding="utf-8")
    spec = json.loads(re.search(r'data-chart="vis-cumulative_displacement">(.*?)</script>', html, re.S).group(1))
    shapes = [layer["encoding"]["shape"] for layer in spec["layer"] if "shape" in layer.get("encoding", {})]
    assert shapes and all(s.get("legend", "missing") is None for s in shapes)
    text = " ".join(unescape(html).split())
    assert ('Figures as published: \u25b2 lower bound ("more than", "at least"); \u25cf approximate or estimated'
            in text)


def test_the_cumulative_chart_has_room_for_its_last_point(site):
    html = (site / "scale.html").read_text(encoding="utf-8")
    spec = json.loads(re.search(r'data-chart="vis-cumulative_displacement">(.*?)</script>', html, re.S).group(1))
    scale = spec["layer"][0]["encoding"]["x"]["scale"]
    last = pd.read_csv(site / "charts" / "cumulative_displacement.csv")["day_of_wave"].max()
    assert scale["nice"] is False and scale["domain"][1] >= last + 3, (scale, last)


def test_pace_page_warns_where_one_figure_is_spread_over_weeks(site):
    text = unescape(re.sub(r"<[^>]+>", " ", (site / "pace.html").read_text(encoding="utf-8")))
    # OCHA's reports of 17 May and 23 August 2019 are 99 days apart: the bars between them are one average
    assert "the longest such stretch here is 99 days, from 17 May 2019 to 23 August 2019" in text


def test_rates_from_lower_bounds_are_said_to_be_lower_bounds(site):
    """OCHA's first count of 2019 was "more than 150,000" over 7 days: its daily rate is at least 21,429, not
    about that; the 142,000 of February 2020 was "some": about."""
    pace = pd.read_csv(site / "charts" / "displacement_pace.csv")
    labels = set(pace.loc[pace["layer"] == "peak", "label"])
    assert labels == {"fastest 4 days: at least 21,429 a day", "fastest 4 days: about 35,500 a day"}
    html = unescape((site / "pace.html").read_text(encoding="utf-8"))
    assert "from 29 April 2019 to 2 May 2019, at least 21,429 people a day" in html
    rows = {(r[0][:10], r[1]): r for r in _table_rows((site / "pace.html").read_text(encoding="utf-8"), "peaks")}
    assert rows[("April 2019", "fastest 7 days")][4:6] == ["at least", "150,000"]
    assert rows[("December 2", "fastest 4 days")][4:6] == ["about", "142,000"]
    assert rows[("December 2", "days to pass 900,000")][4] == ""


def test_a_restated_count_says_from_when_its_figure_counts(site):
    html = unescape((site / "scale.html").read_text(encoding="utf-8"))
    # OCHA's spring count began on 29 April and was restated from 1 May: day 117 is the wave's, not the figure's
    assert "day 117 of the count that began on 29 April 2019 (OCHA, this figure counted from 1 May 2019)" in html
    assert "day 85 of the count that began on 1 December 2019 (OCHA)" in html


def test_documents_sharing_a_landing_page_stay_apart(default_warehouse):
    """ACLED's HDX workbooks all link to one organisation page, and UNHCR's tables to one site: two titles
    under one link are two documents."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE observations AS SELECT * FROM (VALUES ('ACLED (via HDX)', 'political violence by month', "
                "'https://data.humdata.org/organization/acled', DATE '2025-01-10'), ('ACLED (via HDX)', "
                "'civilian targeting by month', 'https://data.humdata.org/organization/acled', DATE '2025-01-10')) "
                "AS t(source_org, source_title, source_url, published_on)")
    assert sorted(page_defs.documents(con)["source_title"]) == ["civilian targeting by month",
                                                               "political violence by month"]


def test_the_scale_page_gives_each_wave_count_in_its_own_days(site):
    """The words are read from the data drawn, not written in: OCHA's spring count was restated from 1 May, so its
    last figure (23 August) covers 115 days, not the 117 since the wave's first count (29 April)."""
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", (site / "scale.html").read_text(encoding="utf-8"))).split())
    assert ("OCHA's count for the wave of Dec 2019-Feb 2020 passed 948,000 people in the 85 days from "
            "1 December 2019 to 23 February 2020.") in text
    assert ("OCHA's count for the wave of Apr-Aug 2019 passed 400,000 people in the 115 days from 1 May 2019 to "
            "23 August 2019.") in text
    assert "117 days" not in text


def test_each_headline_names_its_documents_in_words_not_only_on_hover(site, default_warehouse):
    html = (site / "index.html").read_text(encoding="utf-8")
    cards = re.findall(r'<span class="meta">(.*?)</span>', html, re.S)
    rows = default_warehouse.execute("SELECT obs_ids FROM headline_figures ORDER BY rank").fetchall()
    assert len(cards) == len(rows) >= 5
    for card, (obs_ids,) in zip(cards, rows):
        shown = " ".join(unescape(re.sub(r"<[^>]+>", " ", card)).split())
        titles = default_warehouse.execute("SELECT DISTINCT source_title FROM observations WHERE list_contains(?, obs_id)",
                                           [list(obs_ids)]).fetchall()
        assert titles and all(" ".join(t.split()) in shown for (t,) in titles), (shown, titles)
    # a document published without a link says so, beside its title
    maarat = next(c for c in cards if "Thousands fleeing to Turkish border" in c)
    assert "(no link published)" in maarat and "<a " not in maarat
