"""`displacement fetch SOURCE [--country ISO3] [--since YYYY-MM-DD]`: an API into data/inbox/."""

from __future__ import annotations

import argparse
import re
from datetime import date
from pathlib import Path

from pipeline.cli import UsageError
from pipeline.fetch import SOURCES, FetchError, configured_sources, fetch, redact
from pipeline.fetch.core import REPO_ROOT


def _sources_help() -> str:
    lines = ["sources:"]
    for src in SOURCES.values():
        cred = ", ".join(src.credentials) if src.credentials else "no key"
        lines.append(f"  {src.name:<22} {src.title} [{cred}; base URL: {src.base_env}]")
    lines += [
        "",
        "Every response is saved under data/snapshots/<source>/ (with manifest.jsonl) before it is read;",
        "the combined pages go to data/inbox/ (DISPLACEMENT_SNAPSHOTS, DISPLACEMENT_INBOX move them).",
        "Retries: DISPLACEMENT_FETCH_ATTEMPTS, _BACKOFF, _TIMEOUT, _RETRY_AFTER_MAX, _PAGE_SIZE.",
    ]
    return "\n".join(lines)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fetch",
        help="fetch one API source into data/inbox/ (raw responses kept in data/snapshots/)",
        description="Fetch one source's API, page by page, with retries; keep every raw response; write "
                    "the combined result into the inbox for `displacement build`.",
        epilog=_sources_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", nargs="?", metavar="SOURCE", help=f"one of: {', '.join(SOURCES)}")
    p.add_argument("--country", metavar="ISO3", help="ISO3 country code (ACLED also takes a country name)")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only figures from this date on")
    p.add_argument("--list", action="store_true", help="show which sources have their credentials set")
    p.set_defaults(func=run)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def run(args: argparse.Namespace) -> int:
    if args.list:
        for status in configured_sources():
            print(f"{status.name:<22} {'ready' if status.ready else 'skipped: ' + status.reason}")
        return 0
    if not args.source:
        raise UsageError(f"fetch needs a SOURCE: one of {', '.join(SOURCES)}")
    if args.source not in SOURCES:
        raise UsageError(f"unknown source {args.source!r}: choose one of {', '.join(SOURCES)}")
    country = args.country.strip() if args.country else None
    if country is not None:
        if args.source != "acled" and not re.fullmatch(r"[A-Za-z]{3}", country):
            raise UsageError(f"--country must be an ISO3 code such as SYR, not {country!r}")
        if re.fullmatch(r"[A-Za-z]{3}", country):
            country = country.upper()
    since = args.since
    if since is not None:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since):
                raise ValueError
            since = date.fromisoformat(since).isoformat()
        except ValueError:
            raise UsageError(f"--since must be a date written YYYY-MM-DD, not {args.since!r}") from None
    try:
        result = fetch(args.source, country=country, since=since)
    except FetchError as exc:
        raise UsageError(redact(exc)) from None
    target = _shown(result.inbox_file) if result.inbox_file else "nothing written"
    print(f"{result.dataset}: {result.rows} rows from {result.pages} page{'s' if result.pages != 1 else ''}"
          f" -> {target}")
    for note in result.notes:
        print(f"  note: {note}")
    for snap in result.snapshots:
        print(f"  snapshot {_shown(snap)}")
    print(f"  manifest {_shown(result.manifest)}")
    return 0
