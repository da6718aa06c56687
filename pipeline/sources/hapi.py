"""HDX HAPI (OCHA's Humanitarian API), CSV and JSON (`{"data": [...]}`) forms, three endpoints:

- affected-people/idps (IOM DTM data): `population` -> idps_present, a stock at the reference date.
  HAPI's own usage note: only the most recent reporting round per operation should be aggregated, so
  the latest `reporting_round` per operation and admin unit is `recommended`, older rounds
  `triangulation`.
- affected-people/refugees-persons-of-concern (UNHCR data): `population` by `population_group`
  (REF/ROC -> refugees, ASY -> asylum_seekers, IDP/IOC -> idps_present, RET -> returned); totals
  only (gender and age `all`; age 0-17 -> children). Other groups and breakdowns are set aside with
  a reason, so every row is accounted for.
- coordination-context/conflict-events (ACLED data): per admin unit, month and `event_type`, two
  observations: `events` (metric events) and `fatalities` (killed; civilians for civilian_targeting).
"""

from __future__ import annotations

import pandas as pd

from pipeline.schema import InputError, ReadResult, Rejection
from pipeline.sources import textio
from pipeline.sources.textio import Sniff, col

FORMAT = "hapi"
URL = "https://hapi.humdata.org/api/v2/"
IDPS = {"operation", "reporting_round", "population", "location_code", "reference_period_start"}
REFUGEES = {"population_group", "population", "origin_location_code", "asylum_location_code",
            "reference_period_start"}
CONFLICT = {"event_type", "events", "fatalities", "location_code", "reference_period_start"}
EVENT_TYPES = {"civilian_targeting", "demonstration", "political_violence"}
KINDS = {"idps": IDPS, "refugees": REFUGEES, "conflict-events": CONFLICT}
# every column the reader reads: a header cell that differs from one only in case or separators is read as it
# (pipeline/sources/detect.py, canonical_header)
COLUMNS = IDPS | REFUGEES | CONFLICT | {
    "admin1_code", "admin1_name", "admin2_code", "admin2_name", "admin_level", "age_range", "assessment_type",
    "gender", "provider_admin1_name", "provider_admin2_name", "reference_period_end", "warning", "error"}

GROUPS = {"REF": ("refugees", "stock"), "ROC": ("refugees", "stock"), "ASY": ("asylum_seekers", "stock"),
          "IDP": ("idps_present", "stock"), "IOC": ("idps_present", "stock"), "RET": ("returned", "flow")}


def _kind(columns: set[str]) -> str | None:
    for kind, needed in KINDS.items():
        if needed <= columns:
            return kind
    return None


def detect(s: Sniff) -> bool:
    if s.kind == "csv":
        return _kind(set(s.header)) is not None
    if s.kind == "json" and isinstance(s.json_obj, dict) and isinstance(s.json_obj.get("data"), list):
        keys = textio.first_keys(s.json_obj, "data")
        return _kind(keys) is not None
    return False


def read(s: Sniff) -> ReadResult:
    if s.kind == "csv":
        table = textio.read_table(s)
        raw, pre = table.frame, table.rejected
        rows_read = table.rows_read
    else:
        raw, pre, rows_read = textio.records_frame(s.json_obj["data"], s.path, "HAPI")
    kind = _kind(set(raw.columns))
    if kind is None:
        raise InputError(f"{s.path}: HAPI payload without the columns of a known endpoint "
                         f"(idps, refugees-persons-of-concern, conflict-events)")
    mapper = {"idps": _idps, "refugees": _refugees, "conflict-events": _conflict}[kind]
    out, source_cols, extra = mapper(raw, s)
    parts = out if isinstance(out, list) else [(out, source_cols)]
    return textio.finalize_parts(parts, fmt=f"hapi-{kind}", path=s.path, sha256=s.sha256,
                                 rows_read=rows_read, extra_rejections=pre + extra)


def _place(raw: pd.DataFrame, out: pd.DataFrame, prefix: str = "") -> None:
    out["country_iso3"] = col(raw, "location_code").str.upper()
    out["admin1_code"] = textio.code(col(raw, "admin1_code"))
    out["admin1_name"] = col(raw, "admin1_name").fillna(col(raw, "provider_admin1_name"))
    out["admin2_code"] = textio.code(col(raw, "admin2_code"))
    out["admin2_name"] = col(raw, "admin2_name").fillna(col(raw, "provider_admin2_name"))


