"""IOM DTM: the API export CSV (with or without the HXL hashtag row on line 2) and DTM API v3 JSON
(`{"result": [...]}`). `numPresentIdpInd` -> idps_present, a stock at `reportingDate`.

Like HAPI's idps (which republishes these rounds), the latest `roundNumber` per operation and admin
unit is `recommended` and earlier rounds `triangulation`, so a model never adds up rounds.
"""

from __future__ import annotations

import pandas as pd

from pipeline.schema import InputError, ReadResult
from pipeline.sources import textio
from pipeline.sources.textio import Sniff, col

FORMAT = "dtm"
URL = "https://dtm.iom.int/data-and-analysis/dtm-api"
NEEDED = {"numPresentIdpInd", "admin0Pcode", "reportingDate"}
HINTS = {"operation", "roundNumber", "adminLevel", "admin1Pcode"}
NOT_AVAILABLE = {"not available", "n/a", "na", "none", "unknown"}


def _is_dtm(columns: set[str]) -> bool:
    return NEEDED <= columns and bool(HINTS & columns)


def detect(s: Sniff) -> bool:
    if s.kind == "csv":
        return _is_dtm(set(s.header))
    if s.kind == "json" and isinstance(s.json_obj, dict) and isinstance(s.json_obj.get("result"), list):
        return _is_dtm(textio.first_keys(s.json_obj, "result")) or not s.json_obj["result"]
    return False


def _available(series: pd.Series) -> pd.Series:
    return series.mask(series.str.lower().isin(NOT_AVAILABLE), pd.NA)


def read(s: Sniff) -> ReadResult:
    if s.kind == "csv":
        table = textio.read_table(s, categorical=True, keys=("id",))
        raw, pre, rows_read = table.frame, table.rejected, table.rows_read
        fmt = "dtm-csv"
    else:
        obj = s.json_obj
        if obj.get("isSuccess") is False:
            errors = obj.get("errorMessages") or obj.get("errors") or "no reason given"
            raise InputError(f"{s.path}: the DTM API answered with an error: {str(errors)[:200]}")
        raw = textio.records_frame(obj["result"], s.path, "DTM")
        pre, rows_read = [], len(raw)
        fmt = "dtm-json"
    if len(raw):
        textio.require_columns(s.path, list(raw.columns), sorted(NEEDED), "an IOM DTM export")
    out = pd.DataFrame({"ingest_row": raw["ingest_row"]})
    out["source_id"], out["source_org"] = "iom-dtm", "IOM DTM"
    out["source_title"], out["source_url"] = "IOM Displacement Tracking Matrix API", URL
    out["metric"], out["basis"], out["population"], out["unit"] = "idps_present", "stock", "all", "people"
    out["qualifier"] = "exact"
    out["value_best"] = col(raw, "numPresentIdpInd")
    out["period_start"] = textio.iso_date(col(raw, "reportingDate"))
    out["period_end"] = out["period_start"]
    out["date_precision"] = "day"
    out["country_iso3"] = col(raw, "admin0Pcode").str.upper()
    out["admin1_code"] = _available(col(raw, "admin1Pcode"))
    out["admin1_name"] = _available(col(raw, "admin1Name"))
    out["admin2_code"] = _available(col(raw, "admin2Pcode"))
    out["admin2_name"] = _available(col(raw, "admin2Name"))
    out["origin_admin1_code"] = _available(col(raw, "idpOriginAdmin1Pcode"))
    out["origin_admin1_name"] = _available(col(raw, "idpOriginAdmin1Name"))
    out["origin_iso3"] = out["country_iso3"].where(out["origin_admin1_code"].notna())
    operation = col(raw, "operation").fillna("")
    level = col(raw, "adminLevel").fillna("")
    rnd_text = col(raw, "roundNumber").fillna("")
    rnd = pd.to_numeric(rnd_text, errors="coerce")
    unit = [operation, level, out["country_iso3"].fillna(""), out["admin1_code"].fillna(""),
            out["admin2_code"].fillna("")]
    latest = rnd.groupby(unit).transform("max") if len(raw) else rnd
    out["role"] = "triangulation"
    out.loc[rnd.notna() & (rnd == latest), "role"] = "recommended"
    reason = col(raw, "displacementReason").fillna("")
    out["notes"] = ("operation=" + operation + "; round=" + rnd_text + "; reason=" + reason
                    + "; assessment=" + col(raw, "assessmentType").fillna(""))
    composite = (operation + "|" + level + "|" + unit[2] + "|" + unit[3] + "|" + unit[4] + "|" + rnd_text + "|"
                 + out["period_start"].fillna("") + "|" + reason + "|" + col(raw, "assessmentType").fillna("")
                 + "|" + out["origin_admin1_code"].fillna(""))
    # DTM ids are not unique in real exports (seen: one id on two rows of different rounds)
    out["_row_key"] = col(raw, "id").fillna("") + "|" + composite
    cols = {"value_best": "numPresentIdpInd", "period_start": "reportingDate", "period_end": "reportingDate",
            "country_iso3": "admin0Pcode", "admin1_code": "admin1Pcode", "admin2_code": "admin2Pcode"}
    return textio.finalize_parts([(out, cols)], fmt=fmt, path=s.path, sha256=s.sha256,
                                 rows_read=rows_read, extra_rejections=pre)
