"""Broken inputs: each gives one clear message naming the file (and line and column where it applies),
never a traceback, with bounded memory; the good rows of a partly bad file are kept."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import random
import re
import resource
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from pipeline.schema import InputError
from pipeline.sources.detect import read_path

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "sources"
CLI = ROOT / ".venv" / "bin" / "displacement"
_spec = importlib.util.spec_from_file_location("make_xlsx", FIX / "make_xlsx.py")
make_xlsx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_xlsx)

GOOD = (FIX / "hapi_idps.csv").read_text()
HEADER, *ROWS = GOOD.splitlines()
# three curated figures, invented, in the facts table's own columns
FACTS_TEXT = (
    "fact_id,source_id,metric,basis,population,unit,value,qualifier,period_start,period_end,date_precision,"
    "country_iso3,place,role,source_org,source_title,notes\n"
    "F1,ocha,displaced,flow,all,people,10,exact,2019-01-01,2019-01-02,day,SYR,X,recommended,OCHA,Flash,\n"
    "F2,ocha,displaced,flow,all,people,20,exact,2019-01-03,2019-01-04,day,SYR,X,recommended,OCHA,Flash,\n"
    "F3,ocha,displaced,flow,all,people,30,exact,2019-01-05,2019-01-06,day,SYR,X,recommended,OCHA,Flash,\n")


def write(tmp_path, name, content) -> Path:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def cli(*args) -> subprocess.CompletedProcess:
    exe = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "pipeline.cli"]
    env = {k: v for k, v in os.environ.items() if k != "DISPLACEMENT_DEBUG"}
    return subprocess.run(exe + list(args), capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


def refused(path: Path, pattern: str) -> str:
    with pytest.raises(InputError) as info:
        read_path(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert pattern.lower() in message.lower(), message
    return message


def with_row(line_no: int, row: str) -> str:
    """The good fixture with `row` replacing data line `line_no` (header = line 1)."""
    rows = list(ROWS)
    rows[line_no - 2] = row
    return "\n".join([HEADER, *rows]) + "\n"


def only_rejection(result):
    assert result.rows_rejected == 1
    assert result.rows_read == result.rows_accepted + result.rows_rejected == len(ROWS)
    assert len(result.observations) == len(ROWS) - 1  # the good rows are kept
    return result.rejected[0]


# ------------------------------------------------------------------------------ unreadable files

def test_empty(tmp_path):
    refused(write(tmp_path, "empty.csv", b""), "empty")
    refused(write(tmp_path, "blank.csv", b"\n\n  \n"), "empty")


def test_binary_junk(tmp_path):
    rng = random.Random(7)
    refused(write(tmp_path, "junk.csv", bytes(rng.randrange(256) for _ in range(5000))), "")
    # junk without NUL bytes: not UTF-8, and not Arabic text either
    no_nul = bytes(rng.randrange(128, 256) for _ in range(5000))
    refused(write(tmp_path, "junk2.csv", no_nul), "not UTF-8")


def test_wrong_delimiter(tmp_path):
    refused(write(tmp_path, "semi.csv", GOOD.replace(",", ";")), "semicolons")
    refused(write(tmp_path, "tabs.csv", GOOD.replace(",", "\t")), "tabs")


def test_required_column_missing(tmp_path):
    text = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != 12) for line in GOOD.splitlines())
    msg = refused(write(tmp_path, "nopop.csv", text), "missing required column(s) population")
    assert "line 1" in msg and "HAPI" in msg


def test_unknown_format(tmp_path):
    refused(write(tmp_path, "other.csv", "a,b,c\n1,2,3\n"), "unknown format")
    refused(write(tmp_path, "other.json", json.dumps({"hello": [1, 2]})), "unknown format")


def test_truncated_json(tmp_path):
    text = (FIX / "idmc_idu.json").read_text()
    refused(write(tmp_path, "cut.json", text[: len(text) // 2]), "invalid JSON")


def test_corrupt_workbook(tmp_path):
    good = make_xlsx.write_xlsx(tmp_path / "good.xlsx", make_xlsx.ACLED_SHEETS).read_bytes()
    refused(write(tmp_path, "cut.xlsx", good[: len(good) // 2]), "corrupt")
    # a well-formed zip whose sheet XML is garbage
    bad = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, b"<worksheet><sheetData><row" if item.filename.endswith("sheet3.xml") else data)
    refused(write(tmp_path, "garbled.xlsx", bad.getvalue()), "")


def test_truncated_gzip(tmp_path):
    import gzip

    data = gzip.compress(GOOD.encode())
    refused(write(tmp_path, "cut.csv.gz", data[: len(data) // 2]), "truncated gzip")


@pytest.fixture(scope="module")
def gzip_bomb(tmp_path_factory) -> Path:
    """1 GB of zeros, gzip level 9 (about 1 MB), built by streaming so the test never holds 1 GB."""
    path = tmp_path_factory.mktemp("bomb") / "zeros.csv.gz"
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(16 << 20)
    with open(path, "wb") as fh:
        for _ in range(64):
            fh.write(c.compress(chunk))
        fh.write(c.flush())
    return path


def test_gzip_bomb_is_refused_with_bounded_memory(gzip_bomb):
    assert gzip_bomb.stat().st_size < 2 << 20
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = cli("validate", str(gzip_bomb))
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert proc.returncode == 2
    assert "decompression bomb" in proc.stderr and str(gzip_bomb) in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert max(peak_kb, before) < 800 * 1024, f"peak RSS {peak_kb} kB"


def test_zip_bomb_is_refused(tmp_path):
    p = tmp_path / "zeros.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("zeros.csv", "w", force_zip64=True) as fh:
            for _ in range(40):
                fh.write(bytes(8 << 20))
    refused(p, "decompression bomb")


# ------------------------------------------------------------------- partly bad: good rows kept

def test_text_in_number_column(tmp_path):
    bad = ROWS[2].replace(",40000,", ",forty thousand,")
    r = read_path(write(tmp_path, "text.csv", with_row(4, bad)))
    x = only_rejection(r)
    assert (x.line, x.column, x.value) == (4, "population", "forty thousand") and "number" in x.message


def test_negative_figure(tmp_path):
    r = read_path(write(tmp_path, "neg.csv", with_row(3, ROWS[1].replace(",150000,", ",-150000,"))))
    x = only_rejection(r)
    assert (x.line, x.column) == (3, "population") and "zero or more" in x.message


def test_end_before_start(tmp_path):
    bad = ROWS[0].replace("2023-03-31,2023-03-31", "2023-03-31,2023-01-31")
    x = only_rejection(read_path(write(tmp_path, "order.csv", with_row(2, bad))))
    assert (x.line, x.column) == (2, "reference_period_end") and "before" in x.message


def test_impossible_date(tmp_path):
    bad = ROWS[4].replace("2023-06-30,2023-06-30", "2023-02-30,2023-02-30")
    x = only_rejection(read_path(write(tmp_path, "date.csv", with_row(6, bad))))
    assert (x.line, x.column) == (6, "reference_period_start") and "real date" in x.message


def test_truncated_csv_keeps_complete_rows(tmp_path):
    text = GOOD.rstrip("\n")
    cut = text[: text.rindex(",Hurricane Matthew") + 5]  # the last row stops mid-field
    r = read_path(write(tmp_path, "cut.csv", cut))
    x = only_rejection(r)
    assert x.line == 7


@pytest.mark.parametrize("line", [2, 5, 3 + len(ROWS) // 2])
def test_row_wider_than_header(tmp_path, line):
    """One field too many anywhere, the first data row included: there pandas' parser only warns and drops
    the row's last field, which must not pass as a good row."""
    bad = ROWS[3].replace(",52000,", ",52,000,")  # an unquoted thousands separator
    assert bad.count(",") == HEADER.count(",") + 1
    r = read_path(write(tmp_path, "wide.csv", with_row(line, bad)))
    x = only_rejection(r)
    assert x.line == line and x.rule == "shape" and "fields" in x.message