def _idps(raw: pd.DataFrame, s: Sniff):
    out = pd.DataFrame({"ingest_row": raw["ingest_row"]})
    _place(raw, out)
    out["source_id"] = "hapi-idps"
    out["source_org"] = "IOM DTM (via HDX HAPI)"
    out["source_title"] = "HDX HAPI affected-people/idps"
    out["source_url"] = URL + "affected-people/idps"
    out["metric"], out["basis"], out["population"], out["unit"] = "idps_present", "stock", "all", "people"
    out["qualifier"] = "exact"
    out["value_best"] = col(raw, "population")
    out["period_start"] = textio.iso_date(raw["reference_period_start"])
    out["period_end"] = textio.iso_date(col(raw, "reference_period_end")).fillna(out["period_start"])
    out["date_precision"] = "day"
    operation = col(raw, "operation").fillna("")
    rnd = pd.to_numeric(col(raw, "reporting_round"), errors="coerce")
    unit_key = [operation, col(raw, "admin_level").fillna(""), out["admin1_code"].fillna(""),
                out["admin2_code"].fillna(""), out["country_iso3"].fillna("")]
    latest = rnd.groupby(unit_key).transform("max")
    out["role"] = "triangulation"
    out.loc[rnd.notna() & (rnd == latest), "role"] = "recommended"
    out["notes"] = ("operation=" + operation + "; round=" + col(raw, "reporting_round").fillna("?")
                    + "; assessment=" + col(raw, "assessment_type").fillna("?")
                    + col(raw, "warning").map(lambda w: f"; warning={w}", na_action="ignore").fillna(""))
    out["_row_key"] = operation + "|" + unit_key[1] + "|" + unit_key[2] + "|" + unit_key[3] \
        + "|" + unit_key[4] + "|" + col(raw, "assessment_type").fillna("") + "|" \
        + col(raw, "reporting_round").fillna("") + "|" + out["period_start"].fillna("")
    cols = {"value_best": "population", "country_iso3": "location_code", "period_start": "reference_period_start",
            "period_end": "reference_period_end", "admin1_code": "admin1_code", "admin2_code": "admin2_code"}
    return out, cols, []


def _refugees(raw: pd.DataFrame, s: Sniff):
    group = col(raw, "population_group").str.upper()
    gender = col(raw, "gender").str.lower().fillna("all")
    age = col(raw, "age_range").str.lower().fillna("all")
    extra: list[Rejection] = []
    known = group.isin(list(GROUPS))
    total = gender.isin(["all", "total"]) & age.isin(["all", "total"])
    children = gender.isin(["all", "total"]) & age.isin(["0-17", "0-18"])
    keep = known & (total | children)
    skipped = raw.loc[~keep]
    if len(skipped):
        reason = pd.Series("", index=skipped.index, dtype="string")
        reason[~known.loc[~keep]] = ("population_group " + group.loc[~keep].fillna("(blank)")
                                     + " is not one this pipeline keeps (" + ", ".join(GROUPS) + ")")
        reason[known.loc[~keep]] = ("a breakdown by gender " + gender.loc[~keep] + " and age " + age.loc[~keep]
                                    + "; only totals (all) and children (0-17) are kept")
        colname = pd.Series("population_group", index=skipped.index).where(~known.loc[~keep], "gender")
        extra = [Rejection(str(s.path), int(line), c, "out_of_scope", str(msg))
                 for line, c, msg in zip(skipped["ingest_row"], colname, reason)]
    raw = raw.loc[keep]
    group = group.loc[keep]
    out = pd.DataFrame({"ingest_row": raw["ingest_row"]})
    out["source_id"] = "hapi-refugees"
    out["source_org"] = "UNHCR (via HDX HAPI)"
    out["source_title"] = "HDX HAPI affected-people/refugees-persons-of-concern"
    out["source_url"] = URL + "affected-people/refugees-persons-of-concern"
    out["metric"] = group.map(lambda g: GROUPS[g][0]).astype("string")
    out["basis"] = group.map(lambda g: GROUPS[g][1]).astype("string")
    out["population"] = "all"
    out.loc[children.loc[keep], "population"] = "children"
    out["unit"], out["qualifier"], out["role"] = "people", "exact", "recommended"
    out["value_best"] = col(raw, "population")
    out["country_iso3"] = col(raw, "asylum_location_code").str.upper()
    out["origin_iso3"] = col(raw, "origin_location_code").str.upper()
    start = textio.iso_date(raw["reference_period_start"])
    end = textio.iso_date(col(raw, "reference_period_end")).fillna(start)
    # a stock is counted at the end of its period; a flow (returns) over the whole period
    out["period_start"] = start.where(out["basis"] != "stock", end)
    out["period_end"] = end
    out["date_precision"] = "year"
    out["notes"] = "population_group=" + group.fillna("")
    out["_row_key"] = (out["origin_iso3"].fillna("") + "|" + out["country_iso3"].fillna("") + "|" + group.fillna("")
                       + "|" + col(raw, "gender").fillna("") + "|" + col(raw, "age_range").fillna("") + "|"
                       + start.fillna("") + "|" + end.fillna(""))
    cols = {"value_best": "population", "country_iso3": "asylum_location_code", "origin_iso3": "origin_location_code",
            "period_start": "reference_period_start", "period_end": "reference_period_end",
            "metric": "population_group"}
    return out, cols, extra


