"""A sensor on the inbox (data/inbox/, DISPLACEMENT_INBOX): one rebuild per new or changed file, exactly once.

Each file's content is hashed (SHA-256) and the hash is the run key, so the same bytes never start a
second run, whatever the file is called or however often it is touched. The cursor keeps the hashes
already requested and, per file name, the (size, mtime) last seen, so unchanged files are not re-read
on every tick.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from pipeline.ingest import DEFAULT_FILES, inbox_dir, input_files

MAX_REMEMBERED = 10_000  # hashes kept in the cursor; far more files than an inbox ever sees


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load(cursor: str | None) -> tuple[dict, list[str]]:
    if not cursor:
        return {}, []
    data = json.loads(cursor)
    return data.get("files", {}), data.get("seen", [])


def evaluate_inbox(cursor: str | None, inbox: Path | None = None) -> tuple[list[dg.RunRequest], str, list[str]]:
    """(run requests, new cursor, log lines) for the inbox as it is now. Plain function, easy to test."""
    inbox = inbox or inbox_dir()
    files, seen = _load(cursor)
    seen_set = set(seen)
    requests, notes, now_files = [], [], {}
    for path in input_files(inbox):
        if path in DEFAULT_FILES:
            continue
        try:
            st = path.stat()
        except FileNotFoundError:  # removed between listing and reading
            continue
        stamp = [st.st_size, st.st_mtime_ns]
        known = files.get(path.name)
        if known and known[:2] == stamp:
            now_files[path.name] = known
            continue
        try:
            sha = file_sha256(path)
        except OSError as exc:
            notes.append(f"{path.name}: cannot read ({exc}); will try again")
            continue
        now_files[path.name] = [*stamp, sha]
        if sha in seen_set:
            notes.append(f"{path.name}: content {sha[:12]} already requested; no new run")
            continue
        seen_set.add(sha)
        seen.append(sha)
        notes.append(f"{path.name}: new content {sha[:12]}; requesting a rebuild")
        requests.append(dg.RunRequest(run_key=sha, tags={"displacement/inbox_file": path.name,
                                                        "displacement/sha256": sha}))
    new_cursor = json.dumps({"files": now_files, "seen": seen[-MAX_REMEMBERED:]}, sort_keys=True)
    return requests, new_cursor, notes


def make_inbox_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="inbox_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="One rebuild per new or changed file in the inbox (DISPLACEMENT_INBOX), keyed by its SHA-256.",
    )
    def inbox_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        requests, cursor, notes = evaluate_inbox(context.cursor)
        for note in notes:
            context.log.info(note)
        return dg.SensorResult(run_requests=requests, cursor=cursor,
                               skip_reason=None if requests else f"no new content in {inbox_dir()}")

    return inbox_sensor
