"""`displacement extract`: candidate figures from article text (issue 9).

The article texts in tests/fixtures/articles/ are written for these tests; the first is shaped like
the August 2019 report behind ../shared/reference/facts/seed_report_facts.csv (S01-S05).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from pipeline import schema
from pipeline.extract import extract_article, split_sentences, to_csv_text, to_records
from pipeline.extract.attribution import find_attribution
from pipeline.extract.claims import extract_claims
from pipeline.extract.dates import find_periods
from pipeline.extract.numbers import find_numbers, qualifier_for
from pipeline.extract.output import FACTS_COLUMNS, article_hash
from pipeline.sources.detect import read_path

REPO = Path(__file__).resolve().parents[1]
ARTICLES = REPO / "tests" / "fixtures" / "articles"
BIN = REPO / ".venv" / "bin" / "displacement"
AUG = date(2019, 8, 21)  # a Wednesday
DEC = date(2019, 12, 27)  # a Friday


def article(name: str) -> str:
    return (ARTICLES / name).read_text(encoding="utf-8")


def rows(text: str, published: date = AUG, **kw) -> list[dict]:
    return to_records(extract_claims(text, published, article_id="testhash00", **kw))


def one(text: str, published: date = AUG, **kw) -> dict:
    got = rows(text, published, **kw)
    assert len(got) == 1, got
    return got[0]


def find(records, **match):
    hits = [r for r in records if all(r[k] == v for k, v in match.items())]
    assert len(hits) == 1, (match, records)
    return hits[0]


# ---------------------------------------------------------------- the August 2019 report (seed S01-S05)

@pytest.fixture(scope="module")
def aug():
    return to_records(extract_article(article("idlib_2019_08.txt"), AUG, publisher="Reuters"))


def test_seed_s01_sixty_thousand_fled_in_the_last_four_days(aug):
    r = find(aug, value_best=60000)
    assert (r["metric"], r["basis"], r["population"], r["unit"], r["qualifier"]) == (
        "displaced", "flow", "all", "people", "approximately")
    assert (r["period_start"], r["period_end"], r["date_precision"]) == ("2019-08-17", "2019-08-20", "day")
    assert r["place"] == "Maarat al-Numan" and r["admin1_code"] == "SY07" and r["country_iso3"] == "SYR"
    assert r["source_org"] == "rescuers, via Reuters"
    assert r["role"] == "triangulation"
    assert r["value_low"] is None and r["value_high"] is None  # approximately: no bound stated


def test_seed_s02_at_least_450000_since_april_is_cumulative_month_precision(aug):
    r = find(aug, value_best=450000)
    assert (r["metric"], r["basis"], r["qualifier"]) == ("displaced", "cumulative", "at_least")
    assert (r["period_start"], r["period_end"], r["date_precision"]) == ("2019-04-01", "2019-08-21", "month")
    assert r["value_low"] == 450000 and r["value_high"] is None
    assert r["source_org"].startswith("SOHR")


def test_seed_s03_killed_civilians_with_a_children_row_not_a_second_total(aug):
    total = find(aug, value_best=843)
    kids = find(aug, value_best=196)
    assert (total["metric"], total["population"], total["basis"]) == ("killed", "civilians", "cumulative")
    assert (kids["metric"], kids["population"], kids["basis"]) == ("killed", "children", "cumulative")
    assert kids["period_start"] == total["period_start"] == "2019-04-01"
    assert kids["subset_of"] == total["fact_id"] and total["subset_of"] is None
    assert kids["source_org"] == total["source_org"] and total["source_org"].startswith("SNHR")
    assert [r for r in aug if r["population"] == "civilians" and r["metric"] == "killed" and r["basis"] == "cumulative"] == [total]


def test_seed_s04_s05_monday_attack_near_khan_sheikhoun(aug):
    killed, injured = find(aug, value_best=3), find(aug, value_best=12)
    assert (killed["metric"], killed["population"]) == ("killed", "civilians")
    assert (injured["metric"], injured["population"]) == ("injured", "civilians")  # "12 others"
    for r in (killed, injured):
        assert (r["period_start"], r["period_end"], r["basis"]) == ("2019-08-19", "2019-08-19", "flow")
        assert r["place"] == "Khan Sheikhoun" and r["place_as_published"] == "near Khan Sheikhoun"


def test_traps_in_the_august_text_are_not_figures(aug):
    values = {r["value_best"] for r in aug}
    # 40 air strikes, three hospitals, a nine-year war, 2019, a 12-year-old, 40 degrees
    assert values == {60000, 450000, 843, 196, 3, 12, 200000}
    vague = find(aug, value_best=200000)  # "hundreds of thousands of people"
    assert vague["qualifier"] == "at_least" and "hundreds of thousands" in vague["notes"][0]


def test_evidence_is_the_sentence_with_its_offsets(aug):
    text = article("idlib_2019_08.txt")
    for r in aug:
        ev = r["evidence"]
        assert text[ev["start"] : ev["end"]] == ev["text"]
        assert text[ev["number_start"] : ev["number_end"]] == ev["number"]
        assert ev["start"] <= ev["number_start"] < ev["number_end"] <= ev["end"]


# ---------------------------------------------------------------- the December 2019 text

@pytest.fixture(scope="module")
def dec():
    return to_records(extract_article(article("idlib_2019_12.txt"), DEC))


def test_december_text(dec):
    r = find(dec, value_best=235000)  # driven from their homes since the beginning of December
    assert (r["metric"], r["basis"], r["qualifier"], r["period_start"], r["period_end"], r["date_precision"]) == (
        "displaced", "cumulative", "more_than", "2019-12-01", "2019-12-27", "week")
    assert r["source_org"] == "OCHA" and r["place"] == "Idlib"  # "said on Friday" is not the period
    r = find(dec, value_best=80000)  # over the past week, forced to leave
    assert (r["metric"], r["basis"], r["qualifier"], r["period_start"], r["period_end"]) == (
        "displaced", "flow", "approximately", "2019-12-20", "2019-12-26")
    assert r["place"] != "Turkish border"  # where people went is not where they fled from
    assert r["source_org"] == "Response Coordination Group"
    r = find(dec, value_best=8)  # yesterday
    assert (r["period_start"], r["population"], r["place"], r["source_org"]) == ("2019-12-26", "civilians", "Saraqib", "rescuers")
    women = find(dec, value_best=2)  # "among them two women"
    assert women["population"] == "women" and women["subset_of"] == r["fact_id"]
    r = find(dec, value_best=2500)  # families -> households; "families of six" gives the size
    assert (r["unit"], r["household_size"], r["qualifier"], r["period_start"], r["period_end"], r["date_precision"]) == (
        "households", 6.0, "approximately", "2019-11-01", "2019-11-30", "month")
    r = find(dec, value_best=20000)  # tens of thousands ... since Monday, a monitor said
    assert (r["qualifier"], r["value_low"], r["basis"], r["period_start"], r["source_org"]) == (
        "at_least", 20000, "cumulative", "2019-12-23", "a war monitor")
    r = find(dec, value_best=3000)
    assert (r["metric"], r["qualifier"], r["place"], r["source_org"]) == ("returned", "approximately", "Aleppo", "SOHR")
    r = find(dec, value_best=23)  # twenty-three people on Wednesday, including five children
    assert (r["metric"], r["period_start"], r["source_org"]) == ("killed", "2019-12-25", "White Helmets (Syria Civil Defence)")
    assert find(dec, value_best=5)["population"] == "children"
    assert (find(dec, value_best=40)["metric"], find(dec, value_best=40)["qualifier"]) == ("injured", "more_than")
    # not figures: 1.2 million live in camps, 800,000 could flee, checkpoints, clinics, percent, $, km, 2011, ages, dates
    assert {r["value_best"] for r in dec} == {235000, 80000, 8, 2, 2500, 20000, 3000, 23, 5, 40}


def test_trap_article_yields_nothing():
    assert rows(article("traps.txt")) == []


def test_number_words_households_ranges_and_bounds():
    recs = to_records(extract_article(article("words_and_households.txt"), AUG))
    r = find(recs, value_best=25)
    assert (r["population"], r["metric"], r["period_start"], r["place"]) == ("civilians", "killed", "2019-08-18", "Jisr al-Shughur")
    assert find(recs, value_best=7)["population"] == "children"
    r = find(recs, value_best=1_200_000)
    assert (r["qualifier"], r["period_start"], r["basis"], r["source_org"]) == ("approximately", "2019-01-01", "cumulative", "OCHA")
    r = find(recs, value_best=200)  # hundreds of households
    assert (r["unit"], r["qualifier"], r["household_size"], r["period_start"], r["period_end"]) == (
        "households", "at_least", None, "2019-08-20", "2019-08-21")
    r = find(recs, value_best=12)  # a dozen ... yesterday
    assert (r["metric"], r["period_start"], r["place"]) == ("injured", "2019-08-20", "Dana")
    r = find(recs, value_best=4000)  # averaging five people per family: a size, not a figure
    assert (r["unit"], r["household_size"], r["qualifier"], r["metric"], r["place"]) == (
        "households", 5.0, "estimated", "returned", "Hama")
    assert (r["period_start"], r["date_precision"], r["source_org"]) == ("2019-04-29", "day", "SNHR")
    r = find(recs, value_best=3000)  # between 3,000 and 5,000
    assert (r["value_low"], r["value_high"], r["metric"], r["period_start"]) == (3000, 5000, "displaced", "2019-08-19")
    r = find(recs, value_best=700)
    assert (r["qualifier"], r["value_low"], r["value_high"], r["period_start"], r["date_precision"]) == (
        "up_to", 0, 700, "2019-08-14", "week")
    r = find(recs, value_best=50)
    assert (r["qualifier"], r["metric"], r["period_start"], r["period_end"]) == ("less_than", "injured", "2019-07-01", "2019-07-31")
    assert 5 not in {x["value_best"] for x in recs}


# ---------------------------------------------------------------- the parts, one at a time

@pytest.mark.parametrize("text,value,kind", [
    ("60,000 people", 60000, "digits"),
    ("1.2 million people", 1_200_000, "digits"),
    ("three civilians", 3, "words"),
    ("twenty-five children", 25, "words"),
    ("one hundred and twenty families", 120, "words"),
    ("a dozen people", 12, "words"),
    ("half a million people", 500_000, "words"),
    ("tens of thousands of people", 20_000, "vague"),
    ("hundreds of thousands", 200_000, "vague"),
    ("dozens of civilians", 24, "vague"),
    ("thousands", 2_000, "vague"),
])
def test_numbers(text, value, kind):
    nums = find_numbers(text)
    assert len(nums) == 1 and nums[0].value == value and nums[0].kind == kind


def test_number_ranges():
    n = find_numbers("60,000-70,000 people")[0]
    assert (n.value, n.value_high) == (60000, 70000)
    n = find_numbers("between 1.2 and 1.5 million people")[0]
    assert (n.value, n.value_high) == (1_200_000, 1_500_000)
    assert len(find_numbers("killed 3 and wounded 12")) == 2  # "and" joins a range only after "between"


@pytest.mark.parametrize("words,expected", [
    ("about", "approximately"), ("around", "approximately"), ("some", "approximately"), ("nearly", "approximately"),
    ("almost", "approximately"), ("at least", "at_least"), ("more than", "more_than"), ("over", "more_than"),
    ("up to", "up_to"), ("fewer than", "less_than"), ("an estimated", "estimated"), ("", "exact"),
])
def test_qualifiers(words, expected):
    text = f"{words} 5,000 people".strip()
    r = one(f"{text[0].upper()}{text[1:]} fled Saraqib on Monday.")
    assert r["qualifier"] == expected
    low, high = schema.bounds_for(5000.0, expected)
    assert (r["value_low"], r["value_high"]) == (low, high)
    assert expected in schema.QUALIFIERS and schema.normalise_qualifier(expected) == expected


@pytest.mark.parametrize("phrase,start,end,precision,basis", [
    ("in the last four days", "2019-08-17", "2019-08-20", "day", "flow"),
    ("over the past week", "2019-08-14", "2019-08-20", "week", "flow"),
    ("in the past two weeks", "2019-08-07", "2019-08-20", "week", "flow"),
    ("since April", "2019-04-01", "2019-08-21", "month", "cumulative"),
    ("since the beginning of December", "2018-12-01", "2019-08-21", "week", "cumulative"),
    ("since 29 April", "2019-04-29", "2019-08-21", "day", "cumulative"),
    ("since the offensive began in late April", "2019-04-21", "2019-08-21", "week", "cumulative"),
    ("on Monday", "2019-08-19", "2019-08-19", "day", "flow"),
    ("on Wednesday", "2019-08-21", "2019-08-21", "day", "flow"),
    ("yesterday", "2019-08-20", "2019-08-20", "day", "flow"),
    ("last month", "2019-07-01", "2019-07-31", "month", "flow"),
    ("last week", "2019-08-12", "2019-08-18", "week", "flow"),
    ("so far this year", "2019-01-01", "2019-08-21", "day", "cumulative"),
    ("in July", "2019-07-01", "2019-07-31", "month", "flow"),
    ("on 19 August", "2019-08-19", "2019-08-19", "day", "flow"),
    ("between 1 and 15 August", "2019-08-01", "2019-08-15", "day", "flow"),
    ("two days ago", "2019-08-19", "2019-08-19", "day", "flow"),
])
def test_relative_dates(phrase, start, end, precision, basis):
    periods = find_periods(f"Figures {phrase}, officials said.", AUG)
    assert len(periods) == 1
    p = periods[0]
    assert (p.period_start.isoformat(), p.period_end.isoformat(), p.precision, p.basis) == (start, end, precision, basis)


def test_dates_ignore_verbs_and_durations():
    assert find_periods("Up to 3 may have died; a nine-year war; they walked for four days.", AUG) == []


@pytest.mark.parametrize("sentence,org", [
    ("About 60,000 people have fled, rescuers said.", "rescuers"),
    ("At least 450,000 people were displaced, according to the Syrian Observatory for Human Rights.", "SOHR"),
    ("The Syrian Network for Human Rights said 843 civilians were killed.", "SNHR"),
    ("Three people died, said the White Helmets.", "White Helmets (Syria Civil Defence)"),
    ("Twelve were wounded, a monitor reported.", "a war monitor"),
    ("The UN refugee agency said 5,000 returned.", "UNHCR"),
    ("He said the situation was dire.", None),
])
def test_attribution(sentence, org):
    assert find_attribution(sentence) == org


@pytest.mark.parametrize("sentence", [
    "Government forces took 14 checkpoints on Monday.",
    "Jets carried out 35 air strikes in a single day.",
    "Three hospitals were hit in Idlib.",
    "A 12-year-old boy was pulled from the rubble in 2019.",
    "Temperatures fell to 3 degrees, and 40 percent of tents leaked.",
    "A tent costs $150 and the border is 30 km away.",
    "The nine-year war has outlasted every ceasefire; one convoy waited for four days.",
    "The offensive began on 29 April 2019.",
    "The UN warned that up to 900,000 people could flee if the assault continues.",
    "One of the camps near Atmeh holds children from Saraqib.",
    "Aid agencies need 500 million dollars.",
])
def test_non_figures(sentence):
    assert rows(sentence) == []


@pytest.mark.parametrize("sentence,metric,population,unit", [
    ("Some 4,000 people fled Ariha on Monday.", "displaced", "all", "people"),
    ("About 2,000 families were driven from their homes in Saraqib on Monday.", "displaced", "all", "households"),
    ("Around 900 households were forced to leave Dana on Monday.", "displaced", "all", "households"),
    ("The army evacuated 300 residents from Ariha on Monday.", "displaced", "all", "people"),
    ("Shelling killed four women in Ariha on Monday.", "killed", "women", "people"),
    ("Nine children were wounded in Ariha on Monday.", "injured", "children", "people"),
    ("Some 1,500 people returned to Saraqib on Monday.", "returned", "all", "people"),
    ("On Monday, 15 civilian deaths were recorded in Ariha.", "killed", "civilians", "people"),
    ("The death toll in Ariha rose to 31 on Monday.", "killed", "all", "people"),
])
def test_metric_population_unit(sentence, metric, population, unit):
    r = one(sentence)
    assert (r["metric"], r["population"], r["unit"], r["period_start"]) == (metric, population, unit, "2019-08-19")
    assert r["household_size"] is None


@pytest.mark.parametrize("sentence,value,metric,qualifier,start,end", [
    ("Fighting has displaced more than 400,000 since April.", 400000, "displaced", "more_than", "2019-04-01", "2019-08-21"),
    ("The offensive forced 60,000 people to flee Saraqib on Monday.", 60000, "displaced", "exact", "2019-08-19", "2019-08-19"),
    ("Thousands have fled Saraqib since Monday.", 2000, "displaced", "at_least", "2019-08-19", "2019-08-21"),
    ("Air strikes hit Ariha, killing at least 10 civilians on Monday.", 10, "killed", "at_least", "2019-08-19", "2019-08-19"),
    ("Over 50,000 people have fled in the past three days.", 50000, "displaced", "more_than", "2019-08-18", "2019-08-20"),
    ("Since the beginning of December, some 5,000 people have returned to Saraqib.", 5000, "returned", "approximately",
     "2018-12-01", "2019-08-21"),
])
def test_more_wordings(sentence, value, metric, qualifier, start, end):
    r = one(sentence)
    assert (r["value_best"], r["metric"], r["qualifier"], r["period_start"], r["period_end"]) == (
        value, metric, qualifier, start, end)


def test_place_from_a_prior_sentence_and_unknown_country():
    text = "Shelling hit Saraqib on Monday. Four civilians were killed."
    r = one(text)
    assert (r["place"], r["country_iso3"], r["period_start"]) == ("Saraqib", "SYR", "2019-08-19")
    assert any("earlier sentence" in n for n in r["notes"]) and any("previous sentence" in n for n in r["notes"])
    r = one("Four civilians were killed in Springfield on Monday.")
    assert (r["place"], r["country_iso3"]) == ("Springfield", None)  # not in the gazetteer: no country guessed
    r = one("Four civilians were killed in Springfield on Monday.", country_iso3="SYR")
    assert r["country_iso3"] == "SYR"


def test_sentences_keep_offsets_and_headlines():
    text = "Thousands flee as strikes intensify\n\nMr. Smith said 3 people died in Idlib. Later, 4 more died.\n"
    sents = split_sentences(text)
    assert [s.text for s in sents] == ["Thousands flee as strikes intensify",
                                       "Mr. Smith said 3 people died in Idlib.", "Later, 4 more died."]
    assert all(text[s.start : s.end] == s.text for s in sents)


def test_deterministic_ids_and_order():
    text = article("idlib_2019_08.txt")
    a = to_records(extract_article(text, AUG))
    b = to_records(extract_article(text, AUG))
    assert a == b
    prefix = article_hash(text)[:8]
    assert [r["fact_id"] for r in a] == [f"{prefix}-{i:02d}" for i in range(1, len(a) + 1)]
    assert [r["evidence"]["number_start"] for r in a] == sorted(r["evidence"]["number_start"] for r in a)


# ---------------------------------------------------------------- CSV, inbox, CLI

def test_csv_layout_reads_back_through_the_facts_reader(tmp_path):
    claims = extract_article(article("idlib_2019_08.txt"), AUG, publisher="Reuters", title="Thousands flee",
                             url="https://example.org/a")
    text = to_csv_text(claims)
    header = next(csv.reader(io.StringIO(text)))
    figures_header = (REPO / "data" / "default" / "figures.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == FACTS_COLUMNS == figures_header
    path = tmp_path / "extract.csv"
    path.write_text(text, encoding="utf-8")
    result = read_path(path)
    assert result.format == "facts"
    assert result.rows_read == len(claims) == result.rows_accepted and result.rejected == []
    obs = result.observations.set_index("value_best")
    assert obs.loc[60000.0, "period_start"].date().isoformat() == "2019-08-17"
    assert obs.loc[450000.0, "value_low"] == 450000.0
    assert set(obs["role"]) == {"triangulation"}
    assert all(n.startswith("evidence [") for n in obs["notes"])


def test_text_cells_are_plain_data(tmp_path):
    text = '=HYPERLINK("x") Some 4,000 people fled Saraqib on Monday, "=cmd|calc" said.\n'
    claims = extract_claims(text, AUG, publisher="=evil()", title="+title", article_id="h" * 12)
    out = to_csv_text(claims)
    for row in list(csv.DictReader(io.StringIO(out))):
        for key in ("source_org", "source_title", "notes", "place"):
            assert not row[key][:1] in ("=", "+", "-", "@")


def run_cli(*args, env=None):
    e = dict(os.environ)
    e.pop("DISPLACEMENT_DEBUG", None)
    e.update(env or {})
    return subprocess.run([str(BIN), "extract", *args], capture_output=True, text=True, cwd=REPO, env=e, timeout=120)


def test_cli_json():
    p = run_cli(str(ARTICLES / "idlib_2019_08.txt"), "--published", "2019-08-21", "--json", "--source-org", "Reuters")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert isinstance(data, list) and len(data) == 7
    s01 = [r for r in data if r["value_best"] == 60000][0]
    assert (s01["period_start"], s01["period_end"], s01["place"]) == ("2019-08-17", "2019-08-20", "Maarat al-Numan")
    # without --title every row names the article by its headline
    assert {r["source_title"] for r in data} == {article("idlib_2019_08.txt").splitlines()[0].strip()}


def test_cli_json_escapes_c1_codes_of_the_article(tmp_path):
    """An article's U+009B (an escape-sequence opener on some terminals) reached the terminal through the JSON."""
    text = "Clashes\u009b2J in Idlib\n\nMore than 60,000 people fled Maarat al-Numan in four days, the UN said.\n"
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    p = run_cli(str(tmp_path / "a.txt"), "--published", "2019-08-21", "--json")
    assert p.returncode == 0, p.stderr
    assert "\u009b" not in p.stdout and "\\u009b2J" in p.stdout
    assert {r["source_title"] for r in json.loads(p.stdout)} == {"Clashes\u009b2J in Idlib"}


