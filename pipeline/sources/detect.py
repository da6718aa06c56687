"""Recognise a file by its content (magic bytes, header, HXL row, JSON keys, sheet names) and read it.

Never by file name: a file renamed `data.txt` is read the same. Compressed input (.gz, .zip) is
expanded in memory under two limits: an absolute size (textio.MAX_BYTES) and an expansion ratio
(MAX_RATIO), checked while decompressing so a bomb is refused before it is expanded.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
import zlib
from pathlib import Path

from pipeline.schema import InputError, ReadResult
from pipeline.sources import textio
from pipeline.sources.textio import Sniff

MAX_RATIO = 200  # a compressed file may expand at most this many times (tables compress 5-50x)
MIN_ALLOWANCE = 64 * 1024 * 1024  # small archives may always expand this far


def _limit(compressed: int) -> int:
    return min(textio.MAX_BYTES, max(MAX_RATIO * compressed, MIN_ALLOWANCE))


def _gunzip(data: bytes, path: Path) -> bytes:
    """Every member of a gzip file (`cat a.gz b.gz` is one valid gzip file of both), within the size limit.
    Anything after the last member other than zero padding is refused: a damaged or mixed-up file."""
    limit = _limit(len(data))
    out = bytearray()
    pending = data
    try:
        while True:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while pending and not d.eof:
                out += d.decompress(pending, 1 << 20)
                pending = d.unconsumed_tail
                if len(out) > limit:
                    raise InputError(
                        f"{path}: gzip expands beyond {limit:,} bytes ({len(data):,} compressed); "
                        "refused as a likely decompression bomb"
                    )
            if not d.eof:
                raise InputError(f"{path}: truncated gzip data (the compressed stream ends early)")
            pending = d.unused_data
            if not pending.strip(b"\x00"):
                break
            if not pending.startswith(b"\x1f\x8b"):
                raise InputError(f"{path}: {len(pending):,} bytes after the end of the gzip data are not gzip "
                                 "(a damaged file, or other data appended to it)")
    except zlib.error as exc:
        raise InputError(f"{path}: corrupt gzip data ({exc})") from None
    return bytes(out)


MAX_SHEET_CELLS = 5_000_000  # a sheet's grid from A1 to its furthest cell (ACLED's HDX workbooks: well under 1M)
# a cell's or a sheet dimension's reference, with either quote, with or without a namespace prefix
_CELL_REF = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?(?:c|dimension)\b[^>]*?\br(?:ef)?\s*=\s*["\']'
                       rb'(?:\$?[A-Z]+\$?[0-9]+:)?\$?([A-Z]{1,3})\$?([0-9]+)["\']')


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


def _check_workbook(zf: zipfile.ZipFile, members: list, compressed: int, path: Path) -> None:
    """Refuse a workbook that would expand past the archive limits, or whose sheet reaches so far (one cell
    at XFD1048576 is a 1.7 KB file) that reading it would allocate its whole grid: the reader makes every
    sheet a grid from A1 to its furthest cell."""
    limit = _limit(compressed)
    if sum(m.file_size for m in members) > limit:
        raise InputError(f"{path}: the workbook expands to {sum(m.file_size for m in members):,} bytes (limit "
                         f"{limit:,}); refused as a likely decompression bomb")
    read = 0
    for member in members:  # every member: the reader finds sheets through the workbook's links, not by path
        try:
            with zf.open(member) as fh:
                xml = fh.read(limit - read + 1)  # the declared size may lie: never read past the limit
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise InputError(f"{path}: cannot extract {member.filename} ({exc})") from None
        read += len(xml)
        if read > limit:
            raise InputError(f"{path}: the workbook's parts expand past {limit:,} bytes; refused as a likely "
                             "decompression bomb")
        rows = cols = 0
        for cell in _CELL_REF.finditer(xml):  # one cell at a time: a list of every cell would be large itself
            rows, cols = max(rows, int(cell.group(2))), max(cols, _column_number(cell.group(1)))
        if rows * cols > MAX_SHEET_CELLS:
            sheet = member.filename.rsplit("/", 1)[-1]
            raise InputError(f"{path}: {sheet} reaches row {rows:,} and column {cols:,} ({rows * cols:,} cells "
                             f"from A1; limit {MAX_SHEET_CELLS:,}); refused (save only the used range)")


def _unzip(data: bytes, path: Path) -> tuple[bytes, str]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in zf.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise InputError(f"{path}: corrupt zip archive or workbook ({exc})") from None
    names = {m.filename for m in members}
    # an .xlsx is itself a zip: leave it whole, once its size and its sheets' extent are known to be sane
    if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
        _check_workbook(zf, members, len(data), path)
        return data, "xlsx"
    members = [m for m in members if not m.filename.startswith("__MACOSX/")]
    if len(members) != 1:
        raise InputError(f"{path}: a zip must hold exactly one table, found {len(members)} files")
    m = members[0]
    limit = _limit(len(data))
    if m.file_size > limit:
        raise InputError(f"{path}: {m.filename} expands to {m.file_size:,} bytes (limit {limit:,}); "
                         "refused as a likely decompression bomb")
    try:
        with zf.open(m) as fh:
            content = fh.read(limit + 1)  # the declared size may lie: never read past the limit
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise InputError(f"{path}: cannot extract {m.filename} ({exc})") from None
    if len(content) > limit:
        raise InputError(f"{path}: {m.filename} expands beyond {limit:,} bytes; refused as a likely decompression bomb")
    return content, "member"


def sniff(path: str | Path) -> Sniff:
    path = Path(path)
    data = textio.read_bytes(path)
    if not data.strip():
        raise InputError(f"{path}: the file is empty")
    sha = textio.sha256_of(path)
    for _ in range(2):  # a .csv.gz, or a .zip holding one table
        if data[:2] == b"\x1f\x8b":
            data = _gunzip(data, path)
        elif data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
            data, what = _unzip(data, path)
            if what == "xlsx":
                return _sniff_xlsx(path, sha, data)
        else:
            break
    if data[:2] == b"\x1f\x8b" or data[:4] == b"PK\x03\x04":
        raise InputError(f"{path}: nested archives are not read")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise InputError(f"{path}: an old Excel (.xls) or other OLE file; save it as .xlsx or CSV")
    if data[:5] == b"%PDF-":
        raise InputError(f"{path}: a PDF, not a table")
    if not data.strip():
        raise InputError(f"{path}: the file is empty (after decompression)")
    text, encoding = textio.decode(data, path)
    del data
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("[", "{"):
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            before = stripped[:exc.pos].rstrip()
            if before.endswith(",") and stripped[exc.pos:exc.pos + 1] in ("]", "}"):
                why = " (a comma before a closing bracket: JSON allows no trailing comma)"
            elif exc.pos >= len(stripped.rstrip()) - 1:
                why = " (the file seems truncated)"
            else:
                why = ""
            raise InputError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}{why}") from None
        except RecursionError:
            raise InputError(f"{path}: JSON nested too deeply to read") from None
        return Sniff(path=path, sha256=sha, kind="json", text=None, encoding=encoding, json_obj=obj)
    if stripped[:1] in ('"', "-", "n", "t", "f") or stripped[:1].isdigit():  # a lone JSON value is no table
        try:
            value = json.loads(stripped)
        except (json.JSONDecodeError, RecursionError):
            pass
        else:
            kind = "null" if value is None else {bool: "true or false", str: "a string"}.get(type(value), "a number")
            raise InputError(f"{path}: a JSON value ({kind}), not a table; expected a CSV, or JSON records")
    if textio.looks_binary(text):
        raise InputError(f"{path}: binary content, not a text table")
    text = text.lstrip("\ufeff")
    first_line = text.split("\n", 1)[0][: textio.MAX_LINE]
    if first_line.strip().lower().startswith("sep="):
        raise InputError(f"{path}: line 1: {first_line.strip()!r} is Excel's hint of the separator, not a header; "
                         "delete that line (or save the file again as CSV UTF-8)")
    if first_line.count(",") == 0 and (first_line.count(";") or first_line.count("\t") or first_line.count("|")):
        counts = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
        sep = max(counts, key=first_line.count)
        raise InputError(
            f"{path}: line 1: columns are separated by {counts[sep]}; expected commas (save as comma-separated CSV)"
        )
    rows = textio.first_rows(text, path, 2)
    if not rows:
        raise InputError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    if not first_line.strip(" \t\r,"):
        # every reader takes line 1 as the header: a blank line above it would be read as the header, and
        # every column as missing
        at = next(i for i, ln in enumerate(io.StringIO(text), 1) if ln.strip(" \t\r\n,"))
        raise InputError(f"{path}: line 1: {'blank' if not first_line.strip() else 'commas and no column names'}; "
                         f"the header ({_listed(header)}) is on line {at}. Delete the line(s) above it: the "
                         "header must be line 1")
    second = rows[1] if len(rows) > 1 else []
    renamed = canonical_header(header, path)
    line = first_line.rstrip("\r")
    original = None
    if renamed and len(first_line) < textio.MAX_LINE and _cells(line) == header:
        # the header is line 1 (not after a blank line) and holds no line break: it is written again with the
        # readers' names, quoted where need be, so that every reader reads them (read_path undoes it for the
        # HXL reader, which reads hashtags, not names)
        header = [renamed.get(i, h) for i, h in enumerate(header)]
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(header)
        original, text = first_line, out.getvalue() + first_line[len(line):] + text[len(first_line):]
    else:
        renamed = {}
    return Sniff(path=path, sha256=sha, kind="csv", text=text, encoding=encoding, header=header, second_row=second,
                 renamed={rows[0][i].strip(): name for i, name in renamed.items()}, original_first_line=original)


def _cells(line: str) -> list[str] | None:
    """The stripped cells of one line read as a CSV row (None when it is not one whole row)."""
    try:
        return [c.strip() for c in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        return None


def sniff_without_renaming(s: Sniff) -> Sniff:
    """The sniff with the file's own header line and names back (see sniff)."""
    from dataclasses import replace

    end = s.text.find("\n")
    back = {name: cell for cell, name in s.renamed.items()}
    return replace(s, text=s.original_first_line + (s.text[end:] if end >= 0 else ""),
                   header=[back.get(h, h) for h in s.header],
                   renamed={}, original_first_line=None)


