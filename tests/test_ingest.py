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
