"""UNHCR population statistics: the API JSON (`{"items": [...]}`), its CSV download (`year`, `coo_*`,
`coa_*`, `refugees`, `asylum_seekers`, `idps`, `returned_refugees`, ...), the IDMC IDP stock table
UNHCR republishes (`year`, `coo_*`, `coa_*`, `total`) and UNHCR's country list.

A wide row becomes one observation per figure column: refugees, asylum_seekers, idps (idps_present)
are end-year stocks (period_start = period_end = YYYY-12-31); returned_refugees and returned_idps are
returns during the year (flow, YYYY-01-01..YYYY-12-31). Country of origin -> origin_iso3, country of
asylum -> country_iso3. "-", blank and 0 mean no figure, so they make no observation (UNHCR pads
every row with zeros for the columns that do not apply). Other columns (stateless, ooc, oip, hst)
are not figures this pipeline models. The country list is recognised as a reference table: its rows
are read, none is a figure.
"""

from __future__ import annotations

import pandas as pd

from pipeline.schema import InputError, ReadResult, Rejection, empty_observations
from pipeline.sources import textio
from pipeline.sources.base import to_number
from pipeline.sources.textio import Sniff, col

FORMAT = "unhcr"
URL = "https://www.unhcr.org/refugee-statistics/"
FIGURES = {  # column -> (metric, basis, note)
    "refugees": ("refugees", "stock", "refugees under UNHCR's mandate"),
    "asylum_seekers": ("asylum_seekers", "stock", "asylum-seekers"),
    "idps": ("idps_present", "stock", "IDPs of concern to UNHCR"),
    "returned_refugees": ("returned", "flow", "returned refugees"),
    "returned_idps": ("returned", "flow", "returned IDPs"),
}
COUNTRY_LIST = {"iso_code", "unhcr_code", "name", "unhcr_region"}
# every column the reader reads (see hapi.COLUMNS)
COLUMNS = set(FIGURES) | {"year", "coo_iso", "coa_iso", "coo", "coa", "coo_name", "coa_name", "total"}


def _origin(columns: set[str]) -> bool:
    return bool({"coo_iso", "coo"} & columns) and bool({"coa_iso", "coa"} & columns)


def _kind(columns: set[str]) -> str | None:
    if "year" in columns and _origin(columns):
        if set(FIGURES) & columns:
            return "population"
        if "total" in columns:
            return "idmc-stock"
    if COUNTRY_LIST <= columns:
        return "countries"
    return None


def detect(s: Sniff) -> bool:
    if s.kind == "csv":
        return _kind(set(s.header)) is not None
    if s.kind == "json" and isinstance(s.json_obj, dict) and isinstance(s.json_obj.get("items"), list):
        return _kind(textio.first_keys(s.json_obj, "items")) in ("population", "idmc-stock") \
            or not s.json_obj["items"]
    return False


def _iso(raw: pd.DataFrame, prefix: str, path) -> pd.Series:
    """coo_iso / coa_iso (ISO3). The API's `coo`/`coa` are UNHCR's own codes, which differ from ISO 3166 for
    about a hundred countries and name another country for some (AUS is Austria, ARE Egypt): a file without
    ISO codes is refused rather than read with countries swapped."""
    iso = col(raw, f"{prefix}_iso").str.upper()
    if not iso.notna().any() and len(raw):
        raise InputError(f"{path}: no {prefix}_iso column with ISO 3166 codes; UNHCR's own codes in {prefix!r} differ "
                         "from ISO for many countries (AUS is Austria, not Australia), so they are not read as ISO. "
                         "Download the table with ISO codes (the Refugee Data Finder and the API give coo_iso and "
                         "coa_iso)")
    return iso.mask(iso.isin(["-", "XXA", "UKN"]), pd.NA)


def read(s: Sniff) -> ReadResult:
    if s.kind == "csv":
        table = textio.read_table(s)
        raw, pre, rows_read = table.frame, table.rejected, table.rows_read
    else:
        raw, pre, rows_read = textio.records_frame(s.json_obj["items"], s.path, "UNHCR")
    pre = list(pre)
    kind = _kind(set(raw.columns)) if len(raw.columns) > 1 else "population"
    if kind == "countries":
        return ReadResult(format="unhcr-countries", file=str(s.path), rows_read=rows_read,
                          observations=empty_observations(), rejected=pre)
    if kind is None:
        raise InputError(f"{s.path}: UNHCR payload without year, coo_*, coa_* and figure columns")
    year = col(raw, "year")
    base = pd.DataFrame({"ingest_row": raw["ingest_row"]})
    base["origin_iso3"] = _iso(raw, "coo", s.path)
    base["country_iso3"] = _iso(raw, "coa", s.path)
    base["place"] = col(raw, "coa_name")
    base["population"], base["unit"], base["qualifier"], base["role"] = "all", "people", "exact", "recommended"
    base["date_precision"] = "year"
    valid_year = year.str.fullmatch(r"\d{4}", na=False) & pd.to_numeric(year, errors="coerce").between(1900, 2100)
    for line, y in zip(raw.loc[~valid_year, "ingest_row"], year[~valid_year]):
        pre.append(Rejection(str(s.path), int(line), "year", "date", "expected a year such as 2019",
                             None if y is pd.NA else str(y)))
    raw, base, year = raw.loc[valid_year], base.loc[valid_year], year[valid_year]
    end, start = year + "-12-31", year + "-01-01"
    key = year.fillna("") + "|" + base["origin_iso3"].fillna("") + "|" + base["country_iso3"].fillna("")
    parts = []
    if kind == "idmc-stock":
        figures = {"total": ("idps_present", "stock", "IDMC conflict IDP stock, as republished by UNHCR")}
        org, sid, title = "IDMC (via UNHCR)", "idmc-unhcr", "IDMC internally displaced persons, UNHCR refugee data finder"
    else:
        figures = {c: v for c, v in FIGURES.items() if c in raw.columns}
        org, sid, title = "UNHCR", "unhcr-population", "UNHCR population statistics"
    for column, (metric, basis, note) in figures.items():
        value = col(raw, column)
        # no figure: blank, "-" or zero; anything else goes on to finalize, which sets aside what is not a
        # number (a comparison with a value that is not a number is NA, and .loc would drop such a row unseen)
        zero = (to_number(value) == 0).fillna(False).astype(bool)
        present = value.notna() & (value != "-") & ~zero
        part = base.loc[present].assign(
            source_id=sid, source_org=org, source_title=title, source_url=URL, metric=metric, basis=basis,
            value_best=value[present], period_end=end[present],
            period_start=(end if basis == "stock" else start)[present], notes=note,
            _row_key=key[present] + "|" + column)
        parts.append((part, {"value_best": column, "period_start": "year", "period_end": "year",
                             "country_iso3": "coa_iso", "origin_iso3": "coo_iso"}))
    return textio.finalize_parts(parts, fmt=f"unhcr-{kind}", path=s.path, sha256=s.sha256, rows_read=rows_read,
                                 extra_rejections=pre)