@pytest.mark.parametrize("line", [2, 4])
def test_acled_row_with_an_unquoted_comma_in_its_notes_is_set_aside_not_shifted(tmp_path, line):
    """ACLED's reader reads only the columns it maps, and pandas' parser then takes a too-wide row without a
    word: its fatalities would be read from the second half of the notes. The row is set aside; the rest
    are read."""
    header, first = (FIX / "acled_events.csv").read_text().splitlines()[:2]
    notes = '"An invented strike, for testing; with a comma"'
    assert notes in first
    rows = [first.replace("SYR90001", f"SYR9000{k}") for k in range(1, 6)]
    rows[line - 2] = rows[line - 2].replace(notes, "struck at dawn, 9 killed")
    r = read_path(write(tmp_path, "acled_shifted.csv", "\n".join([header, *rows]) + "\n"))
    assert [(x.line, x.rule) for x in r.rejected] == [(line, "shape")], r.rejected
    assert r.rows_read == 5 and len(r.observations) == 4


def test_a_20_mb_line_is_set_aside_with_bounded_memory(tmp_path):
    huge = "HTI,Y,Y," + "x" * (20 << 20) + ",,,,,,0,Countrywide monitoring,BA,1,1,2023-03-31,2023-03-31,a,b,,"
    p = write(tmp_path, "long.csv", with_row(3, huge))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = cli("validate", "--json", str(p))
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["rows_read"], out["rows_accepted"], out["rows_rejected"]) == (6, 5, 1)
    assert out["errors"][0]["line"] == 3 and "over the limit" in out["errors"][0]["message"]
    assert max(peak_kb, before) < 800 * 1024


def test_header_only(tmp_path):
    r = read_path(write(tmp_path, "header.csv", HEADER + "\n"))
    assert (r.format, r.rows_read, r.rows_rejected, len(r.observations)) == ("hapi-idps", 0, 0, 0)
    proc = cli("validate", str(tmp_path / "header.csv"))
    assert proc.returncode == 0 and "no data rows" in proc.stdout


@pytest.mark.parametrize("name, cut, line, why", [
    ("hapi.csv", lambda t: t.rstrip("\n")[:-12], 7, "the file ends after 17 of this row's 20 fields"),
    ("facts.csv", lambda t: t + 'F9,ocha,displaced,flow,all,people,5,,2019-01-01,2019-01-02,day,,SYR,,,X,X,'
                            'recommended,OCHA,"Flash upd', 4, "the file ends inside a quoted field of this row"),
])
def test_a_file_cut_off_inside_its_last_row_sets_that_row_aside(tmp_path, name, cut, line, why):
    """A download stopped mid-row must not leave a figure cut to its first digits: the row is set aside."""
    text = GOOD if name == "hapi.csv" else (
        "fact_id,source_id,metric,basis,population,unit,value,qualifier,period_start,period_end,date_precision,"
        "published_on,country_iso3,admin1_code,admin1_name,place,place_as_published,role,source_org,source_title\n"
        "F1,ocha,displaced,flow,all,people,10,,2019-01-01,2019-01-02,day,,SYR,,,X,X,recommended,OCHA,Flash\n"
        "F2,ocha,displaced,flow,all,people,20,,2019-01-03,2019-01-04,day,,SYR,,,X,X,recommended,OCHA,Flash\n")
    r = read_path(write(tmp_path, name, cut(text)))
    assert [(x.line, x.rule) for x in r.rejected] == [(line, "truncated")]
    assert r.rejected[0].message.startswith(why) and "the file looks cut off" in r.rejected[0].message
    assert r.rows_read == len(r.observations) + 1 and line not in set(r.observations["ingest_row"])
    whole = read_path(write(tmp_path, "whole_" + name, text.rstrip("\n")))  # no final line break: nothing wrong
    assert not whole.rejected and len(whole.observations) == len(text.rstrip("\n").split("\n")) - 1


