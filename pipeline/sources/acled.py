"""ACLED: the HDX monthly workbooks (sheets HRP_1, HRP_2, Non_HRP) and the event-level CSV export.

Workbook: one row per country (Non_HRP) or admin2 (HRP_*) and month, with `Events` and `Fatalities`:
two observations, events (unit events) and killed. Another HRP_n sheet is read as the HRP sheets are;
any other sheet with those columns refuses the workbook, naming it; a sheet without them (the terms of use)
is not data. The three HDX workbooks (political violence,
civilian targeting, demonstrations) share one layout and nothing in their content tells them apart, so
the file name is used, after detection, only to say which population the fatalities are (civilians
for civilian targeting) and to note the event family. A row's "line" is the sheet's own row number,
and every message names the sheet.

Event CSV: one row per event keyed by `event_id_cnty`; `fatalities` -> killed (civilians when
`civilian_targeting` is set), dated by `event_date` widened by `time_precision` (1 day, 2 week,
3 month). Only the needed columns are loaded, vectorised, so million-row exports stay fast.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace

import numpy as np
import pandas as pd

from pipeline.countries import COUNTRIES
from pipeline.schema import InputError, ReadResult, Rejection
from pipeline.sources import textio
from pipeline.sources.textio import Sniff, col

FORMAT = "acled"
URL = "https://acleddata.com/"
HDX_URL = "https://data.humdata.org/organization/acled"
SHEETS = ("HRP_1", "HRP_2", "Non_HRP")
SHEET_COLUMNS = {"Country", "Month", "Year", "Events", "Fatalities"}  # what every sheet of figures has
EVENT_NEEDED = {"event_id_cnty", "event_date", "fatalities"}
# the title every row of an event export carries: sql/casualties_monthly.sql tells events from totals by it
EVENTS_TITLE = "ACLED event data"
EVENT_COLS = ["event_id_cnty", "event_date", "time_precision", "fatalities", "civilian_targeting", "event_type",
              "sub_event_type", "disorder_type", "country", "iso3", "admin1", "admin2", "admin3", "location"]
COLUMNS = set(EVENT_COLS)  # every column the event reader reads (see hapi.COLUMNS; a workbook's are its own)

def _one_country(name: str) -> str | None:
    text = name.strip().lower()
    if text in COUNTRIES:
        return COUNTRIES[text]
    match = re.fullmatch(r"(.*?)\s*\(([^)]*)\)\s*", text)
    if match:
        return COUNTRIES.get(match.group(1)) or COUNTRIES.get(match.group(2))
    return None


def country_iso3(names: pd.Series) -> pd.Series:
    """Country names -> ISO3 (NA when unknown); 'DR Congo (Zaire)' tries the whole name, then each part."""
    from pipeline.sources.base import per_unique

    return per_unique(names, _one_country)


def detect(s: Sniff) -> bool:
    if s.kind == "xlsx":
        return any(n in s.sheet_names for n in SHEETS)
    if s.kind == "csv":
        return EVENT_NEEDED <= set(s.header)
    return False


def read(s: Sniff) -> ReadResult:
    return _read_workbook(s) if s.kind == "xlsx" else _read_events(s)


# ------------------------------------------------------------------------------------------- workbook

def _family(name: str) -> tuple[str, str]:
    lowered = name.lower()
    if "civilian" in lowered:
        return "civilian targeting", "civilians"
    if "demonstration" in lowered:
        return "demonstrations", "all"
    if "political" in lowered:
        return "political violence", "all"
    return "events (family not named in the file name)", "all"


def _sheet_rows(wb, name: str, path) -> tuple[list[str], list[tuple[int, list]]]:
    try:
        sheet = wb.get_sheet_by_name(name)
        rows = sheet.to_python(skip_empty_area=False)
    except Exception as exc:
        msg = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"{path}: sheet {name}: cannot be read ({msg})") from None
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(str(c).strip() for c in r)]
    if not numbered:
        return [], []
    (_, header), body = numbered[0], numbered[1:]
    return [str(h).strip() for h in header], body


def _cell_text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v).strip()


def _read_workbook(s: Sniff) -> ReadResult:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(s.data))
    except Exception as exc:
        msg = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"{s.path}: corrupt or unreadable workbook ({msg})") from None
    family, population = _family(s.path.name)
    parts, pre, rows_read = [], [], 0
    # HDX's sheets, then another HRP_n sheet (ACLED adding a group of countries); any other sheet of figures
    # (a copy, a part split off) refuses the workbook: read, it could count figures twice; passed over, lose
    # them. A sheet of notes (the terms of use) is not data.
    sheets = {n: _sheet_rows(wb, n, s.path) for n in SHEETS if n in s.sheet_names}
    for n in s.sheet_names:
        if n not in sheets:
            header, body = _sheet_rows(wb, n, s.path)
            if SHEET_COLUMNS <= set(header):
                if not re.fullmatch(r"HRP_\d+", n):
                    raise InputError(f"{s.path}: sheet {n!r} holds ACLED figures but is not one of HDX's sheets "
                                     "(HRP_1, HRP_2, ..., Non_HRP): a copy, or a part of one? Remove it, or name it "
                                     "as HDX does, so that no figure is counted twice or left out")
                sheets[n] = header, body
    for name, (header, body) in sheets.items():
        if not header:
            continue
        textio.unique_header(header, s.path, f"sheet {name}, row {numbered_header_row(body)}")
        admin = name != "Non_HRP"  # the HRP sheets give places, with ISO3
        needed = ["Country", "Month", "Year", "Events", "Fatalities"] + (["ISO3"] if admin else [])
        missing = [c for c in needed if c not in header]
        if missing:
            raise InputError(f"{s.path}: sheet {name}, row {numbered_header_row(body)}: missing column(s) "
                             f"{', '.join(missing)}")
        width = len(header)
        where = f"{s.path} (sheet {name})"
        # a value after the last column the header names cannot be placed: the row is set aside (as a CSV
        # row wider than its header is); the sheet's rows come padded to its used width, with blank cells
        named = max(i for i, h in enumerate(header) if h) + 1
        wide = {n for n, r in body if any(_cell_text(c) for c in r[named:] if c is not None)}
        for n in sorted(wide):
            pre.append(Rejection(where, n, None, "shape", f"sheet {name}: row {n} has values after the last of the "
                                                          f"header's {named} named columns; row set aside"))
        rows_read += len(wide)
        body = [(n, r) for n, r in body if n not in wide]
        frame = pd.DataFrame([[_cell_text(c) for c in (r + [""] * width)[:width]] for _, r in body],
                             columns=header, dtype="string") if body else pd.DataFrame(columns=header, dtype="string")
        frame["ingest_row"] = pd.array([n for n, _ in body], dtype="Int64")
        rows_read += len(frame)
        out = pd.DataFrame({"ingest_row": frame["ingest_row"]})
        out["source_id"], out["source_org"] = "acled-hdx", "ACLED (via HDX)"
        out["source_title"] = f"ACLED {family} events and fatalities by month (HDX)"
        out["source_url"] = HDX_URL
        out["basis"], out["qualifier"], out["role"] = "flow", "exact", "recommended"
        if admin:
            out["country_iso3"] = col(frame, "ISO3").str.upper()
            out["admin1_code"] = textio.code(frame["Admin1 Pcode"]) if "Admin1 Pcode" in frame else pd.NA
            out["admin1_name"] = col(frame, "Admin1")
            out["admin2_code"] = textio.code(frame["Admin2 Pcode"]) if "Admin2 Pcode" in frame else pd.NA
            out["admin2_name"] = col(frame, "Admin2")
        else:
            out["country_iso3"] = country_iso3(col(frame, "Country"))
        # a row of an admin sheet is its district's figure, not its country's (sql/places.sql names the area)
        out["place"] = pd.Series(pd.NA, index=frame.index, dtype="string") if admin else col(frame, "Country")
        month = pd.to_datetime(col(frame, "Year").fillna("") + " " + col(frame, "Month").fillna(""),
                               format="%Y %B", errors="coerce")
        bad_month = month.isna()
        for line, y, m in zip(frame.loc[bad_month, "ingest_row"], col(frame, "Year")[bad_month],
                              col(frame, "Month")[bad_month]):
            pre.append(Rejection(where, int(line), "Month", "date",
                                 f"sheet {name}: expected a month name and a year, got {m!r} {y!r}", f"{m} {y}"))
        out["period_start"] = month.dt.strftime("%Y-%m-%d").astype("string")
        out["period_end"] = (month + pd.offsets.MonthEnd(0)).dt.strftime("%Y-%m-%d").astype("string")
        out["date_precision"] = "month"
        out["notes"] = f"{family}; sheet {name}"
        # a country name not in the table (on the sheet without ISO3); a blank ISO3 on the others is finalize's
        # "a value is required in ISO3"
        unknown = out["country_iso3"].isna() & col(frame, "Country").notna() & ~bad_month & (not admin)
        for line, c in zip(frame.loc[unknown, "ingest_row"], col(frame, "Country")[unknown]):
            pre.append(Rejection(where, int(line), "Country", "country",
                                 f"sheet {name}: country name {c!r} is not in the ISO3 table", c))
        keep = ~bad_month & ~unknown
        out, frame = out.loc[keep], frame.loc[keep]
        key = name + "|" + out["country_iso3"].fillna("")
        if admin:
            for c in ("admin1_code", "admin1_name", "admin2_code", "admin2_name"):
                key = key + "|" + out[c].astype("string").fillna("")
        key = key + "|" + out["period_start"].fillna("")
        rewrite = (lambda r, name=name, where=where:
                   replace(r, file=where, message=f"sheet {name}: {r.message}"))
        events = out.assign(metric="events", unit="events", population="all", value_best=frame["Events"],
                            _row_key=key + "|events")
        killed = out.assign(metric="killed", unit="people", population=population, value_best=frame["Fatalities"],
                            _row_key=key + "|fatalities")
        names = {"country_iso3": "ISO3" if admin else "Country", "admin1_code": "Admin1 Pcode",
                 "admin2_code": "Admin2 Pcode", "period_start": "Month", "period_end": "Month"}
        parts += [(events, {**names, "value_best": "Events"}, rewrite),
                  (killed, {**names, "value_best": "Fatalities"}, rewrite)]
    if not parts and not rows_read:
        raise InputError(f"{s.path}: the ACLED sheets ({', '.join(n for n in SHEETS if n in s.sheet_names)}) are empty")
    return textio.finalize_parts(parts, fmt="acled-hdx-workbook", path=s.path, sha256=s.sha256,
                                 rows_read=rows_read, extra_rejections=pre)


def numbered_header_row(body) -> int:
    return (body[0][0] - 1) if body else 1


# ----------------------------------------------------------------------------------------- event CSV

PRECISION = {"1": "day", "2": "week", "3": "month"}


def _event_dates(text: pd.Series) -> pd.Series:
    iso = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    if iso.isna().any():  # older exports spell dates out: "31 December 2019"
        spelled = pd.to_datetime(text.where(iso.isna()), format="%d %B %Y", errors="coerce")
        iso = iso.fillna(spelled)
    return iso


def _periods(date_text: pd.Series, prec_text: pd.Series) -> pd.DataFrame:
    """(event_date, time_precision) as cleaned text -> date_precision, period_start, period_end as the text
    finalize checks: a week is the day +- 3 days, a month the calendar month; an unreadable date keeps its
    text, so finalize names it."""
    day = _event_dates(date_text.fillna(""))
    prec = prec_text.fillna("1").map(PRECISION.get, na_action="ignore").astype("string")
    start = day.where(prec != "week", day - pd.Timedelta(days=3))
    end = day.where(prec != "week", day + pd.Timedelta(days=3))
    start = start.where(prec != "month", day - pd.offsets.MonthBegin(0) - pd.offsets.MonthBegin(1))
    start = start.where(~((prec == "month") & (day.dt.day == 1)), day)
    end = end.where(prec != "month", day + pd.offsets.MonthEnd(0))
    return pd.DataFrame({"date_precision": prec.fillna(prec_text),
                         "period_start": start.dt.strftime("%Y-%m-%d").astype("string").fillna(date_text),
                         "period_end": end.dt.strftime("%Y-%m-%d").astype("string").fillna(date_text)})


def _read_events_reference(s: Sniff) -> ReadResult:
    """The row-by-row mapping _read_events replaced (kept for the equivalence test)."""
    table = textio.read_table(s, usecols=EVENT_COLS, categorical=True, keys=("event_id_cnty",))
    raw = table.frame
    textio.require_columns(s.path, table.header, sorted(EVENT_NEEDED), "an ACLED event export")
    out = pd.DataFrame({"ingest_row": raw["ingest_row"]})
    out["source_id"], out["source_org"] = "acled", "ACLED"
    out["source_title"], out["source_url"] = EVENTS_TITLE, URL
    out["metric"], out["basis"], out["unit"], out["qualifier"], out["role"] = (
        "killed", "flow", "people", "exact", "recommended")
    civ = col(raw, "civilian_targeting").notna()
    out["population"] = "all"
    out.loc[civ, "population"] = "civilians"
    out["value_best"] = col(raw, "fatalities")
    date_text = col(raw, "event_date")
    day = _event_dates(date_text.fillna(""))
    prec = col(raw, "time_precision").fillna("1").map(PRECISION.get, na_action="ignore").astype("string")
    out["date_precision"] = prec.fillna(col(raw, "time_precision"))
    start = day.where(prec != "week", day - pd.Timedelta(days=3))
    end = day.where(prec != "week", day + pd.Timedelta(days=3))
    start = start.where(prec != "month", day - pd.offsets.MonthBegin(0) - pd.offsets.MonthBegin(1))
    start = start.where(~((prec == "month") & (day.dt.day == 1)), day)
    end = end.where(prec != "month", day + pd.offsets.MonthEnd(0))
    # an unreadable date keeps its text, so finalize names it; a readable one becomes YYYY-MM-DD
    out["period_start"] = start.dt.strftime("%Y-%m-%d").astype("string").fillna(date_text)
    out["period_end"] = end.dt.strftime("%Y-%m-%d").astype("string").fillna(date_text)
    iso3 = col(raw, "iso3").str.upper() if "iso3" in raw.columns else pd.Series(pd.NA, index=raw.index, dtype="string")
    out["country_iso3"] = iso3.fillna(country_iso3(col(raw, "country")))
    out["admin1_name"] = col(raw, "admin1")
    out["admin2_name"] = col(raw, "admin2")
    out["place"] = col(raw, "location").fillna(col(raw, "admin3"))
    out["notes"] = (col(raw, "event_type").fillna("") + " / " + col(raw, "sub_event_type").fillna("")
                    + col(raw, "admin3").map(lambda a: f"; admin3={a}", na_action="ignore").fillna(""))
    out["_row_key"] = col(raw, "event_id_cnty").fillna(textio.line_key(s.sha256, raw["ingest_row"]))
    unknown = out["country_iso3"].isna() & col(raw, "country").notna()
    return _finish_events(s, table, raw, out, unknown, col(raw, "country"))


def _finish_events(s: Sniff, table, raw: pd.DataFrame, out: pd.DataFrame, unknown: pd.Series,
                   country: pd.Series) -> ReadResult:
    """Rows naming a country the ISO3 table lacks are set aside; the rest go through finalize."""
    pre = list(table.rejected)
    if unknown.any():
        for line, c in zip(raw.loc[unknown, "ingest_row"], country[unknown]):
            pre.append(Rejection(str(s.path), int(line), "country", "country",
                                 f"country name {c!r} is not in the ISO3 table", c))
        out = out.loc[~unknown]
    cols = {"value_best": "fatalities", "period_start": "event_date", "period_end": "event_date",
            "date_precision": "time_precision", "country_iso3": "country"}
    return textio.finalize_parts([(out, cols)], fmt="acled-events", path=s.path, sha256=s.sha256,
                                 rows_read=table.rows_read, extra_rejections=pre)


# The same mapping as _read_events_reference, computed once per distinct value (or distinct combination
# of values) of the columns it reads and expanded by category codes: a million-row export repeats a few
# thousand dates, countries and event types, so the mapping costs what those cost, and base.finalize
# gets category columns whose checks also run once per distinct value.

def _codes(raw: pd.DataFrame, name: str) -> tuple[np.ndarray, pd.Series]:
    """Category codes (-1 = NA) of a column and its distinct values, cleaned as textio.col cleans them."""
    if name not in raw.columns:
        return np.full(len(raw), -1, dtype=np.int8), pd.Series([], dtype="string")
    series = raw[name]
    if not isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype("string").astype("category")
    cats = pd.Series(np.asarray(series.cat.categories, dtype=object), dtype=object)
    return series.cat.codes.to_numpy(), col(pd.DataFrame({name: cats}), name)


def _expand(codes: np.ndarray, values, index) -> pd.Series:
    """A category series: row i holds values[codes[i]] (NA where codes[i] == -1 or the value is NA)."""
    vcodes, uniques = pd.factorize(np.asarray(pd.array(values, dtype="string").to_numpy(dtype=object, na_value=None),
                                              dtype=object), use_na_sentinel=True)
    vcodes = np.append(vcodes, -1)
    new = vcodes[np.where(codes < 0, len(vcodes) - 1, codes)]
    cat = pd.Categorical.from_codes(new, categories=pd.Index(list(uniques), dtype=object))
    return pd.Series(cat, index=index)


def _combine(*code_arrays: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Row codes of distinct combinations, and for each input, its code in each distinct combination."""
    combined = np.zeros(len(code_arrays[0]), dtype=np.int64)
    for c in code_arrays:
        width = int(c.max()) + 2 if len(c) else 1
        combined = combined * width + (c.astype(np.int64) + 1)
    codes, uniques = pd.factorize(combined)
    parts, rest = [], np.asarray(uniques, dtype=np.int64)
    for c in reversed(code_arrays):
        width = int(c.max()) + 2 if len(c) else 1
        parts.append(rest % width - 1)
        rest = rest // width
    return codes, parts[::-1]


