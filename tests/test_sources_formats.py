"""Every reader on the project's own small fixtures (tests/fixtures/sources/, invented values)."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline import schema
from pipeline.sources import detect as detect_mod
from pipeline.sources.detect import read_path

FIX = Path(__file__).parent / "fixtures" / "sources"
_spec = importlib.util.spec_from_file_location("make_xlsx", FIX / "make_xlsx.py")
make_xlsx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_xlsx)

# fixture -> (format, rows read, rows rejected, observations)
EXPECTED = {
    "hapi_idps.csv": ("hapi-idps", 6, 0, 6),
    "hapi_idps.json": ("hapi-idps", 2, 0, 2),
    "hapi_refugees.json": ("hapi-refugees", 5, 2, 3),
    "hapi_conflict_events.csv": ("hapi-conflict-events", 4, 0, 7),
    "dtm_export_hxl.csv": ("dtm-csv", 4, 0, 4),
    "dtm_export_plain.csv": ("dtm-csv", 4, 0, 4),
    "dtm_v3.json": ("dtm-json", 2, 0, 2),
    "acled_events.csv": ("acled-events", 3, 0, 3),
    "idmc_idu.json": ("idmc-idu-json", 3, 0, 3),
    "idmc_idu_hdx.csv": ("idmc-idu-csv", 2, 0, 2),
    "unhcr_population.csv": ("unhcr-population", 4, 0, 6),
    "unhcr_api.json": ("unhcr-population", 2, 0, 3),
    "unhcr_idmc_stock.csv": ("unhcr-idmc-stock", 3, 0, 3),
    "ucdp_ged.csv": ("ucdp-ged", 3, 0, 5),
    "hxl_generic.csv": ("hxl", 2, 0, 4),
}


def obs(result, **where) -> pd.DataFrame:
    o = result.observations
    for k, v in where.items():
        o = o[o[k] == v]
    return o


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_counts_and_canonical_shape(name):
    fmt, rows, rejected, n_obs = EXPECTED[name]
    r = read_path(FIX / name)
    assert (r.format, r.rows_read, r.rows_rejected, len(r.observations)) == (fmt, rows, rejected, n_obs)
    assert r.rows_read == r.rows_accepted + r.rows_rejected
    o = r.observations
    assert list(o.columns) == schema.COLUMN_NAMES
    assert not o["obs_id"].duplicated().any()
    for column in schema.REQUIRED:
        assert o[column].notna().all(), column
    for column, vocab in schema.VOCABULARIES.items():
        assert o[column].isin(vocab).all(), column
    assert (o["period_end"] >= o["period_start"]).all()
    assert (o["ingest_file"] == name).all()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_detection_is_by_content_not_name(name, tmp_path):
    renamed = tmp_path / "upload.dat"
    shutil.copy(FIX / name, renamed)
    assert read_path(renamed).format == EXPECTED[name][0]


def test_rereading_gives_the_same_obs_ids():
    a, b = read_path(FIX / "idmc_idu.json"), read_path(FIX / "idmc_idu.json")
    assert a.observations["obs_id"].tolist() == b.observations["obs_id"].tolist()


def test_hxl_reader_is_last_and_all_readers_registered():
    names = [m.FORMAT for m in detect_mod.readers()]
    assert names[-1] == "hxl"
    assert {"facts", "hapi", "dtm", "acled", "idmc", "unhcr", "ucdp", "hxl"} <= set(names)


def test_hapi_idps_latest_round_per_operation_and_unit_is_recommended():
    r = read_path(FIX / "hapi_idps.csv")
    o = r.observations.set_index("ingest_row")
    assert o.loc[2, "role"] == "triangulation" and o.loc[3, "role"] == "recommended"  # national, rounds 1 and 2
    assert o.loc[4, "role"] == "triangulation" and o.loc[5, "role"] == "recommended"  # Port-au-Prince
    assert o.loc[6, "role"] == "recommended"  # only round for Saint-Marc
    assert o.loc[7, "role"] == "recommended"  # another operation
    assert (r.observations[["metric", "basis", "unit"]].drop_duplicates().values.tolist()
            == [["idps_present", "stock", "people"]])
    assert o.loc[5, "admin2_code"] == "HT0111" and o.loc[5, "value_best"] == 52000


def test_hapi_json_dates_and_roles():
    o = read_path(FIX / "hapi_idps.json").observations.set_index("ingest_row")
    assert o.loc[2, "period_end"] == pd.Timestamp("2023-12-31") and o.loc[2, "role"] == "recommended"
    assert o.loc[1, "role"] == "triangulation"


def test_hapi_refugees_groups_and_breakdowns():
    r = read_path(FIX / "hapi_refugees.json")
    ref = obs(r, metric="refugees", population="all").iloc[0]
    assert (ref["country_iso3"], ref["origin_iso3"], ref["value_best"]) == ("LBN", "SYR", 800000)
    assert ref["period_start"] == ref["period_end"] == pd.Timestamp("2022-12-31")
    assert obs(r, metric="asylum_seekers").iloc[0]["country_iso3"] == "DEU"
    assert obs(r, population="children").iloc[0]["value_best"] == 420000
    reasons = {x.line: x.message for x in r.rejected}
    assert "STA" in reasons[5] and "gender f" in reasons[4]


def test_hapi_conflict_events_and_civilian_fatalities():
    r = read_path(FIX / "hapi_conflict_events.csv")
    civ = obs(r, metric="killed", population="civilians")
    assert civ["value_best"].tolist() == [21] and civ["admin2_code"].tolist() == ["SY0703"]
    assert sorted(obs(r, metric="killed", population="all")["value_best"].tolist()) == [65, 80]
    ev = obs(r, metric="events")
    assert (ev["unit"] == "events").all() and sorted(ev["value_best"].tolist()) == [3, 12, 40, 55]
    assert (r.observations["date_precision"] == "month").all()
    assert (r.observations["period_end"] == pd.Timestamp("2019-12-31")).all()


def test_dtm_with_and_without_hxl_row_keep_file_lines():
    with_hxl = read_path(FIX / "dtm_export_hxl.csv").observations
    plain = read_path(FIX / "dtm_export_plain.csv").observations
    assert with_hxl["ingest_row"].tolist() == [3, 4, 5, 6]
    assert plain["ingest_row"].tolist() == [2, 3, 4, 5]
    assert with_hxl["value_best"].tolist() == plain["value_best"].tolist()
    row = with_hxl.set_index("ingest_row").loc[5]
    assert (row["admin2_code"], row["origin_admin1_code"], row["role"]) == ("HT0112", "HT01", "recommended")
    national = with_hxl.set_index("ingest_row")
    assert national.loc[3, "role"] == "triangulation" and national.loc[4, "role"] == "recommended"
    assert pd.isna(national.loc[3, "origin_admin1_code"])  # "Not available" is no code


def test_dtm_v3_json():
    o = read_path(FIX / "dtm_v3.json").observations.set_index("ingest_row")
    assert o.loc[1, "value_best"] == 9100 and o.loc[1, "role"] == "recommended"
    assert o.loc[2, "role"] == "triangulation" and o.loc[2, "period_end"] == pd.Timestamp("2023-12-31")


def test_acled_events_precision_population_and_multiline_rows():
    r = read_path(FIX / "acled_events.csv")
    o = r.observations.set_index("ingest_row")
    # the second event's notes span lines 3-4, so the third event is on line 5
    assert o.index.tolist() == [2, 3, 5]
    assert (o.loc[2, "population"], o.loc[2, "value_best"], o.loc[2, "date_precision"]) == ("civilians", 9, "day")
    assert o.loc[3, "date_precision"] == "week"
    assert (o.loc[3, "period_start"], o.loc[3, "period_end"]) == (pd.Timestamp("2019-12-18"),
                                                                  pd.Timestamp("2019-12-24"))
    assert (o.loc[5, "period_start"], o.loc[5, "period_end"]) == (pd.Timestamp("2019-12-01"),
                                                                  pd.Timestamp("2019-12-31"))
    assert (r.observations["country_iso3"] == "SYR").all()
    assert o.loc[5, "admin2_name"] == "Jebel Saman"


def test_acled_workbook(tmp_path):
    path = make_xlsx.write_xlsx(tmp_path / "syria_civilian_targeting_events_and_fatalities.xlsx",
                                make_xlsx.ACLED_SHEETS)
    r = read_path(path)
    assert (r.format, r.rows_read, r.rows_rejected, len(r.observations)) == ("acled-hdx-workbook", 6, 0, 12)
    killed = obs(r, metric="killed")
    assert (killed["population"] == "civilians").all()  # the civilian-targeting workbook
    ariha = killed[killed["admin2_code"] == "SY0703"].iloc[0]
    assert ariha["value_best"] == 65 and ariha["period_end"] == pd.Timestamp("2019-12-31")
    assert set(obs(r, place="Lebanon")["country_iso3"]) == {"LBN"}  # Non_HRP: name -> ISO3
    # an HRP sheet's row is its district's figure: no place of its own (it was the country, so every district
    # of Syria became one "Syria" figure, and casualties_monthly kept one of them)
    admin = r.observations[r.observations["admin2_name"].notna()]
    assert len(admin) == 8 and admin["place"].isna().all()
    assert sorted(obs(r, metric="events")["ingest_row"].tolist()) == [2, 2, 2, 3, 3, 4]  # sheet rows


def test_acled_workbook_reads_another_hrp_sheet_and_refuses_a_sheet_of_figures_it_cannot_place(tmp_path):
    """A sheet ACLED adds (HRP_3) is read as the HRP sheets are; any other sheet of figures (a copy of HRP_1, a
    part split off) refuses the workbook, naming it: read, it could count figures twice; passed over, lose them."""
    sheets = dict(make_xlsx.ACLED_SHEETS)
    sheets["HRP_3"] = [sheets["HRP_1"][0], ["Yemen", "Taizz", "Al Mudhaffar", "YEM", "YE1514", "YE15", "March",
                                            "2024", 7, 3]]
    r = read_path(make_xlsx.write_xlsx(tmp_path / "syria_political_violence_events_and_fatalities.xlsx", sheets))
    assert (r.rows_read, r.rows_rejected, len(r.observations)) == (7, 0, 14)
    yemen = obs(r, metric="killed", country_iso3="YEM").iloc[0]
    assert (yemen["admin2_code"], yemen["value_best"], yemen["notes"]) == ("YE1514", 3, "political violence; sheet HRP_3")
    sheets["HRP_1 (2)"] = sheets["HRP_1"]
    with pytest.raises(schema.InputError, match="sheet 'HRP_1 \\(2\\)' holds ACLED figures but is not one of HDX's"):
        read_path(make_xlsx.write_xlsx(tmp_path / "copy.xlsx", sheets))


def test_acled_workbook_rejections_name_the_sheet(tmp_path):
    sheets = dict(make_xlsx.ACLED_SHEETS)
    sheets["HRP_2"] = sheets["HRP_2"] + [["Ukraine", "Sumska", "Sumskyi", "UKR", "UA5908", "UA59", "Janvier",
                                          "2024", 3, 1],
                                         ["Ukraine", "Sumska", "Okhtyrskyi", "UKR", "UA5904", "UA59", "January",
                                          "2024", "many", 1]]
    r = read_path(make_xlsx.write_xlsx(tmp_path / "w.xlsx", sheets))
    assert r.rows_read == 8 and r.rows_rejected == 2 and r.rows_accepted == 6
    by_line = {x.line: x for x in r.rejected}
    assert by_line[3].column == "Month" and "sheet HRP_2" in by_line[3].message
    assert by_line[4].column == "Events" and "sheet HRP_2" in by_line[4].message and "number" in by_line[4].message


def test_idmc_json_and_hdx_csv():
    r = read_path(FIX / "idmc_idu.json")
    o = r.observations.set_index("ingest_row")
    assert (o.loc[1, "qualifier"], o.loc[1, "value_low"], o.loc[1, "role"]) == ("more_than", 948000, "recommended")
    assert pd.isna(o.loc[1, "value_high"])
    assert (o.loc[1, "period_start"], o.loc[1, "period_end"]) == (pd.Timestamp("2019-12-01"),
                                                                  pd.Timestamp("2020-02-23"))
    assert o.loc[2, "role"] == "triangulation" and o.loc[2, "qualifier"] == "approximately"
    assert "Conflict" in o.loc[1, "notes"] and "Disaster" in o.loc[3, "notes"]
    assert (r.observations[["metric", "basis"]].drop_duplicates().values.tolist() == [["displaced", "flow"]])
    c = read_path(FIX / "idmc_idu_hdx.csv").observations.set_index("ingest_row")
    assert c.loc[3, "value_best"] == 142000 and c.loc[3, "qualifier"] == "more_than"


def test_idmc_wrapped_json(tmp_path):
    records = json.loads((FIX / "idmc_idu.json").read_text())
    p = tmp_path / "wrapped.json"
    p.write_text(json.dumps({"results": records, "count": len(records)}))
    r = read_path(p)
    assert r.format == "idmc-idu-json" and len(r.observations) == 3


def test_unhcr_wide_rows_become_year_stocks():
    r = read_path(FIX / "unhcr_population.csv")
    lbn = obs(r, country_iso3="LBN", metric="refugees").iloc[0]
    assert (lbn["origin_iso3"], lbn["value_best"], lbn["date_precision"]) == ("SYR", 910000, "year")
    assert lbn["period_start"] == lbn["period_end"] == pd.Timestamp("2019-12-31")
    idps = obs(r, metric="idps_present").iloc[0]
    assert idps["country_iso3"] == "SYR" and idps["value_best"] == 6100000
    returned = obs(r, metric="returned")
    assert sorted(returned["value_best"].tolist()) == [94000, 480000]
    assert (returned["period_start"] == pd.Timestamp("2019-01-01")).all()
    # "-" and 0 make no observation; the all-zero Turkey row is read and accepted but yields nothing
    assert obs(r, country_iso3="DEU")["metric"].tolist() == ["refugees"]
    assert obs(r, country_iso3="TUR").empty and r.rows_rejected == 0


def test_unhcr_api_and_idmc_stock():
    r = read_path(FIX / "unhcr_api.json")
    assert sorted(obs(r, metric="refugees")["value_best"].tolist()) == [660000, 670000]
    s = read_path(FIX / "unhcr_idmc_stock.csv")
    assert set(s.observations["metric"]) == {"idps_present"} and set(s.observations["source_org"]) == {"IDMC (via UNHCR)"}
    assert obs(s, country_iso3="HTI").iloc[0]["period_end"] == pd.Timestamp("2020-12-31")


def test_ucdp_bounds_and_civilians():
    r = read_path(FIX / "ucdp_ged.csv")
    allk = obs(r, population="all").set_index("ingest_row")
    assert allk.loc[2, ["value_low", "value_best", "value_high"]].tolist() == [8, 10, 14]
    assert allk.loc[3, "date_precision"] == "month"
    assert allk.loc[4, "country_iso3"] == "COD"  # "DR Congo (Zaire)"
    civ = obs(r, population="civilians").set_index("ingest_row")
    assert civ.loc[2, "value_best"] == 4 and 4 not in civ.index  # blank deaths_civilians: no observation


def test_hxl_fallback_maps_core_tags():
    r = read_path(FIX / "hxl_generic.csv")
    o = r.observations
    assert set(o["metric"]) == {"displaced", "killed"}  # +m breakdown column not read as a figure
    assert obs(r, metric="killed")["value_best"].sum() == 7
    assert set(o["admin1_code"]) == {"SY07", "SY02"} and set(o["source_org"]) == {"Invented monitor"}
    assert o["ingest_row"].min() == 3


# ------------------------------------------------------------------------------- encodings, archives

ARABIC_CSV = (
    "Reported by,Country,Governorate,Date,Newly displaced\n"
    "#org,#country+code,#adm1+name,#date+reported,#affected+idps+new\n"
    "مرصد تجريبي,SYR,إدلب,2020-01-15,1200\n"
    "مرصد تجريبي,SYR,حلب,2020-01-16,800\n"
)


@pytest.mark.parametrize("encoding,prefix", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16", b""),
                                             ("utf-16-le", b""), ("cp1256", b"")])
def test_encodings(tmp_path, encoding, prefix):
    p = tmp_path / "arabic.csv"
    p.write_bytes(prefix + ARABIC_CSV.encode(encoding))
    r = read_path(p)
    assert r.format == "hxl" and r.rows_rejected == 0
    assert sorted(r.observations["admin1_name"].tolist()) == ["إدلب", "حلب"]
    assert r.observations["ingest_row"].tolist() == [3, 4]


def test_latin1_is_refused_with_a_clear_message(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes((FIX / "hapi_idps.csv").read_text().replace("Saint-Marc", "Saint-Marc é").encode("latin-1"))
    with pytest.raises(schema.InputError, match=r"latin\.csv: not UTF-8.*UTF-8, UTF-16 or Windows-1256"):
        read_path(p)


def test_gzip_and_zip(tmp_path):
    gz = tmp_path / "a.gz"
    gz.write_bytes(gzip.compress((FIX / "ucdp_ged.csv").read_bytes()))
    assert read_path(gz).format == "ucdp-ged"
    zp = tmp_path / "b.zip"
    with zipfile.ZipFile(zp, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner/any-name.txt", (FIX / "dtm_v3.json").read_bytes())
    r = read_path(zp)
    assert r.format == "dtm-json" and len(r.observations) == 2


def test_xlsx_inside_gzip_is_still_a_workbook(tmp_path):
    buf = io.BytesIO()
    x = make_xlsx.write_xlsx(tmp_path / "w.xlsx", make_xlsx.ACLED_SHEETS)
    p = tmp_path / "w.xlsx.gz"
    p.write_bytes(gzip.compress(x.read_bytes()))
    assert read_path(p).format == "acled-hdx-workbook"
    del buf


def test_a_curated_figure_keeps_its_own_qualifier_word_and_where_it_counted_in_its_notes(tmp_path):
    """The pages read "nearly" as "about", and file a figure under its gazetteer place: the source's own word
    and place wording go into the notes. A word the pages show as it is ("more than"), a code of the
    vocabulary as `extract --csv` writes it ("more_than"), and another spelling of the place add nothing."""
    path = tmp_path / "f.csv"
    path.write_text(
        "fact_id,metric,basis,unit,value,qualifier,period_start,period_end,country_iso3,place,place_as_published,"
        "source_org,notes\n"
        "A,displaced,flow,people,10,nearly,2019-01-01,2019-01-02,SYR,North-west Syria,NW Syria (two camps),X,own note\n"
        "B,displaced,flow,people,10,more_than,2019-01-01,2019-01-02,SYR,North-west Syria,NW Syria,X,\n"
        "C,displaced,flow,people,10,more than,2019-01-01,2019-01-02,SYR,North-west Syria,,X,\n"
        "D,displaced,flow,people,10,about,2019-01-01,2019-01-02,SYR,Testland,Testland,X,\n", encoding="utf-8")
    r = read_path(path)
    assert not r.rejected
    notes = dict(zip(r.observations["ingest_row"], r.observations["notes"]))
    assert notes[2] == "own note; place as published: NW Syria (two camps); qualifier as published: nearly"
    assert all(pd.isna(notes[n]) for n in (3, 4, 5)), notes


def test_facts_reader_still_reads_the_default_dataset():
    r = read_path(Path(__file__).parents[1] / "data" / "default" / "figures.csv")
    assert r.format == "facts" and r.rows_accepted == 86


def test_every_default_figure_names_its_own_document():
    """A title such as "same as K07" or "same report" is a note to the transcriber, not a document: on the
    site it would be cited as one."""
    r = read_path(Path(__file__).parents[1] / "data" / "default" / "figures.csv")
    titles = r.observations["source_title"]
    assert titles.notna().all()
    placeholders = titles[titles.str.contains(r"^\s*same\b", case=False, regex=True)]
    assert placeholders.empty, sorted(set(placeholders))
    # one document, one title: rows citing the same link give it the same title
    linked = r.observations.dropna(subset=["source_url"]).groupby("source_url")["source_title"].nunique()
    assert (linked == 1).all(), linked[linked > 1]


def test_the_readme_example_reader_reads_and_sets_aside_as_it_says(tmp_path):
    """The reader shown in the README's "Adding a source", run as written on an invented file: the good
    rows become observations, a bad figure and a row wider than the header are set aside, none lost."""
    import re
    import types

    from pipeline.sources.detect import sniff

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Adding a source"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    module = types.ModuleType("arrivals")
    exec(compile("\n".join(line[3:] for line in code.splitlines()), "README.md", "exec"), module.__dict__)
    path = tmp_path / "arrivals.csv"
    path.write_text("record_id,arrival_date,arrivals,iso3\nA1,2020-02-01,1200,SYR\nA2,2020-02-02,lots,SYR\n"
                    "A3,2020-02-03,300,SYR,extra\nA4,2020-02-04,450,SYR\n", encoding="utf-8")
    s = sniff(path)
    assert module.detect(s)
    r = module.read(s)
    assert r.rows_read == 4 and sorted(r.observations["ingest_row"]) == [2, 5]
    assert [(x.line, x.column, x.rule) for x in r.rejected] == [(3, "arrivals", "number"), (4, None, "shape")]
    assert r.observations["value_best"].tolist() == [1200, 450]


@pytest.mark.parametrize("name, before, after", [
    ("unhcr_population.csv", "refugees,asylum_seekers", "Refugees,Asylum-Seekers"),
    ("acled_events.csv", "civilian_targeting", "Civilian Targeting"),
    ("dtm_export_plain.csv", "admin1Pcode", "admin1PCode"),
])
def test_a_column_named_but_for_case_or_separators_is_read_and_said_to_be(tmp_path, name, before, after):
    """A header cell that differs from the reader's name only in case, spaces, underscores or hyphens used to
    go unread without a word: UNHCR's refugee figures vanished, ACLED's civilians became everyone."""
    text = (FIX / name).read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    assert before in header
    path = tmp_path / name
    path.write_text(header.replace(before, after) + "\n" + rest, encoding="utf-8")
    got, want = read_path(path), read_path(FIX / name)
    cols = ["metric", "population", "value_best", "admin1_code", "period_start", "country_iso3"]
    assert got.observations[cols].equals(want.observations[cols]) and len(got.observations) == EXPECTED[name][3]
    assert got.renamed == dict(zip(after.split(","), before.split(",")))
    proc = subprocess.run([str(Path(sys.executable).parent / "displacement"), "validate", str(path)],
                          capture_output=True, text=True)
    assert f"column {after.split(',')[0]!r} is read as {before.split(',')[0]!r}" in proc.stdout, proc.stdout


def test_a_column_is_renamed_only_onto_a_name_a_reader_reads_and_the_file_lacks(monkeypatch):
    from pipeline.sources import detect

    assert detect.canonical_header(["COUNTRY", "Fatalities", "Notes Of Mine"]) == {0: "country", 1: "fatalities"}
    assert detect.canonical_header(["Refugees", "refugees"]) == {}  # the reader's own name is there already
    # two readers' names alike but for case ("Country" and "country"): neither is the other's misspelling
    import types

    monkeypatch.setattr(detect, "readers", lambda: [types.SimpleNamespace(COLUMNS={"Country", "Events"}),
                                                    types.SimpleNamespace(COLUMNS={"country"})])
    assert detect.canonical_header(["COUNTRY", "EVENTS"]) == {1: "Events"}


def test_renaming_reads_a_quoted_header_keeps_hxl_names_and_refuses_two_candidates(tmp_path):
    header, rest = (FIX / "acled_events.csv").read_text(encoding="utf-8").split("\n", 1)
    want = read_path(FIX / "acled_events.csv").observations["population"].tolist()
    # a header written with every cell quoted (R's write.csv, pandas' QUOTE_ALL) is renamed too
    quoted = tmp_path / "quoted.csv"
    quoted.write_text(",".join(f'"{c}"' for c in header.replace("civilian_targeting", "Civilian Targeting")
                               .split(",")) + "\n" + rest, encoding="utf-8")
    got = read_path(quoted)
    assert got.renamed == {"Civilian Targeting": "civilian_targeting"}
    assert got.observations["population"].tolist() == want
    # the HXL reader reads hashtags: a generic HXL file keeps its own names, which its rejections give
    hxl = read_path(FIX / "hxl_generic.csv")
    assert hxl.format == "hxl" and hxl.renamed == {}
    # two columns that would both be read as one: refused, naming both
    two = tmp_path / "two.csv"
    two.write_text(header.replace("civilian_targeting", "Civilian Targeting") + ",civilian-targeting\n" + rest,
                   encoding="utf-8")
    with pytest.raises(schema.InputError, match="columns 'Civilian Targeting' and 'civilian-targeting' are both "
                                         "'civilian_targeting'"):
        read_path(two)
