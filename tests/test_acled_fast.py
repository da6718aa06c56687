"""The ACLED event-CSV reader, mapped once per distinct value (acled._read_events), gives exactly the
ReadResult of the row-by-row mapping it replaced (acled._read_events_reference)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.sources import acled
from pipeline.sources.detect import read_path

FIXTURES = Path(__file__).parent / "fixtures" / "sources"


def _both(path: Path, monkeypatch):
    new = read_path(path)
    with monkeypatch.context() as m:
        m.setattr(acled, "_read_events", acled._read_events_reference)
        ref = read_path(path)
    return new, ref


def _assert_same(new, ref):
    assert new.format == ref.format
    assert new.file == ref.file
    assert new.rows_read == ref.rows_read
    assert list(new.observations.columns) == list(ref.observations.columns)
    assert list(new.observations.dtypes) == list(ref.observations.dtypes)
    pd.testing.assert_frame_equal(new.observations, ref.observations, check_exact=True)
    assert list(new.observations["obs_id"]) == list(ref.observations["obs_id"])
    assert [(r.file, r.line, r.column, r.rule, r.message, r.value) for r in new.rejected] == \
        [(r.file, r.line, r.column, r.rule, r.message, r.value) for r in ref.rejected]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("acled*.csv")))
def test_fixture_same_as_reference(name, monkeypatch):
    new, ref = _both(FIXTURES / name, monkeypatch)
    assert new.format == "acled-events"
    _assert_same(new, ref)


def test_generated_20k_same_as_reference(tmp_path, monkeypatch):
    from bench.generate import generate

    generate(tmp_path, 20_000)
    new, ref = _both(tmp_path / "SYNTHETIC_acled_events_01.csv", monkeypatch)
    assert new.rejected, "the generator's broken rows are reported"
    assert len(new.observations) > 19_000
    _assert_same(new, ref)


EDGE = (
    "event_id_cnty,event_date,time_precision,fatalities,civilian_targeting,event_type,sub_event_type,"
    "country,iso3,admin1,admin2,admin3,location\n"
    "SYR1,2023-01-05,1,3,,Battles,Armed clash,Syria,,Idlib,Harim,,Sarmada\n"
    "SYR2,2023-01-05,2,0,Civilian targeting,Violence against civilians,Attack,Syria,syr,Idlib,,Dana,\n"
    "SYR3,2023-02-01,3,1,,Explosions,Shelling,Narnia,,,,,\n"
    " ,15 March 2020,3,x,,Battles,,Syria,,,,,\n"
    "SYR5,2023-02-30,1,-2,,Battles,,Syria,,,,,\n"
    "SYR6,,1,2,,Battles,,DR Congo (Zaire),,,,,\n"
    "SYR7,2023-03-10,9,,,Battles,,Syria,,,,,\n"
    "SYR8,2023-03-10,1,4,,Battles,,Syria,,,,,\n"
)


@pytest.mark.parametrize("quoted_newline", [False, True])
def test_edge_rows_same_as_reference(tmp_path, monkeypatch, quoted_newline):
    text = EDGE
    if quoted_newline:  # a quoted field spanning lines: the exact (csv module) route, line numbers shift
        text = text.replace("Sarmada", '"Sar\nmada"')
    path = tmp_path / "acled_edge.csv"
    path.write_text(text, encoding="utf-8")
    new, ref = _both(path, monkeypatch)
    assert new.rejected
    _assert_same(new, ref)
