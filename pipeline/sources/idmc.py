"""IDMC Internal Displacement Updates (IDU): the API JSON (a list of records, or one wrapped under
`results`/`data`) and its HDX CSV export (with the HXL row on line 2).

Each record is one displacement figure: `figure` -> displaced, a flow over displacement_start_date ..
displacement_end_date, counted as IDMC counts it: displacements (unit movements; one person displaced
twice counts twice). `qualifier` maps onto the canonical qualifiers ("total" = exact). `role`
(Recommended figure / Triangulation) is kept when present; records without it are recommended.
Conflict versus disaster (`displacement_type`) and the event name are kept in `notes`.
"""

from __future__ import annotations

import pandas as pd

from pipeline.schema import ReadResult
from pipeline.sources import textio
from pipeline.sources.textio import Sniff, col

FORMAT = "idmc"
URL = "https://www.internal-displacement.org/database/idu"
NEEDED = {"figure", "iso3", "displacement_start_date"}
HINTS = {"displacement_type", "qualifier", "displacement_end_date", "event_name"}
WRAPPERS = ("results", "data", "items")
# every column the reader reads (see hapi.COLUMNS)
COLUMNS = NEEDED | HINTS | {"created_at", "displacement_date", "id", "locations_name", "role", "type"}


def _is_idu(columns: set[str]) -> bool:
    return NEEDED <= columns and bool(HINTS & columns)


def detect(s: Sniff) -> bool:
    if s.kind == "csv":
        return _is_idu(set(s.header))
    if s.kind == "json":
        return _is_idu(textio.first_keys(s.json_obj, *WRAPPERS))
    return False


def read(s: Sniff) -> ReadResult:
    if s.kind == "csv":
        table = textio.read_table(s)
        raw, pre, rows_read, fmt = table.frame, table.rejected, table.rows_read, "idmc-idu-csv"
    else:
        raw, pre, rows_read = textio.records_frame(textio.json_list(s.json_obj, *WRAPPERS), s.path, "IDMC")
        fmt = "idmc-idu-json"
    textio.require_columns(s.path, list(raw.columns), sorted(NEEDED), "an IDMC IDU export")
    out = pd.DataFrame({"ingest_row": raw["ingest_row"]})
    out["source_id"], out["source_org"] = "idmc-idu", "IDMC"
    out["source_title"], out["source_url"] = "IDMC Internal Displacement Updates", URL
    out["metric"], out["basis"], out["population"], out["unit"] = "displaced", "flow", "all", "movements"
    out["value_best"] = col(raw, "figure")
    out["qualifier"] = col(raw, "qualifier")
    out["period_start"] = textio.iso_date(col(raw, "displacement_start_date").fillna(col(raw, "displacement_date")))
    out["period_end"] = textio.iso_date(col(raw, "displacement_end_date")).fillna(out["period_start"])
    out["date_precision"] = "day"
    out["country_iso3"] = col(raw, "iso3").str.upper()
    out["place"] = col(raw, "locations_name").fillna(col(raw, "event_name"))
    role = col(raw, "role").str.lower()
    out["role"] = "recommended"
    out.loc[role.str.startswith("triangulation", na=False), "role"] = "triangulation"
    out.loc[role.notna() & ~role.str.startswith(("triangulation", "recommended"), na=False), "role"] = role
    dtype = col(raw, "displacement_type").fillna("?")
    out["notes"] = ("displacement_type=" + dtype + "; event=" + col(raw, "event_name").fillna("?")
                    + col(raw, "type").map(lambda t: f"; hazard={t}", na_action="ignore").fillna(""))
    out["published_on"] = textio.iso_date(col(raw, "created_at"))
    out["_row_key"] = col(raw, "id").fillna(textio.content_key(raw, col(raw, "id").isna()))
    cols = {"value_best": "figure", "country_iso3": "iso3", "period_start": "displacement_start_date",
            "period_end": "displacement_end_date", "published_on": "created_at"}
    return textio.finalize_parts([(out, cols)], fmt=fmt, path=s.path, sha256=s.sha256, rows_read=rows_read,
                                 extra_rejections=pre)
