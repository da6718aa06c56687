"""The online sources, fetched into the inbox before the daily rebuild (only those with credentials)."""

import hashlib
import os
from pathlib import Path

import dagster as dg

FETCH_COUNTRY_ENV = "DISPLACEMENT_FETCH_COUNTRY"    # ISO3, default SYR
FETCH_SINCE_ENV = "DISPLACEMENT_FETCH_SINCE"        # YYYY-MM-DD, default 2019-01-01
FETCH_SOURCES_ENV = "DISPLACEMENT_FETCH_SOURCES"    # comma list to narrow the set; "none" fetches nothing


def plan() -> list[tuple[str, str]]:
    """(source, "") for each source to fetch, (source, why not) for each skipped one."""
    from pipeline.fetch import configured_sources

    wanted = os.environ.get(FETCH_SOURCES_ENV, "").strip()
    chosen = None if not wanted else {s.strip() for s in wanted.split(",") if s.strip() and s.strip() != "none"}
    out = []
    for status in configured_sources():
        if chosen is not None and status.name not in chosen:
            out.append((status.name, f"not listed in {FETCH_SOURCES_ENV}"))
        elif not status.ready:
            out.append((status.name, status.reason))
        else:
            out.append((status.name, ""))
    return out


def _code_version() -> str:
    """Changes when the fetchers or this file change, so the UI can tell a stale fetch from a current one."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in [Path(__file__), *sorted((root / "fetch").glob("*.py"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


@dg.asset(
    group_name="ingest",
    kinds={"python", "api"},
    code_version=_code_version(),
    description="Fetch every online source whose credentials are set (HDX HAPI, IDMC, IOM DTM, ACLED; UNHCR needs "
    "none) into the inbox; the others are skipped with the variable to set. Narrow with DISPLACEMENT_FETCH_SOURCES.",
)
def fetch_online(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from pipeline.fetch import FetchError, fetch, redact

    country = os.environ.get(FETCH_COUNTRY_ENV, "SYR").strip() or None
    since = os.environ.get(FETCH_SINCE_ENV, "2019-01-01").strip() or None
    fetched, skipped, failed = {}, {}, {}
    for name, why_not in plan():
        if why_not:
            context.log.info(f"skipping {name}: {why_not}")
            skipped[name] = why_not
            continue
        try:
            result = fetch(name, country=country, since=since)
        except FetchError as exc:  # one source down must not stop the others; the run says so loudly
            why = redact(exc)
            why = why[len(name) + 2:] if why.startswith(f"{name}: ") else why  # named once, not "unhcr: unhcr: ..."
            context.log.error(f"{name}: {why}")
            failed[name] = why
            continue
        fetched[name] = {"rows": result.rows, "pages": result.pages,
                         "inbox_file": result.inbox_file.name if result.inbox_file else None}
        context.log.info(f"{name}: {result.rows} rows -> {result.inbox_file or 'nothing written'}")
    if failed and not fetched:  # some failing is logged and the rest goes on; all failing fails the run, so that
        # cron's exit code and the UI have something to alert on (and nothing new is rebuilt)
        raise dg.Failure(description="every source tried failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items()),
                         metadata={"failed": dg.MetadataValue.json(failed), "skipped": dg.MetadataValue.json(skipped)})
    return dg.MaterializeResult(metadata={
        "fetched": dg.MetadataValue.json(fetched),
        "skipped": dg.MetadataValue.json(skipped),
        "failed": dg.MetadataValue.json(failed),
        "dagster/row_count": sum(v["rows"] for v in fetched.values()),
    })
