"""Shared last step of every reader: coerce types, apply the row rules, split good rows from bad.

A reader maps its format onto canonical column names but leaves the values as the file gave them
(strings), together with `ingest_row` (the file's own line number, header = line 1) and `_row_key`
(the source's own key for the row). `finalize` does the rest in vectorised pandas, so every reader
reports errors the same way and names the *source's* column in each message.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import schema
from pipeline.expectations import pcodes
from pipeline.schema import Rejection, ReadResult

NUMERIC = ("value_low", "value_best", "value_high", "household_size")
DATES = ("published_on", "period_start", "period_end")
# the dates a figure of this pipeline can have: a year typed wrong (1019, 2919) is set aside, not stored to
# break the validation's timestamps (pandas' nanoseconds end in 1677 and 2262); UNHCR's series begin in 1951
DATE_RANGE = ("1900-01-01", "2099-12-31")
DATE_RANGE_MESSAGE = "expected a date between 1900 and 2099"
# people, households, movements and deaths are counted in whole numbers: "1.234" written for 1,234 (a dot
# between thousands) would otherwise be read as one person and a fraction
WHOLE_NUMBER_MESSAGE = ("expected a whole number (a count; for thousands write 1234 or 1,234: a dot is read as a "
                        "decimal point)")


def per_unique(series: pd.Series, func) -> pd.Series:
    """Apply a text function once per distinct value (NA stays NA): pandas' .str methods loop in Python
    over every row, which dominates on million-row inputs whose columns repeat a few values."""
    if isinstance(series.dtype, pd.CategoricalDtype):  # textio.read_table(categorical=True): codes given
        codes, uniques = series.cat.codes.to_numpy(), series.cat.categories
    else:
        codes, uniques = pd.factorize(series.astype("string"), use_na_sentinel=True)
    mapped = pd.array([func(str(u)) for u in np.asarray(uniques, dtype=object)] + [pd.NA], dtype="string")
    return pd.Series(mapped.take(np.where(codes < 0, len(uniques), codes)), index=series.index)


def obs_ids(source_ids: pd.Series, keys: pd.Series) -> list[str]:
    """schema.make_obs_id over two columns: the same ids, by DuckDB's sha256 (in parallel, without a
    Python call per row) on large frames."""
    if len(keys) < 20_000 or source_ids.isna().any() or keys.isna().any():  # NA: make_obs_id spells it out
        return [schema.make_obs_id(s, k) for s, k in zip(source_ids.tolist(), keys.tolist())]
    import duckdb

    con = duckdb.connect()
    try:
        pair = pd.DataFrame({"s": source_ids.to_numpy(dtype=object), "k": keys.to_numpy(dtype=object)})
        con.register("pair", pair)
        out = con.execute("SELECT substr(sha256(s || chr(31) || k), 1, 20) AS id FROM pair").fetchnumpy()["id"]
    finally:
        con.close()
    return list(out)


def _by_code(series: pd.Series, per_category, na_value) -> pd.Series | None:
    """For a category series: per_category(categories as a string series) -> values, expanded by code
    (na_value where the row is NA). None for other dtypes."""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        return None
    cats = pd.Series(np.asarray(series.cat.categories, dtype=object), dtype=object).astype("string")
    values = per_category(cats)
    arr = values.array if isinstance(values, pd.Series) else values
    codes = series.cat.codes.to_numpy()
    full = arr._concat_same_type([arr, pd.array([na_value], dtype=arr.dtype)]) if hasattr(arr, "_concat_same_type") \
        else np.append(arr, na_value)
    return pd.Series(full.take(np.where(codes < 0, len(cats), codes)), index=series.index)


def _blank(series: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return series.isna()
    fast = _by_code(series, lambda c: np.asarray([v.strip() == "" for v in c], dtype=bool), True)
    if fast is not None:
        return fast
    return series.isna() | (per_unique(series, str.strip) == "").fillna(True).astype(bool)


# a comma is read as a thousands separator only between groups of three digits: "1,5" (a decimal comma?)
# or "1,2,3" is not a number, rather than 15 or 123
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
# a date, or a date and a time of day (the time is dropped): "2023-11-06", "2023-11-06T11:00:00.000Z"
DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?")


def _number_text(value: str) -> str:
    v = value.strip()
    return v.replace(",", "") if "," in v and _GROUPED.fullmatch(v) else v


def _finite(numbers: pd.Series) -> pd.Series:
    """Infinity ("inf", "1e400", JSON's Infinity) and NaN text are not figures: NA, so finalize sets them aside."""
    values = numbers.to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(values) & ~numbers.isna().to_numpy()
    return numbers.mask(pd.Series(bad, index=numbers.index), pd.NA) if bad.any() else numbers


def to_number(series: pd.Series) -> pd.Series:
    """Text or numbers as Float64 figures: a comma only between groups of three digits (`_number_text`),
    NA for anything that is not a finite number. Shared by every reader (and the bulk route's lookups)."""
    if pd.api.types.is_numeric_dtype(series):
        return _finite(series.astype("Float64"))
    fast = _by_code(series, to_number, pd.NA)
    if fast is not None:
        return fast
    text = per_unique(series, _number_text)
    return _finite(pd.to_numeric(text, errors="coerce").astype("Float64"))


def _date_text(value: str) -> str | None:
    m = DATE_TIME.fullmatch(value.strip())
    return m.group(1) if m else None


def _to_date(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("datetime64[s]")
    fast = _by_code(series, _to_date, pd.NaT)
    if fast is not None:
        return fast
    text = per_unique(series, _date_text)
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")


def _matches(series: pd.Series, pattern_for, key: pd.Series | None = None) -> pd.Series:
    """Full match of stripped text against pattern_for(key) (NA -> False), evaluated once per distinct
    (key, value) pair: a million-row column of codes has a few hundred distinct values."""
    import re

    import numpy

    if key is None:
        fast = _by_code(series, lambda c: numpy.asarray([re.fullmatch(pattern_for(""), v.strip()) is not None
                                                          for v in c], dtype=bool), False)
        if fast is not None:
            return fast
    text = series.astype("string")
    keys = key if key is not None else pd.Series("", index=series.index, dtype="string")
    pairs = pd.MultiIndex.from_arrays([keys.fillna("").astype(object), text.astype(object)])
    codes, uniques = pd.factorize(pairs)
    ok = [isinstance(v, str) and re.fullmatch(pattern_for(k), v.strip()) is not None for k, v in uniques]
    ok.append(False)
    return pd.Series(numpy.asarray(ok, dtype=bool)[numpy.where(codes < 0, len(ok) - 1, codes)], index=series.index)


class _Collector:
    def __init__(self, frame: pd.DataFrame, file: str, source_cols: dict[str, str]):
        self.frame = frame
        self.file = file
        self.source_cols = source_cols
        self.bad = pd.Series(False, index=frame.index)
        self.rejections: list[Rejection] = []

    def flag(self, mask: pd.Series, column: str, rule: str, message: str, values: pd.Series | None = None):
        mask = mask.fillna(False).astype(bool) & ~self.bad  # report each row once, at its first fault
        if not mask.any():
            return
        col = self.source_cols.get(column, column)
        lines = self.frame.loc[mask, "ingest_row"]
        vals = (values if values is not None else self.frame.get(column, pd.Series(pd.NA, index=self.frame.index)))
        vals = vals.loc[mask]
        for line, val in zip(lines.tolist(), vals.tolist()):
            shown = None if val is None or val is pd.NA or (isinstance(val, float) and pd.isna(val)) else str(val)[:200]
            self.rejections.append(Rejection(self.file, int(line) if pd.notna(line) else None, col, rule, message, shown))
        self.bad |= mask


def finalize(
    raw: pd.DataFrame,
    *,
    fmt: str,
    path: str | Path,
    sha256: str,
    source_cols: dict[str, str] | None = None,
    rows_read: int | None = None,
    extra_rejections: list[Rejection] | None = None,
) -> ReadResult:
    """Turn a reader's raw canonical frame into validated observations and rejections."""
    file = str(path)
    source_cols = source_cols or {}
    frame = raw.copy(deep=False)  # copy-on-write: the reader's frame is never changed
    added = [name for name in schema.COLUMN_NAMES if name not in frame.columns]
    none = pd.Categorical.from_codes(np.full(len(frame), -1, dtype=np.int8), categories=pd.Index([], dtype=object))
    for name in added:  # all NA; as categories, each check below costs nothing per row
        frame[name] = pd.Series(none, index=frame.index)
    c = _Collector(frame, file, source_cols)

    # required text fields present
    for name in ("source_id", "source_org", "metric", "basis", "unit", "country_iso3"):
        c.flag(_blank(frame[name]), name, "required", f"a value is required in {source_cols.get(name, name)}")

    # numbers: text in a number column, negatives
    nums = {}
    for name in NUMERIC:
        parsed = to_number(frame[name])
        c.flag(~_blank(frame[name]) & parsed.isna(), name, "number", "expected a number", frame[name])
        nums[name] = parsed
    c.flag(nums["value_best"].isna() & _blank(frame["value_best"]), "value_best", "required", "a figure is required")
    for name in ("value_low", "value_best", "value_high"):
        c.flag(nums[name] < 0, name, "non_negative", "expected a figure of zero or more", frame[name])
    for name in ("value_low", "value_best", "value_high"):
        c.flag(nums[name] % 1 != 0, name, "whole_number", WHOLE_NUMBER_MESSAGE, frame[name])

    # dates: impossible or malformed, missing, end before start
    dates = {}
    for name in DATES:
        parsed = _to_date(frame[name])
        c.flag(~_blank(frame[name]) & parsed.isna(), name, "date", "expected a real date as YYYY-MM-DD", frame[name])
        c.flag((parsed < pd.Timestamp(DATE_RANGE[0])) | (parsed > pd.Timestamp(DATE_RANGE[1])), name, "date_range",
               DATE_RANGE_MESSAGE, frame[name])
        dates[name] = parsed
    for name in ("period_start", "period_end"):
        c.flag(dates[name].isna(), name, "required", "a date is required")
    c.flag(dates["period_end"] < dates["period_start"], "period_end", "period_order",
           "the end date is before the start date", frame["period_end"])

    # vocabularies (qualifier first mapped from publishers' words)
    q_codes, q_uniques = pd.factorize(frame["qualifier"].astype("object"), use_na_sentinel=True)
    q_map = [schema.normalise_qualifier(u) for u in q_uniques] + [schema.normalise_qualifier(None)]
    frame["qualifier"] = pd.Series(pd.array(q_map, dtype="object").take(np.where(q_codes < 0, len(q_uniques),
                                                                                q_codes)), index=frame.index)
    for name, vocab in schema.VOCABULARIES.items():
        c.flag(~frame[name].isin(vocab), name, "vocabulary", f"expected one of: {', '.join(vocab)}")

    # codes: ISO 3166 alpha-3 countries, P-codes shaped as the country's (pipeline/expectations/pcodes.py)
    for name in ("country_iso3", "origin_iso3"):
        c.flag(~_blank(frame[name]) & ~_matches(frame[name], lambda _: pcodes.ISO3_KNOWN), name, "country_code",
               "expected an ISO 3166 alpha-3 country code such as SYR")
    country = frame["country_iso3"].astype("string").fillna("")
    for level, name in ((1, "admin1_code"), (2, "admin2_code")):
        present = ~_blank(frame[name])
        if present.any():
            c.flag(present & ~_matches(frame[name], lambda iso3: pcodes.pattern(iso3, level), country), name, "pcode",
                   f"expected an admin{level} P-code shaped as the country's (such as "
                   f"{'SY07' if level == 1 else 'SY0703'} in Syria)")
    both = ~_blank(frame["admin1_code"]) & ~_blank(frame["admin2_code"])
    if both.any():
        pairs = frame.loc[both, ["admin1_code", "admin2_code"]].astype("string")
        nested = pd.Series(True, index=frame.index)
        nested[both] = [b.strip().startswith(a.strip()) for a, b in zip(pairs["admin1_code"], pairs["admin2_code"])]
        c.flag(~nested, "admin2_code", "pcode_nesting", "the admin2 P-code does not start with its admin1 P-code")

    # bounds from qualifier where the source gave none
    best = nums["value_best"]
    low, high = nums["value_low"], nums["value_high"]
    q = frame["qualifier"]
    lower_q = q.isin(["exact", "at_least", "more_than"])
    upper_q = q.isin(["exact", "up_to", "less_than"])
    low = low.where(low.notna() | ~lower_q, best)
    high = high.where(high.notna() | ~upper_q, best)
    low = low.where(low.notna() | ~q.isin(["up_to", "less_than"]), 0.0)
    c.flag((low > best) | (best > high), "value_best", "bounds", "expected value_low <= value_best <= value_high", best)
    nums.update(value_low=low, value_high=high)

    good = ~c.bad
    everything = bool(good.all())
    out = frame.copy(deep=False) if everything else frame.loc[good]
    for name, s in nums.items():
        out[name] = s if everything else s.loc[good]
    for name, s in dates.items():
        out[name] = s if everything else s.loc[good]
    for name in added:  # a column the reader did not give leaves as it always has: plain NA
        if name not in nums and name not in dates and name != "qualifier":
            out[name] = pd.NA
    out["ingest_file"] = Path(file).name
    out["ingest_sha256"] = sha256
    key = out["_row_key"].astype("string") if "_row_key" in out.columns else out["ingest_row"].astype("string")
    out["obs_id"] = obs_ids(out["source_id"].astype(str), key.astype(str))
    observations = schema.conform(out)
    rejections = sorted((extra_rejections or []) + c.rejections, key=lambda r: (r.line or 0, r.column or ""))
    return ReadResult(
        format=fmt,
        file=file,
        rows_read=len(frame) if rows_read is None else rows_read,
        observations=observations,
        rejected=rejections,
    )
