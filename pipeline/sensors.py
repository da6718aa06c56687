"""A sensor on the inbox (data/inbox/, DISPLACEMENT_INBOX): one rebuild per new or changed file, exactly once.

Each file's content is hashed (SHA-256) and the hash is the run key, so the same bytes never start a
second run, whatever the file is called or however often it is touched. The cursor keeps the hashes
already requested and, per file name, the (size, mtime) last seen, so unchanged files are not re-read
on every tick. Content the warehouse already holds (the daily run fetched it into the inbox and read it)
starts no second run: the latest `observations` materialization lists the hashes it read; while a daily
run is under way, the sensor waits, since the files it is fetching are not read yet.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
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


def evaluate_inbox(cursor: str | None, inbox: Path | None = None, ingested: set[str] = frozenset()
                   ) -> tuple[list[dg.RunRequest], str, list[str]]:
    """(run requests, new cursor, log lines) for the inbox as it is now. Plain function, easy to test.

    `ingested`: hashes the warehouse already holds (a run, e.g. the daily fetch, read them): no run."""
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
        if sha in ingested:
            seen_set.add(sha)
            seen.append(sha)
            notes.append(f"{path.name}: content {sha[:12]} already in the warehouse; no new run")
            continue
        seen_set.add(sha)
        seen.append(sha)
        notes.append(f"{path.name}: new content {sha[:12]}; requesting a rebuild")
        requests.append(dg.RunRequest(run_key=sha, tags={"displacement/inbox_file": path.name,
                                                        "displacement/sha256": sha}))
    new_cursor = json.dumps({"files": now_files, "seen": seen[-MAX_REMEMBERED:]}, sort_keys=True)
    return requests, new_cursor, notes


def ingested_hashes(instance: dg.DagsterInstance | None) -> set[str]:
    """The input hashes of the latest materialization of `observations` (its `input_sha256` metadata)."""
    if instance is None:
        return set()
    event = instance.get_latest_materialization_event(dg.AssetKey("observations"))
    materialization = event.asset_materialization if event else None
    entry = materialization.metadata.get("input_sha256") if materialization else None
    data = getattr(entry, "data", None) or {}
    return {v for v in data.values() if isinstance(v, str)}


# a run of these jobs fetches into the inbox, then reads the inbox: while one is under way, what it writes there
# is its own to read, and the sensor waits (a daily fetch takes longer than the sensor's 30 s interval)
FETCHING_JOBS = ("daily",)
UNDER_WAY = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


# a fetching run older than this no longer holds the sensor back: a run whose launch failed (NOT_STARTED) or
# whose process was killed (STARTED) stays in that status for good without run monitoring, and would
# otherwise stop every inbox build
FETCH_HOLD_HOURS = 6


def fetching_run(instance: dg.DagsterInstance | None, now: datetime | None = None) -> str | None:
    """The id of a run under way that fetches into the inbox and began in the last FETCH_HOLD_HOURS, if any."""
    if instance is None:
        return None
    since = (now or datetime.now(timezone.utc)) - timedelta(hours=FETCH_HOLD_HOURS)
    for job_name in FETCHING_JOBS:
        records = instance.get_run_records(dg.RunsFilter(job_name=job_name, statuses=UNDER_WAY, created_after=since),
                                           limit=1)
        if records:
            return records[0].dagster_run.run_id
    return None


def make_inbox_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="inbox_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="One rebuild per new or changed file in the inbox (DISPLACEMENT_INBOX), keyed by its SHA-256.",
    )
    def inbox_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        busy = fetching_run(context.instance)
        if busy:  # the cursor stays: once that run ends, what it read is skipped and anything else is requested
            return dg.SensorResult(cursor=context.cursor, skip_reason=f"run {busy[:8]} is fetching into "
                                   f"{inbox_dir()} and reads what it writes there; waiting for it to end")
        requests, cursor, notes = evaluate_inbox(context.cursor, ingested=ingested_hashes(context.instance))
        for note in notes:
            context.log.info(note)
        return dg.SensorResult(run_requests=requests, cursor=cursor,
                               skip_reason=None if requests else f"no new content in {inbox_dir()}")

    return inbox_sensor