def _sniff_xlsx(path: Path, sha: str, data: bytes) -> Sniff:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = list(wb.sheet_names)
    except Exception as exc:  # calamine raises its own error types for corrupt workbooks
        msg = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"{path}: corrupt or unreadable workbook ({msg})") from None
    return Sniff(path=path, sha256=sha, kind="xlsx", data=data, sheet_names=names)


# most specific first; facts before hapi, and the HXL fallback must stay last
READERS = ("facts", "hapi", "dtm", "acled", "idmc", "unhcr", "ucdp", "empty", "hxl")


def _column_key(name: str) -> str:
    return re.sub(r"[\W_]+", "", name).casefold()


def _known_columns() -> tuple[frozenset[str], dict[str, str]]:
    """Every column some reader reads (its COLUMNS), and each one's key (case and separators aside) when no
    other column has the same key ("Country" and "country" are two readers' own: neither is a renaming)."""
    names = set().union(*(getattr(r, "COLUMNS", set()) for r in readers()))
    by_key: dict[str, set[str]] = {}
    for name in names:
        by_key.setdefault(_column_key(name), set()).add(name)
    return frozenset(names), {k: next(iter(v)) for k, v in by_key.items() if len(v) == 1}


def canonical_header(header: list[str], path=None) -> dict[int, str]:
    """The header cells to read under a reader's own name: {position: name}, for a cell that differs from a
    column some reader reads only in case, spaces, underscores or hyphens ("Refugees", "civilian targeting",
    "admin1PCode"), when the file has no cell of that name already. Otherwise such a column would go unread
    without a word: a figure column, or one that says who was counted."""
    names, by_key = _known_columns()
    present = set(header)
    out: dict[int, str] = {}
    for i, cell in enumerate(header):
        if cell in names:
            continue
        target = by_key.get(_column_key(cell))
        if target is not None and target not in present:
            if target in out.values():  # two columns would be read as one: which holds the figures?
                other = header[next(k for k, v in out.items() if v == target)]
                raise InputError(f"{path}: line 1: columns {other!r} and {cell!r} are both {target!r} but for case "
                                 "or separators; which one to read cannot be told (rename or remove one)")
            out[i] = target
    return out


