"""A JSON payload with no records at all: `[]`, or `{"results": []}` and the like. An API asked for what is
new since the last fetch answers so on a quiet day; without a record there is no telling whose format it
is, and nothing to read, so the file is read as no rows (as a CSV with only its header is), not refused.
Tried after every reader that knows its own wrapper (DTM's `{"result": []}` stays DTM's), before the HXL
fallback, which reads CSV only."""

from __future__ import annotations

from pipeline import schema
from pipeline.schema import ReadResult
from pipeline.sources import textio
from pipeline.sources.textio import Sniff

FORMAT = "json-no-records"


def detect(s: Sniff) -> bool:
    if s.kind != "json":
        return False
    obj = s.json_obj
    if isinstance(obj, list):
        return not obj
    # an object whose record list is empty; other keys (counts, paging) may stand beside it, but not an error:
    # {"success": false, "error": {...}, "data": []} is a refusal, not a quiet day (no reader takes it)
    return isinstance(obj, dict) and textio.json_list(obj, *textio.RECORD_WRAPPERS) == [] and not _failed(obj)


def _failed(obj: dict) -> bool:
    return bool(obj.get("error") or obj.get("errors") or obj.get("errorMessages")) or any(
        obj.get(k) is False for k in ("success", "isSuccess", "ok"))


def read(s: Sniff) -> ReadResult:
    return ReadResult(format=FORMAT, file=str(s.path), rows_read=0, observations=schema.empty_observations(),
                      row_unit="record")