@pytest.mark.parametrize("payload", ["[]", "[\n]\n", '{"results": [], "count": 0}', '{"data": []}'])
def test_a_json_payload_without_records_is_read_as_no_rows_not_refused(tmp_path, payload):
    """An API asked for what is new answers `[]` on a quiet day: nothing to read, nothing wrong."""
    path = write(tmp_path, "idmc_since_yesterday.json", payload)
    r = read_path(path)
    assert (r.format, r.rows_read, r.rows_rejected, len(r.observations)) == ("json-no-records", 0, 0, 0)
    proc = cli("validate", str(path))
    assert proc.returncode == 0 and "no data rows (the JSON holds no records)" in proc.stdout, proc.stdout


@pytest.mark.parametrize("payload, found", [('{"status": "ok"}', "a JSON object with keys status"),
                                            ("[1, 2]", "a JSON list of 2 items"),
                                            # an API's refusal beside an empty list is no quiet day
                                            ('{"success": false, "error": {"status": 403}, "data": []}',
                                             "a JSON object with keys success, error, data")])
def test_a_json_payload_of_no_known_shape_is_still_refused(tmp_path, payload, found):
    with pytest.raises(InputError, match=f"unknown format: {found}"):
        read_path(write(tmp_path, "odd.json", payload))


def test_workbook_bad_cells_name_sheet_row_and_column(tmp_path):
    sheets = dict(make_xlsx.ACLED_SHEETS)
    sheets["HRP_1"] = sheets["HRP_1"] + [["Syria", "Idleb", "Harim", "SYR", "SY0704", "SY07", "December", "2019",
                                          -3, 2]]
    r = read_path(make_xlsx.write_xlsx(tmp_path / "neg.xlsx", sheets))
    assert r.rows_read == 7 and r.rows_rejected == 1 and len(r.observations) == 12
    x = r.rejected[0]
    assert (x.line, x.column) == (5, "Events") and "HRP_1" in x.message and "HRP_1" in x.file


# ------------------------------------------------------------------------------------- the CLI

def test_cli_json_report_for_a_partly_bad_file(tmp_path):
    p = write(tmp_path, "mixed.csv", with_row(4, ROWS[2].replace(",40000,", ",n/a,")))
    proc = cli("validate", "--json", str(p))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"file", "readable", "format", "rows_read", "rows_accepted", "rows_rejected", "errors",
                        "file_checks", "renamed_columns"}
    assert out["renamed_columns"] == {}
    assert out["file"] == str(p) and out["readable"] is True
    assert (out["format"], out["rows_read"], out["rows_accepted"], out["rows_rejected"]) == ("hapi-idps", 6, 5, 1)
    assert out["errors"] == [{"line": 4, "column": "population", "rule": "number", "message": "expected a number",
                              "value": "n/a"}]
    assert out["file_checks"] == []


def test_cli_says_when_the_build_would_refuse_a_readable_file(tmp_path):
    """validate applies the build's per-file checks too: a record key on two rows, or no row accepted,
    stops the build, so validate names the rows and exits 1 (2 stays for a file it cannot read)."""
    # the first row's record again with another figure: which is true? (the same row twice is only a repeat)
    repeated = write(tmp_path, "repeated.csv", "\n".join([HEADER, *ROWS, ROWS[0].replace(",100000,", ",100001,")])
                     + "\n")
    proc = cli("validate", str(repeated))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{repeated}: the build would refuse this file: lines 2 and {len(ROWS) + 2} carry the same record key" \
        in proc.stdout, proc.stdout
    out = json.loads(cli("validate", "--json", str(repeated)).stdout)
    assert [(c["rule"], c["lines"]) for c in out["file_checks"]] == [("expect_obs_id_unique_within_file",
                                                                      [2, len(ROWS) + 2])]
    none_good = write(tmp_path, "none.csv", "\n".join([HEADER] + [r.replace(",40000,", ",n/a,")
                                                                 .replace(",2023-03-31,", ",2023-02-30,")
                                                                 for r in ROWS[:1]]) + "\n")
    proc = cli("validate", "--json", str(none_good))
    out = json.loads(proc.stdout)
    assert proc.returncode == 1 and out["rows_accepted"] == 0, out
    assert [c["rule"] for c in out["file_checks"]] == ["expect_some_rows_of_each_file_accepted"]
    good = cli("validate", str(FIX / "hapi_idps.csv"))
    assert good.returncode == 0 and "would refuse" not in good.stdout


def test_a_row_repeated_as_it_is_is_set_aside_not_a_reason_to_refuse_the_file(tmp_path):
    repeated = write(tmp_path, "repeated.csv", "\n".join([HEADER, *ROWS, ROWS[0]]) + "\n")
    proc = cli("validate", str(repeated))
    assert proc.returncode == 0 and "would refuse" not in proc.stdout, proc.stdout
    assert (f"{repeated}:{len(ROWS) + 2}: the same record as line 2, repeated (same key, same values); set aside"
            in proc.stdout), proc.stdout


def test_validate_json_escapes_del_and_c1_codes_from_the_file(tmp_path):
    """json.dumps leaves DEL and the C1 codes as they are: U+009B, a one-character escape-sequence opener on some
    terminals, reached the terminal from a cell. They are escaped as JSON allows, and the value reads back."""
    value = "\x9b2J\x85\x9b31m5\x7f"
    p = write(tmp_path, "c1.csv", with_row(4, ROWS[2].replace(",40000,", f",{value},")))
    proc = cli("validate", "--json", str(p))
    assert not re.search(r"[\x7f-\x9f]", proc.stdout) and "\\u009b2J" in proc.stdout
    assert json.loads(proc.stdout)["errors"][0]["value"] == value