def _conflict(raw: pd.DataFrame, s: Sniff):
    etype = col(raw, "event_type").str.lower()
    # the types HAPI publishes; another would be counted with no way to tell whether it overlaps these
    unknown = ~etype.isin(EVENT_TYPES).fillna(False).astype(bool)
    pre = [Rejection(str(s.path), int(line), "event_type", "vocabulary",
                     f"expected one of: {', '.join(sorted(EVENT_TYPES))}", None if v is pd.NA else str(v))
           for line, v in zip(raw.loc[unknown, "ingest_row"], col(raw, "event_type")[unknown])]
    raw, etype = raw.loc[~unknown], etype[~unknown]
    base = pd.DataFrame({"ingest_row": raw["ingest_row"]})
    _place(raw, base)
    base["source_id"] = "hapi-conflict-events"
    base["source_org"] = "ACLED (via HDX HAPI)"
    base["source_title"] = "HDX HAPI coordination-context/conflict-events"
    base["source_url"] = URL + "coordination-context/conflict-events"
    base["basis"], base["qualifier"], base["role"] = "flow", "exact", "recommended"
    base["period_start"] = textio.iso_date(raw["reference_period_start"])
    base["period_end"] = textio.iso_date(col(raw, "reference_period_end"))
    base["date_precision"] = "month"
    civ = etype == "civilian_targeting"
    base["population"] = "all"
    base.loc[civ.fillna(False), "population"] = "civilians"
    base["notes"] = "event_type=" + etype.fillna("?") + " (political_violence includes civilian_targeting: do not add)"
    key = (base["country_iso3"].fillna("") + "|" + col(raw, "admin_level").fillna("") + "|"
           + base["admin1_code"].fillna(col(raw, "provider_admin1_name")).fillna("") + "|"
           + base["admin2_code"].fillna(col(raw, "provider_admin2_name")).fillna("") + "|" + etype.fillna("")
           + "|" + base["period_start"].fillna(""))
    events = base.copy()
    events["metric"], events["unit"] = "events", "events"
    events["value_best"] = raw["events"]
    events["_row_key"] = key + "|events"
    killed = base.copy()
    killed["metric"], killed["unit"] = "killed", "people"
    killed["value_best"] = raw["fatalities"]
    killed["_row_key"] = key + "|fatalities"
    # no fatality figure given (blank) means no observation, not an error
    killed = killed.loc[~col(raw, "fatalities").isna()]
    cols = {"country_iso3": "location_code", "period_start": "reference_period_start",
            "period_end": "reference_period_end"}
    return [(events, {**cols, "value_best": "events"}), (killed, {**cols, "value_best": "fatalities"})], None, pre
