"""Opening input files: size limits, encodings, CSV rows with their true line numbers, shared helpers.

Line numbers are the file's own (header = line 1, an HXL hashtag row = line 2), whatever the route:
a vectorised pandas parse is used when every record sits on one physical line (checked, not assumed),
and the `csv` module, which tracks lines exactly, when a quoted field spans lines or a row is malformed.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.schema import InputError, Rejection, file_sha256

MAX_BYTES = 512 * 1024 * 1024  # what we will hold in memory after decompression
MAX_FIELD = 1024 * 1024  # one CSV field
MAX_LINE = 1024 * 1024  # one physical line: a longer line is set aside as a rejected row, not parsed
# the keys under which JSON payloads wrap their list of records ({"data": [...]})
RECORD_WRAPPERS = ("data", "result", "results", "items")


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
    renamed: dict[str, str] = field(default_factory=dict)  # header cell -> the reader's name it is read as
    original_first_line: str | None = None  # the file's own header line, when `text` has it renamed

    @property
    def has_hxl_row(self) -> bool:
        cells = [c.strip() for c in self.second_row if c.strip()]
        return bool(cells) and all(c.startswith("#") for c in cells)

    @property
    def hxl(self) -> dict[str, str]:
        """Column name -> HXL hashtag (lower case, no spaces) when line 2 is a hashtag row."""
        if not self.has_hxl_row:
            return {}
        return {h: t.strip().lower().replace(" ", "") for h, t in zip(self.header, self.second_row) if t.strip()}

    @property
    def name(self) -> str:
        return self.path.name


# ----------------------------------------------------------------------------------------------- decoding

_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_ARABIC_WORD = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]{2,}")


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """UTF-8 (with or without BOM), UTF-16 (BOM or NUL pattern), Windows-1256 when it reads as Arabic.

    Anything else is refused with one line saying what it looks like and what to do about it.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: starts with a UTF-8 mark but byte {exc.start + 3} is not UTF-8") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: looks like UTF-16 but does not decode ({exc.reason})") from None
    head = data[:4096]
    if len(head) >= 4 and b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        for enc, zeros, text in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
            if zeros.count(0) > 0.4 * len(zeros) and text.count(0) < 0.05 * len(text):
                try:
                    return data.decode(enc), enc
                except UnicodeDecodeError:
                    break
        raise InputError(f"{path}: binary content, not a text table (NUL bytes near the start)")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("cp1256")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        non_ascii = [ch for ch in text[:200_000] if ord(ch) > 127]
        arabic = sum(1 for ch in non_ascii if _ARABIC.match(ch))
        # Arabic text comes in words: a letter or two alone among Latin ones is a damaged UTF-8 byte, which
        # read as Windows-1256 would change the file's text without a word
        in_words = sum(len(w) for w in _ARABIC_WORD.findall(text[:200_000]))
        if non_ascii and arabic >= 0.6 * len(non_ascii) and in_words >= 0.8 * arabic:
            return text, "cp1256"
    guess = ""
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:65536]).best()
        if best is not None:
            # one single-byte encoding is hard to tell from another: a guess of cp1250 may well be Latin-1
            single = not best.encoding.startswith(("utf", "gb", "big5", "shift_jis", "euc", "iso2022", "cp932", "cp936",
                                                   "cp949", "cp950", "hz", "johab"))
            guess = (f"; it may be {best.encoding} or another single-byte encoding (Latin-1, Windows-1252)"
                     if single else f"; it looks like {best.encoding}")
    except Exception:  # a guess only; never let it hide the real message
        pass
    at = utf8_error.start
    line = data.count(b"\n", 0, at) + 1
    column = at - (data.rfind(b"\n", 0, at) + 1) + 1
    raise InputError(
        f"{path}: not UTF-8: line {line}, byte {column} of the line (0x{data[at]:02X}: {utf8_error.reason}){guess}; "
        "save it as UTF-8, UTF-16 or Windows-1256 (Arabic)"
    )