def test_a_line_break_in_a_file_s_name_cannot_forge_a_line_of_the_report(tmp_path):
    """validate's text report is one line per finding: a file named with a line break printed a line of its
    own choosing ("rows rejected 0"), and the one-line error of an unreadable file became two."""
    p = write(tmp_path, "mixed\n  rows rejected           0\n.csv", with_row(4, ROWS[2].replace(",40000,", ",n/a,")))
    proc = cli("validate", str(p))
    assert proc.returncode == 0
    assert [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("rows rejected")] == \
        ["  rows rejected           1"]
    assert "mixed\\x0a  rows rejected" in proc.stdout
    bad = write(tmp_path, "semi\ncolons.csv", HEADER.replace(",", ";") + "\n")
    err = cli("validate", str(bad))
    assert err.returncode == 2 and len(err.stderr.strip().splitlines()) == 1 and "semi\\x0acolons" in err.stderr


def test_validate_json_is_json_even_for_a_file_it_cannot_read(tmp_path):
    """A script reading `validate --json` gets one JSON object on stdout, exit 2, for a file it cannot read."""
    bad = write(tmp_path, "semicolons.csv", HEADER.replace(",", ";") + "\n" + ROWS[0].replace(",", ";") + "\n")
    proc = cli("validate", "--json", str(bad))
    out = json.loads(proc.stdout)
    assert proc.returncode == 2 and out["readable"] is False and out["file"] == str(bad)
    assert out["error"].startswith(f"{bad}: line 1: columns are separated by semicolons")
    good = json.loads(cli("validate", "--json", str(FIX / "hapi_idps.csv")).stdout)
    assert good["readable"] is True and good["format"] == "hapi-idps"
    plain = cli("validate", str(bad))  # without --json: the one line on stderr, as before
    assert plain.returncode == 2 and not plain.stdout and "semicolons" in plain.stderr


def test_cli_text_report_names_file_line_and_column(tmp_path):
    p = write(tmp_path, "mixed.csv", with_row(4, ROWS[2].replace(",40000,", ",n/a,")))
    proc = cli("validate", str(p))
    assert proc.returncode == 0
    assert "hapi-idps" in proc.stdout and f"{p}:4: column population: expected a number" in proc.stdout


@pytest.mark.parametrize("name,content,pattern", [
    ("junk.bin", bytes(range(256)) * 20, "binary"),
    ("semi.csv", GOOD.replace(",", ";"), "semicolons"),
    ("cut.json", '{"data": [{"location_code": "HTI", ', "invalid JSON"),
    ("empty.csv", b"", "empty"),
])
def test_cli_unreadable_exits_2_with_one_line(tmp_path, name, content, pattern):
    p = write(tmp_path, name, content)
    proc = cli("validate", str(p))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(p) in lines[0] and pattern in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_cli_missing_file(tmp_path):
    proc = cli("validate", str(tmp_path / "nowhere.csv"))
    assert proc.returncode == 2 and "nowhere.csv" in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------- found by a review with broken copies of the real files

def test_an_unclosed_quote_sets_its_row_aside_and_the_rows_after_it_are_read(tmp_path):
    """An opening quote never closed would make the rest of the file one field: the rows after it vanished
    and the row was blamed for a missing figure."""
    bad = ROWS[2].replace(",Countrywide monitoring,", ',"Countrywide monitoring,')
    r = read_path(write(tmp_path, "quote.csv", with_row(4, bad)))
    x = only_rejection(r)
    assert (x.line, x.rule) == (4, "quote") and "never closed" in x.message
    assert sorted(r.observations["ingest_row"]) == [2, 3, 5, 6, 7]


def test_an_unclosed_quote_on_the_last_line_and_a_closed_one_spanning_lines(tmp_path):
    good_multiline = ROWS[0].replace(",Countrywide monitoring,", ',"Countrywide\nmonitoring",')
    rows = [good_multiline, *ROWS[1:-1], ROWS[-1].replace(",Hurricane Matthew,", ',"Hurricane Matthew,')]
    assert rows[-1] != ROWS[-1]
    r = read_path(write(tmp_path, "quotes.csv", "\n".join([HEADER, *rows]) + "\n"))
    assert [(x.line, x.rule) for x in r.rejected] == [(8, "quote")]  # the quoted line break makes line 2 two lines
    assert r.rows_read == len(ROWS) and len(r.observations) == len(ROWS) - 1


def _facts(tmp_path, edit) -> Path:
    header, *rows = (ROOT / "data" / "default" / "figures.csv").read_text(encoding="utf-8").splitlines()[:6]
    return write(tmp_path, "facts.csv", "\n".join([header, *edit(rows)]) + "\n")


def test_facts_rows_with_an_unclosed_quote_or_too_many_fields_are_set_aside(tmp_path):
    def edit(rows):
        rows[1] = rows[1] + ",an extra field"
        # a stray quote on the last line (earlier, a quote in a later row would close it: a field over lines)
        rows[-1] = rows[-1].replace(",recommended,", ',"recommended,', 1)
        return rows
    r = read_path(write(tmp_path, "f.csv", _facts(tmp_path, edit).read_bytes()))
    assert sorted((x.line, x.rule) for x in r.rejected) == [(3, "shape"), (6, "quote")]
    assert r.rows_read == 5 and r.rows_accepted == 3 and sorted(r.observations["ingest_row"]) == [2, 4, 5]