def test_cli_csv_and_inbox(tmp_path):
    p = run_cli(str(ARTICLES / "idlib_2019_12.txt"), "--published", "2019-12-27", "--csv", "--title", "Displacement surges")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == ",".join(FACTS_COLUMNS) and len(lines) == 11
    inbox = tmp_path / "inbox"
    p = run_cli(str(ARTICLES / "idlib_2019_12.txt"), "--published", "2019-12-27", "--inbox",
                env={"DISPLACEMENT_INBOX": str(inbox)})
    assert p.returncode == 0, p.stderr
    files = list(inbox.glob("*.csv"))
    sha = article_hash(article("idlib_2019_12.txt"))
    assert [f.name for f in files] == [f"extract-idlib_2019_12-{sha[:12]}.csv"]
    assert "10 accepted" in p.stderr
    result = read_path(files[0])
    assert result.rows_read == result.rows_accepted == 10


@pytest.mark.parametrize("args,needle", [
    (["missing.txt", "--published", "2019-08-21"], "no such file"),
    ([str(ARTICLES / "traps.txt"), "--published", "21/08/2019"], "--published"),
    ([str(ARTICLES / "traps.txt"), "--published", "2019-02-30"], "--published"),
])
def test_cli_errors_are_one_line_exit_2(args, needle):
    p = run_cli(*args)
    assert p.returncode == 2
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_cli_article_without_figures_prints_empty_array():
    p = run_cli(str(ARTICLES / "traps.txt"), "--published", "2019-08-21")
    assert p.returncode == 0 and json.loads(p.stdout) == []