def looks_binary(text: str) -> bool:
    head = text[:4096]
    if "\x00" in head:
        return True
    controls = sum(1 for ch in head if ch < " " and ch not in "\t\r\n\f")
    return controls > max(8, len(head) // 100)


# ------------------------------------------------------------------------------------------ CSV reading

def first_rows(text: str, path: Path, n: int = 2, *, delimiter: str = ",") -> list[list[str]]:
    """The first n records only (lazily parsed), for detection."""
    csv.field_size_limit(MAX_FIELD)
    out: list[list[str]] = []
    reader = csv.reader(io.StringIO(text[: 4 * MAX_LINE], newline=""), delimiter=delimiter)
    try:
        for row in reader:
            if not row or not any(c.strip() for c in row):
                if not out:
                    continue
                continue
            out.append(row)
            if len(out) >= n:
                break
    except csv.Error as exc:
        if not out:
            raise InputError(f"{path}: line {reader.line_num}: {exc}") from None
    return out


def csv_rows(text: str, path: Path, *, delimiter: str = ",",
             rejected: list | None = None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and rows of a CSV text, each row with the file's own line number (header = line 1).

    A quote that opens a field and is never closed would make the rest of the file one field: that line
    is set aside (appended to `rejected`, rule `quote`) and reading goes on from the next line; without
    `rejected`, it is an InputError naming the line."""
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
    offset = 0  # lines before the text the reader reads (after a set-aside unclosed quote)
    last = sum(1 for _ in io.StringIO(text, newline=""))  # the reader's line count at the end of the text
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):  # a quoted field running over many lines
                raise InputError(f"{path}: line {start}: a field of this row is over {MAX_FIELD:,} bytes (the row "
                                 f"runs to line {offset + reader.line_num} at least); the file is not read past it"
                                 ) from None
            raise InputError(f"{path}: line {offset + reader.line_num}: {exc}") from None
        if reader.line_num >= last and any("\n" in c or "\r" in c for c in row) \
                and _unclosed(text, start - offset):
            message = ("a quoted field opens on this line and is never closed, so the rest of the file would be "
                       "read as one field; row set aside (close the quote, or double a quote inside it)")
            if rejected is None:
                raise InputError(f"{path}: line {start}: {message}")
            rejected.append(Rejection(str(path), start, None, "quote", message))
            text = "".join(io.StringIO(text, newline="").readlines()[start - offset:])
            offset = start
            last = sum(1 for _ in io.StringIO(text, newline=""))
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            start = offset + 1
            continue
        if row and any(cell.strip() for cell in row):
            rows.append((start, row))
        start = offset + reader.line_num + 1
    if rows and rejected is not None:
        why = _ends_inside(text, rows[-1][0] - offset, len(header))
        if why is not None:
            rejected.append(Rejection(str(path), rows.pop()[0], None, "truncated", why))
    return [h.strip() for h in header], rows


def _unclosed(text: str, line: int) -> bool:
    """Whether the record starting at `line` of text (1-based), the text's last, runs to the end inside an
    open quote: its text holds an odd number of quote characters (a closed quote and a doubled one inside a
    field come in pairs, a stray one in the middle of a field too, once closed)."""
    tail = "".join(io.StringIO(text, newline="").readlines()[line - 1:])
    return tail.count('"') % 2 == 1


def cut_off(tail: str, width: int) -> str | None:
    """Why the last record of a file that ends without a line break looks cut off (a download stopped, a copy
    cut short), or None: `tail` is its text, from the line it starts on to the end of the file. It is cut
    off when it ends inside an open quote, or has fewer fields than the header's `width` (a figure cut to
    its first digits would otherwise be read as a smaller one)."""
    if tail.count('"') % 2 == 1:
        return "the file ends inside a quoted field of this row"
    try:
        fields = next(csv.reader(io.StringIO(tail, newline="")), [])
    except csv.Error:
        return None  # read as the rest of the file is read: its own rules set it aside
    if 0 < len(fields) < width:
        return f"the file ends after {len(fields)} of this row's {width} fields"
    return None


def _ends_inside(text: str, line: int, width: int) -> str | None:
    """The rejection message when `text` ends, with no line break, inside its last record, which begins on
    physical line `line` (`cut_off`); None when it does not."""
    if not text or text.endswith(("\n", "\r")):
        return None
    if not text[text.rfind("\n") + 1:].strip(" ,\t\r"):
        return None  # the file ends on a line of blanks or commas, after the last row: not inside it
    start, lines = len(text), text.count("\n") + 1  # the record begins `lines - line` line breaks before the end
    for _ in range(lines - line + 1):
        start = text.rfind("\n", 0, start)
        if start < 0:
            break
    why = cut_off(text[start + 1:], width)
    if why is not None and start > 0 and text.count('"', start) % 2 == 0:
        # a file whose rows leave their trailing blank fields out (ragged) has short rows everywhere: a short
        # last row says nothing there, so it is judged cut off only when the row before it is whole
        before = text[text.rfind("\n", 0, start - 1) + 1:start].rstrip("\r")
        try:
            if len(next(csv.reader([before]), [])) < width:
                return None
        except csv.Error:
            pass
    return None if why is None else f"{why}, with no line break after it: the file looks cut off; row set aside"


def _cut_off_last_row(text: str, frame: pd.DataFrame, width: int, path) -> tuple[pd.DataFrame, list[Rejection]]:
    """frame without its last record when the file ends inside it, and that record's rejection."""
    if not len(frame):
        return frame, []
    line = int(frame["ingest_row"].iloc[-1])
    why = _ends_inside(text, line, width)
    if why is None:
        return frame, []
    return frame.iloc[:-1], [Rejection(str(path), line, None, "truncated", why)]


def rows_frame(header: list[str], rows: list[tuple[int, list[str]]]) -> pd.DataFrame:
    """A frame of strings with `ingest_row`; short rows padded, long rows keep the header's width."""
    width = len(header)
    body = [(r + [""] * width)[:width] for _, r in rows]
    frame = pd.DataFrame(body, columns=header, dtype="string") if body else pd.DataFrame(columns=header, dtype="string")
    frame["ingest_row"] = pd.array([line for line, _ in rows], dtype="Int64")
    return frame


@dataclass
class Table:
    """A CSV as strings: `frame` has the file's columns (stripped names) plus `ingest_row`.

    `rejected` holds rows set aside before any mapping (over-long lines, rows wider than the header);
    they count as rows read, so `rows_read` = len(frame) + len(rejected).
    """

    header: list[str]
    frame: pd.DataFrame
    rejected: list[Rejection]
    hxl: dict[str, str]

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len({r.line for r in self.rejected})


def _long_lines(text: str, data: bytes | None = None) -> list[int]:
    """1-based numbers of physical lines longer than MAX_LINE bytes (of their UTF-8 encoding).

    Cheap on the common file: a line longer than MAX_LINE contains a whole aligned window of
    MAX_LINE // 2 bytes with no newline, so when every such window holds a newline (one `find` each,
    which stops at the first line end) there is none; only otherwise are all line ends located.
    """
    if len(text) <= MAX_LINE:
        return []
    data = text.encode("utf-8", "surrogatepass") if data is None else data
    window = MAX_LINE // 2
    if all(data.find(b"\n", k, k + window) >= 0 for k in range(0, len(data) - window + 1, window)):
        return []
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    bounds = np.concatenate(([-1], ends, [raw.size]))
    lengths = np.diff(bounds) - 1
    return (np.flatnonzero(lengths > MAX_LINE) + 1).tolist()


def set_aside_long_lines(text: str, path, rejected: list, data: bytes | None = None) -> str:
    """`text` with each physical line longer than MAX_LINE blanked and set aside (rule line_length, appended
    to `rejected`), so that the rows after it are still read; the same `text` object when there is none."""
    long = _long_lines(text, data)
    if not long:
        return text
    if 1 in long:
        raise InputError(f"{path}: line 1: the header line is over {MAX_LINE:,} bytes long")
    lines = text.split("\n")
    for n in long:
        rejected.append(Rejection(str(path), n, None, "line_length",
                                  f"line {n} is {len(lines[n - 1].encode('utf-8', 'surrogatepass')):,} bytes "
                                  f"long, over the limit of {MAX_LINE:,}; row set aside"))
        lines[n - 1] = ""
    return "\n".join(lines)


_STRAY_CR = re.compile(r"\r(?!\n)")


def set_aside_stray_returns(text: str, path, rejected: list) -> str:
    """In a file whose lines end in LF or CRLF, a carriage return alone (pasted from an old Mac application)
    lies inside a field, but CSV readers end a row there, splitting it in two, each half then set aside for
    the wrong reason. Each physical line holding one is blanked and set aside whole (rule line_break),
    saying so; the same `text` object when there is none (a file whose lines all end in CR is read as is)."""
    if "\r" not in text or "\n" not in text or not _STRAY_CR.search(text):
        return text
    lines = text.split("\n")
    for n, line in enumerate(lines, start=1):
        if "\r" in line.rstrip("\r") or line.count("\r") > 1:
            if n == 1:
                raise InputError(f"{path}: line 1: the header holds a carriage return (CR) inside a cell")
            rejected.append(Rejection(str(path), n, None, "line_break",
                                      f"line {n} holds a carriage return (CR) inside a field, which would split the "
                                      "row in two; row set aside"))
            lines[n - 1] = ""
    return "\n".join(lines)


def read_table(s: Sniff, *, usecols: list[str] | None = None, categorical: bool = False,
               keys: tuple[str, ...] = ()) -> Table:
    """Read a CSV sniff into a frame of strings with true line numbers, the HXL row dropped.

    usecols: keep only these columns (those present), which keeps memory down on wide files.
    categorical: on the fast route, give the columns pandas' category dtype (the same text, each
    distinct value held once), for readers that only go through `col`/`code`/`per_unique`: a
    million-row column of a few hundred values then costs codes, not a million strings. `keys`: columns
    with a distinct value per row (the source's ids), read as plain strings even then.
    """
    text = s.text or ""
    path = s.path
    unique_header(s.header, path, tags=s.second_row)
    rejected: list[Rejection] = []
    # a NUL byte past the start (near it, the file is refused as binary): pandas reads it as a space, so such a
    # file is read row by row, and each record holding one is set aside whole (a record may span lines)
    nul = "\x00" in text
    data = text.encode("utf-8", "surrogatepass") if len(text) > MAX_LINE else None
    blanked = set_aside_stray_returns(set_aside_long_lines(text, path, rejected, data), path, rejected)
    if blanked is not text:
        text, data = blanked, None
    del blanked
    if data is None:
        data = text.encode("utf-8", "surrogatepass")
    frame = None if nul else _fast_frame(data, usecols, categorical, keys)
    del data
    if frame is None:
        header, rows = csv_rows(text, path, rejected=rejected)
        if nul:
            if any("\x00" in h for h in header):
                raise InputError(f"{path}: line 1: the header holds a NUL byte (binary content, not text)")
            binary = {line for line, r in rows if any("\x00" in c for c in r)}
            rejected.extend(Rejection(str(path), line, None, "binary", f"line {line} holds a NUL byte (binary "
                                      "content, not text); row set aside") for line in sorted(binary))
            rows = [(line, r) for line, r in rows if line not in binary]
        frame, shape_rej = wide_rows_set_aside(header, rows, path, usecols)
        rejected.extend(shape_rej)
    else:  # the row-by-row reading (csv_rows) has set aside a cut-off last row already
        frame, cut = _cut_off_last_row(text, frame, len(s.header), path)
        rejected.extend(cut)
    header = list(frame.columns[:-1])
    hxl: dict[str, str] = {}
    if len(frame) and frame["ingest_row"].iloc[0] == 2:
        first = frame.iloc[0, :-1]
        cells = [str(c).strip() for c in first.tolist() if str(c).strip()]
        if cells and all(c.startswith("#") for c in cells):
            hxl = {h: str(t).strip().lower().replace(" ", "") for h, t in zip(header, first.tolist()) if str(t).strip()}
            frame = frame.iloc[1:]
    if not hxl and s.has_hxl_row:
        hxl = s.hxl
    return Table(header=header, frame=frame.reset_index(drop=True), rejected=rejected, hxl=hxl)


def _blank_rows(body: pd.DataFrame) -> pd.Series:
    """Rows whose every cell is blank after stripping (a blank or comma-only line)."""
    blank = pd.Series(True, index=body.index)
    for c in body.columns:
        column = body[c]
        if isinstance(column.dtype, pd.CategoricalDtype):
            empty = np.array([str(v).strip() == "" for v in column.cat.categories] + [True])
            codes = column.cat.codes.to_numpy()
            blank &= empty[np.where(codes < 0, len(empty) - 1, codes)]
        else:
            blank &= column.str.strip() == ""
        if not blank.any():
            break
    return blank


def _fast_frame(data: bytes, usecols: list[str] | None, categorical: bool = False,
                keys: tuple[str, ...] = ()) -> pd.DataFrame | None:
    """pandas' C parser (over the UTF-8 bytes) when each record is one physical line; None when that
    does not hold."""
    try:
        dtype = str
        if categorical:  # a mapping by the file's own (unstripped) header cells
            header = pd.read_csv(io.BytesIO(data[:4 * MAX_LINE]), nrows=0, engine="c", encoding="utf-8",
                                 encoding_errors="surrogatepass").columns
            dtype = {c: (str if str(c).strip() in keys else "category") for c in header}
        with warnings.catch_warnings():
            # with index_col=False, a first data row one field wider than the header only warns, and its
            # last field is dropped: the row-by-row reading (wide_rows_set_aside) sets that line aside instead (a
            # wider row further down is a ParserError)
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.BytesIO(data), dtype=dtype, keep_default_na=False,
                                na_filter=False, skip_blank_lines=False, engine="c", index_col=False,
                                encoding="utf-8", encoding_errors="surrogatepass",
                                usecols=(lambda c: c.strip() in usecols) if usecols is not None else None)
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError, csv.Error, MemoryError, OverflowError):
        return None
    except pd.errors.EmptyDataError:
        return None
    n = data.count(b"\n")
    expected = (n if data.endswith(b"\n") else n + 1) - 1
    if len(frame) != expected:
        # quoted newlines, or a trailing blank line: only trust the count when it matches exactly
        if not (len(frame) == expected - 1 and data.endswith(b"\n\n")):
            return None
    if usecols is not None and _wider_than_header(data):
        return None  # pandas reads the chosen columns of a too-wide row without a word: wide_rows_set_aside sets it aside
    frame.columns = [str(c).strip() for c in frame.columns]
    if any(c.startswith("Unnamed: ") for c in frame.columns) or len(set(frame.columns)) != len(frame.columns):
        return None  # blank or duplicate header cells: let the exact route name them as the file does
    frame["ingest_row"] = pd.array(np.arange(2, len(frame) + 2), dtype="Int64")
    if len(frame.columns) > 1:
        # only possible with blank (or comma-only) lines, checked column by column, stopping at the
        # first column with no blank cell (on a clean file, the first)
        blank = _blank_rows(frame.iloc[:, :-1])
        if blank.any() and (b"\n\n" in data or b"\n\r\n" in data or b"\n," in data or b"\n " in data):
            frame = frame.loc[~blank]
    frame = frame.reset_index(drop=True)
    text_columns = [c for c in frame.columns[:-1] if not isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype({c: "string" for c in text_columns}) if text_columns else frame


def _wider_than_header(data: bytes) -> bool:
    """Whether a line after the first has more fields than the first (each record one physical line, as
    _fast_frame has checked). Commas are counted per line; only a line with as many commas as the header
    has fields can be wider, and only those lines are parsed (quoted commas make a line narrower)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.append(np.flatnonzero(buf == 10), len(buf))
    commas = np.diff(np.searchsorted(np.flatnonzero(buf == 44), ends), prepend=0)
    starts = np.concatenate(([0], ends[:-1] + 1))

    def line(k: int) -> str:
        return data[starts[k]:ends[k]].decode("utf-8", errors="replace")

    width = len(next(csv.reader([line(0)]), []))
    maybe = np.flatnonzero(commas[1:] >= width) + 1
    if not len(maybe):
        return False
    return any(len(fields) > width for fields in csv.reader(io.StringIO("\n".join(line(k) for k in maybe))))


def wide_rows_set_aside(header, rows, path, usecols=None):
    """The rows as a frame (see rows_frame), less those with more fields than the header, which come back as
    rejections (rule `shape`): their extra fields cannot be placed. usecols: the columns to keep."""
    width = len(header)
    rejected = []
    kept = []
    for line, r in rows:
        if len(r) > width:
            rejected.append(Rejection(str(path), line, None, "shape",
                                      f"line {line} has {len(r)} fields, the header has {width} "
                                      "(an unquoted comma or a wrong delimiter?)"))
            continue
        kept.append((line, r))
    frame = rows_frame(header, kept)
    if usecols is not None:
        frame = frame[[c for c in frame.columns[:-1] if c in usecols] + ["ingest_row"]]
    return frame, rejected


def read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror})") from None
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file")
    if not path.is_file():  # a named pipe or a device: reading it could wait for ever
        raise InputError(f"{path}: not a regular file (a pipe or a device); expected a data file")
    if size > MAX_BYTES:
        raise InputError(f"{path}: {size:,} bytes is over the limit of {MAX_BYTES:,}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def sha256_of(path: Path) -> str:
    return file_sha256(path)


# ------------------------------------------------------------------------------------ shared mapping bits

def line_key(sha256: str, lines: pd.Series) -> pd.Series:
    """A row's key where the source gives none, by its line in this file's content: the same file read twice
    keeps its rows once, while line N of two different files never share an obs_id. For ACLED events
    without an id (rare), where both routes must agree; `line_key_sql` is the same in SQL. Other readers
    use `content_key`, which also knows a row repeated in an overlapping file."""
    return f"{sha256[:16]} line " + lines.astype("string")


def content_key(raw: pd.DataFrame, missing: pd.Series) -> pd.Series:
    """A row's key where the source gives none (the rows where `missing`): a hash of the row's cells, with
    the how-many-th such row it is in the file. The same row in two files (an export and an overlapping
    later one) keeps one key, so it is kept once; two identical rows of one file stay two rows. NA where
    the source has a key of its own."""
    import hashlib

    out = pd.Series(pd.NA, index=raw.index, dtype="string")
    if not missing.any():
        return out
    cells = raw.loc[missing.to_numpy(), [c for c in raw.columns if c != "ingest_row"]].astype("string").fillna("\x00")
    text = cells.apply(lambda row: "\x1f".join(row), axis=1) if len(cells.columns) else pd.Series("", index=cells.index)
    digest = text.map(lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest()[:16])
    nth = digest.groupby(digest).cumcount() + 1
    out.loc[cells.index] = "row " + digest + "#" + nth.astype("string")
    return out


def line_key_sql(sha256: str, line: str) -> str:
    return f"'{sha256[:16]} line ' || CAST({line} AS VARCHAR)"


def clean(series: pd.Series) -> pd.Series:
    """Strip text; blank becomes NA (computed once per distinct value: fast on repetitive columns)."""
    from pipeline.sources.base import per_unique

    return per_unique(series, lambda v: v.strip() or None)


def col(frame: pd.DataFrame, name: str | None, default=pd.NA) -> pd.Series:
    """A column as stripped strings, or a constant series when the file lacks it."""
    if name is not None and name in frame.columns:
        return clean(frame[name])
    return pd.Series(default, index=frame.index, dtype="string")


NO_CODE = {"na", "n/a", "not available", "-", "none", "null"}


def code(series: pd.Series) -> pd.Series:
    """A code column where publishers write 'NA' / 'Not available' for none: those become NA."""
    from pipeline.sources.base import per_unique

    return per_unique(series, lambda v: None if v.strip().lower() in NO_CODE or not v.strip() else v.strip())


def iso_date(series: pd.Series) -> pd.Series:
    """'2023-11-06T11:00:00.000Z' -> '2023-11-06' (the text finalize checks); other text (a date followed
    by anything but a time of day, too) left as is, for finalize to set aside."""
    from pipeline.sources.base import DATE_TIME

    s = clean(series)
    timed = s.str.fullmatch(DATE_TIME.pattern, na=False) & (s.str.len() > 10)
    return s.where(~timed, s.str.slice(0, 10))


def unique_header(header: list[str], path: Path, where: str = "line 1", tags: list[str] | None = None) -> None:
    """Refuse a header that names a column twice: which of the two a reader would take is a guess, and
    the other's values would be lost without a word. Blank header cells (trailing commas) may repeat, and
    so may names an HXL hashtag row (`tags`, the file's second row) tells apart, as HXL files do."""
    hashtags = [str(t).strip() for t in tags] if tags and all(
        str(t).strip().startswith("#") for t in tags if str(t).strip()) else []
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        name = str(name).strip()
        if not name:
            continue
        if name in seen:
            first, this = seen[name], i
            told_apart = len(hashtags) >= this and hashtags[first - 1] and hashtags[this - 1] \
                and hashtags[first - 1] != hashtags[this - 1]
            if not told_apart:
                raise InputError(f"{path}: {where}: column {name!r} appears twice (columns {first} and {this}); "
                                 "expected each column to have its own name")
            continue
        seen[name] = i


def require_columns(path: Path, header: list[str], needed, what: str) -> None:
    missing = [c for c in needed if c not in header]
    if missing:
        raise InputError(f"{path}: line 1: missing required column(s) {', '.join(missing)} for {what}")


def stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({"ingest_row": pd.array([], dtype="Int64")})
    return pd.concat(frames, ignore_index=True)


def records_frame(records: list, path: Path, what: str) -> tuple[pd.DataFrame, list[Rejection], int]:
    """JSON records (a list of objects) as a frame of strings, `ingest_row` = the record's number from 1;
    with the records that are not objects (a string, a number, null) set aside, and the records read."""
    if not isinstance(records, list):
        raise InputError(f"{path}: expected a list of {what} records")
    kinds = {str: "a string", bool: "true or false", int: "a number", float: "a number", list: "a list"}
    rejected = [Rejection(str(path), i + 1, None, "shape",
                          f"expected an object with the {what} fields, found {kinds.get(type(r), 'null')}; "
                          "record set aside", None if r is None else str(r)[:200])
                for i, r in enumerate(records) if not isinstance(r, dict)]
    numbers = [i + 1 for i, r in enumerate(records) if isinstance(r, dict)]
    objects = [r for r in records if isinstance(r, dict)] if rejected else records
    frame = pd.DataFrame(objects, dtype=object) if objects else pd.DataFrame()
    for c in frame.columns:
        frame[c] = frame[c].astype("string")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame["ingest_row"] = pd.array(numbers, dtype="Int64")
    return frame, rejected, len(records)


def json_list(obj, *keys: str):
    """The record list of a JSON payload: a bare list, or under one of `keys` ({"data": [...]})."""
    if isinstance(obj, list):
        return obj
    if isinstance(obj, dict):
        for k in keys:
            if isinstance(obj.get(k), list):
                return obj[k]
    return None


def first_keys(obj, *keys: str, records_seen: int = 50) -> set[str]:
    """Keys of the first records of a JSON payload, those that are objects (empty set when there is none):
    a first record lacking a field, or not an object, does not hide what the file is."""
    records = json_list(obj, *keys)
    found: set[str] = set()
    for r in (records or [])[:records_seen]:
        if isinstance(r, dict):
            found |= set(r)
    return found


def finalize_parts(parts, *, fmt: str, path, sha256: str, rows_read: int, extra_rejections=None):
    """`base.finalize` over several mapped frames of the same input rows (one per metric, or per sheet),
    each with its own source-column names, combined into one ReadResult. parts: (frame, source_cols)
    or (frame, source_cols, rewrite) where rewrite(Rejection) -> Rejection (e.g. to name a sheet).

    A row is accepted or rejected whole: when one of its figures is rejected, its other figures are
    dropped too, so the observations always come from exactly the accepted rows.
    """
    from pipeline.schema import ReadResult, empty_observations
    from pipeline.sources.base import finalize

    results, rejected = [], list(extra_rejections or [])
    for part in parts:
        frame, cols = part[0], part[1]
        rewrite = part[2] if len(part) > 2 else None
        r = finalize(frame, fmt=fmt, path=path, sha256=sha256, source_cols=cols)
        label = rewrite(Rejection(str(path), None, None, "", "")).file if rewrite else str(path)
        results.append((label, r.observations))
        rejected.extend(map(rewrite, r.rejected) if rewrite else r.rejected)
    bad = {(r.file, r.line) for r in rejected if r.line is not None}
    frames = []
    for label, obs in results:
        lines = {line for f, line in bad if f == label}
        if lines:
            obs = obs.loc[~obs["ingest_row"].isin(list(lines)).fillna(False).astype(bool)]
        if len(obs):
            frames.append(obs)
    obs = pd.concat(frames, ignore_index=True) if frames else empty_observations()
    seen, unique = set(), []
    for r in rejected:  # one row mapped to two observations reports a shared fault once
        k = (r.file, r.line, r.column, r.message)
        if k not in seen:
            seen.add(k)
            unique.append(r)
    unique.sort(key=lambda r: (r.file, r.line or 0, r.column or ""))
    return ReadResult(format=fmt, file=str(path), rows_read=rows_read, observations=obs, rejected=unique)
