"""The project's own curated facts CSV (data/default/figures.csv): published figures with provenance."""

from __future__ import annotations

import re

import pandas as pd

from pipeline.schema import QUALIFIER_LABELS, InputError, ReadResult, normalise_qualifier
from pipeline.sources import textio
from pipeline.sources.base import finalize
from pipeline.sources.textio import Sniff

FORMAT = "facts"
REQUIRED = ("fact_id", "metric", "basis", "unit", "value", "qualifier", "period_start", "period_end", "source_org")
SAME = ("metric", "basis", "population", "unit", "qualifier", "period_start", "period_end", "date_precision",
        "published_on", "country_iso3", "admin1_code", "admin1_name", "admin2_code", "admin2_name", "place",
        "origin_iso3", "role", "source_org", "source_title", "source_url", "notes", "household_size")
# every column the reader reads (see hapi.COLUMNS)
COLUMNS = set(REQUIRED) | set(SAME) | {"source_id", "value_low", "value_high", "place_as_published"}


def detect(s: Sniff) -> bool:
    return s.kind == "csv" and "fact_id" in s.header and "value" in s.header and "metric" in s.header


def source_id(org: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", org.lower()).strip("-")[:60]


def _own_word(word: str) -> bool:
    """Whether a qualifier as written says more than the pages show for it: "nearly" (shown as "about"), not
    "about", "more than" or a code of the vocabulary ("more_than", as `extract --csv` writes)."""
    code = normalise_qualifier(word)
    if code is None:
        return False  # not a qualifier at all: finalize sets the row aside, saying so
    shown = {code, code.replace("_", " "), QUALIFIER_LABELS.get(code, ""), "approx", "about"}
    return word.replace("_", " ") not in shown and word not in shown


def _add_note(out: pd.DataFrame, where: pd.Series, note: pd.Series) -> None:
    """Append `note` to the notes of the rows `where` holds ("own note; note")."""
    own = out["notes"] if "notes" in out.columns else pd.Series(pd.NA, index=out.index, dtype="string")
    out["notes"] = own.where(~where, (own + "; " + note).fillna(note))


def _gazetteer() -> dict[str, str]:
    """Each alias of the embedded gazetteer (lower case) to its place's name (lower case)."""
    import csv

    from pipeline.warehouse import DEFAULT_DIR

    with open(DEFAULT_DIR / "gazetteer.csv", newline="", encoding="utf-8") as fh:
        return {r["alias"].strip().lower(): r["name"].strip().lower() for r in csv.DictReader(fh)}


def read(s: Sniff) -> ReadResult:
    pre: list = []
    # a line over the limit is set aside, as read_table does, not left to stop the csv module's reading
    text = textio.set_aside_stray_returns(textio.set_aside_long_lines(s.text, s.path, pre), s.path, pre)
    header, rows = textio.csv_rows(text, s.path, rejected=pre)
    textio.unique_header(header, s.path)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"{s.path}: line 1: missing required column(s) {', '.join(missing)}")
    raw, wide = textio.wide_rows_set_aside(header, rows, s.path)  # a row wider than the header is set aside
    pre += wide
    out = pd.DataFrame({"ingest_row": raw["ingest_row"]})
    for col in SAME:
        if col in raw.columns:
            out[col] = raw[col].str.strip().replace("", pd.NA)
    if "place_as_published" in raw.columns:
        # the source's own words for where (and often what) it counted: "fourth de-escalation zone, by the
        # Syrian-Russian alliance" is narrower than the place the figure is filed under, so it goes with the
        # figure, in its notes, wherever the figure is shown
        wording = raw["place_as_published"].str.strip().replace("", pd.NA)
        place = out["place"] if "place" in out.columns else pd.Series(pd.NA, index=raw.index, dtype="string")
        names = _gazetteer()  # another spelling of the same place ("NW Syria") says nothing more
        said = wording.notna() & (wording.str.lower().map(names).fillna(wording.str.lower())
                                  != place.str.lower().map(names).fillna(place.str.lower())).fillna(True)
        _add_note(out, said, "place as published: " + wording)
    if "qualifier" in raw.columns:
        # "nearly", "almost", "some" are all approximate in the arithmetic and read "about" on the pages: the
        # source's own word goes with the figure, in its notes, so that it can be quoted as published
        word = raw["qualifier"].str.strip().str.lower().str.split("(", n=1).str[0].str.strip()
        own_word = (word.fillna("") != "") & word.map(_own_word, na_action="ignore").fillna(False).astype(bool)
        _add_note(out, own_word, "qualifier as published: " + raw["qualifier"].str.strip())
    out["value_best"] = raw["value"]
    for col in ("value_low", "value_high"):
        if col in raw.columns:
            out[col] = raw[col].replace("", pd.NA)
    out["population"] = out.get("population", pd.Series("all", index=raw.index)).fillna("all")
    out["role"] = out.get("role", pd.Series("recommended", index=raw.index)).fillna("recommended")
    out["date_precision"] = out.get("date_precision", pd.Series("day", index=raw.index)).fillna("day")
    given = raw["source_id"].str.strip().replace("", pd.NA) if "source_id" in raw.columns else None
    derived = out["source_org"].fillna("").map(source_id)
    out["source_id"] = derived if given is None else given.fillna(derived)
    out["_row_key"] = raw["fact_id"]
    return finalize(out, fmt=FORMAT, path=s.path, sha256=s.sha256, rows_read=len(raw) + len(pre), extra_rejections=pre,
                    source_cols={"value_best": "value", "value_low": "value_low", "value_high": "value_high"})
