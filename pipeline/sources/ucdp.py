"""UCDP Georeferenced Event Dataset (GED) CSV: one row per event, keyed by `id`.

Two observations per event: killed (all) with UCDP's own `low` / `best` / `high` bounds (qualifier
estimated), and, where `deaths_civilians` is given, killed civilians (a best estimate, a component of
`best`). The period is date_start..date_end; `date_prec` (1 exact day, 2 within 2-6 days, 3 within a
week, 4 within a month, 5 within a year) gives the precision. The country comes from the UCDP country
name ("DR Congo (Zaire)" style names are resolved by the ACLED name table).
"""

from __future__ import annotations

import pandas as pd

from pipeline.schema import ReadResult, Rejection
from pipeline.sources import textio
from pipeline.sources.acled import country_iso3
from pipeline.sources.textio import Sniff, col

FORMAT = "ucdp"
URL = "https://ucdp.uu.se/downloads/"
NEEDED = {"best", "low", "high", "date_start", "date_end"}
HINTS = {"deaths_civilians", "date_prec", "type_of_violence", "where_prec", "conflict_new_id"}
USE = ["id", "best", "low", "high", "deaths_civilians", "date_start", "date_end", "date_prec", "country", "iso3",
       "adm_1", "adm_2", "where_description", "type_of_violence", "conflict_name", "relid"]
# every column the reader reads (see hapi.COLUMNS)
COLUMNS = set(USE) | NEEDED | HINTS
PRECISION = {"1": "day", "2": "week", "3": "week", "4": "month", "5": "year"}
VIOLENCE = {"1": "state-based", "2": "non-state", "3": "one-sided"}


def detect(s: Sniff) -> bool:
    return s.kind == "csv" and NEEDED <= set(s.header) and bool(HINTS & set(s.header))


def read(s: Sniff) -> ReadResult:
    table = textio.read_table(s, usecols=USE)
    raw = table.frame
    textio.require_columns(s.path, table.header, sorted(NEEDED) + ["country"], "a UCDP GED file")
    base = pd.DataFrame({"ingest_row": raw["ingest_row"]})
    base["source_id"], base["source_org"] = "ucdp-ged", "UCDP"
    base["source_title"], base["source_url"] = "UCDP Georeferenced Event Dataset", URL
    base["metric"], base["basis"], base["unit"], base["role"] = "killed", "flow", "people", "recommended"
    base["qualifier"] = "estimated"
    base["period_start"] = textio.iso_date(col(raw, "date_start"))
    base["period_end"] = textio.iso_date(col(raw, "date_end"))
    prec = col(raw, "date_prec")
    base["date_precision"] = prec.map(PRECISION.get, na_action="ignore").astype("string").fillna(prec).fillna("day")
    iso = col(raw, "iso3").str.upper() if "iso3" in raw.columns else pd.Series(pd.NA, index=raw.index, dtype="string")
    base["country_iso3"] = iso.fillna(country_iso3(col(raw, "country")))
    base["admin1_name"] = col(raw, "adm_1")
    base["admin2_name"] = col(raw, "adm_2")
    base["place"] = col(raw, "where_description")
    violence = col(raw, "type_of_violence")
    base["notes"] = (violence.map(VIOLENCE.get, na_action="ignore").astype("string").fillna(violence).fillna("?")
                     + " violence; " + col(raw, "conflict_name").fillna(""))
    key = col(raw, "id").fillna(col(raw, "relid"))
    key = key.fillna(textio.content_key(raw, key.isna()))
    pre = list(table.rejected)
    unknown = base["country_iso3"].isna() & col(raw, "country").notna()
    for line, c in zip(raw.loc[unknown, "ingest_row"], col(raw, "country")[unknown]):
        pre.append(Rejection(str(s.path), int(line), "country", "country",
                             f"country name {c!r} is not in the ISO3 table", c))
    base, raw, key = base.loc[~unknown], raw.loc[~unknown], key[~unknown]
    total = base.assign(population="all", value_best=raw["best"], value_low=col(raw, "low"),
                        value_high=col(raw, "high"), _row_key=key + "|best")
    has_civ = col(raw, "deaths_civilians").notna()
    civilians = base.loc[has_civ].assign(population="civilians", value_best=raw.loc[has_civ, "deaths_civilians"],
                                         _row_key=key[has_civ] + "|deaths_civilians")
    cols = {"period_start": "date_start", "period_end": "date_end", "date_precision": "date_prec",
            "country_iso3": "country"}
    return textio.finalize_parts(
        [(total, {**cols, "value_best": "best", "value_low": "low", "value_high": "high"}),
         (civilians, {**cols, "value_best": "deaths_civilians"})],
        fmt="ucdp-ged", path=s.path, sha256=s.sha256, rows_read=table.rows_read, extra_rejections=pre)
