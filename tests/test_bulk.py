"""The bulk route (pipeline/sources/bulk.py: a plain CSV mapped and checked in DuckDB SQL) gives exactly
what the exact route (the reader and base.finalize in pandas) gives: the same observations, the same
rejections (file, line, column, rule, message, value) and the same per-file counts; and a file DuckDB
would read differently goes the exact route."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipeline import ingest
from pipeline.sources import bulk
from test_acled_fast import EDGE as ACLED_EDGE

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
EXACT = 10**12  # bulk_min_bytes that no file reaches: every file takes the exact route


@pytest.fixture
def routes(monkeypatch):
    """Run ingest both ways; record which files the bulk route took."""
    taken: list[str] = []
    real = bulk.load

    def spy(con, scan, reader, body=None, **kw):
        out = real(con, scan, reader, body, **kw)
        if out is not None:
            taken.append(scan.path.name)
        return out

    monkeypatch.setattr(bulk, "load", spy)

    def both(paths):
        taken.clear()
        fast = ingest.ingest(paths, bulk_min_bytes=0)
        # in the order of the files (two bulk files load at once, so they may finish in either order)
        took = sorted(taken, key=[p.name for p in paths].index)
        exact = ingest.ingest(paths, bulk_min_bytes=EXACT)
        assert sorted(taken) == sorted(took), "the exact route never calls bulk.load"
        return fast, exact, took

    return both


def assert_same(fast, exact):
    pd.testing.assert_frame_equal(fast.files, exact.files)
    pd.testing.assert_frame_equal(fast.rejected, exact.rejected, check_exact=True)
    pd.testing.assert_frame_equal(fast.observations, exact.observations, check_exact=True)


def test_generated_acled_and_dtm_same_both_ways(tmp_path, routes):
    from bench.generate import generate

    truth = generate(tmp_path, 20_000)
    paths = [tmp_path / f for f in truth.files if f.endswith(".csv")]
    fast, exact, took = routes(paths)
    assert took == [p.name for p in paths], "both CSV families take the bulk route"
    assert_same(fast, exact)
    rules = fast.rejected.groupby("rule").size().to_dict()
    assert rules == {k: v for k, v in truth.acled_rejected.items() if v}  # the generator's broken rows
    acled = fast.observations[fast.observations["source_id"] == "acled"]
    assert int(acled["value_best"].sum()) == truth.fatalities


def test_files_loaded_at_once_give_the_same_warehouse_as_one_at_a_time(tmp_path, monkeypatch):
    """Bulk files load two at a time (ingest.BULK_WORKERS): the stored rows, the set-aside rows and their
    order, and the per-file counts are those of loading them one by one."""
    from bench.generate import generate

    truth = generate(tmp_path, 24_000, chunk_rows=4_000, bad_share=0.01)
    paths = [tmp_path / f for f in truth.files if f.endswith(".csv")]
    assert len(paths) >= 6
    got = {}
    for workers in (1, 2, 2):
        monkeypatch.setattr(ingest, "BULK_WORKERS", workers)
        got.setdefault(workers, []).append(ingest.ingest(paths, bulk_min_bytes=0))
    one, two = got[1][0], got[2]
    assert one.rejected["file"].nunique() >= 5  # most files have rows set aside
    for other in two:
        assert_same(other, one)


# the reference reader's edge rows, and more
EDGE = ACLED_EDGE + (
    "SYR9,2023-03-11T08:00,1,1 ,\tCivilian targeting ,Battles,,\u00a0Syria,,\u2003Idlib,,,\n"
    "SYR10,2023-03-12,1,\"1,200\",,Battles,,Syria,SYRIA,,,,\n"
    "SYR1,2023-03-13,1,5,,Battles,,Syria,,,,,\n"
    "SYR12,2023-03-14,1,5,,Battles,,Syria,S1,,,,\n"
    "SYR13,2023-13-01,1,5,,Battles,,Syria,,,,,\n"
    "SYR14,2023-03-14,7,5,,Battles,,Syria,,,,,\n"
    "SYR15,1023-03-14,1,5,,Battles,,Syria,,,,,\n"
    "SYR16,2123-03-14,1,5,,Battles,,Syria,,,,,\n"
    "SYR17,2023-03-16,1,1.234,,Battles,,Syria,,,,,\n"
    "SYR18,2023-03-16,1,7.0,,Battles,,Syria,,,,,\n"
    "SYR19,2023-03-17,1,\"1,200\",,Battles,,Syria,,,,,\n"
    "SYR19,2023-03-17,1,\"1,200\",,Battles,,Syria,,,,,\n"
)


def test_acled_edge_rows_same_both_ways(tmp_path, routes):
    """Unknown and bracketed countries, spelled and impossible dates, text and negative figures, an unknown
    precision, a blank id, Unicode whitespace, a thousands separator, a repeated id, a bad ISO3."""
    path = tmp_path / "acled_edge.csv"
    path.write_text(EDGE, encoding="utf-8")
    fast, exact, took = routes([path])
    assert took == ["acled_edge.csv"]
    assert_same(fast, exact)
    assert set(fast.rejected["rule"]) >= {"country", "number", "date", "non_negative", "vocabulary", "required",
                                          "country_code", "date_range", "whole_number"}
    assert fast.files.loc[0, "duplicate_ids"] == 2  # SYR1 twice, with other values: which is true?
    # SYR19's line twice, the same in every cell: a repeat, set aside with the line it repeats, not a conflict
    last = len(EDGE.splitlines())
    assert fast.rejected.loc[fast.rejected["line"] == last, ["rule", "message"]].values.tolist() == [
        ["duplicate", f"the same record as line {last - 1}, repeated (same key, same values); set aside"]]
    assert (fast.observations["ingest_row"] == last - 1).sum() == 1


@pytest.mark.parametrize("name", ["acled_events.csv", "dtm_export_hxl.csv", "dtm_export_plain.csv"])
def test_fixtures_same_both_ways(name, routes):
    fast, exact, _ = routes([FIXTURES / name])
    assert_same(fast, exact)


@pytest.mark.parametrize("change, why", [
    (lambda t: t.replace("Sarmada", '"Sar\nmada"'), "a quoted field spans lines"),
    (lambda t: t.replace("SYR8,", 'SYR8, "x",'), "a space before a quote"),
    (lambda t: t + ",,,,,,,,,,,,\n", "a row of blank cells"),
    (lambda t: t.replace("SYR8,2023-03-10,1,4,,Battles,,Syria,,,,,", "SYR8,2023-03-10,1,4,,Battles,,Syria,,,,,,x,y"),
     "a row two fields wider than the header"),
    (lambda t: "\n".join(line + ",x" if i == 1 else line for i, line in enumerate(t.split("\n"))),
     "the first data row one field wider than the header"),
    (lambda t: t + "\n\nSYR20,2023-03-15,1,1,,Battles,,Syria,,,,,\n", "blank lines"),
    (lambda t: t.replace("Sarmada", "Sar\rmada"), "a carriage return inside a field"),
    (lambda t: t.replace("SYR8,2023-03-10,1,4,,Battles", "SYR8,2023-03-10,1,4,,Bat\rtles"),
     "a carriage return inside a field further down"),
])
def test_unusual_files_take_the_exact_route(tmp_path, routes, change, why):
    path = tmp_path / "acled_unusual.csv"
    path.write_text(change(EDGE), encoding="utf-8", newline="")
    fast, exact, took = routes([path])
    assert took == [], why
    assert_same(fast, exact)
    if "wider" in why:  # set aside whole, not read with a field dropped
        assert "shape" in set(fast.rejected["rule"]), fast.rejected
    if "carriage" in why:  # the row set aside once, saying why, not split in two set aside for other reasons
        line = next(n for n, text in enumerate(EDGE.split("\n"), start=1)
                    if ("Sarmada" if "further" not in why else "SYR8,2023-03-10") in text)
        assert fast.rejected.loc[fast.rejected["line"] == line, "rule"].tolist() == ["line_break"]
        assert fast.files.loc[0, "rows_read"] == len(EDGE.strip().split("\n")) - 1


@pytest.mark.parametrize("cut, truncated", [
    (lambda t: t.rstrip("\n")[:-9], True),  # a download stopped inside the last row: its figure cut too
    (lambda t: t + 'SYR30,2023-03-16,1,"3', True),  # inside an opened quote
    (lambda t: t.rstrip("\n"), False),  # no line break after a whole last row: nothing wrong
])
def test_a_file_cut_off_inside_its_last_row_sets_that_row_aside_both_ways(tmp_path, routes, cut, truncated):
    path = tmp_path / "acled_cut.csv"
    path.write_text(cut(EDGE + "SYR40,2023-03-16,1,123,,Battles,,Syria,,,,,\n"), encoding="utf-8")
    fast, exact, took = routes([path])
    assert took == ([] if truncated else ["acled_cut.csv"])  # a cut-off file is read the exact way
    assert_same(fast, exact)
    last = len(path.read_text(encoding="utf-8").split("\n"))
    rows = fast.rejected.loc[fast.rejected["line"] == last, ["rule", "message"]].values.tolist()
    if truncated:
        assert rows and rows[0][0] == "truncated" and "the file looks cut off" in rows[0][1], rows
        assert last not in set(fast.observations["ingest_row"])
    else:
        assert not rows and last in set(fast.observations["ingest_row"])


def test_not_utf8_takes_the_exact_route(tmp_path, routes):
    path = tmp_path / "acled_cp1256.csv"
    text = EDGE.replace("Sarmada", "سرمدا").replace("\u00a0", " ").replace("\u2003", " ")
    path.write_bytes(text.encode("cp1256"))
    fast, exact, took = routes([path])
    assert took == []
    assert_same(fast, exact)
    assert "سرمدا" in set(fast.observations["place"].dropna())


def test_the_same_large_file_twice_is_kept_once(tmp_path, routes):
    shutil.copy(FIXTURES / "dtm_export_plain.csv", tmp_path / "a.csv")
    shutil.copy(FIXTURES / "dtm_export_plain.csv", tmp_path / "b.csv")
    fast, exact, took = routes([tmp_path / "a.csv", tmp_path / "b.csv"])
    assert took == ["a.csv", "b.csv"]
    assert_same(fast, exact)
    # kept once, from the last file that has it (a later export revises a record: see test_ingest)
    assert fast.observations["ingest_file"].eq("b.csv").all()
    assert list(fast.files["duplicate_ids"]) == [0, 0]


def test_prescan_reads_the_header_and_scan_body_hashes_and_counts(tmp_path):
    from pipeline.schema import file_sha256

    path = tmp_path / "x.csv"
    path.write_text(EDGE, encoding="utf-8")
    scan = bulk.prescan(path, min_bytes=0)
    assert scan.header[:2] == ["event_id_cnty", "event_date"]
    assert bulk.scan_body(path) == (file_sha256(path), EDGE.count("\n"))
    assert bulk.prescan(path) is None, "small files stay on the exact route by default"


def test_whitespace_is_what_python_strips():
    assert set(bulk.WHITESPACE) == {ch for ch in map(chr, range(0x110000)) if ch.isspace()}


def test_a_file_name_with_quotes_stays_text(tmp_path, routes):
    """File names reach SQL only as quoted literals: a name written as SQL is just a name."""
    name = "o'brien'); DROP TABLE observations; --.csv"
    shutil.copy(FIXTURES / "dtm_export_plain.csv", tmp_path / name)
    fast, exact, took = routes([tmp_path / name])
    assert took == [name]
    assert_same(fast, exact)
    assert set(fast.observations["ingest_file"]) == {name}


def _odd_quotes_by_definition(data: bytes) -> bool:
    """The rule stated plainly: a quote with one to three spaces between it and a comma, a line break or an
    end of the text, on either side."""
    text = b"\n" + data + b"\n"
    return re.search(rb'[,\r\n] {1,3}"|" {1,3}[,\r\n]', text) is not None


@pytest.mark.parametrize("data", [
    b'a,b\n1,"x"\n', b'a,b\n1, "x"\n', b'a,b\n1,   "x"\n', b'a,b\n1,    "x"\n', b'a,b\n"x" ,1\n',
    b'a,b\n"x"   \n', b'a,b\n"x"    ,1\n', b' "x",1\n', b'"x" ', b'"x"  ', b'a,"he said ""hi"" to me"\n',
    b'a,b\r\n1,\r "x"\r\n', b'a, b "c" d\n', b'"', b'', b'   ', b'a,b\n1,"x" y\n',
])
def test_odd_quotes_matches_its_definition(data):
    assert bulk._odd_quotes(data, b"") == _odd_quotes_by_definition(data)


def test_odd_quotes_matches_its_definition_on_random_text_and_across_chunks():
    import random

    rng = random.Random(7)
    for _ in range(400):
        data = bytes(rng.choice(b' ",\nab') for _ in range(rng.randint(0, 40)))
        assert bulk._odd_quotes(data, b"") == _odd_quotes_by_definition(data), data
        cut = rng.randint(0, len(data))
        # scan_body passes the last four bytes of the previous chunk as prev: a chunk's end may look like a
        # line break (a harmless false alarm: the exact route), but a real case is never missed
        if _odd_quotes_by_definition(data):
            assert bulk._odd_quotes(data[:cut], b"") or bulk._odd_quotes(data[cut:], data[:cut][-4:]), (data, cut)


def test_odd_quotes_matches_its_definition_on_longer_text():
    """Quotes four or more bytes from either end of a chunk take the vectorised path, the others the
    edge path: both against the definition, on texts long enough to hold many of each."""
    import random

    rng = random.Random(11)
    for _ in range(300):
        data = bytes(rng.choice(b'   "",\n\rabc') for _ in range(rng.randint(8, 300)))
        assert bulk._odd_quotes(data, b"") == _odd_quotes_by_definition(data), data


def test_bulk_rows_are_stored_once_per_varying_column_and_read_through_a_view(tmp_path):
    """A bulk file's rows sit in a table of their own with only the columns that vary; `observations` is a
    view with the canonical columns and types over them and the other rows; the next ingest replaces it."""
    import duckdb

    from pipeline import schema, warehouse

    big = tmp_path / "acled_edge.csv"
    big.write_text(EDGE, encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ingest.ingest_into(con, [ingest.DEFAULT_FILES[0], big], bulk_min_bytes=0)
    kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert kinds["observations"] == "VIEW"
    assert warehouse.observation_tables(con) == [warehouse.EXACT_TABLE, f"{warehouse.BULK_PREFIX}1"]
    described = con.execute("DESCRIBE observations").fetchall()
    assert [(r[0], r[1]) for r in described] == [(n, ddb) for n, (_, ddb, _) in schema.COLUMNS.items()]
    stored = {r[0] for r in con.execute(f"DESCRIBE {warehouse.BULK_PREFIX}1").fetchall()}
    assert {"obs_id", "value_best", "period_start", "ingest_row", "notes"} <= stored
    assert not stored & {"source_id", "source_url", "metric", "unit", "ingest_file", "ingest_sha256", "origin_iso3"}
    # an exact figure is its own bounds: stored once, given three times
    assert not stored & {"value_low", "value_high"}
    assert con.execute("SELECT count(*) FROM observations WHERE source_id = 'acled' AND (value_low IS DISTINCT FROM "
                       "value_best OR value_high IS DISTINCT FROM value_best)").fetchone()[0] == 0
    rows = con.execute("SELECT DISTINCT source_id, metric, ingest_file FROM observations WHERE source_id = 'acled'"
                       ).fetchall()
    assert rows == [("acled", "killed", "acled_edge.csv")]
    # the same warehouse ingested again with small files only: a plain table, nothing left over (nor the
    # table of a run that failed before its view was made)
    con.execute(f"CREATE TABLE {warehouse.BULK_PREFIX}7 AS SELECT 1 AS stale").fetchall()
    ingest.ingest_into(con, [ingest.DEFAULT_FILES[0]])
    kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert kinds["observations"] == "BASE TABLE"
    assert not [n for n in kinds if n.startswith(warehouse.BULK_PREFIX) or n == warehouse.EXACT_TABLE]
    con.close()


def test_chart_sources_over_per_file_tables_are_those_of_one_query_over_the_view(tmp_path):
    """sources_of_each looks in the small table first and scans the per-file tables only for the ids it
    did not find there: the same sources, in the same order, as one query over the whole view."""
    import duckdb

    from pipeline.charts import sources_of_each

    big = tmp_path / "acled_edge.csv"
    big.write_text(EDGE, encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ingest.ingest_into(con, [ingest.DEFAULT_FILES[0], big], bulk_min_bytes=0)
    facts = [r[0] for r in con.execute("SELECT obs_id FROM observations_exact ORDER BY obs_id LIMIT 4").fetchall()]
    events = [r[0] for r in con.execute(f"SELECT obs_id FROM {warehouse_bulk(1)} ORDER BY obs_id LIMIT 3").fetchall()]
    lists = [facts[:2], events[:1], facts[2:] + events[1:] + ["no-such-id"], [], ["no-such-id"], facts + events]

    def one_query(id_lists):
        out = [[] for _ in id_lists]
        for i, obs_ids in enumerate(id_lists):
            for o, t, u, p in con.execute(
                    "SELECT DISTINCT source_org, source_title, source_url, published_on FROM observations WHERE "
                    "obs_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY published_on NULLS LAST, source_org, "
                    "source_title, source_url", [obs_ids]).fetchall():
                out[i].append({"org": o, "title": t, "url": u, "published_on": p.isoformat() if p else None})
        return out

    got = sources_of_each(con, lists)
    assert got == one_query(lists)
    assert any(s["org"] == "ACLED" for s in got[1]) and len({s["org"] for s in got[5]}) >= 2
    con.close()


def warehouse_bulk(n: int) -> str:
    from pipeline import warehouse

    return f"{warehouse.BULK_PREFIX}{n}"


def test_files_read_ahead_are_stored_in_their_turn(tmp_path, routes):
    """The exact route's files are read one ahead in a thread while DuckDB works on the bulk files: the
    result is the same, file by file and in order, an unreadable file included."""
    big = tmp_path / "a_acled.csv"
    big.write_text(EDGE, encoding="utf-8")
    broken = tmp_path / "b_broken.csv"
    broken.write_bytes(b"\x00\x01 not a table \xff\n")
    paths = [ingest.DEFAULT_FILES[0], big, broken, FIXTURES / "dtm_export_plain.csv"]
    fast, exact, took = routes(paths)
    assert took == ["a_acled.csv", "dtm_export_plain.csv"]
    assert_same(fast, exact)
    assert list(fast.files["file"]) == [p.name for p in paths]
    assert fast.files.loc[2, "error"] and fast.files.loc[2, "rows_read"] == 0


def test_dtm_latest_round_same_both_ways_with_odd_round_numbers(tmp_path, routes):
    """The latest round per unit, worked out by SQL on the bulk route: rounds that are not numbers ("nan",
    blank, text) never count, a unit whose rounds are all such has no recommended row, "5.0" equals 5."""
    header = (FIXTURES / "dtm_export_plain.csv").read_text(encoding="utf-8").splitlines()[0]
    rows = []
    for unit, rounds in (("HT0112", ["4", "5", "nan"]), ("HT0113", ["", "abc", "nan"]), ("HT0114", ["5.0", "5", " 3 "]),
                         ("HT0115", ["7", "inf", "2"])):
        for k, rnd in enumerate(rounds):
            rows.append(f"{unit}{k},Countrywide monitoring,Haiti,HTI,Ouest,HT01,Delmas,{unit},2,{100 + k},"
                        f"2023-12-{10 + k}T00:00:00,2023,12,{rnd},Conflict,1,1,Ouest,HT01,BA,Active")
    path = tmp_path / "dtm_rounds.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    fast, exact, took = routes([path])
    assert took == ["dtm_rounds.csv"]
    assert_same(fast, exact)
    recommended = fast.observations.loc[fast.observations["role"] == "recommended", "admin2_code"].tolist()
    assert sorted(recommended) == ["HT0112", "HT0114", "HT0114", "HT0115"]


def test_a_nul_byte_past_the_first_64_kib_takes_the_exact_route_which_sets_its_line_aside(tmp_path, routes):
    header, *rows = EDGE.rstrip("\n").split("\n")
    good = next(r for r in rows if r.startswith("SYR8,"))
    filler = [good.replace("SYR8,", f"SYRF{i},", 1) for i in range(2000)]
    text = "\n".join([header, *rows, *filler, good.replace("SYR8,", "SYRNUL,", 1).replace("Battles", "Batt\x00les")])
    assert text.index("\x00") > 1 << 16  # beyond what prescan reads
    path = tmp_path / "acled_nul.csv"
    path.write_text(text + "\n", encoding="utf-8")
    fast, exact, took = routes([path])
    assert took == []
    assert_same(fast, exact)
    nul = fast.rejected[fast.rejected["rule"] == "binary"]
    assert list(nul["line"]) == [len(rows) + len(filler) + 2]
    assert not fast.observations["notes"].fillna("").str.contains("\x00").any()


def test_a_column_named_but_for_case_is_read_the_same_both_ways(tmp_path, routes):
    path = tmp_path / "acled_renamed.csv"
    header, rest = EDGE.split("\n", 1)
    assert "civilian_targeting" in header
    path.write_text(header.replace("civilian_targeting", "Civilian Targeting") + "\n" + rest, encoding="utf-8")
    fast, exact, took = routes([path])
    assert took == ["acled_renamed.csv"]
    assert_same(fast, exact)
    plain = tmp_path / "acled_plain.csv"
    plain.write_text(EDGE, encoding="utf-8")
    want = ingest.ingest([plain], bulk_min_bytes=0).observations
    assert (fast.observations["population"] == "civilians").sum() == (want["population"] == "civilians").sum() > 0


def test_a_file_the_bulk_route_declines_keeps_every_later_files_rejections_in_order(tmp_path, routes):
    """A cut-off first file goes the exact way; a second file with a repeated row and a bad date stays bulk.
    Each file's set-aside rows are stored together, in file order, the same both ways (a declined file once
    took two places in that order, and the second file's repeat was filed under the first)."""
    first = tmp_path / "a_first.csv"
    first.write_text(EDGE.rstrip("\n")[:-9], encoding="utf-8")
    second = tmp_path / "b_second.csv"
    second.write_text(EDGE + "SYR60,2023-03-18,1,2,,Battles,,Syria,,,,,\n" * 2, encoding="utf-8")
    fast, exact, took = routes([first, second])
    assert took == ["b_second.csv"]
    assert_same(fast, exact)
    files = fast.rejected["file"].tolist()
    assert files == sorted(files) and {"a_first.csv", "b_second.csv"} == set(files)
    # the second file's two repeats (EDGE's SYR19, and SYR60); the first file's second SYR19 is its cut-off row
    assert fast.rejected.loc[fast.rejected["rule"] == "duplicate", "file"].tolist() == ["b_second.csv"] * 2


@pytest.mark.parametrize("name", ["dtm_export_hxl.csv", "dtm_export_plain.csv", "acled_events.csv"])
def test_a_bulk_file_without_data_rows_is_read_as_no_rows(tmp_path, routes, name):
    """A header (and HXL row) alone once raised a DuckDB binder error on the bulk route: its lookups had no
    values, so no type."""
    text = (FIXTURES / name).read_text(encoding="utf-8").split("\n")
    path = tmp_path / name
    path.write_text("\n".join(text[:2] if "hxl" in name else text[:1]) + "\n", encoding="utf-8")
    fast, exact, _ = routes([path])
    assert_same(fast, exact)
    assert fast.files.loc[0, "rows_read"] == 0 and len(fast.observations) == 0
