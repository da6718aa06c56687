"""The canonical observation table: one row = one figure, by one source, about one place and period.

Everything downstream reads only this table, so a new source needs a reader and nothing else.
The column list, vocabularies and row rules live here once; readers, the Great Expectations
suites, the DuckDB DDL and `displacement validate` are all generated from it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

# column -> (pandas dtype, DuckDB type, required?)
COLUMNS: dict[str, tuple[str, str, bool]] = {
    "obs_id": ("string", "VARCHAR", True),
    "source_id": ("string", "VARCHAR", True),
    "source_org": ("string", "VARCHAR", True),
    "source_title": ("string", "VARCHAR", False),
    "source_url": ("string", "VARCHAR", False),
    "published_on": ("datetime64[s]", "DATE", False),
    "metric": ("string", "VARCHAR", True),
    "basis": ("string", "VARCHAR", True),
    "population": ("string", "VARCHAR", True),
    "unit": ("string", "VARCHAR", True),
    "household_size": ("Float64", "DOUBLE", False),
    "value_low": ("Float64", "DOUBLE", False),
    "value_best": ("Float64", "DOUBLE", True),
    "value_high": ("Float64", "DOUBLE", False),
    "qualifier": ("string", "VARCHAR", True),
    "period_start": ("datetime64[s]", "DATE", True),
    "period_end": ("datetime64[s]", "DATE", True),
    "date_precision": ("string", "VARCHAR", True),
    "country_iso3": ("string", "VARCHAR", True),
    "admin1_code": ("string", "VARCHAR", False),
    "admin1_name": ("string", "VARCHAR", False),
    "admin2_code": ("string", "VARCHAR", False),
    "admin2_name": ("string", "VARCHAR", False),
    "place": ("string", "VARCHAR", False),
    "origin_iso3": ("string", "VARCHAR", False),
    "origin_admin1_code": ("string", "VARCHAR", False),
    "origin_admin1_name": ("string", "VARCHAR", False),
    "role": ("string", "VARCHAR", True),
    "notes": ("string", "VARCHAR", False),
    "ingest_file": ("string", "VARCHAR", True),
    "ingest_row": ("Int64", "BIGINT", True),
    "ingest_sha256": ("string", "VARCHAR", True),
}
COLUMN_NAMES = list(COLUMNS)
REQUIRED = [c for c, (_, _, req) in COLUMNS.items() if req]

METRICS = ("displaced", "returned", "idps_present", "refugees", "asylum_seekers", "killed", "injured", "events")
BASES = ("flow", "cumulative", "stock")
POPULATIONS = ("all", "civilians", "children", "women")
UNITS = ("people", "households", "movements", "events")
QUALIFIERS = ("exact", "approximately", "at_least", "more_than", "up_to", "less_than", "estimated")
DATE_PRECISIONS = ("day", "week", "month", "year")
ROLES = ("recommended", "triangulation")

VOCABULARIES: dict[str, tuple[str, ...]] = {
    "metric": METRICS,
    "basis": BASES,
    "population": POPULATIONS,
    "unit": UNITS,
    "qualifier": QUALIFIERS,
    "date_precision": DATE_PRECISIONS,
    "role": ROLES,
}

# Words publishers use, mapped onto the canonical qualifier (IDMC Helix's quantifiers, widened).
QUALIFIER_WORDS: dict[str, str] = {
    "": "exact",
    "exact": "exact",
    "total": "exact",
    "recorded": "exact",
    "documented": "exact",
    "approximately": "approximately",
    "approx": "approximately",
    "about": "approximately",
    "around": "approximately",
    "some": "approximately",
    "nearly": "approximately",
    "almost": "approximately",
    "roughly": "approximately",
    "estimated": "estimated",
    "est": "estimated",
    "at least": "at_least",
    "at_least": "at_least",
    "more than": "more_than",
    "more_than": "more_than",
    "over": "more_than",
    "up to": "up_to",
    "up_to": "up_to",
    "less than": "less_than",
    "less_than": "less_than",
    "fewer than": "less_than",
}


def normalise_qualifier(word: object) -> str | None:
    """Map a publisher's qualifier ('More than', 'some', 'more than (unconfirmed)') to the vocabulary."""
    if word is None or (isinstance(word, float) and pd.isna(word)) or word is pd.NA:
        return "exact"
    text = str(word).strip().lower().replace("-", " ")
    if "(" in text:  # "more than (unconfirmed)": the bracket is a note, not a qualifier
        text = text.split("(", 1)[0].strip()
    return QUALIFIER_WORDS.get(text)


