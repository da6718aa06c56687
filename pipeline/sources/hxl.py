"""Fallback: any CSV whose HXL hashtag row (line 2) names the core fields. Must stay last in readers().

Needs a figure (`#affected+...`, attributes saying what: +idps, +displaced, +killed, +injured,
+refugees, +asylum, +returnees; +new makes IDPs a flow of newly displaced), a date (`#date+start` and
`#date+end`, or one `#date...`) and a country (`#country+code` or `#country+iso3`). Admin units come
from `#adm1+code/+name`, `#adm2+code/+name`; `+origin` columns give the origin; `#org` or
`#meta+source` the source. Breakdown columns (+m, +f, age groups) are not read as figures; +children
and +women are. One observation per figure column per row.
"""

from __future__ import annotations

import re

import pandas as pd

from pipeline.schema import ReadResult
from pipeline.sources import textio
from pipeline.sources.textio import Sniff, col

FORMAT = "hxl"
METRICS = (  # attribute -> (metric, basis), first match wins
    ("killed", ("killed", "flow")), ("dead", ("killed", "flow")), ("deaths", ("killed", "flow")),
    ("injured", ("injured", "flow")),
    ("returnees", ("returned", "flow")), ("returned", ("returned", "flow")),
    ("asylum", ("asylum_seekers", "stock")), ("refugees", ("refugees", "stock")),
    ("displaced", ("displaced", "flow")), ("idps", ("idps_present", "stock")),
)
BREAKDOWN = {"m", "f", "male", "female", "men", "boys", "girls", "infants", "adults", "elderly", "age"}


def _parse(tag: str) -> tuple[str, set[str]]:
    parts = tag.strip().lower().split("+")
    return parts[0], {p for p in parts[1:] if p}


def _figures(hxl: dict[str, str]) -> list[tuple[str, str, str, str, str]]:
    """(column, metric, basis, population, unit) for each usable figure column, one per meaning."""
    chosen: dict[tuple, tuple[int, str]] = {}
    for column, tag in hxl.items():
        base, attrs = _parse(tag)
        if base != "#affected" or attrs & BREAKDOWN or any(re.fullmatch(r"(age)?\d+.*", a) for a in attrs):
            continue
        found = next((m for a, m in METRICS if a in attrs), None)
        if found is None:
            continue
        metric, basis = found
        if metric == "idps_present" and "new" in attrs:
            metric, basis = "displaced", "flow"
        population = "children" if "children" in attrs else "women" if "women" in attrs else \
            "civilians" if "civilians" in attrs else "all"
        unit = "households" if attrs & {"hh", "households"} else "people"
        meaning = (metric, basis, population, unit, "disaster" in attrs, "conflict" in attrs)
        if meaning not in chosen or len(attrs) < chosen[meaning][0]:
            chosen[meaning] = (len(attrs), column)
    return [(column, m[0], m[1], m[2], m[3]) for m, (_, column) in chosen.items()]


def _find(hxl: dict[str, str], base: str, need: set[str], avoid: set[str] = frozenset()) -> str | None:
    best = None
    for column, tag in hxl.items():
        b, attrs = _parse(tag)
        if b == base and need <= attrs and not (attrs & avoid):
            if best is None or len(attrs) < best[0]:
                best = (len(attrs), column)
    return best[1] if best else None


def _dates(hxl: dict[str, str]) -> tuple[str | None, str | None, str]:
    start = _find(hxl, "#date", {"start"})
    end = _find(hxl, "#date", {"end"})
    if start or end:
        return start or end, end or start, "day"
    single = _find(hxl, "#date", set(), {"year", "month", "created", "event"}) or _find(hxl, "#date", set(), {"year", "month"})
    if single:
        return single, single, "day"
    year = _find(hxl, "#date", {"year"})
    return (year, year, "year") if year else (None, None, "day")


def _country(hxl: dict[str, str]) -> str | None:
    return _find(hxl, "#country", {"code"}, {"origin"}) or _find(hxl, "#country", {"iso3"}, {"origin"})


def detect(s: Sniff) -> bool:
    if s.kind != "csv" or not s.has_hxl_row:
        return False
    hxl = s.hxl
    return bool(_figures(hxl)) and _dates(hxl)[0] is not None and _country(hxl) is not None


def read(s: Sniff) -> ReadResult:
    table = textio.read_table(s)
    raw, hxl = table.frame, table.hxl or s.hxl
    start_col, end_col, precision = _dates(hxl)
    country_col = _country(hxl)
    org_col = _find(hxl, "#org", set()) or _find(hxl, "#meta", {"source"})
    base = pd.DataFrame({"ingest_row": raw["ingest_row"]})
    org = col(raw, org_col).fillna("unnamed HXL source")
    base["source_org"] = org
    # the organisation's own id (OCHA is `ocha` here as in the curated figures): one organisation, however its
    # figures arrive, so they are counted and compared as one source's
    # (letters of any script are kept: an organisation named in Arabic keeps an id of its own)
    base["source_id"] = org.str.lower().str.replace(r"[\W_]+", "-", regex=True).str.strip("-")
    base["source_title"] = col(raw, _find(hxl, "#meta", {"title"}))
    base["source_url"] = col(raw, _find(hxl, "#meta", {"url"}))
    base["qualifier"] = col(raw, _find(hxl, "#meta", {"qualifier"})).fillna("exact")
    base["role"] = "recommended"
    if precision == "year":
        year = col(raw, start_col)
        valid = year.str.fullmatch(r"\d{4}", na=False)
        base["period_start"] = (year + "-12-31").where(valid, year)
        base["period_end"] = base["period_start"]
    else:
        base["period_start"] = textio.iso_date(col(raw, start_col))
        base["period_end"] = textio.iso_date(col(raw, end_col))
    base["date_precision"] = precision
    base["country_iso3"] = col(raw, country_col).str.upper()
    for level in ("1", "2"):
        base[f"admin{level}_code"] = col(raw, _find(hxl, f"#adm{level}", {"code"}, {"origin"}))
        base[f"admin{level}_name"] = col(raw, _find(hxl, f"#adm{level}", {"name"}, {"origin"}))
    base["origin_admin1_code"] = col(raw, _find(hxl, "#adm1", {"code", "origin"}))
    base["origin_admin1_name"] = col(raw, _find(hxl, "#adm1", {"name", "origin"}))
    base["origin_iso3"] = col(raw, _find(hxl, "#country", {"code", "origin"})).str.upper()
    base["place"] = col(raw, _find(hxl, "#loc", {"name"}))
    row_id = col(raw, _find(hxl, "#id", set()) or _find(hxl, "#meta", {"id"}))
    key = row_id.fillna(textio.content_key(raw, row_id.isna()))
    parts = []
    for column, metric, basis, population, unit in _figures(hxl):
        part = base.assign(metric=metric, basis=basis, population=population, unit=unit, value_best=raw[column],
                           notes=f"HXL {hxl[column]}", _row_key=key + "|" + column)
        parts.append((part, {"value_best": column, "period_start": start_col, "period_end": end_col,
                             "country_iso3": country_col}))
    return textio.finalize_parts(parts, fmt="hxl", path=s.path, sha256=s.sha256, rows_read=table.rows_read,
                                 extra_rejections=table.rejected)