def _at(values: pd.Series, codes: np.ndarray) -> pd.Series:
    """values[codes] with NA for -1, as a string series."""
    arr = pd.array(list(values.to_numpy(dtype=object, na_value=None)) + [None], dtype="string")
    return pd.Series(arr.take(np.where(codes < 0, len(arr) - 1, codes)), dtype="string")


def _const(value: str, index) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(np.zeros(len(index), dtype=np.int8), categories=pd.Index([value],
                                                                                                     dtype=object)),
                     index=index)


def _read_events(s: Sniff) -> ReadResult:
    table = textio.read_table(s, usecols=EVENT_COLS, categorical=True, keys=("event_id_cnty",))
    raw = table.frame
    textio.require_columns(s.path, table.header, sorted(EVENT_NEEDED), "an ACLED event export")
    idx = raw.index
    out = pd.DataFrame({"ingest_row": raw["ingest_row"]})
    for name, value in (("source_id", "acled"), ("source_org", "ACLED"), ("source_title", EVENTS_TITLE),
                        ("source_url", URL), ("metric", "killed"), ("basis", "flow"), ("unit", "people"),
                        ("qualifier", "exact"), ("role", "recommended")):
        out[name] = _const(value, idx)
    c_civ, v_civ = _codes(raw, "civilian_targeting")  # a non-blank civilian_targeting -> civilians
    out["population"] = _expand(np.where(c_civ < 0, len(v_civ), c_civ),
                                ["civilians" if pd.notna(v) else "all" for v in v_civ] + ["all"], idx)
    c_fat, v_fat = _codes(raw, "fatalities")
    out["value_best"] = _expand(c_fat, v_fat, idx)

    # dates: the reference's own code over each distinct (event_date, time_precision) pair
    c_date, v_date = _codes(raw, "event_date")
    c_prec, v_prec = _codes(raw, "time_precision")
    pair, (u_date, u_prec) = _combine(c_date, c_prec)
    periods = _periods(_at(v_date, u_date), _at(v_prec, u_prec))
    for name in ("date_precision", "period_start", "period_end"):
        out[name] = _expand(pair, periods[name], idx)

    # country: iso3 when given, else the country name's
    c_iso, v_iso = _codes(raw, "iso3")
    c_cty, v_cty = _codes(raw, "country")
    pair, (u_iso, u_cty) = _combine(c_iso, c_cty)
    iso_text = _at(v_iso, u_iso)
    cty_text = _at(v_cty, u_cty)
    iso3 = (iso_text.str.upper() if "iso3" in raw.columns else iso_text).fillna(country_iso3(cty_text))
    out["country_iso3"] = _expand(pair, iso3, idx)
    unknown_pair = (iso3.isna() & cty_text.notna()).to_numpy(dtype=bool)
    unknown = pd.Series(unknown_pair[pair], index=idx)

    c_a1, v_a1 = _codes(raw, "admin1")
    out["admin1_name"] = _expand(c_a1, v_a1, idx)
    c_a2, v_a2 = _codes(raw, "admin2")
    out["admin2_name"] = _expand(c_a2, v_a2, idx)
    c_a3, v_a3 = _codes(raw, "admin3")
    c_loc, v_loc = _codes(raw, "location")
    pair, (u_loc, u_a3) = _combine(c_loc, c_a3)
    out["place"] = _expand(pair, _at(v_loc, u_loc).fillna(_at(v_a3, u_a3)), idx)
    c_et, v_et = _codes(raw, "event_type")
    c_se, v_se = _codes(raw, "sub_event_type")
    triple, (u_et, u_se, u_a3) = _combine(c_et, c_se, c_a3)
    admin3 = _at(v_a3, u_a3)
    notes = (_at(v_et, u_et).fillna("") + " / " + _at(v_se, u_se).fillna("")
             + admin3.map(lambda a: f"; admin3={a}", na_action="ignore").fillna(""))
    out["notes"] = _expand(triple, notes, idx)

    key = raw["event_id_cnty"].astype("string").str.strip()
    key = key.where(key != "", pd.NA)
    if key.isna().any():
        key = key.fillna(textio.line_key(s.sha256, raw["ingest_row"]))
    out["_row_key"] = key
    country = _at(v_cty, c_cty) if unknown.any() else pd.Series(pd.NA, index=idx, dtype="string")
    country.index = idx
    return _finish_events(s, table, raw, out, unknown, country)


