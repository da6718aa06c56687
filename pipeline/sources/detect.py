"""Recognise a file by its content (magic bytes, header, HXL row, JSON keys, sheet names) and read it."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
import zlib
from pathlib import Path

from pipeline.schema import InputError, ReadResult
from pipeline.sources import textio
from pipeline.sources.textio import Sniff

MAX_RATIO = 200  # a compressed member may expand at most this many times


def _gunzip(data: bytes, path: Path) -> bytes:
    out = io.BytesIO()
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pos = 0
    try:
        while pos < len(data):
            chunk = d.decompress(data[pos : pos + 65536], 1 << 20)
            pos += 65536 - len(d.unconsumed_tail) if d.unconsumed_tail else 65536
            while True:
                out.write(chunk)
                if out.tell() > textio.MAX_BYTES or out.tell() > MAX_RATIO * max(len(data), 1024 * 64):
                    raise InputError(
                        f"{path}: gzip expands beyond {min(textio.MAX_BYTES, MAX_RATIO * max(len(data), 65536)):,} "
                        "bytes; refused as a likely decompression bomb"
                    )
                if not d.unconsumed_tail:
                    break
                chunk = d.decompress(d.unconsumed_tail, 1 << 20)
            if d.eof:
                break
    except zlib.error as exc:
        raise InputError(f"{path}: corrupt gzip data ({exc})") from None
    if not d.eof:
        raise InputError(f"{path}: truncated gzip data")
    return out.getvalue()


def _unzip(data: bytes, path: Path) -> tuple[bytes, str]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path}: corrupt zip archive ({exc})") from None
    members = [m for m in zf.infolist() if not m.is_dir()]
    # an .xlsx is itself a zip: leave it whole
    if any(m.filename == "[Content_Types].xml" for m in members):
        return data, "xlsx"
    if len(members) != 1:
        raise InputError(f"{path}: a zip must hold exactly one table, found {len(members)} files")
    m = members[0]
    if m.file_size > textio.MAX_BYTES or m.file_size > MAX_RATIO * max(m.compress_size, 1):
        raise InputError(f"{path}: {m.filename} expands to {m.file_size:,} bytes; refused as a likely decompression bomb")
    with zf.open(m) as fh:
        content = fh.read(textio.MAX_BYTES + 1)
    if len(content) > textio.MAX_BYTES:
        raise InputError(f"{path}: {m.filename} expands beyond {textio.MAX_BYTES:,} bytes")
    return content, "member"


def sniff(path: str | Path) -> Sniff:
    path = Path(path)
    data = textio.read_bytes(path)
    sha = textio.sha256_of(path)
    if not data.strip():
        raise InputError(f"{path}: the file is empty")
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, path)
    if data[:4] == b"PK\x03\x04":
        data, what = _unzip(data, path)
        if what == "xlsx":
            return _sniff_xlsx(path, sha, data)
        if data[:2] == b"\x1f\x8b" or data[:4] == b"PK\x03\x04":
            raise InputError(f"{path}: nested archives are not read")
    if not data.strip():
        raise InputError(f"{path}: the file is empty")
    text, encoding = textio.decode(data, path)
    stripped = text.lstrip()
    if stripped[:1] in "[{":
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        return Sniff(path=path, sha256=sha, kind="json", text=None, encoding=encoding, json_obj=obj)
    first_line = text.split("\n", 1)[0]
    if "\x00" in text[:4096] or sum(ch < " " and ch not in "\t\r\n" for ch in text[:4096]) > 8:
        raise InputError(f"{path}: binary content, not a text table")
    delimiter = ","
    if first_line.count(",") == 0 and (first_line.count(";") or first_line.count("\t")):
        delimiter = ";" if first_line.count(";") >= first_line.count("\t") else "\t"
    if delimiter != ",":
        raise InputError(
            f"{path}: line 1: columns are separated by {'semicolons' if delimiter == ';' else 'tabs'}; "
            "expected commas (save as comma-separated CSV)"
        )
    header, rows = textio.csv_rows(text, path)
    second = rows[0][1] if rows else []
    return Sniff(path=path, sha256=sha, kind="csv", text=text, encoding=encoding, header=header, second_row=second)


def _sniff_xlsx(path: Path, sha: str, data: bytes) -> Sniff:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types for corrupt workbooks
        raise InputError(f"{path}: corrupt or unreadable workbook ({str(exc).splitlines()[0][:200]})") from None
    return Sniff(path=path, sha256=sha, kind="xlsx", data=data, sheet_names=list(wb.sheet_names))


def readers() -> list:
    """Every reader module, most specific first; the HXL fallback comes last."""
    from pipeline.sources import facts

    return [facts]


def detect(s: Sniff):
    for reader in readers():
        if reader.detect(s):
            return reader
    what = {"csv": f"CSV with columns {', '.join(s.header[:8])}{'...' if len(s.header) > 8 else ''}",
            "json": "JSON", "xlsx": f"workbook with sheets {', '.join(s.sheet_names)}"}[s.kind]
    raise InputError(f"{s.path}: unknown format: a {what}, which no reader recognises")


def read_path(path: str | Path) -> ReadResult:
    s = sniff(path)
    return detect(s).read(s)
