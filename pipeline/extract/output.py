"""Claims as JSON records, as the project's facts CSV (data/default/figures.csv layout), and into the inbox.

The CSV is read back by pipeline/sources/facts.py unchanged. Its layout has no value_low/value_high
columns: the reader derives the bounds from `qualifier` (schema.bounds_for), which is how the claims'
own bounds were made; a stated range keeps its high end in `notes` (and in the JSON).
Cells are written as plain text by the csv module; nothing read from an article is ever evaluated.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from datetime import date
from pathlib import Path

import pipeline
from pipeline.extract.claims import Claim

FACTS_COLUMNS = [
    "fact_id", "source_id", "metric", "basis", "population", "unit", "value", "qualifier", "period_start", "period_end",
    "date_precision", "published_on", "country_iso3", "admin1_code", "admin1_name", "place", "place_as_published",
    "role", "source_org", "source_title", "source_url", "notes",
]
REPO_ROOT = Path(pipeline.__file__).resolve().parents[1]


def source_id(org: str) -> str:
    """The same key the facts reader derives from source_org when source_id is blank."""
    return re.sub(r"[^a-z0-9]+", "-", (org or "").lower()).strip("-")[:60]


def article_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _num(v: float | None):
    if v is None:
        return None
    return int(v) if float(v).is_integer() else float(v)


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _plain(text: str) -> str:
    """One line of text; a leading = + - @ (spreadsheet formula) is neutralised with a space."""
    text = re.sub(r"\s+", " ", text or "").strip()
    return " " + text if text[:1] in ("=", "+", "-", "@") else text


def to_records(claims: list[Claim]) -> list[dict]:
    out = []
    for c in claims:
        out.append({
            "fact_id": c.fact_id,
            "value_best": _num(c.value_best),
            "value_low": _num(c.value_low),
            "value_high": _num(c.value_high),
            "metric": c.metric,
            "basis": c.basis,
            "population": c.population,
            "unit": c.unit,
            "household_size": c.household_size,
            "qualifier": c.qualifier,
            "period_start": _iso(c.period_start),
            "period_end": _iso(c.period_end),
            "date_precision": c.date_precision,
            "published_on": _iso(c.published_on),
            "place": c.place or None,
            "place_as_published": c.place_as_published or None,
            "admin1_code": c.admin1_code or None,
            "admin1_name": c.admin1_name or None,
            "country_iso3": c.country_iso3 or None,
            "source_id": source_id(c.source_org),
            "source_org": c.source_org,
            "source_title": c.source_title or None,
            "source_url": c.source_url or None,
            "role": c.role,
            "subset_of": c.subset_of_id or None,
            "evidence": {"text": c.evidence, "start": c.evidence_start, "end": c.evidence_end,
                         "number": c.number_text, "number_start": c.number_start, "number_end": c.number_end},
            "notes": list(c.notes),
        })
    return out


def _notes_cell(c: Claim) -> str:
    parts = [f"evidence [{c.evidence_start}:{c.evidence_end}]: \"{_plain(c.evidence).strip()}\""]
    parts += c.notes
    return re.sub(r"\s+", " ", "; ".join(parts))  # starts with "evidence": never a formula


def to_csv_text(claims: list[Claim]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FACTS_COLUMNS)
    for c in claims:
        w.writerow([
            c.fact_id, source_id(c.source_org), c.metric, c.basis, c.population, c.unit, _num(c.value_best), c.qualifier,
            _iso(c.period_start), _iso(c.period_end), c.date_precision, _iso(c.published_on), c.country_iso3,
            c.admin1_code, c.admin1_name, _plain(c.place), _plain(c.place_as_published), c.role,
            _plain(c.source_org), _plain(c.source_title), _plain(c.source_url), _notes_cell(c),
        ])
    return buf.getvalue()


def inbox_dir() -> Path:
    raw = os.environ.get("DISPLACEMENT_INBOX")
    return Path(raw).expanduser() if raw else REPO_ROOT / "data" / "inbox"


def inbox_name(article_path: Path, sha: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", article_path.stem).strip("-")[:60] or "article"
    return f"extract-{stem}-{sha[:12]}.csv"


def write_inbox(claims: list[Claim], article_path: Path, sha: str, directory: Path | None = None) -> Path:
    """Write the facts CSV into the inbox atomically (same article, same name, same bytes)."""
    directory = directory or inbox_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / inbox_name(article_path, sha)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(to_csv_text(claims), encoding="utf-8")
    os.replace(tmp, target)
    return target
