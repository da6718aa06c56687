"""The bulk route: a large, plainly shaped CSV mapped and checked in DuckDB SQL, straight into the warehouse.

The pandas route (textio.read_table -> a reader's mapping -> base.finalize) holds every row as Python
strings: about 8 us per row, so a 5-million-row ACLED export took most of a minute and 4 GB. Here
DuckDB parses the file in parallel into a temporary table, the reader states its mapping as SQL
expressions, and `finalize_sql` applies base.finalize's row rules as one SQL CASE, in finalize's order,
so each rejected row is reported once, at its first fault, with the same column, rule, message and value.
The rows are stored in one pass, each with its first fault; the few faulty ones are then described,
recorded in rejected_observations and deleted. Each file's rows go into a table of their own holding only
the columns that vary; `observations` becomes a view that gives each file's constant columns once
(pipeline/warehouse.py): DuckDB writes a column of one repeated value about as slowly as any other.

What stays in Python is only what depends on Python's own semantics (pandas' number and date parsing,
qualifier words, regular expressions with Unicode classes, country names): those run once per distinct
value (`Context.lookup`) over the few thousand distinct values a column holds, and join back in SQL.
tests/test_bulk.py checks, file by file, that both routes give the same observations and rejections.

A file takes this route only when DuckDB's reading is known to agree with the exact route's:
`prescan` reads its head and refuses anything unusual (compressed, UTF-16, a header DuckDB would read
differently), `scan_body` streams it once beside the parse (its sha256, its line count, no space around
a quote), a row of blank cells sends it back; after parsing, the row count must equal the line count, so no quoted field spans lines
and line numbers are simply row order. Anything else goes the exact route, with its exact line numbers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from pipeline import schema
from pipeline.sources import textio

# Python's str.strip() strips exactly the characters for which str.isspace() is true: give DuckDB's trim
# the same set, so `clean` here is textio.clean there
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
              "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")  # tests/test_bulk.py checks it is that set
CHUNK = 8 << 20
MIN_BYTES = 1 << 20  # smaller files are cheap on the exact route, which stays the reference
# obs_id (20 hex digits per row, all distinct) is stored uncompressed: DuckDB's string compression spent
# 0.09 s per million rows on it when writing, for 12 MB saved; reading it back (the id checks) is faster too
OBS_ID_STORAGE = " USING COMPRESSION uncompressed"


def _debug(label: str, since: float) -> float:
    """With BULK_DEBUG set, print how long a step took; returns now."""
    now = time.perf_counter()
    if os.environ.get("BULK_DEBUG"):
        print(f"bulk: {label} {now - since:.3f}s")
    return now


def lit(value: str | None) -> str:
    """A Python value as a SQL literal (NULL for None); quotes doubled, never interpolated raw."""
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def clean(expr: str) -> str:
    """SQL for textio.clean: stripped as Python strips; blank -> NULL."""
    return f"nullif(trim({expr}, {lit(WHITESPACE)}), '')"


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Prescan:
    path: Path
    sha256: str
    size: int
    lines: int  # physical lines, the header's included
    header: list[str]  # stripped header cells
    second_row: list[str]


def _odd_quotes(chunk: bytes, prev: bytes) -> bool:
    """A field whose quotes have spaces outside them (`a, "b"` or `"b" ,`): DuckDB drops the spaces and
    pandas keeps them, so such files take the exact route. Up to three spaces between a separator (a
    comma, a line break, or either end of prev + chunk) and the quote. prev: the end of the previous
    chunk (its quotes are looked at again, now with what follows them). Vectorised without copying the
    chunk: one pass of numpy over the bytes finds the quotes; those four or more bytes from either end
    are looked at by plain indexing, the few others (and prev's) through `_odd_quotes_at`."""
    import numpy as np

    a = np.frombuffer(chunk, dtype=np.uint8)
    n = len(a)
    pos = np.flatnonzero(a == 34)
    inner = (pos >= 4) & (pos < n - 4)
    mid = pos[inner]
    for step in (-1, 1):  # spaces before the quote, then after it
        cand = mid[a[mid + step] == 32]
        for k in (2, 3, 4):  # the byte k steps away: a separator ends the spaces; another space goes on
            if not len(cand):
                break
            nxt = a[cand + k * step]
            if ((nxt == 44) | (nxt == 10) | (nxt == 13)).any():
                return True
            cand = cand[nxt == 32]
    edge = pos[~inner]
    b = np.frombuffer(prev, dtype=np.uint8)
    if len(b):
        edge = np.concatenate([np.flatnonzero(b == 34) - len(b), edge])
    return bool(len(edge)) and _odd_quotes_at(a, b, edge)


def _odd_quotes_at(a, b, pos) -> bool:
    """_odd_quotes for the quotes at `pos` (indexes into a; negative ones into b, the bytes before it)."""
    import numpy as np

    n, m = len(a), len(b)

    def at(idx):  # the byte at each index of prev + chunk (prev's negative); a line break outside both
        out = a[np.clip(idx, 0, n - 1)] if n else np.full(len(idx), 10, dtype=np.uint8)
        low = idx < 0
        if low.any():
            j = idx[low] + m
            out[low] = np.where(j >= 0, b[np.clip(j, 0, m - 1)], 10) if m else 10
        out[idx >= n] = 10
        return out

    for step in (-1, 1):  # spaces before the quote, then after it
        cand = pos[at(pos + step) == 32]
        spaces = np.ones(len(cand), dtype=bool)
        for k in (1, 2, 3):
            if not len(cand):
                break
            spaces &= at(cand + k * step) == 32
            nxt = at(cand + (k + 1) * step)
            if (spaces & ((nxt == 44) | (nxt == 10) | (nxt == 13))).any():
                return True
    return False


def prescan(path: Path, *, min_bytes: int | None = None) -> Prescan | None:
    """What the bulk route needs before parsing, from the first 64 KiB: a plain UTF-8 CSV of at least
    min_bytes whose header DuckDB reads as the exact route does. None: use the exact route. sha256 and
    lines are filled in by `scan_body`, which reads the whole file, while DuckDB parses it."""
    min_bytes = MIN_BYTES if min_bytes is None else min_bytes
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if not path.is_file() or size < max(min_bytes, 1) or size > textio.MAX_BYTES:
        return None  # small, or refused with the exact route's message
    with open(path, "rb") as fh:
        head = fh.read(min(size, 1 << 16))
    if head[:2] in (b"\x1f\x8b", b"PK", b"\xff\xfe", b"\xfe\xff") or b"\x00" in head or head[:1] in (b"[", b"{"):
        return None
    first = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    cut = first if len(head) == size else first[: first.rfind(b"\n") + 1]
    try:
        text = cut.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines_head = text.split("\n", 2)
    if len(lines_head) < 2 or '"' in lines_head[0] or "\r" in lines_head[0][:-1]:
        return None  # a quoted header cell could span lines or hold a separator: exact route
    try:
        rows = list(csv.reader(io.StringIO("\n".join(lines_head[:2]) + "\n")))
    except csv.Error:  # a carriage return inside the second row, say: the exact route says what is wrong
        return None
    header = [c.strip() for c in rows[0]] if rows else []
    if not header or any(not c or c.startswith("Unnamed: ") for c in header) or len(set(header)) != len(header):
        return None
    from pipeline.sources.detect import canonical_header

    try:
        renamed = canonical_header(header, path)  # as sniff reads the header for the exact route
    except textio.InputError:
        return None  # two columns that would be read as one: the exact route refuses the file, saying so
    header = [renamed.get(i, h) for i, h in enumerate(header)]
    second = rows[1] if len(rows) > 1 else []
    return Prescan(path=path, sha256="", size=size, lines=-1, header=header, second_row=second)


def scan_body(path: Path) -> tuple[str, int] | None:
    """One streaming pass over the whole file: (sha256, physical lines), or None when a quote has spaces
    outside it or a NUL byte is found. Runs in a thread: hashing and numpy release the GIL."""
    import numpy as np

    h = hashlib.sha256()
    lines = 0
    prev = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            h.update(chunk)
            lines += int(np.count_nonzero(np.frombuffer(chunk, dtype=np.uint8) == 10))  # 3x bytes.count
            if b'"' in chunk and _odd_quotes(chunk, prev):
                return None
            if b"\x00" in chunk:  # binary bytes: the exact route sets their lines aside
                return None
            prev = chunk[-4:]
    if prev and not prev.endswith(b"\n"):
        lines += 1
    return h.hexdigest(), lines


def sniff_of(scan: Prescan) -> textio.Sniff:
    """What detection needs (header, second row), without the file's text."""
    return textio.Sniff(path=scan.path, sha256=scan.sha256, kind="csv", encoding="utf-8", header=scan.header,
                        second_row=scan.second_row)


def load_raw(con, scan: Prescan, wanted: list[str] | None, table: str = "_bulk_raw") -> tuple[int, int] | None:
    """Parse the file with DuckDB into a temp table (each wanted column present, by stripped header name,
    as text; None = all) and a view of it with `line`, the file's own line number. Returns (rows read,
    first data line: 3 after an HXL hashtag row), or None when DuckDB reads the file differently from the
    exact route (a parse error, invalid UTF-8, quoted line breaks)."""
    import duckdb

    t0 = time.perf_counter()
    names = [f"c{i}" for i in range(len(scan.header))]
    columns = "{" + ", ".join(f"{lit(n)}: 'VARCHAR'" for n in names) + "}"
    index = {h: i for i, h in enumerate(scan.header)}
    keep = [f"c{index[w]} AS {q(w)}" for w in (scan.header if wanted is None else wanted) if w in index]
    try:
        rows = con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {', '.join(keep) or 'NULL AS _none'} FROM read_csv(?, "
            f"header = false, skip = 1, auto_detect = false, columns = {columns}, delim = ',', quote = '\"', "
            "escape = '\"', comment = '', null_padding = true, strict_mode = true, encoding = 'utf-8', "
            f"max_line_size = {textio.MAX_LINE})", [str(scan.path)]).fetchall()[0][0]
    except duckdb.Error:
        con.execute(f"DROP TABLE IF EXISTS {table}").fetchall()
        return None
    _debug("parse", t0)
    # line = row order + 2 (header = line 1): rowid is the insertion order of a freshly created table
    con.execute(f"CREATE OR REPLACE TEMP VIEW {table}_lines AS SELECT rowid + 2 AS line, * FROM {table}").fetchall()
    hxl = [c.strip() for c in scan.second_row if c.strip()]
    if hxl and all(c.startswith("#") for c in hxl):
        return rows - 1, 3
    return rows, 2


def _cut_off(scan: Prescan, window: int = 1 << 16) -> bool:
    """Whether the file ends, with no line break, inside its last row (textio.cut_off): fewer fields than the
    header, or an open quote; also True when its last line is too long to tell here."""
    with open(scan.path, "rb") as fh:
        fh.seek(max(0, scan.size - window))
        end = fh.read()
    if end.endswith((b"\n", b"\r")):
        return False
    cut = end.rfind(b"\n")
    if cut < 0:
        return True
    return textio.cut_off(end[cut + 1:].decode("utf-8", "replace"), len(scan.header)) is not None


def blank_row(columns: list[str], table: str = "r") -> str:
    """SQL: every cell read is blank (the exact route drops such a row; DuckDB skips only empty lines,
    which the line count catches). ord() <= 32 or >= 133 first keeps the slow exact trim to the few
    candidates."""
    if not columns:
        return "TRUE"
    cells = [f"{table}.{q(c)}" for c in columns]
    maybe = " AND ".join(f"({c} IS NULL OR ord({c}) <= 32 OR ord({c}) >= 133)" for c in cells)
    # a CASE, not AND: in a select list DuckDB evaluates both sides of an AND for every row (13 s a file)
    return f"(CASE WHEN {maybe} THEN {' AND '.join(f'{clean(c)} IS NULL' for c in cells)} ELSE FALSE END)"


class _Unusual(Exception):
    """Found while mapping: the file must take the exact route (nothing has been written yet)."""


def load(con, scan: Prescan, reader, body=None, table: str = "observations_bulk",
         rejected: list | None = None) -> dict | None:
    """The whole bulk route for one file whose reader has `bulk_spec`; None: take the exact route.
    body: a future of scan_body(scan.path) (started by the caller so it overlaps DuckDB's parse).
    table: the new table for the file's rows; rejected: see finalize_sql."""
    wanted = getattr(reader, "BULK_COLUMNS", None)
    try:
        loaded = load_raw(con, scan, wanted)
        got = body.result() if body is not None else scan_body(scan.path)
        if loaded is None or got is None:
            return None
        scan.sha256, scan.lines = got
        if _cut_off(scan):  # the exact route sets the last row aside, saying why
            return None
        rows, first_line = loaded
        if rows <= 0:  # no data row (a header and an HXL row): the lookups would have no type; nothing to gain
            return None
        parsed = rows + (first_line - 2)
        if parsed != scan.lines - 1:  # a quoted field spanning lines: line numbers are not row order
            return None
        read = [c for c in (scan.header if wanted is None else wanted) if c in scan.header]
        ctx = Context(columns=set(read), sha256=scan.sha256)
        spec, fmt = reader.bulk_spec(ctx)
        return finalize_sql(con, ctx, spec, fmt=fmt, scan=scan, raw="_bulk_raw_lines", rows_read=rows,
                            table=table, first_line=first_line, blank=blank_row(read),
                            rows_table="_bulk_raw", rejected=rejected)
    except _Unusual:
        return None
    finally:
        con.execute("DROP VIEW IF EXISTS _bulk_raw_lines").fetchall()
        con.execute("DROP TABLE IF EXISTS _bulk_raw").fetchall()


@dataclass
class Lookup:
    keys: list[str]  # SQL expressions
    outputs: list[str]  # output column names
    func: Callable[[pd.DataFrame], pd.DataFrame]  # distinct keys (k0, k1, ...) -> outputs, same order
    alias: str = ""
    frame: pd.DataFrame | None = None  # the distinct keys and their outputs, once computed


@dataclass
class Context:
    """Handed to a reader's `bulk_spec`: column access and per-distinct-value Python lookups."""

    columns: set[str]
    table: str = "r"
    sha256: str = ""  # the file's, for keys made from its lines (textio.line_key_sql)
    lookups: list[Lookup] = field(default_factory=list)
    _cols: dict[str, str] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.columns

    def raw(self, name: str) -> str:
        return f"{self.table}.{q(name)}" if name in self.columns else "CAST(NULL AS VARCHAR)"

    def col(self, name: str) -> str:
        """textio.col: the column stripped, blank as NULL (NULL when the file lacks it), by textio.clean
        itself once per distinct value: for columns that repeat values (most do)."""
        if name not in self.columns:
            return "CAST(NULL AS VARCHAR)"
        if name not in self._cols:
            self._cols[name] = self.lookup([self.raw(name)], ["v"],
                                           lambda f: pd.DataFrame({"v": textio.clean(_series(f))}))[0]
        return self._cols[name]

    def key(self, name: str) -> str:
        """textio.col for a column of distinct values (a source's ids), in SQL: DuckDB's trim with Python's
        whitespace set is slow, so it runs only on values that start or end with a character that could be
        whitespace (code points <= 32 or >= 133)."""
        if name not in self.columns:
            return "CAST(NULL AS VARCHAR)"
        x = self.raw(name)
        return (f"CASE WHEN ord({x}) BETWEEN 33 AND 132 AND ord(right({x}, 1)) BETWEEN 33 AND 132 THEN {x} "
                f"ELSE {clean(x)} END")

    def lookup(self, keys: list[str], outputs: list[str], func) -> list[str]:
        """Register func over the distinct values of `keys`; returns SQL for each output column."""
        alias = f"_lk{len(self.lookups)}"
        self.lookups.append(Lookup(keys, outputs, func, alias))
        return [f"{alias}.{q(o)}" for o in outputs]


@dataclass
class Spec:
    """A reader's mapping: canonical column -> SQL text expression (absent = NULL), the source's row key,
    the names of the source's columns for messages, and rows set aside before finalize (condition SQL,
    source column, rule, message SQL, value SQL)."""

    exprs: dict[str, str]
    row_key: str
    source_cols: dict[str, str]
    pre: list[tuple[str, str, str, str, str]] = field(default_factory=list)


def _referenced(exprs: list[str], lookups: list[Lookup]) -> list[Lookup]:
    """The lookups whose columns the expressions use, and those their own keys use (in order)."""

    found: set[str] = set()
    todo = list(exprs)
    while todo:
        for alias in re.findall(r"\b(_lk\d+)\.", todo.pop()):
            if alias not in found:
                found.add(alias)
                todo.extend(k for lk in lookups if lk.alias == alias for k in lk.keys)
    return [lk for lk in lookups if lk.alias in found]


def _join(lk: Lookup, prefix: str) -> str:
    on = " AND ".join(f"{lk.alias}.k{i} IS NOT DISTINCT FROM ({k})" for i, k in enumerate(lk.keys))
    return f"LEFT JOIN {prefix}{lk.alias} AS {lk.alias} ON {on}"


def _compute(con, lk: Lookup, frm: str, earlier: list[Lookup], prefix: str) -> None:
    """The lookup's distinct keys (over frm and only the earlier lookups its keys use) and its outputs."""
    t0 = time.perf_counter()
    joins = " ".join(_join(e, prefix) for e in _referenced(lk.keys, earlier))
    keys = ", ".join(f"{k} AS k{i}" for i, k in enumerate(lk.keys))
    distinct = con.execute(f"SELECT DISTINCT {keys} FROM {frm} {joins}").df()
    for c in distinct.columns:
        distinct[c] = distinct[c].astype(object).where(distinct[c].notna(), None).astype("string")
    out = lk.func(distinct.copy()) if len(distinct) else pd.DataFrame({o: [] for o in lk.outputs})
    lk.frame = pd.concat([distinct.reset_index(drop=True), out.reset_index(drop=True)[lk.outputs]], axis=1)
    _debug(f"lookup {lk.keys[0][:50]} ({len(distinct)} distinct)", t0)


def _register(con, lk: Lookup, prefix: str) -> None:
    name = f"{prefix}{lk.alias}"
    con.register(f"{name}_frame", lk.frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_frame").fetchall()
    con.unregister(f"{name}_frame")


_VARIES = object()


def _constant(expr: str):
    """The value of a literal expression made by `lit` (None for NULL); _VARIES for anything else."""

    if expr in ("NULL", "CAST(NULL AS VARCHAR)"):
        return None
    if re.fullmatch(r"'(?:[^']|'')*'", expr, re.S):
        return expr[1:-1].replace("''", "'")
    return _VARIES


def _literal(value) -> str:
    """A feature value as a SQL literal."""

    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "NULL"
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        return "TRUE" if value else "FALSE"
    if isinstance(value, pd.Timestamp):
        return f"DATE '{value.strftime('%Y-%m-%d')}'"
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        return f"CAST({float(value)!r} AS DOUBLE)"
    return lit(str(value))


def _features(values: pd.Series, feats: list[str], country: pd.Series | None, level: int | None) -> pd.DataFrame:
    """What base.finalize derives from one text column, for each of `values`."""
    from pipeline.expectations import pcodes
    from pipeline.sources import base

    out = {}
    for feat in feats:
        if feat == "blank":
            out[feat] = base._blank(values).astype(bool)
        elif feat == "num":
            out[feat] = base.to_number(values)
        elif feat == "date":
            out[feat] = base._to_date(values)
        elif feat == "iso":
            out[feat] = base._matches(values, lambda _: pcodes.ISO3_KNOWN)
        elif feat == "pcode":
            out[feat] = base._matches(values, lambda iso3: pcodes.pattern(iso3, level), country)
        elif feat == "qual":
            out[feat] = pd.array([schema.normalise_qualifier(None if pd.isna(v) else v) for v in values],
                                 dtype="string")
    return pd.DataFrame(out, index=values.index)


def _series(frame: pd.DataFrame, i: int = 0) -> pd.Series:
    return frame[f"k{i}"].astype("string")


def finalize_sql(con, ctx: Context, spec: Spec, *, fmt: str, scan: Prescan, raw: str, rows_read: int,
                 rows_table: str, table: str, first_line: int = 2, blank: str = "FALSE",
                 rejected: list | None = None) -> dict:
    """base.finalize over the reader's SQL mapping; appends set-aside rows to `rejected_observations` (it
    must exist), or as a frame to `rejected` when given (for the caller to append in file order), and
    stores the good rows in the new table `table`, only their varying columns; returns
    the file's counts for `ingest_files`, and in "branch" the SELECT that gives the rows as canonical
    observations (their constant columns as literals).
    blank: SQL for a row the exact route would drop as blank; any such row raises _Unusual before
    anything is written. rows_table: the table under `raw` whose rowid is the line less 2."""

    from pipeline.sources import base
    t0 = time.perf_counter()
    prefix = "_bulk"
    frm = f"(SELECT * FROM {raw} WHERE line >= {first_line}) AS r"
    for lk in ctx.lookups:  # the reader's own (keys over raw columns only)
        _compute(con, lk, frm, [], prefix)

    text_cols = {c: spec.exprs.get(c, "CAST(NULL AS VARCHAR)") for c in schema.COLUMN_NAMES
                 if c not in ("obs_id", "ingest_file", "ingest_row", "ingest_sha256")}
    T = dict(text_cols)
    outputs = {f"{lk.alias}.{q(o)}": (lk, o) for lk in ctx.lookups for o in lk.outputs}

    # finalize's parsing and checks of a value, with finalize's own functions, once per distinct value:
    # a constant is checked once and inlined; a reader's lookup output gets them as extra columns of that
    # lookup (no further join); any other expression gets a lookup of its own
    F: dict[str, dict[str, str]] = {}
    wanted = {c: ["blank"] for c in ("source_id", "source_org", "metric", "basis", "unit")}
    wanted.update({c: ["blank", "iso"] for c in ("country_iso3", "origin_iso3")})
    wanted.update({c: ["blank", "num"] for c in base.NUMERIC})
    wanted.update({c: ["blank", "date"] for c in base.DATES})
    wanted.update({"qualifier": ["qual"], "admin1_code": ["blank", "pcode"], "admin2_code": ["blank", "pcode"]})
    extra = Context(columns=set(), table="r")
    extra.lookups = []
    for name, feats in wanted.items():
        level = {"admin1_code": 1, "admin2_code": 2}.get(name)
        keys = [name] + (["country_iso3"] if level else [])

        def func(f, feats=feats, level=level):
            return _features(_series(f), feats, _series(f, 1).fillna("") if level else None, level)

        if _constant(T[name]) is not _VARIES and (not level or _constant(T[name]) is None
                                                   or _constant(T["country_iso3"]) is not _VARIES):
            one = pd.DataFrame({f"k{i}": pd.array([_constant(T[k]) if _constant(T[k]) is not _VARIES else ""],
                                                  dtype="string") for i, k in enumerate(keys)})
            row = func(one).iloc[0]
            F[name] = {feat: _literal(row[feat]) for feat in feats}
        elif not level and T[name] in outputs:
            lk, out = outputs[T[name]]
            values = lk.frame[out].astype("string").rename("k0").to_frame()
            got = func(values)
            F[name] = {}
            for feat in feats:
                column = f"{out}__{feat}"
                lk.frame[column] = got[feat].to_numpy() if feat != "date" else got[feat].astype("datetime64[s]")
                F[name][feat] = f"{lk.alias}.{q(column)}"
        else:
            alias = f"_lk{len(ctx.lookups) + len(extra.lookups)}"
            lk = Lookup([T[k] for k in keys], feats, func, alias)
            extra.lookups.append(lk)
            F[name] = {feat: f"{alias}.{q(feat)}" for feat in feats}
    nested = "TRUE"
    if _constant(T["admin1_code"]) is not None and _constant(T["admin2_code"]) is not None:
        alias = f"_lk{len(ctx.lookups) + len(extra.lookups)}"
        extra.lookups.append(Lookup([T["admin1_code"], T["admin2_code"]], ["v"], lambda f: pd.DataFrame({"v": [
            a is pd.NA or b is pd.NA or not a.strip() or not b.strip() or b.strip().startswith(a.strip())
            for a, b in zip(_series(f), _series(f, 1))]}), alias))
        nested = f"{alias}.v"
    for lk in ctx.lookups:
        _register(con, lk, prefix)
    for lk in extra.lookups:
        _compute(con, lk, frm, ctx.lookups, prefix)
        _register(con, lk, prefix)
    lookups = ctx.lookups + extra.lookups
    t0 = _debug("lookups", t0)
    B = {c: F[c]["blank"] for c in F if "blank" in F[c]}
    N = {c: F[c]["num"] for c in base.NUMERIC}
    D = {c: F[c]["date"] for c in base.DATES}
    Q = F["qualifier"]["qual"]

    sc = spec.source_cols
    cases: list[tuple[str, str, str, str, str]] = []  # condition, column, rule, message, value

    def add(cond, column, rule, message, value=None):
        cases.append((cond, sc.get(column, column), rule, lit(message), value if value is not None else T[column]))

    for name in ("source_id", "source_org", "metric", "basis", "unit", "country_iso3"):
        add(B[name], name, "required", f"a value is required in {sc.get(name, name)}")
    for name in base.NUMERIC:
        add(f"NOT {B[name]} AND {N[name]} IS NULL", name, "number", "expected a number")
    add(f"{N['value_best']} IS NULL AND {B['value_best']}", "value_best", "required", "a figure is required")
    for name in ("value_low", "value_best", "value_high"):
        add(f"{N[name]} < 0", name, "non_negative", "expected a figure of zero or more")
    for name in ("value_low", "value_best", "value_high"):
        add(f"{N[name]} <> floor({N[name]})", name, "whole_number", base.WHOLE_NUMBER_MESSAGE)
    for name in base.DATES:
        add(f"NOT {B[name]} AND {D[name]} IS NULL", name, "date", "expected a real date as YYYY-MM-DD")
        add(f"{D[name]} NOT BETWEEN DATE '{base.DATE_RANGE[0]}' AND DATE '{base.DATE_RANGE[1]}'", name, "date_range",
            base.DATE_RANGE_MESSAGE)
    for name in ("period_start", "period_end"):
        add(f"{D[name]} IS NULL", name, "required", "a date is required")
    add(f"{D['period_end']} < {D['period_start']}", "period_end", "period_order",
        "the end date is before the start date")
    for name, vocab in schema.VOCABULARIES.items():
        value = Q if name == "qualifier" else T[name]
        add(f"NOT coalesce(list_contains([{', '.join(map(lit, vocab))}], {value}), false)", name, "vocabulary",
            f"expected one of: {', '.join(vocab)}", value)
    for name in ("country_iso3", "origin_iso3"):
        add(f"NOT {B[name]} AND NOT {F[name]['iso']}", name, "country_code",
            "expected an ISO 3166 alpha-3 country code such as SYR")
    for level, name in ((1, "admin1_code"), (2, "admin2_code")):
        add(f"NOT {B[name]} AND NOT {F[name]['pcode']}", name, "pcode",
            f"expected an admin{level} P-code shaped as the country's (such as "
            f"{'SY07' if level == 1 else 'SY0703'} in Syria)")
    add(f"NOT {nested}", "admin2_code", "pcode_nesting", "the admin2 P-code does not start with its admin1 P-code")
    low = (f"coalesce({N['value_low']}, CASE WHEN {Q} IN ('exact', 'at_least', 'more_than') THEN {N['value_best']} "
           f"WHEN {Q} IN ('up_to', 'less_than') THEN 0.0 END)")
    high = f"coalesce({N['value_high']}, CASE WHEN {Q} IN ('exact', 'up_to', 'less_than') THEN {N['value_best']} END)"
    qualifier = _constant(Q)
    if qualifier is not _VARIES:  # the same bounds, worked out here: `exact` makes both the best figure
        if N["value_low"] == "NULL":
            low = N["value_best"] if qualifier in ("exact", "at_least", "more_than") else \
                "CAST(0.0 AS DOUBLE)" if qualifier in ("up_to", "less_than") else "NULL"
        if N["value_high"] == "NULL":
            high = N["value_best"] if qualifier in ("exact", "up_to", "less_than") else "NULL"
    add(f"({low} > {N['value_best']}) OR ({N['value_best']} > {high})", "value_best", "bounds",
        "expected value_low <= value_best <= value_high", f"CAST({N['value_best']} AS VARCHAR)")

    fault = "CASE " + " ".join(f"WHEN ({c[0]}) IS TRUE THEN {k}" for k, c in enumerate(cases)) + " END"
    pre = spec.pre
    pre_idx = ("CASE " + " ".join(f"WHEN ({p[0]}) IS TRUE THEN {i}" for i, p in enumerate(pre)) + " END") \
        if pre else "CAST(NULL AS INTEGER)"
    name = scan.path.name
    out = []
    for c in schema.COLUMN_NAMES:
        if c == "obs_id":
            out.append(f"substr(sha256(coalesce({T['source_id']}, '<NA>') || chr(31) || "
                       f"coalesce(CAST({spec.row_key} AS VARCHAR), '<NA>')), 1, 20)")
        elif c == "ingest_file":
            out.append(lit(name))
        elif c == "ingest_row":
            out.append("r.line")
        elif c == "ingest_sha256":
            out.append(lit(scan.sha256))
        elif c in ("value_low", "value_high"):
            out.append(low if c == "value_low" else high)
        elif c in base.NUMERIC:
            out.append(N[c])
        elif c in base.DATES:
            out.append(f"CAST({D[c]} AS DATE)")
        elif c == "qualifier":
            out.append(Q)
        else:
            out.append(f"CAST({T[c]} AS VARCHAR)")
    # only the columns that vary are stored; the view gives the constants (warehouse.EXACT_TABLE). Every
    # row is stored with its first fault, if any, in the same pass; the few set-aside rows are then
    # described (the rule's column, message and value), recorded and deleted.
    types = {n: ddb for n, (_, ddb, _) in schema.COLUMNS.items()}
    same_as: dict[str, str] = {}  # a column whose expression another stored column has: stored once
    stored = []
    exprs = dict(zip(schema.COLUMN_NAMES, out))
    # the figure itself first, so that its bounds, when equal to it, are stored as it
    for c in sorted(schema.COLUMN_NAMES, key=lambda c: c != "value_best"):
        e = exprs[c]
        if _is_literal(e):
            continue
        twin = next((d for d, f in stored if f == e and types[d] == types[c]), None)
        if twin is None:
            stored.append((c, e))
        else:
            same_as[c] = twin
    body = f"FROM {frm} {' '.join(_join(lk, prefix) for lk in _referenced(out + [pre_idx, fault], lookups))}"
    # preserve_insertion_order is left as it is: it is a global setting, and other files are parsed at the
    # same time on other connections, whose line numbers are their rows' order. Turning it off for this
    # insert saved nothing measurable in DuckDB 2 (0.80-0.82 s a 1M-row file either way).
    columns = ", ".join(f"{q(c)} {types[c]}{OBS_ID_STORAGE if c == 'obs_id' else ''}" for c, _ in stored)
    con.execute(f"CREATE OR REPLACE TABLE {q(table)} ({columns}, _pre INTEGER, _fault INTEGER, _blank BOOLEAN)"
                ).fetchall()
    con.execute(f"INSERT INTO {q(table)} SELECT "
                f"{', '.join(f'CAST({e} AS {types[c]})' for c, e in stored)}, "
                f"{pre_idx}, {fault}, {blank} {body}").fetchall()
    t0 = _debug("insert", t0)
    flagged = con.execute(f"SELECT ingest_row, _blank, _pre, _fault FROM {q(table)} "
                          "WHERE _pre IS NOT NULL OR _fault IS NOT NULL OR _blank").fetchall()
    if any(b for _, b, _, _ in flagged):
        con.execute(f"DROP TABLE {q(table)}").fetchall()
        _drop_lookups(con, lookups, prefix)
        raise _Unusual("a row of blank cells")
    lines: list[int] = []
    if flagged:
        # each set-aside row's first fault is the one stored with it: only the shown values remain to be read
        con.register("_bulk_flagged", pd.DataFrame({"line": [r[0] for r in flagged],
                                                    "pre": pd.array([r[2] for r in flagged], dtype="Int32"),
                                                    "fault": pd.array([r[3] for r in flagged], dtype="Int32")}))
        try:
            # by rowid: DuckDB then reads only those rows (0.09 s -> 0.02 s a file)
            frm_flagged = (f"(SELECT rowid + 2 AS line, * FROM {rows_table} WHERE rowid IN "
                           f"(SELECT line - 2 FROM _bulk_flagged WHERE line >= {first_line})) AS r "
                           "JOIN _bulk_flagged AS _f ON _f.line = r.line")
            lines = _reject(con, name, fmt, scan.sha256, frm_flagged, lookups, prefix, pre, cases,
                            {r[2] for r in flagged if r[2] is not None}, {r[3] for r in flagged if r[3] is not None},
                            rejected)
            if sorted(lines) != sorted(r[0] for r in flagged):  # never delete a row left unrecorded
                raise RuntimeError(f"{name}: the rows set aside could not all be described")
            con.execute(f"DELETE FROM {q(table)} WHERE ingest_row IN (SELECT line FROM _bulk_flagged)").fetchall()
        finally:
            con.unregister("_bulk_flagged")
    for flag in ("_pre", "_fault", "_blank"):
        con.execute(f"ALTER TABLE {q(table)} DROP COLUMN {flag}").fetchall()
    varying = {c for c, _ in stored}
    branch = "SELECT " + ", ".join(q(c) if c in varying else f"{q(same_as[c])} AS {q(c)}" if c in same_as
                                   else f"CAST({e} AS {types[c]}) AS {q(c)}"
                                   for c, e in zip(schema.COLUMN_NAMES, out)) + f" FROM {q(table)}"
    _debug("rejections", t0)
    _drop_lookups(con, lookups, prefix)
    return {"file": name, "format": fmt, "rows_read": rows_read, "rows_accepted": rows_read - len(lines),
            "rows_rejected": len(lines), "error": None, "sha256": scan.sha256, "table": table, "branch": branch}


def _drop_lookups(con, lookups: list[Lookup], prefix: str) -> None:
    for lk in lookups:
        con.execute(f"DROP TABLE IF EXISTS {prefix}{lk.alias}").fetchall()


_LITERAL = re.compile(r"(?:NULL|TRUE|FALSE|'(?:[^']|'')*'|DATE '\d{4}-\d{2}-\d{2}'|-?\d+(?:\.\d+)?(?:e-?\d+)?"
                      r"|CAST\((?:NULL|'(?:[^']|'')*'|-?\d+(?:\.\d+)?(?:e-?\d+)?) AS (?:VARCHAR|DOUBLE|DATE|BIGINT)\))",
                      re.S | re.I)


def _is_literal(expr: str) -> bool:
    """A constant made by lit/_literal (possibly inside CASTs): the same for every row of the file."""
    e = expr.strip()
    while True:
        m = re.fullmatch(r"CAST\((.*) AS (?:VARCHAR|DOUBLE|DATE|BIGINT)\)", e, re.S | re.I)
        if not m or _LITERAL.fullmatch(e):
            break
        e = m.group(1).strip()
    return _LITERAL.fullmatch(e) is not None


def _reject(con, name, fmt, sha256, frm, lookups, prefix, pre, cases, used_pre, used_fault,
            deferred: list | None = None) -> list[int]:
    """Append the set-aside rows of `frm` to rejected_observations, or as one frame to `deferred` (file,
    line, column, rule, message, value); one per row, at its first fault (a reader's own rule first), as
    found when the rows were stored: frm joins each row (r) to `_f`, its `pre` and `fault` indices. Only
    the values of the faults found are read (used_pre, used_fault). Returns their lines."""

    def pick(index: str, items: dict[int, str]) -> str:
        return f"CASE {index} " + " ".join(f"WHEN {i} THEN {e}" for i, e in sorted(items.items())) + " END" if items \
            else "CAST(NULL AS VARCHAR)"

    values = {k: f"CAST({cases[k][4]} AS VARCHAR)" for k in used_fault}
    pre_values = {i: f"CAST({pre[i][4]} AS VARCHAR)" for i in used_pre}
    pre_messages = {i: f"CAST({pre[i][3]} AS VARCHAR)" for i in used_pre}
    exprs = [*values.values(), *pre_values.values(), *pre_messages.values()]
    rows = con.execute(
        f"SELECT r.line, _f.pre, _f.fault, {pick('_f.pre', pre_messages)} AS _pm, {pick('_f.pre', pre_values)} AS _pv, "
        f"{pick('_f.fault', values)} AS _shown "
        f"FROM {frm} {' '.join(_join(lk, prefix) for lk in _referenced(exprs, lookups))}").fetchall()
    if not rows:
        return []
    out = []
    for line, p, f, pm, pv, shown in rows:
        if p is not None:
            out.append((name, line, pre[p][1], pre[p][2], pm, None if pv is None else pv[:200], fmt, sha256))
        else:
            message = cases[f][3][1:-1].replace("''", "'")
            out.append((name, line, cases[f][1], cases[f][2], message, None if shown is None else shown[:200], fmt,
                        sha256))
    out.sort(key=lambda r: (r[1], r[2] or ""))
    frame = pd.DataFrame(out, columns=["file", "line", "column_name", "rule", "message", "value", "format",
                                       "ingest_sha256"])
    if deferred is not None:
        deferred.append(frame)
    else:
        con.register("_rejected_frame", frame)
        con.execute("INSERT INTO rejected_observations SELECT * FROM _rejected_frame").fetchall()
        con.unregister("_rejected_frame")
    return [r[1] for r in out]
