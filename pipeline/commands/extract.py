"""`displacement extract ARTICLE.txt --published YYYY-MM-DD [--json | --csv] [--inbox]`: candidate figures
from a news article, each with the sentence it came from, for a reviewer to accept or drop."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from pipeline.cli import UsageError
from pipeline.schema import InputError, parse_iso_date, printable, terminal_json

MAX_ARTICLE_BYTES = 5 * 1024 * 1024


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "extract",
        help="extract displacement and casualty figures from a news article into candidate rows",
        description="Read an article (plain text) and print the figures it states about people displaced, "
                    "killed, injured or returned, as JSON or as the project's facts CSV; --inbox writes the "
                    "CSV to data/inbox/ for review (role = triangulation).",
    )
    p.add_argument("article", metavar="ARTICLE.txt", help="the article as plain text (UTF-8)")
    p.add_argument("--published", required=True, metavar="YYYY-MM-DD",
                   help="publication date: relative dates ('in the last four days', 'since April') resolve against it")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print one JSON array of candidate figures (default)")
    fmt.add_argument("--csv", action="store_true", help="print the facts CSV (data/default/figures.csv layout)")
    p.add_argument("--source-org", metavar="NAME", help="who published the article (e.g. Reuters)")
    p.add_argument("--title", metavar="TEXT", help="the article's title (default: its first line, the headline)")
    p.add_argument("--url", metavar="URL", help="the article's address")
    p.add_argument("--country", metavar="ISO3", help="country of the figures when the text does not make it clear")
    p.add_argument("--inbox", action="store_true",
                   help="also write the CSV to data/inbox/ (or $DISPLACEMENT_INBOX), named after the article and its hash")
    p.set_defaults(func=run)


def _read_article(path: Path) -> str:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size > MAX_ARTICLE_BYTES:
        raise InputError(f"{path}: larger than {MAX_ARTICLE_BYTES:,} bytes; not an article")
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise InputError(f"{path}: binary content, not article text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    return text


def run(args) -> int:
    from pipeline.extract import article_hash, extract_article, to_csv_text, to_records, write_inbox

    published = parse_iso_date(args.published) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.published or "") else None
    if published is None:
        raise UsageError(f"--published: expected a real date as YYYY-MM-DD, got {args.published!r}")
    country = None
    if args.country:
        if not re.fullmatch(r"[A-Za-z]{3}", args.country):
            raise UsageError(f"--country: expected an ISO3 code such as SYR, got {args.country!r}")
        country = args.country.upper()
    path = Path(args.article)
    text = _read_article(path)
    # every row names its source document: without --title, the headline (first non-empty line) stands for it
    title = args.title or next((line.strip() for line in text.splitlines() if line.strip()), None)
    claims = extract_article(text, published, publisher=args.source_org, title=title, url=args.url,
                             country_iso3=country)
    if args.csv:
        sys.stdout.write(to_csv_text(claims))
    elif args.json or not args.inbox:
        sys.stdout.write(terminal_json(to_records(claims), indent=2) + "\n")
    if args.inbox:
        from pipeline.sources.detect import read_path

        target = write_inbox(claims, path, article_hash(text))
        if claims:
            result = read_path(target)
            msg = f"{target}: {len(claims)} candidate figure(s), {result.rows_accepted} accepted by the facts reader"
            for r in result.rejected[:10]:
                msg += f"\n  line {r.line}: {r.column}: {r.message}"
        else:
            msg = f"{target}: no figures found (header only)"
        print(printable(msg), file=sys.stderr)
    return 0
