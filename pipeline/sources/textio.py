"""Opening input files: size limits, decompression, encodings, CSV rows with their true line numbers."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.schema import InputError, file_sha256

MAX_BYTES = 512 * 1024 * 1024  # what we will hold in memory after decompression
MAX_FIELD = 1024 * 1024  # one CSV field; a 20 MB line is refused, not read


@dataclass
class Sniff:
    """What detection looks at: the decoded text (or workbook bytes), its first rows, JSON keys."""

    path: Path
    sha256: str
    kind: str  # csv | json | xlsx
    text: str | None = None
    data: bytes | None = None
    encoding: str | None = None
    header: list[str] = field(default_factory=list)
    second_row: list[str] = field(default_factory=list)
    json_obj: object = None
    sheet_names: list[str] = field(default_factory=list)

    @property
    def has_hxl_row(self) -> bool:
        cells = [c.strip() for c in self.second_row if c.strip()]
        return bool(cells) and all(c.startswith("#") for c in cells)

    @property
    def name(self) -> str:
        return self.path.name


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1256 when it decodes cleanly."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: looks like UTF-16 but does not decode ({exc.reason})") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if b"\x00" in data[:4096]:
        raise InputError(f"{path}: binary content, not a text table (NUL byte near the start)")
    try:
        return data.decode("cp1256"), "cp1256"
    except UnicodeDecodeError:
        raise InputError(
            f"{path}: not UTF-8 (byte {utf8_error.start}: {utf8_error.reason}); "
            "save it as UTF-8, UTF-16 or Windows-1256"
        ) from None


def csv_rows(text: str, path: Path, *, delimiter: str = ",") -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and rows of a CSV text, each row with the file's own line number (header = line 1)."""
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{path}: the file is empty") from None
    except csv.Error as exc:
        raise InputError(f"{path}: line 1: {exc}") from None
    rows: list[tuple[int, list[str]]] = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(f"{path}: line {reader.line_num}: {exc}") from None
        if row and any(cell.strip() for cell in row):
            rows.append((start, row))
        start = reader.line_num + 1
    return [h.strip() for h in header], rows


def rows_frame(header: list[str], rows: list[tuple[int, list[str]]]) -> pd.DataFrame:
    """A frame of strings with `ingest_row`; short rows padded, long rows keep the header's width."""
    width = len(header)
    body = [(r + [""] * width)[:width] for _, r in rows]
    frame = pd.DataFrame(body, columns=header, dtype="string") if body else pd.DataFrame(columns=header, dtype="string")
    frame["ingest_row"] = pd.array([line for line, _ in rows], dtype="Int64")
    return frame


def read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror})") from None
    if size > MAX_BYTES:
        raise InputError(f"{path}: {size:,} bytes is over the limit of {MAX_BYTES:,}")
    return path.read_bytes()


def sha256_of(path: Path) -> str:
    return file_sha256(path)
