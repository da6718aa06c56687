"""Gathering input files: the inbox is read with the default data, and re-reading a file adds nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "sources"


def test_inbox_files_are_read_after_the_default_data(isolated):
    from pipeline import ingest

    shutil.copy(FIXTURES / "acled_events.csv", isolated["inbox"] / "events.csv")
    (isolated["inbox"] / ".hidden").write_text("ignored")
    names = [p.name for p in ingest.input_files()]
    assert names == ["figures.csv", "events.csv"]


def test_the_same_content_twice_adds_nothing(isolated):
    from pipeline import ingest

    once = ingest.ingest([*ingest.DEFAULT_FILES, FIXTURES / "acled_events.csv"])
    for name in ("a.csv", "b.csv"):
        shutil.copy(FIXTURES / "acled_events.csv", isolated["inbox"] / name)
    shutil.copy(ingest.DEFAULT_FILES[0], isolated["inbox"] / "figures-again.csv")
    twice = ingest.ingest(ingest.input_files())
    assert len(once.observations) > 86
    assert sorted(twice.observations["obs_id"]) == sorted(once.observations["obs_id"])
    # every file is still accounted for, even when its rows were already known
    assert list(twice.files["file"]) == ["figures.csv", "a.csv", "b.csv", "figures-again.csv"]


import pytest  # noqa: E402


@pytest.mark.parametrize("bulk_min_bytes", [None, 1], ids=["exact", "bulk"])
def test_a_record_in_two_exports_keeps_the_later_export_s_values(tmp_path, bulk_min_bytes):
    """ACLED revises events in place, under the same event_id_cnty: of two exports named by date, the
    newer one's fatalities are the ones kept (kept once either way)."""
    from pipeline import ingest

    text = (FIXTURES / "acled_events.csv").read_text(encoding="utf-8")
    old_row = next(line for line in text.splitlines() if line.startswith("SYR90001,"))
    assert ",9,,1577000000" in old_row
    revised = text.replace(old_row, old_row.replace(",9,,1577000000", ",12,,1580000000"))
    (tmp_path / "acled_2020-02-01.csv").write_text(text, encoding="utf-8")
    (tmp_path / "acled_2020-03-01.csv").write_text(revised, encoding="utf-8")
    got = ingest.ingest(sorted(tmp_path.glob("*.csv")), bulk_min_bytes=bulk_min_bytes)
    alone = ingest.ingest([tmp_path / "acled_2020-03-01.csv"], bulk_min_bytes=bulk_min_bytes)
    assert sorted(got.observations["obs_id"]) == sorted(alone.observations["obs_id"])
    killed = got.observations[(got.observations["notes"].str.contains("Air/drone strike", na=False))
                              & (got.observations["period_start"].astype(str) == "2019-12-20")]
    assert killed["value_best"].tolist() == [12.0]
    assert set(killed["ingest_file"]) == {"acled_2020-03-01.csv"}
    # the quality page says where the older export's rows went: every one is carried by the newer export
    files = got.files.set_index("file")
    assert files.loc["acled_2020-02-01.csv", "rows_replaced"] == files.loc["acled_2020-02-01.csv", "rows_accepted"] > 0
    assert files.loc["acled_2020-03-01.csv", "rows_replaced"] == 0


def test_two_files_of_one_organisation_without_row_ids_keep_every_row(tmp_path):
    """An HXL file has no row ids: a row's key is its line in that file's content. Two different files of the
    same organisation (a January and a February update) share line numbers but not rows: both are kept.
    The same file dropped twice is still kept once."""
    from pipeline import ingest

    text = (FIXTURES / "hxl_generic.csv").read_text(encoding="utf-8")
    january = tmp_path / "a_january.csv"
    january.write_text(text, encoding="utf-8")
    february = tmp_path / "b_february.csv"
    february.write_text(text.replace("2020-01-15", "2020-02-15").replace("2020-01-16", "2020-02-16"), encoding="utf-8")
    shutil.copy(january, tmp_path / "c_january_again.csv")
    one = ingest.ingest([january])
    both = ingest.ingest(sorted(tmp_path.glob("*.csv")))
    assert len(one.observations) > 0
    assert len(both.observations) == 2 * len(one.observations)
    months = both.observations["period_start"].astype(str).str[:7].value_counts().to_dict()
    assert months == {"2020-01": len(one.observations), "2020-02": len(one.observations)}


def test_rows_without_ids_in_overlapping_files_are_kept_once_and_twins_in_one_file_stay_two(tmp_path):
    """HXL rows have no ids: a row is known by its cells. A later update that repeats the earlier rows and
    adds one keeps each row once; two identical rows within one file stay two rows."""
    from pipeline import ingest

    text = (FIXTURES / "hxl_generic.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    first = tmp_path / "a_first.csv"
    first.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # the update's rows but its last
    update = tmp_path / "b_update.csv"
    update.write_text(text, encoding="utf-8")
    alone = ingest.ingest([update])
    both = ingest.ingest([first, update])
    assert sorted(both.observations["obs_id"]) == sorted(alone.observations["obs_id"])
    assert list(both.files["rows_replaced"]) == [len(lines) - 3, 0]
    twins = tmp_path / "c_twins.csv"
    twins.write_text("\n".join(lines[:3] + [lines[2]]) + "\n", encoding="utf-8")
    got = ingest.ingest([twins])
    one = ingest.ingest([tmp_path / "a_first.csv"])
    per_row = len(one.observations) // (len(lines) - 3)
    assert len(got.observations) == 2 * per_row and got.files.loc[0, "duplicate_ids"] == 0
