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
# every column the reader reads (see hapi.COLUMNS)
COLUMNS = NEEDED | HINTS | {"admin1Name", "admin2Name", "admin2Pcode", "assessmentType", "displacementReason", "id",
                           "idpOriginAdmin1Name", "idpOriginAdmin1Pcode"}
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
        raw, pre, rows_read = textio.records_frame(obj["result"], s.path, "DTM")
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


# ------------------------------------------------------------------------------------------- CSV, bulk

def bulk_spec(ctx):
    """The CSV mapping above as SQL for pipeline/sources/bulk.py (large plain CSVs, in DuckDB): each text
    rule by the same Python code once per distinct value; the latest round per unit from the distinct
    (unit, round) combinations, which have the same maximum as the rows."""
    from pipeline.sources.bulk import Spec, lit

    def available(name):
        return ctx.lookup([ctx.raw(name)], ["v"], lambda f: pd.DataFrame({"v": _available(textio.clean(f["k0"]))}))[0]

    def text(name):  # col(...).fillna("")
        return f"coalesce({ctx.col(name)}, '')"

    def figure_date_country(f):
        return pd.DataFrame({"v": textio.iso_date(textio.clean(f["k0"]))})

    def roles(f: pd.DataFrame) -> pd.DataFrame:
        operation, level = textio.clean(f["k0"]).fillna(""), textio.clean(f["k1"]).fillna("")
        iso3 = textio.clean(f["k2"]).str.upper().fillna("")
        a1, a2 = _available(textio.clean(f["k3"])).fillna(""), _available(textio.clean(f["k4"])).fillna("")
        rnd = pd.to_numeric(textio.clean(f["k5"]).fillna(""), errors="coerce")
        latest = rnd.groupby([operation, level, iso3, a1, a2]).transform("max")
        role = pd.Series("triangulation", index=f.index, dtype="string")
        role[rnd.notna() & (rnd == latest)] = "recommended"
        return pd.DataFrame({"role": role})

    period = ctx.lookup([ctx.raw("reportingDate")], ["v"], figure_date_country)[0]
    iso3 = ctx.lookup([ctx.raw("admin0Pcode")], ["v"],
                      lambda f: pd.DataFrame({"v": textio.clean(f["k0"]).str.upper()}))[0]
    a1, a2 = available("admin1Pcode"), available("admin2Pcode")
    origin = available("idpOriginAdmin1Pcode")
    role = ctx.lookup([ctx.raw(c) for c in ("operation", "adminLevel", "admin0Pcode", "admin1Pcode", "admin2Pcode",
                                            "roundNumber")], ["role"], roles)[0]
    operation, level, rnd_text = text("operation"), text("adminLevel"), text("roundNumber")
    reason, assessment = text("displacementReason"), text("assessmentType")
    exprs = {name: lit(value) for name, value in (
        ("source_id", "iom-dtm"), ("source_org", "IOM DTM"), ("source_title", "IOM Displacement Tracking Matrix API"),
        ("source_url", URL), ("metric", "idps_present"), ("basis", "stock"), ("population", "all"),
        ("unit", "people"), ("qualifier", "exact"), ("date_precision", "day"))}
    exprs.update({
        "value_best": ctx.col("numPresentIdpInd"),
        "period_start": period, "period_end": period,
        "country_iso3": iso3,
        "admin1_code": a1, "admin1_name": available("admin1Name"),
        "admin2_code": a2, "admin2_name": available("admin2Name"),
        "origin_admin1_code": origin, "origin_admin1_name": available("idpOriginAdmin1Name"),
        "origin_iso3": f"CASE WHEN {origin} IS NOT NULL THEN {iso3} END",
        "role": role,
        "notes": (f"'operation=' || {operation} || '; round=' || {rnd_text} || '; reason=' || {reason} || "
                  f"'; assessment=' || {assessment}"),
    })
    composite = " || '|' || ".join([operation, level, f"coalesce({iso3}, '')", f"coalesce({a1}, '')",
                                    f"coalesce({a2}, '')", rnd_text, f"coalesce({period}, '')", reason, assessment,
                                    f"coalesce({origin}, '')"])
    return Spec(
        exprs=exprs,
        # DTM ids are not unique in real exports (seen: one id on two rows of different rounds)
        row_key=f"coalesce({ctx.key('id')}, '') || '|' || {composite}",
        source_cols={"value_best": "numPresentIdpInd", "period_start": "reportingDate", "period_end": "reportingDate",
                     "country_iso3": "admin0Pcode", "admin1_code": "admin1Pcode", "admin2_code": "admin2Pcode"},
    ), "dtm-csv"


BULK_COLUMNS = None  # every column (a DTM export has about twenty)
