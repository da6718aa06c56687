"""Synthetic inputs shaped exactly like the real formats, with a fixed seed, and the totals they hold.

Three files families, each with the real column names (docs: /work/shared/reference/SOURCES.md):

- ACLED event export CSV (the 31-column layout), split into files of at most `chunk_rows` events, as
  ACLED exports are (by country and year); a small share of rows is deliberately broken (negative or
  non-numeric fatalities, impossible dates, unknown countries) so the rejection path is measured too;
- IOM DTM API export CSV with its HXL hashtag row on line 2 (rounds per admin2 unit);
- IDMC IDU API JSON (a list of records, Recommended figure / Triangulation).

Everything is labelled synthetic: file names start with `SYNTHETIC_`, and the source, actor, place,
operation and event names say "SYNTHETIC". The readers keep their real source ids (acled, iom-dtm,
idmc-idu), so these files must only ever be read into a temporary workspace (bench/run.py does).

Fast: numpy draws integer columns (vectorised, one seeded Generator) and DuckDB turns them into text
and writes the files in parallel; no Python loop per row. The true totals are computed from the drawn
arrays themselves, never by reading the files back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

SEED = 20191201
START = np.datetime64("2019-01-01")
DAYS = 731  # 2019-01-01 .. 2020-12-31

ACLED_COLUMNS = [
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type", "sub_event_type",
    "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2", "interaction", "civilian_targeting",
    "iso", "region", "country", "admin1", "admin2", "admin3", "location", "latitude", "longitude", "geo_precision",
    "source", "source_scale", "notes", "fatalities", "tags", "timestamp",
]
DTM_COLUMNS = [
    "id", "operation", "admin0Name", "admin0Pcode", "admin1Name", "admin1Pcode", "admin2Name", "admin2Pcode",
    "adminLevel", "numPresentIdpInd", "reportingDate", "yearReportingDate", "monthReportingDate", "roundNumber",
    "displacementReason", "numberMales", "numberFemales", "idpOriginAdmin1Name", "idpOriginAdmin1Pcode",
    "assessmentType", "operationStatus",
]
DTM_HXL = [
    "#id+code", "#operation+name", "#country+name", "#country+code", "#adm1+name", "#adm1+code", "#adm2+name",
    "#adm2+code", "#adm+level", "#affected+idps", "#date+reported", "#date+year+reported", "#date+month+reported",
    "#round+code", "#cause+type", "#affected+idps+m", "#affected+idps+f", "#adm1+name+origin", "#adm1+code+origin",
    "#assessment+type", "#operation+status",
]

# (name as ACLED spells it, ISO3, ISO numeric, ACLED region, weight)
COUNTRIES = [
    ("Syria", "SYR", 760, "Middle East", 0.30),
    ("Yemen", "YEM", 887, "Middle East", 0.15),
    ("Sudan", "SDN", 729, "Northern Africa", 0.10),
    ("Ukraine", "UKR", 804, "Europe", 0.15),
    ("Myanmar", "MMR", 104, "Southeast Asia", 0.10),
    ("Democratic Republic of Congo", "COD", 180, "Middle Africa", 0.08),
    ("Burkina Faso", "BFA", 854, "Western Africa", 0.06),
    ("Somalia", "SOM", 706, "Eastern Africa", 0.06),
]
# (disorder_type, event_type, sub_event_type, civilian targeting share, inter1, inter2, weight)
EVENT_TYPES = [
    ("Political violence", "Battles", "Armed clash", 0.0, 1, 2, 0.30),
    ("Political violence", "Explosions/Remote violence", "Shelling/artillery/missile attack", 0.25, 1, 7, 0.22),
    ("Political violence", "Explosions/Remote violence", "Air/drone strike", 0.35, 8, 7, 0.12),
    ("Political violence", "Violence against civilians", "Attack", 1.0, 3, 7, 0.14),
    ("Demonstrations", "Protests", "Peaceful protest", 0.0, 6, 0, 0.12),
    ("Demonstrations", "Riots", "Violent demonstration", 0.0, 5, 0, 0.04),
    ("Strategic developments", "Strategic developments", "Looting/property destruction", 0.0, 3, 7, 0.06),
]
ISO2 = {"SYR": "SY", "YEM": "YE", "SDN": "SD", "UKR": "UA", "MMR": "MM", "COD": "CD", "BFA": "BF", "SOM": "SO"}
SCALES = ["National", "Subnational", "Local partner-National", "International", "Other"]
BAD_KINDS = ("negative", "text", "date", "country")  # what a broken ACLED row gets wrong


@dataclass
class Truth:
    """What the generator knows it wrote (only rows a correct reader keeps)."""

    acled_rows: int = 0
    acled_files: list[str] = field(default_factory=list)
    acled_rejected: dict[str, int] = field(default_factory=dict)  # rule -> rows
    acled_events: int = 0
    fatalities: int = 0
    civilian_fatalities: int = 0
    fatalities_by_month: dict[str, int] = field(default_factory=dict)  # "YYYY-MM" -> killed (all events)
    civilian_fatalities_by_month: dict[str, int] = field(default_factory=dict)
    fatalities_by_country: dict[str, int] = field(default_factory=dict)
    dtm_rows: int = 0
    dtm_file: str = ""
    idps_all_rounds: int = 0
    idps_latest_round: int = 0  # the recommended rows: latest round per unit
    idmc_rows: int = 0
    idmc_file: str = ""
    idmc_displaced: int = 0
    idmc_displaced_recommended: int = 0

    @property
    def files(self) -> list[str]:
        return [*self.acled_files, self.dtm_file, self.idmc_file]

    @property
    def acled_rejected_rows(self) -> int:
        return sum(self.acled_rejected.values())

    def as_dict(self) -> dict:
        return asdict(self)


def _months(day_offsets: np.ndarray, weights: np.ndarray) -> dict[str, int]:
    month = (START + day_offsets.astype("timedelta64[D]")).astype("datetime64[M]")
    s = pd.Series(weights).groupby(month).sum()
    return {str(k)[:7]: int(v) for k, v in s.items() if v}


def _list(values) -> str:
    """A DuckDB list literal of strings."""
    return "[" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]"


def generate(out: str | Path, rows: int, *, seed: int = SEED, chunk_rows: int = 1_000_000,
             bad_share: float = 0.002, dtm_rows: int | None = None, idmc_rows: int | None = None,
             threads: int | None = None) -> Truth:
    """Write the synthetic inputs into `out` and return their true totals."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    truth = Truth()
    _acled(con, rng, out, rows, chunk_rows, bad_share, truth)
    _dtm(con, rng, out, dtm_rows if dtm_rows is not None else max(200, rows // 20), truth)
    _idmc(con, rng, out, idmc_rows if idmc_rows is not None else max(100, rows // 100), truth)
    con.close()
    (out / "truth.json").write_text(json.dumps(truth.as_dict(), indent=1, sort_keys=True), encoding="utf-8")
    return truth


# -------------------------------------------------------------------------------------------- ACLED

def _acled(con, rng, out: Path, n: int, chunk_rows: int, bad_share: float, truth: Truth) -> None:
    cw = np.array([c[4] for c in COUNTRIES])
    ci = rng.choice(len(COUNTRIES), size=n, p=cw / cw.sum()).astype(np.int8)
    ew = np.array([e[6] for e in EVENT_TYPES])
    ei = rng.choice(len(EVENT_TYPES), size=n, p=ew / ew.sum()).astype(np.int8)
    day = rng.integers(0, DAYS, size=n, dtype=np.int16)
    prec = rng.choice(np.array([1, 2, 3], dtype=np.int8), size=n, p=[0.85, 0.10, 0.05])
    civ_share = np.array([e[3] for e in EVENT_TYPES])[ei]
    civ = rng.random(n) < civ_share
    lethal = (rng.random(n) < np.where(ei >= 4, 0.03, 0.45))
    fat = np.where(lethal, rng.geometric(0.3, size=n), 0).astype(np.int32)
    big = rng.random(n) < 0.0005
    fat = np.where(big & lethal, fat + rng.integers(20, 200, size=n), fat).astype(np.int32)
    a1 = rng.integers(0, 14, size=n, dtype=np.int8)
    a2 = rng.integers(0, 8, size=n, dtype=np.int8)
    loc = rng.integers(0, 400, size=n, dtype=np.int16)
    lat = np.round(rng.uniform(-10, 50, size=n), 4)
    lon = np.round(rng.uniform(-20, 100, size=n), 4)
    geo = rng.choice(np.array([1, 2, 3], dtype=np.int8), size=n, p=[0.7, 0.25, 0.05])
    scale = rng.integers(0, len(SCALES), size=n, dtype=np.int8)
    note_len = rng.integers(0, 3, size=n, dtype=np.int8)
    bad = np.where(rng.random(n) < bad_share, rng.integers(1, len(BAD_KINDS) + 1, size=n), 0).astype(np.int8)

    good = bad == 0
    truth.acled_rows = n
    truth.acled_rejected = {rule: int((bad == k).sum()) for k, rule in
                            zip(range(1, 5), ("non_negative", "number", "date", "country")) if (bad == k).any()}
    truth.acled_events = int(good.sum())
    truth.fatalities = int(fat[good].sum())
    truth.civilian_fatalities = int(fat[good & civ].sum())
    truth.fatalities_by_month = _months(day[good], fat[good])
    truth.civilian_fatalities_by_month = _months(day[good & civ], fat[good & civ])
    by_c = pd.Series(fat[good]).groupby(ci[good]).sum()
    truth.fatalities_by_country = {COUNTRIES[int(k)][1]: int(v) for k, v in by_c.items()}

    frame = pd.DataFrame({"seq": np.arange(n, dtype=np.int64), "ci": ci, "ei": ei, "day": day, "prec": prec,
                          "civ": civ, "fat": fat, "a1": a1, "a2": a2, "loc": loc, "lat": lat, "lon": lon,
                          "geo": geo, "scale": scale, "note_len": note_len, "bad": bad})
    del ci, ei, day, prec, civ, fat, a1, a2, loc, lat, lon, geo, scale, note_len, bad
    con.register("g", frame)
    names, iso3s = _list(c[0] for c in COUNTRIES), _list(c[1] for c in COUNTRIES)
    isos = "[" + ", ".join(str(c[2]) for c in COUNTRIES) + "]"
    regions = _list(c[3] for c in COUNTRIES)
    disorder, etype, sub = (_list(e[k] for e in EVENT_TYPES) for k in range(3))
    inter1 = "[" + ", ".join(str(e[4]) for e in EVENT_TYPES) + "]"
    inter2 = "[" + ", ".join(str(e[5]) for e in EVENT_TYPES) + "]"
    actors = _list(["SYNTHETIC State forces", "SYNTHETIC Rebel group", "SYNTHETIC Militia",
                    "SYNTHETIC Identity militia", "SYNTHETIC Rioters", "SYNTHETIC Protesters",
                    "SYNTHETIC Civilians", "SYNTHETIC External forces"])
    scales = _list(SCALES)
    # DuckDB lists are 1-based; every text column is built here, in parallel, not in Python
    select = f"""
        SELECT
            {iso3s}[ci + 1] || CAST(seq + 1 AS VARCHAR) AS event_id_cnty,
            CASE WHEN bad = 3 THEN CAST(2019 + (day >= 365)::INT AS VARCHAR) || '-02-30'
                 ELSE strftime(DATE '2019-01-01' + CAST(day AS INTEGER), '%Y-%m-%d') END AS event_date,
            2019 + (day >= 365)::INT AS year,
            prec AS time_precision,
            {disorder}[ei + 1] AS disorder_type,
            {etype}[ei + 1] AS event_type,
            {sub}[ei + 1] AS sub_event_type,
            {actors}[{inter1}[ei + 1]] AS actor1,
            CASE WHEN seq % 7 = 0 THEN 'SYNTHETIC Allied group' END AS assoc_actor_1,
            {inter1}[ei + 1] AS inter1,
            CASE WHEN {inter2}[ei + 1] <> 0 THEN {actors}[{inter2}[ei + 1]] END AS actor2,
            NULL AS assoc_actor_2,
            {inter2}[ei + 1] AS inter2,
            {inter1}[ei + 1] * 10 + {inter2}[ei + 1] AS interaction,
            CASE WHEN civ THEN 'Civilian targeting' END AS civilian_targeting,
            {isos}[ci + 1] AS iso,
            {regions}[ci + 1] AS region,
            CASE WHEN bad = 4 THEN 'SYNTHETIC Atlantis' ELSE {names}[ci + 1] END AS country,
            {iso3s}[ci + 1] || ' admin1 ' || CAST(a1 + 1 AS VARCHAR) AS admin1,
            {iso3s}[ci + 1] || ' admin2 ' || CAST(a1 + 1 AS VARCHAR) || '-' || CAST(a2 + 1 AS VARCHAR) AS admin2,
            CASE WHEN seq % 3 <> 0 THEN 'Subdistrict ' || CAST(loc % 50 AS VARCHAR) END AS admin3,
            'SYNTHETIC ' || {iso3s}[ci + 1] || '-' || CAST(loc AS VARCHAR) AS location,
            lat AS latitude,
            lon AS longitude,
            geo AS geo_precision,
            'SYNTHETIC generator' AS source,
            {scales}[scale + 1] AS source_scale,
            'SYNTHETIC: ' || {sub}[ei + 1]
                || CASE WHEN note_len >= 1 THEN ', by a "local" source' ELSE '' END
                || ' [' || CASE WHEN fat = 0 THEN 'no' ELSE CAST(fat AS VARCHAR) END || ' fatalities]' AS notes,
            CASE WHEN bad = 1 THEN '-' || CAST(fat + 1 AS VARCHAR) WHEN bad = 2 THEN 'unknown'
                 ELSE CAST(fat AS VARCHAR) END AS fatalities,
            CASE WHEN seq % 11 = 0 THEN 'crowd size=no report' END AS tags,
            1546300800 + CAST(day AS BIGINT) * 86400 + seq % 86400 AS timestamp
        FROM g
        WHERE seq >= $lo AND seq < $hi
        ORDER BY seq
    """
    truth.acled_files = []
    chunk_rows = max(1, chunk_rows)
    for k, lo in enumerate(range(0, n, chunk_rows)):
        path = out / f"SYNTHETIC_acled_events_{k + 1:02d}.csv"
        hi = min(n, lo + chunk_rows)
        con.execute(f"COPY ({select.replace('$lo', str(lo)).replace('$hi', str(hi))}) TO '{path}' "
                    "(FORMAT csv, HEADER true, QUOTE '\"', ESCAPE '\"')")
        truth.acled_files.append(path.name)
    con.unregister("g")


# ---------------------------------------------------------------------------------------------- DTM

def _dtm(con, rng, out: Path, n: int, truth: Truth) -> None:
    rounds = 8
    units = max(1, n // rounds)
    n = units * rounds
    cu = rng.choice(len(COUNTRIES), size=units).astype(np.int8)
    a1 = rng.integers(0, 14, size=units, dtype=np.int8)
    uid = np.arange(units, dtype=np.int64)
    # every unit (an admin2 area of one operation) reports every round; IDPs drift from the unit's base
    base = rng.integers(500, 60_000, size=units)
    unit_ix = np.repeat(uid, rounds)
    rnd = np.tile(np.arange(1, rounds + 1, dtype=np.int16), units)
    idps = np.maximum(0, base[unit_ix] * rng.uniform(0.6, 1.4, size=n)).astype(np.int64)
    males = (idps * rng.uniform(0.45, 0.52, size=n)).astype(np.int64)
    truth.dtm_rows = n
    truth.idps_all_rounds = int(idps.sum())
    truth.idps_latest_round = int(idps[rnd == rounds].sum())
    frame = pd.DataFrame({"seq": np.arange(n, dtype=np.int64), "unit": unit_ix, "ci": cu[unit_ix],
                          "a1": a1[unit_ix], "rnd": rnd, "idps": idps, "males": males})
    con.register("d", frame)
    names, iso3s = _list(c[0] for c in COUNTRIES), _list(c[1] for c in COUNTRIES)
    iso2s = _list(ISO2[c[1]] for c in COUNTRIES)  # OCHA P-codes start with the ISO alpha-2 code
    path = out / "SYNTHETIC_dtm_export.csv"
    header = ",".join(DTM_COLUMNS) + "\n" + ",".join(DTM_HXL) + "\n"
    tmp = out / ".dtm_body.csv"
    con.execute(f"""COPY (
        SELECT
            CAST(700000 + seq AS VARCHAR) AS id,
            'SYNTHETIC Countrywide monitoring ' || {names}[ci + 1] AS operation,
            {names}[ci + 1] AS admin0Name,
            {iso3s}[ci + 1] AS admin0Pcode,
            {iso3s}[ci + 1] || ' SYNTHETIC admin1 ' || CAST(a1 + 1 AS VARCHAR) AS admin1Name,
            {iso2s}[ci + 1] || lpad(CAST(a1 + 1 AS VARCHAR), 2, '0') AS admin1Pcode,
            'SYNTHETIC admin2 unit ' || CAST(unit AS VARCHAR) AS admin2Name,
            {iso2s}[ci + 1] || lpad(CAST(a1 + 1 AS VARCHAR), 2, '0') || lpad(CAST(unit % 100 AS VARCHAR), 2, '0')
                AS admin2Pcode,
            2 AS adminLevel,
            idps AS numPresentIdpInd,
            strftime(DATE '2019-01-31' + INTERVAL (CAST(rnd AS INTEGER) * 60) DAY, '%Y-%m-%dT00:00:00') AS reportingDate,
            year(DATE '2019-01-31' + INTERVAL (CAST(rnd AS INTEGER) * 60) DAY) AS yearReportingDate,
            month(DATE '2019-01-31' + INTERVAL (CAST(rnd AS INTEGER) * 60) DAY) AS monthReportingDate,
            rnd AS roundNumber,
            'Conflict' AS displacementReason,
            males AS numberMales,
            idps - males AS numberFemales,
            'Not available' AS idpOriginAdmin1Name,
            'Not available' AS idpOriginAdmin1Pcode,
            CASE WHEN seq % 5 = 0 THEN 'SA' ELSE 'BA' END AS assessmentType,
            'Active' AS operationStatus
        FROM d ORDER BY seq) TO '{tmp}' (FORMAT csv, HEADER false)""")
    con.unregister("d")
    with open(path, "wb") as fh:  # header, HXL row on line 2, then the body
        fh.write(header.encode())
        with open(tmp, "rb") as body:
            while chunk := body.read(1 << 22):
                fh.write(chunk)
    tmp.unlink()
    truth.dtm_file = path.name


# --------------------------------------------------------------------------------------------- IDMC

def _idmc(con, rng, out: Path, n: int, truth: Truth) -> None:
    ci = rng.choice(len(COUNTRIES), size=n).astype(np.int8)
    start = rng.integers(0, DAYS - 40, size=n, dtype=np.int32)
    length = rng.integers(0, 30, size=n, dtype=np.int32)
    figure = rng.integers(10, 25_000, size=n, dtype=np.int64)
    q = rng.choice(4, size=n, p=[0.6, 0.2, 0.15, 0.05]).astype(np.int8)
    recommended = rng.random(n) < 0.85
    truth.idmc_rows = n
    truth.idmc_displaced = int(figure.sum())
    truth.idmc_displaced_recommended = int(figure[recommended].sum())
    frame = pd.DataFrame({"seq": np.arange(n, dtype=np.int64), "ci": ci, "start": start, "len": length,
                          "figure": figure, "q": q, "rec": recommended})
    con.register("m", frame)
    names, iso3s = _list(c[0] for c in COUNTRIES), _list(c[1] for c in COUNTRIES)
    path = out / "SYNTHETIC_idmc_idu.json"
    con.execute(f"""COPY (
        SELECT
            CAST(900000 + seq AS BIGINT) AS id,
            {names}[ci + 1] AS country,
            {iso3s}[ci + 1] AS iso3,
            round(10 + (seq % 400) / 10.0, 2) AS latitude,
            round(30 + (seq % 300) / 10.0, 2) AS longitude,
            'Conflict' AS displacement_type,
            ['total', 'approximately', 'more than', 'at least'][q + 1] AS qualifier,
            figure,
            strftime(DATE '2019-01-01' + CAST(start + len AS INTEGER), '%Y-%m-%dT00:00:00.000Z') AS displacement_date,
            strftime(DATE '2019-01-01' + CAST(start AS INTEGER), '%Y-%m-%dT00:00:00.000Z') AS displacement_start_date,
            strftime(DATE '2019-01-01' + CAST(start + len AS INTEGER), '%Y-%m-%dT00:00:00.000Z') AS displacement_end_date,
            year(DATE '2019-01-01' + CAST(start AS INTEGER)) AS year,
            {names}[ci + 1] || ': Conflict - SYNTHETIC event ' || CAST(seq % 97 AS VARCHAR) AS event_name,
            'Conflict' AS category,
            'Violence' AS subcategory,
            'Armed conflict' AS type,
            'Armed conflict' AS subtype,
            'SYNTHETIC figure for benchmarking; not a real report.' AS standard_popup_text,
            strftime(DATE '2019-01-01' + CAST(start + len + 3 AS INTEGER), '%Y-%m-%dT10:00:00.000Z') AS created_at,
            CASE WHEN rec THEN 'Recommended figure' ELSE 'Triangulation' END AS role
        FROM m ORDER BY seq) TO '{path}' (FORMAT json, ARRAY true)""")
    con.unregister("m")
    truth.idmc_file = path.name


if __name__ == "__main__":
    import argparse
    import time

    p = argparse.ArgumentParser(description="write synthetic ACLED/DTM/IDMC inputs and their truth.json")
    p.add_argument("out")
    p.add_argument("--rows", type=int, default=100_000)
    a = p.parse_args()
    t = time.perf_counter()
    tr = generate(a.out, a.rows)
    print(f"{a.rows:,} rows in {time.perf_counter() - t:.1f}s: {', '.join(tr.files)}")