# ------------------------------------------------------------------------------------ event CSV, bulk

def bulk_spec(ctx):
    """The event mapping above as SQL for pipeline/sources/bulk.py (large plain CSVs, in DuckDB): the
    same columns, with dates and countries mapped by the same Python code once per distinct value."""
    from pipeline.sources.bulk import Spec, lit

    def periods(f: pd.DataFrame) -> pd.DataFrame:
        return _periods(textio.clean(f["k0"]), textio.clean(f["k1"]))

    def countries(f: pd.DataFrame) -> pd.DataFrame:
        iso_text, cty_text = textio.clean(f["k0"]), textio.clean(f["k1"])
        iso3 = (iso_text.str.upper() if ctx.has("iso3") else iso_text).fillna(country_iso3(cty_text))
        unknown = iso3.isna() & cty_text.notna()
        message = [f"country name {c!r} is not in the ISO3 table" if u else None for c, u in zip(cty_text, unknown)]
        return pd.DataFrame({"iso3": iso3, "unknown": unknown.astype(bool),
                             "message": pd.array(message, dtype="string"), "country": cty_text})

    precision, start, end = ctx.lookup([ctx.raw("event_date"), ctx.raw("time_precision")],
                                       ["date_precision", "period_start", "period_end"], periods)
    iso3, unknown, message, country = ctx.lookup([ctx.raw("iso3"), ctx.raw("country")],
                                                 ["iso3", "unknown", "message", "country"], countries)
    exprs = {name: lit(value) for name, value in (
        ("source_id", "acled"), ("source_org", "ACLED"), ("source_title", EVENTS_TITLE), ("source_url", URL),
        ("metric", "killed"), ("basis", "flow"), ("unit", "people"), ("qualifier", "exact"), ("role", "recommended"))}
    def population_and_figure(f: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"population": pd.array(["all" if pd.isna(v) else "civilians"
                                                     for v in textio.clean(f["k0"])], dtype="string"),
                             "fatalities": textio.clean(f["k1"])})

    def place(f: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"place": textio.clean(f["k0"]).fillna(textio.clean(f["k1"]))})

    def notes(f: pd.DataFrame) -> pd.DataFrame:
        admin3 = textio.clean(f["k2"])
        return pd.DataFrame({"notes": textio.clean(f["k0"]).fillna("") + " / " + textio.clean(f["k1"]).fillna("")
                             + admin3.map(lambda a: f"; admin3={a}", na_action="ignore").fillna("")})

    population, fatalities = ctx.lookup([ctx.raw("civilian_targeting"), ctx.raw("fatalities")],
                                        ["population", "fatalities"], population_and_figure)
    exprs.update({
        "population": population,
        "value_best": fatalities,
        "date_precision": precision, "period_start": start, "period_end": end,
        "country_iso3": iso3,
        "admin1_name": ctx.col("admin1"), "admin2_name": ctx.col("admin2"),
        "place": ctx.lookup([ctx.raw("location"), ctx.raw("admin3")], ["place"], place)[0],
        "notes": ctx.lookup([ctx.raw("event_type"), ctx.raw("sub_event_type"), ctx.raw("admin3")], ["notes"], notes)[0],
    })
    return Spec(
        exprs=exprs,
        row_key=f"coalesce({ctx.key('event_id_cnty')}, {textio.line_key_sql(ctx.sha256, 'r.line')})",
        source_cols={"value_best": "fatalities", "period_start": "event_date", "period_end": "event_date",
                     "date_precision": "time_precision", "country_iso3": "country"},
        pre=[(unknown, "country", "country", message, country)],  # the country as written, stripped
    ), "acled-events"


BULK_COLUMNS = EVENT_COLS