@pytest.mark.parametrize("text,expected", [
    ("1,5", None), ("1,2,3,4", None), ("40,00", None), ("inf", None), ("Infinity", None), ("1e400", None),
    ("nan", None), ("9" * 400, None), ("40,000", 40000), ("1,234,567", 1234567), ("1,000.0", 1000), ("40000", 40000),
])
def test_a_comma_is_a_thousands_separator_only_between_groups_of_three_and_a_figure_is_finite(tmp_path, text, expected):
    r = read_path(write(tmp_path, "num.csv", with_row(4, ROWS[2].replace(",40000,", f',"{text}",'))))
    if expected is None:
        x = only_rejection(r)
        assert (x.line, x.column, x.rule) == (4, "population", "number") and text.startswith(x.value)
    else:
        assert not r.rejected and r.observations.set_index("ingest_row").loc[4, "value_best"] == expected


def test_json_infinity_is_not_a_figure(tmp_path):
    records = json.loads((FIX / "idmc_idu.json").read_text())
    records[0]["figure"] = float("inf")
    p = write(tmp_path, "inf.json", json.dumps(records))  # json writes Infinity, which json (and GX) read back
    r = read_path(p)
    assert [(x.line, x.column, x.rule) for x in r.rejected] == [(1, "figure", "number")]


@pytest.mark.parametrize("text,ok", [
    ("2023-03-31junk", False), ("2023-03-319", False), ("2023-03-31 x", False), ("2023-3-31", False),
    ("2023-03-31", True), ("2023-03-31T00:00:00", True), ("2023-03-31T11:00:00.000Z", True),
    ("2023-03-31 10:30", True), ("2023-03-31T10:30:00+03:00", True),
])
def test_a_date_is_a_whole_date_with_at_most_a_time_after_it(tmp_path, text, ok):
    bad = ROWS[0].replace("2023-03-31,2023-03-31", f"{text},2023-03-31")
    r = read_path(write(tmp_path, "date.csv", with_row(2, bad)))
    if ok:
        assert not r.rejected
    else:
        x = only_rejection(r)
        assert (x.line, x.column, x.rule) == (2, "reference_period_start", "date")


def test_unhcr_figures_that_are_not_numbers_are_set_aside_not_dropped(tmp_path):
    header, *rows = (FIX / "unhcr_population.csv").read_text().splitlines()
    rows[0] = rows[0].replace(",910000,", ",abc,")
    rows[1] = rows[1].replace(",6100000,", ",n/a,")
    r = read_path(write(tmp_path, "unhcr.csv", "\n".join([header, *rows]) + "\n"))
    assert sorted((x.line, x.column, x.value) for x in r.rejected) == [(2, "refugees", "abc"), (3, "idps", "n/a")]
    assert r.rows_read == r.rows_accepted + r.rows_rejected
    api = json.loads((FIX / "unhcr_api.json").read_text())
    api["items"][0]["refugees"] = "twelve"
    r = read_path(write(tmp_path, "unhcr.json", json.dumps(api)))
    assert [(x.line, x.column, x.value) for x in r.rejected] == [(1, "refugees", "twelve")]