def readers() -> list:
    """Every reader module, most specific first; the HXL fallback comes last."""
    import importlib

    return [importlib.import_module(f"pipeline.sources.{name}") for name in READERS]


def _signatures() -> dict[str, set[str]]:
    """What each known table needs at least, to explain a near miss ('a column is missing')."""
    from pipeline.sources import acled, dtm, facts, hapi, idmc, ucdp, unhcr

    sigs = {f"an HDX HAPI {k} table": set(v) for k, v in hapi.KINDS.items()}
    sigs.update({
        "an IOM DTM export": dtm.NEEDED | {"operation", "roundNumber", "admin1Pcode"},
        "an ACLED event export": acled.EVENT_NEEDED | {"time_precision", "civilian_targeting", "admin1"},
        "an IDMC IDU export": idmc.NEEDED | idmc.HINTS,
        "a UCDP GED file": ucdp.NEEDED | {"deaths_civilians", "date_prec", "country"},
        "a UNHCR population table": {"year", "coo_iso", "coa_iso", "refugees", "asylum_seekers"},
        "a facts table": set(facts.REQUIRED),
    })
    return sigs


def _near_miss(columns: set[str]) -> str | None:
    best = None
    for label, needed in _signatures().items():
        have = len(needed & columns)
        if have >= max(2, (len(needed) + 1) // 2) and have < len(needed):
            score = have / len(needed)
            if best is None or score > best[0]:
                best = (score, label, sorted(needed - columns))
    if best is None:
        return None
    return f"missing required column(s) {', '.join(best[2])}: it looks like {best[1]}"


def _listed(cells: list[str], n: int = 4) -> str:
    return ", ".join(cells[:n]) + (", ..." if len(cells) > n else "")


def _header_further_down(s: Sniff, lines: int = 10) -> tuple[int, str] | None:
    """(line, what it is) when one of the first lines after line 1 is the header of a known table: a title or
    a note written above the header, as some exports and hand-made sheets have."""
    reader = csv.reader(io.StringIO(s.text[: 4 * textio.MAX_LINE], newline=""))
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if line == 1 or not row:
                continue
            if line > lines:
                break
            cells = [c.strip() for c in row]
            try:
                renamed = canonical_header(cells)
            except InputError:
                continue
            columns = {renamed.get(i, c) for i, c in enumerate(cells)}
            for label, needed in _signatures().items():
                if needed <= columns:
                    return line, label
    except csv.Error:
        return None
    return None


def detect(s: Sniff):
    for reader in readers():
        if reader.detect(s):
            return reader
    if s.kind == "csv":
        near = _near_miss(set(s.header))
        if near:
            raise InputError(f"{s.path}: line 1: {near}")
        lower = _header_further_down(s)
        if lower:
            line, label = lower
            raise InputError(f"{s.path}: line 1 ({_listed(s.header)}) is not a header any reader knows; line {line} "
                             f"holds the header of {label}. Delete the line(s) above it (a title or a note): the "
                             "header must be line 1")
    elif s.kind == "json":
        from pipeline.sources.textio import first_keys

        near = _near_miss(first_keys(s.json_obj, *textio.RECORD_WRAPPERS))
        if near:
            raise InputError(f"{s.path}: record 1: {near}")
    if s.kind == "csv":
        what = f"CSV with columns {', '.join(s.header[:8])}{'...' if len(s.header) > 8 else ''}"
    elif s.kind == "json":
        obj = s.json_obj
        if isinstance(obj, dict):
            what = f"JSON object with keys {', '.join(list(map(str, obj))[:8])}"
        elif isinstance(obj, list):
            first = obj[0] if obj else None
            what = (f"JSON list of objects with keys {', '.join(list(map(str, first))[:8])}"
                    if isinstance(first, dict) else f"JSON list of {len(obj)} items")
        else:
            what = "JSON value"
    else:
        what = f"workbook with sheets {', '.join(s.sheet_names)}"
    raise InputError(f"{s.path}: unknown format: a {what}, which no reader recognises")


REPEAT_RULE = "duplicate"


def repeat_message(unit: str, first: int) -> str:
    return f"the same record as {unit} {first}, repeated (same key, same values); set aside"


def repeated_rows(obs) -> dict[int, int]:
    """The rows that only repeat an earlier row of the same file: {later row: first row}. A row is a repeat
    when each of its observations has the key of one on an earlier row and every value the same (its row
    number apart). Rows that share a key but differ are not repeats: nothing tells which is true (the
    build refuses such a file). Vectorised: a million-row export delivered twice is one pass."""
    import pandas as pd

    ids = obs["obs_id"]
    if not len(obs) or not ids.duplicated().any():
        return {}
    dup = obs.loc[ids.duplicated(keep=False)].sort_values(["obs_id", "ingest_row"], kind="stable")
    rest = [c for c in obs.columns if c != "ingest_row"]
    # every value but the row number, as text (NA as NA): equal rows of one key have one distinct form
    form = pd.util.hash_pandas_object(dup[rest].astype("string"), index=False)
    conflicting = form.groupby(dup["obs_id"].to_numpy()).transform("nunique") > 1
    first = dup.groupby("obs_id", sort=False)["ingest_row"].transform("first")
    later = dup.loc[~conflicting.to_numpy() & (dup["ingest_row"] != first).to_numpy()]
    later_first = first.loc[later.index]
    # a row is a repeat only when every one of its observations is a later copy
    copies = later.groupby("ingest_row").size()
    per_row = obs.loc[obs["ingest_row"].isin(copies.index)].groupby("ingest_row").size()
    whole = copies.index[(copies == per_row.reindex(copies.index)).to_numpy()]
    pairs = pd.DataFrame({"line": later["ingest_row"].astype("int64"), "first": later_first.astype("int64")})
    pairs = pairs.loc[pairs["line"].isin(whole)].drop_duplicates("line")
    return dict(zip(pairs["line"].tolist(), pairs["first"].tolist()))


def _set_aside_repeats(result: ReadResult, unit: str) -> ReadResult:
    from pipeline.schema import Rejection

    later = repeated_rows(result.observations)
    if later:
        result.observations = result.observations.loc[~result.observations["ingest_row"].isin(list(later))]
        result.rejected = sorted(result.rejected + [Rejection(result.file, line, None, REPEAT_RULE,
                                                              repeat_message(unit, first))
                                                    for line, first in later.items()],
                                 key=lambda r: (r.file, r.line or 0, r.column or ""))
    return result


def read_path(path: str | Path) -> ReadResult:
    s = sniff(path)
    reader = detect(s)
    if s.renamed and getattr(reader, "FORMAT", None) == "hxl":
        # the HXL reader reads hashtags, not names: the file keeps its own names (rejections then name them)
        s = sniff_without_renaming(s)
    try:
        result = reader.read(s)
        if s.kind == "json":
            result.row_unit = "record"
        result.renamed = dict(s.renamed)
        # a workbook's rows are numbered sheet by sheet: a row number does not name one row of the file
        return result if s.kind == "xlsx" else _set_aside_repeats(result, result.row_unit)
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"{s.path}: too large to read in memory") from None
    except RecursionError:
        raise InputError(f"{s.path}: nested too deeply to read") from None