# how a qualifier reads in front of a figure on the site ("more than 948,000"); an exact figure has no word
QUALIFIER_LABELS: dict[str, str] = {"exact": "", "more_than": "more than", "at_least": "at least",
                                    "approximately": "about", "estimated": "an estimated", "up_to": "up to",
                                    "less_than": "fewer than"}


def bounds_for(value: float, qualifier: str) -> tuple[float | None, float | None]:
    """Low and high bounds implied by a qualifier: 'more than 948,000' is a lower bound, no upper."""
    if qualifier == "exact":
        return value, value
    if qualifier in ("at_least", "more_than"):
        return value, None
    if qualifier in ("up_to", "less_than"):
        return 0.0, value
    return None, None  # approximately / estimated: the source gives no bound


def make_obs_id(source_id: str, row_key: str) -> str:
    """Stable id from (source, the source's own row key): re-ingesting a file never duplicates rows."""
    digest = hashlib.sha256(f"{source_id}\x1f{row_key}".encode()).hexdigest()
    return digest[:20]


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Rejection:
    """One input row set aside: where it is (file's own line, header = line 1), which column, and why."""

    file: str
    line: int | None
    column: str | None
    rule: str
    message: str
    value: str | None = None

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "message": self.message,
            "value": self.value,
        }


@dataclass
class ReadResult:
    """What a reader returns: canonical observations, the rows set aside, and the counts that reconcile."""

    format: str
    file: str
    rows_read: int
    observations: pd.DataFrame
    rejected: list[Rejection] = field(default_factory=list)
    # what a rejection's `line` counts: a CSV's lines (header = line 1), or a JSON file's records (from 1)
    row_unit: str = "line"
    # header cells read under a reader's own name (case or separators apart): cell -> name
    renamed: dict[str, str] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        return len({(r.line, r.file) for r in self.rejected if r.line is not None}) + sum(
            1 for r in self.rejected if r.line is None
        )

    @property
    def rows_accepted(self) -> int:
        return self.rows_read - self.rows_rejected


class InputError(Exception):
    """A file that cannot be read at all: unknown format, unreadable, too large. One clear line."""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text for a terminal: control characters (an escape sequence in a header cell could retitle the
    window or hide what follows) shown as \\xNN instead of acted on."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def one_line(text: str) -> str:
    """printable, with line breaks shown too (\\x0a): a line of a report stays one line, whatever a file's
    name or a cell holds (a name with a line break in it could otherwise forge a line of the report)."""
    return printable(text).replace("\n", "\\x0a").replace("\r", "\\x0d")


def terminal_json(obj, **kw) -> str:
    """JSON for a terminal: json.dumps escapes C0 codes but leaves DEL and the C1 codes (U+009B opens an escape
    sequence on some terminals) as they are; here they are escaped as JSON allows (\\u009b)."""
    import json

    return re.sub(r"[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", json.dumps(obj, ensure_ascii=False, **kw))


def empty_observations() -> pd.DataFrame:
    return conform(pd.DataFrame({c: [] for c in COLUMN_NAMES}))


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a frame exactly the canonical columns, in order, with the canonical dtypes."""
    out = pd.DataFrame(index=frame.index)
    for name, (dtype, _, _) in COLUMNS.items():
        col = frame[name] if name in frame.columns else pd.Series(pd.NA, index=frame.index)
        if dtype.startswith("datetime"):
            out[name] = pd.to_datetime(col, errors="coerce").astype(dtype)
        else:
            out[name] = col.astype(dtype)
    return out.reset_index(drop=True)


def duckdb_ddl(table: str) -> str:
    cols = ",\n  ".join(f"{name} {ddb}" for name, (_, ddb, _) in COLUMNS.items())
    return f"CREATE OR REPLACE TABLE {table} (\n  {cols}\n)"


def parse_iso_date(text: object) -> date | None:
    """A strict YYYY-MM-DD (or a datetime starting so); None when absent or impossible."""
    if text is None or text is pd.NA or (isinstance(text, float) and pd.isna(text)):
        return None
    s = str(text).strip()[:10]
    try:
        return date.fromisoformat(s)
    except ValueError:
        return None