def test_every_member_of_a_gzip_file_is_read_and_trailing_junk_is_refused(tmp_path):
    import gzip

    data = GOOD.encode()
    cut = data.index(b"\n", len(data) // 2) + 1
    both = write(tmp_path, "two.csv.gz", gzip.compress(data[:cut]) + gzip.compress(data[cut:]))
    r = read_path(both)
    assert r.rows_read == len(ROWS) and len(r.observations) == len(ROWS)
    padded = write(tmp_path, "padded.csv.gz", gzip.compress(data) + b"\x00" * 512)  # tape-style zero padding
    assert read_path(padded).rows_read == len(ROWS)
    refused(write(tmp_path, "junk.csv.gz", gzip.compress(data) + b"not gzip"), "after the end of the gzip data")


def test_a_column_named_twice_is_refused_naming_both(tmp_path):
    cells = HEADER.split(",")
    cells[cells.index("assessment_type")] = "population"
    message = refused(write(tmp_path, "dup.csv", GOOD.replace(HEADER, ",".join(cells))), "line 1")
    assert "'population' appears twice (columns 12 and 13)" in message
    # blank header cells (trailing commas from a spreadsheet) may repeat
    r = read_path(write(tmp_path, "blank.csv", "\n".join([HEADER + ",,", *(x + ",," for x in ROWS)]) + "\n"))
    assert r.rows_read == len(ROWS) and not r.rejected
    sheets = dict(make_xlsx.ACLED_SHEETS)
    sheets["Non_HRP"] = [sheets["Non_HRP"][0] + ["Events"], *(row + [9] for row in sheets["Non_HRP"][1:])]
    message = refused(make_xlsx.write_xlsx(tmp_path / "dup.xlsx", sheets), "sheet Non_HRP, row 1")
    assert "'Events' appears twice (columns 4 and 6)" in message


def test_cli_refuses_a_named_pipe_instead_of_waiting(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    proc = cli("validate", str(fifo))
    assert proc.returncode == 2 and "not a regular file" in proc.stderr


def test_cli_never_passes_terminal_controls_from_a_file_to_the_terminal(tmp_path):
    p = write(tmp_path, "esc.csv", "name\x1b]0;pwned\x07,value\x1b[2J\nx,1\n")
    proc = cli("validate", str(p))
    assert proc.returncode == 2 and "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert "name\\x1b]0;pwned\\x07" in proc.stderr
    p = write(tmp_path, "esc2.csv", with_row(3, ROWS[1].replace(",150000,", ",15\x1b[31m0,")))
    proc = cli("validate", str(p))
    assert proc.returncode == 0 and "\x1b" not in proc.stdout and "15\\x1b[31m0" in proc.stdout


def test_cli_names_a_json_file_s_records_as_records(tmp_path):
    records = json.loads((FIX / "idmc_idu.json").read_text())
    records[1]["figure"] = "many"
    p = write(tmp_path, "idu.json", json.dumps(records, indent=1))  # record 2 is far below line 2
    text = cli("validate", str(p)).stdout
    assert f"{p}: record 2: column figure: expected a number" in text
    out = json.loads(cli("validate", "--json", str(p)).stdout)
    assert out["errors"] == [{"record": 2, "column": "figure", "rule": "number", "message": "expected a number",
                             "value": "many"}]


def test_workbook_row_with_values_beyond_the_header_is_set_aside(tmp_path):
    sheets = dict(make_xlsx.ACLED_SHEETS)
    sheets["Non_HRP"] = [*sheets["Non_HRP"], ["Jordan", "December", "2019", 2, 0, "an extra cell"]]
    r = read_path(make_xlsx.write_xlsx(tmp_path / "wide.xlsx", sheets))
    assert [(x.line, x.rule) for x in r.rejected] == [(4, "shape")] and "Non_HRP" in r.rejected[0].file
    assert r.rows_read == r.rows_accepted + r.rows_rejected
    assert "Jordan" not in set(r.observations["place"])


def test_a_stray_byte_is_not_read_as_arabic_and_its_line_is_named(tmp_path):
    """0xC7 is an Arabic letter in Windows-1256: one such byte inside a Latin word made the whole file read as
    Windows-1256, changing its text without a word. Real Arabic text comes in words."""
    data = with_row(5, ROWS[3].replace("Countrywide", "Country\udcc7wide")).encode("utf-8", "surrogateescape")
    message = refused(write(tmp_path, "stray.csv", data), "not UTF-8: line 5, byte ")
    assert "0xC7" in message


def test_hapi_conflict_rows_of_an_unknown_event_type_are_set_aside(tmp_path):
    header, *rows = (FIX / "hapi_conflict_events.csv").read_text().splitlines()
    rows[1] = rows[1].replace(",political_violence,", ",riots_and_more,")
    r = read_path(write(tmp_path, "conflict.csv", "\n".join([header, *rows]) + "\n"))
    assert [(x.line, x.column, x.rule, x.value) for x in r.rejected] == [(3, "event_type", "vocabulary", "riots_and_more")]
    assert r.rows_read == len(rows) and r.rows_accepted == len(rows) - 1
    assert 3 not in set(r.observations["ingest_row"])


def test_workbook_blank_iso3_is_blamed_on_iso3_not_on_the_country(tmp_path):
    sheets = dict(make_xlsx.ACLED_SHEETS)
    hrp = [list(row) for row in sheets["HRP_1"]]
    hrp[1][hrp[0].index("ISO3")] = ""
    sheets["HRP_1"] = hrp
    r = read_path(make_xlsx.write_xlsx(tmp_path / "iso.xlsx", sheets))
    assert [(x.line, x.column, x.rule) for x in r.rejected] == [(2, "ISO3", "required")], r.rejected


def test_a_nul_byte_after_the_start_sets_its_line_aside(tmp_path):
    # past the first 4 KiB, checked as binary; each its own round (one record twice is a repeat, set aside)
    filler = [ROWS[0].replace(",100000,1,", f",100000,{i + 10},") for i in range(200)]
    bad = ROWS[1].replace("Countrywide", "Country\x00wide")
    r = read_path(write(tmp_path, "nul.csv", "\n".join([HEADER, *filler, bad]) + "\n"))
    assert [(x.line, x.rule) for x in r.rejected] == [(202, "binary")]
    assert r.rows_read == 201 and r.rows_accepted == 200


@pytest.mark.parametrize("record,found", [("oops", "a string"), (None, "null"), (7, "a number"), ([1], "a list")])
def test_a_json_record_that_is_not_an_object_is_set_aside_and_the_others_read(tmp_path, record, found):
    records = json.loads((FIX / "idmc_idu.json").read_text())
    records.insert(1, record)
    r = read_path(write(tmp_path, "idu.json", json.dumps(records)))
    assert [(x.line, x.rule) for x in r.rejected] == [(2, "shape")] and found in r.rejected[0].message
    assert r.rows_read == len(records) and r.rows_accepted == len(records) - 1
    assert sorted(r.observations["ingest_row"].unique()) == [n for n in range(1, len(records) + 1) if n != 2]


def test_a_first_json_record_lacking_a_field_does_not_hide_the_format(tmp_path):
    records = json.loads((FIX / "idmc_idu.json").read_text())
    del records[0]["iso3"]
    r = read_path(write(tmp_path, "idu.json", json.dumps(records)))
    assert r.format == "idmc-idu-json"
    assert [(x.line, x.column, x.rule) for x in r.rejected] == [(1, "iso3", "required")]


@pytest.mark.parametrize("content,kind", [(b"null", "null"), (b" 42\n", "a number"), (b'"hello"', "a string"),
                                          (b"true", "true or false")])
def test_a_lone_json_value_is_named_as_such(tmp_path, content, kind):
    refused(write(tmp_path, "value.json", content), f"a JSON value ({kind}), not a table")


def test_rows_without_their_trailing_empty_fields_are_read_padded(tmp_path):
    """Excel leaves out a row's trailing empty fields (after its first rows), and a header may end in a comma
    the rows lack: a short row is padded with blanks, not set aside (a cell deleted mid-row cannot be told
    from this, and is left to the row rules)."""
    lines = [HEADER, *(r.rstrip(",") for r in ROWS)]
    assert all(len(r.split(",")) < len(HEADER.split(",")) for r in lines[1:])
    r = read_path(write(tmp_path, "excel.csv", "\n".join(lines) + "\n"))
    assert not r.rejected and r.rows_read == len(ROWS) == len(r.observations)
    r = read_path(write(tmp_path, "comma.csv", GOOD.replace(HEADER, HEADER + ",")))
    assert not r.rejected and r.rows_read == len(ROWS) == len(r.observations)


@pytest.mark.parametrize("cell", [b'<c r="XFD1048576">', b"<c r='XFD1048576'>", b'<c t="n" r = "XFD1048576">'])
def test_a_workbook_whose_sheet_reaches_the_last_cell_is_refused_before_it_is_read(tmp_path, cell):
    """One cell at XFD1048576 makes a 2 KB workbook whose reader would allocate 17 billion cells (the process
    was killed): refused from the sheet's XML, however its attribute is quoted, with bounded memory."""
    import shutil
    import zipfile as zf

    good = make_xlsx.write_xlsx(tmp_path / "good.xlsx", make_xlsx.ACLED_SHEETS)
    bad = tmp_path / "far.xlsx"
    with zf.ZipFile(good) as src, zf.ZipFile(bad, "w", zf.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.startswith("xl/worksheets/") and b"Admin2" in data:
                data = data.replace(b"</sheetData>", b'<row r="1048576">' + cell + b"<v>1</v></c></row></sheetData>")
            dst.writestr(item, data)
    assert bad.stat().st_size < 4096
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = cli("validate", str(bad))
    peak_kb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    assert proc.returncode == 2 and "refused" in proc.stderr and "1,048,576" in proc.stderr, proc.stderr
    assert peak_kb < 800 * 1024
    shutil.copy(good, tmp_path / "again.xlsx")
    assert read_path(tmp_path / "again.xlsx").rows_read == 6  # an ordinary workbook still reads


def test_a_nul_byte_in_a_field_spanning_lines_sets_aside_that_record_only(tmp_path):
    """Blanking the physical line that held a NUL once removed a quoted field's closing quote, and the open
    quote then swallowed every line up to the next quote in the file, silently."""
    # past the first 4 KiB; each its own round (one record twice is a repeat, set aside)
    filler = [ROWS[0].replace(",100000,1,", f",100000,{i + 10},") for i in range(250)]
    spanning = ROWS[1].replace(",Countrywide monitoring,", ',"Countrywide\nmoni\x00toring",')
    later = ROWS[2].replace(",Countrywide monitoring,", ',"Countrywide monitoring",')
    rows = [*filler[:200], spanning, *filler[200:], later]
    r = read_path(write(tmp_path, "nul.csv", "\n".join([HEADER, *rows]) + "\n"))
    assert [(x.line, x.rule) for x in r.rejected] == [(202, "binary")]
    assert r.rows_read == len(rows) and len(r.observations) == len(rows) - 1


def test_an_unclosed_quote_after_a_stray_one_in_the_same_row_is_still_found(tmp_path):
    bad = ROWS[1].replace(",Countrywide monitoring,", ',"Country"wide monitoring,').replace(",ds-1,", ',"ds-1,')
    r = read_path(write(tmp_path, "quotes.csv", with_row(3, bad)))
    x = only_rejection(r)
    assert (x.line, x.rule) == (3, "quote")


def test_names_repeated_in_a_header_are_read_when_hxl_hashtags_tell_them_apart(tmp_path):
    header, tags, *rows = (FIX / "hxl_generic.csv").read_text().splitlines()
    names = header.split(",")
    assert "Killed (male)" in names
    names[names.index("Killed (male)")] = "Killed"  # HXL files often repeat a display name: the tags differ
    r = read_path(write(tmp_path, "hxl.csv", "\n".join([",".join(names), tags, *rows]) + "\n"))
    assert r.format == "hxl" and not r.rejected and r.rows_read == len(rows)
    same = tags.split(",")
    same[names.index("Killed", names.index("Killed") + 1)] = same[names.index("Killed")]
    refused(write(tmp_path, "hxl_same.csv", "\n".join([",".join(names), ",".join(same), *rows]) + "\n"),
            "appears twice")


@pytest.mark.parametrize("code,known", [("SRY", False), ("QQQ", False), ("HTI", True), ("XKX", True), ("UNK", True),
                                        ("ALA", True)])
def test_a_country_code_must_be_a_real_one(tmp_path, code, known):
    """Three capital letters were enough, so a typo such as SRY for SYR made a country of its own."""
    r = read_path(write(tmp_path, "iso.csv", with_row(4, ROWS[2].replace("HTI,", f"{code},", 1))))
    if known:
        assert not [x for x in r.rejected if x.rule == "country_code"]
    else:
        x = only_rejection(r)
        assert (x.line, x.column, x.rule, x.value) == (4, "location_code", "country_code", code)


@pytest.mark.parametrize("content, says", [
    (b'[{"figure": 1},\n]\n', "a comma before a closing bracket: JSON allows no trailing comma"),
    (b'[{"figure": 1}, {"figure"', "the file seems truncated"),
    (b"sep=,\nfact_id,value\n1,2\n", "line 1: 'sep=,' is Excel's hint of the separator, not a header; delete that line"),
    ("location_code,name\nHTI,Gona\u00efves caf\u00e9\n".encode("latin-1"),
     "or another single-byte encoding (Latin-1, Windows-1252)"),
])
def test_a_refused_file_is_refused_for_what_is_wrong_with_it(tmp_path, content, says):
    """A trailing comma is not a cut-off file; Excel's sep= line is not a header; a single-byte encoding is
    not named as if it were certainly the one a guess found."""
    path = write(tmp_path, "odd.json" if content.startswith(b"[") else "odd.csv", content)
    with pytest.raises(InputError) as exc:
        read_path(path)
    assert says in str(exc.value), str(exc.value)


@pytest.mark.parametrize("above, says", [
    ("\n", "line 1: blank; the header (location_code, has_hrp, in_gho, provider_admin1_name, ...) is on line 2"),
    (" \r\n\n", "line 1: blank; the header (location_code, has_hrp, in_gho, provider_admin1_name, ...) is on line 3"),
    (",,,\n", "line 1: commas and no column names; the header (location_code, has_hrp, in_gho, "
               "provider_admin1_name, ...) is on line 2"),
    ("Internally displaced persons, Haiti\nExported 2025-01-10\n",
     "line 1 (Internally displaced persons, Haiti) is not a header any reader knows; line 3 holds the header of "
     "an HDX HAPI idps table"),
])
def test_lines_above_the_header_are_named_with_the_line_the_header_is_on(tmp_path, above, says):
    """Every reader takes line 1 as the header. A blank line above it used to be reported as "a HAPI payload
    without the columns of a known endpoint", and a title line as an unknown format with the title for columns:
    the message now says where the header is and what to delete."""
    path = write(tmp_path, "idps.csv", above + GOOD)
    message = refused(path, says)
    assert "Delete the line(s) above it" in message
    # the same file without those lines is read
    assert len(read_path(write(tmp_path, "idps_ok.csv", GOOD)).observations) > 0
    r = cli("validate", str(path))
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr


def test_a_title_line_above_no_known_header_is_still_an_unknown_format(tmp_path):
    """Only a known header further down is named: a file of no known format says so, with its line 1."""
    refused(write(tmp_path, "odd.csv", "A title\nfoo,bar\n1,2\n"), "unknown format: a CSV with columns A title")


def test_a_unhcr_table_without_iso_codes_is_refused_not_read_with_countries_swapped(tmp_path):
    """UNHCR's own country codes are not ISO 3166: read as ISO, Austria (AUS) became Australia and Egypt (ARE)
    the United Arab Emirates."""
    path = write(tmp_path, "unhcr.csv", "year,coo_name,coo,coa_name,coa,refugees,asylum_seekers\n"
                                        "2020,Syrian Arab Rep.,SYR,Austria,AUS,50000,2000\n"
                                        "2020,Syrian Arab Rep.,SYR,Egypt,ARE,130000,-\n")
    refused(path, "no coo_iso column with ISO 3166 codes")
    fixture = read_path(FIX / "unhcr_population.csv")  # with coo_iso and coa_iso: read as before
    assert len(fixture.observations) and not fixture.rejected


def test_a_facts_row_over_the_line_limit_is_set_aside_and_the_rest_read(tmp_path):
    """The curated figures' reader reads row by row: a 2 MB note once stopped the whole file (exit 2)."""
    rows = list(csv.reader(io.StringIO(FACTS_TEXT, newline="")))
    rows[2][rows[0].index("notes")] = "y " * 1_000_000
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    r = read_path(write(tmp_path, "facts.csv", out.getvalue()))
    assert [(x.line, x.rule) for x in r.rejected] == [(3, "line_length")]
    assert r.rows_read == len(rows) - 1 and sorted(r.observations["ingest_row"]) == [2, 4]


def test_a_field_over_the_limit_across_lines_names_the_row_it_starts_on(tmp_path):
    rows = list(csv.reader(io.StringIO(FACTS_TEXT, newline="")))
    rows[2][rows[0].index("notes")] = "x" * 600_000 + "\n" + "x" * 600_000
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    with pytest.raises(InputError, match=r"line 3: a field of this row is over 1,048,576 bytes \(the row runs to "
                                         r"line 4 at least\)"):
        read_path(write(tmp_path, "facts.csv", out.getvalue()))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_carriage_return_inside_a_field_sets_its_row_aside_whole(tmp_path, newline):
    """A CR alone in a file of LF or CRLF lines (pasted from an old Mac application) used to end the row there:
    one row became two, rows read went up by one, and each half was set aside for a wrong reason."""
    for name, text, line in (("hapi.csv", GOOD, 3), ("facts.csv", FACTS_TEXT, 3)):
        lines = text.rstrip("\n").split("\n")
        lines[line - 1] = lines[line - 1].replace(",", ",\r", 1) if name == "hapi.csv" else \
            lines[line - 1].replace("Flash", "Fla\rsh")
        path = tmp_path / name
        path.write_bytes(newline.join(lines).encode() + newline.encode())
        r = read_path(path)
        assert [(x.line, x.rule) for x in r.rejected] == [(line, "line_break")], (name, r.rejected)
        assert r.rows_read == len(lines) - 1 and line not in set(r.observations["ingest_row"])
        # a file whose every line ends in CR alone (an old Mac file) is read as it is
        plain = tmp_path / ("mac_" + name)
        plain.write_bytes("\r".join(text.rstrip("\n").split("\n")).encode() + b"\r")
        assert not read_path(plain).rejected


def test_a_short_last_row_is_not_cut_off_when_every_row_is_short_or_a_blank_line_ends_the_file(tmp_path):
    # every row leaves out its two trailing blank fields (a ragged export): the last, short too, is whole
    ragged = [HEADER] + [r[:-2] if r.endswith(",,") else r for r in ROWS]
    assert all(len(r.split(",")) < len(HEADER.split(",")) for r in ragged[1:])
    r = read_path(write(tmp_path, "ragged.csv", "\n".join(ragged)))
    assert not [x for x in r.rejected if x.rule == "truncated"] and len(r.observations) == len(ROWS)
    # the file ends on a line of commas after a whole last row: that line is not a row cut off
    r = read_path(write(tmp_path, "commas.csv", "\n".join([HEADER, *ROWS]) + "\n" + "," * 19))
    assert not [x for x in r.rejected if x.rule == "truncated"] and len(r.observations) == len(ROWS)
