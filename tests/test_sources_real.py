"""Every real published file in ../shared/data is recognised and read with sensible counts.

The folder is not part of the project (real files stay out of git); these tests skip when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import schema
from pipeline.sources.detect import read_path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"real sample files not present at {DATA}")

# file -> (format, rows read, minimum observations); every row of these files is valid
EXPECTED = {
    "hapi_idps_HTI.csv": ("hapi-idps", 1411, 1411),
    "dtm_api_admin0-2_HTI.csv": ("dtm-csv", 1733, 1733),
    "hapi_conflict_events_SYR_2025-01.csv": ("hapi-conflict-events", 186, 186),
    "acled_hdx_political_violence_2025-01-10.xlsx": ("acled-hdx-workbook", 6791, 2 * 6791),
    "idmc_idu_sample.json": ("idmc-idu-json", 20, 20),
    "population_origin_SYR.csv": ("unhcr-population", 2377, 2377),
    "countries.csv": ("unhcr-countries", 232, 0),
}


def data_files():
    if not DATA.is_dir():
        return []
    return sorted(p.name for p in DATA.iterdir() if p.is_file() and p.suffix.lower() != ".md")


def test_every_data_file_is_known_to_this_test():
    assert set(data_files()) <= set(EXPECTED), "a new file in shared/data: add its expected counts"


@pytest.mark.parametrize("name", data_files())
def test_real_file_is_read(name):
    fmt, rows, min_obs = EXPECTED[name]
    r = read_path(DATA / name)
    assert r.format == fmt
    assert r.rows_read == rows
    assert r.rows_rejected == 0, [x.message for x in r.rejected[:5]]
    assert r.rows_read == r.rows_accepted + r.rows_rejected
    o = r.observations
    assert len(o) >= min_obs
    assert not o["obs_id"].duplicated().any()
    for column, vocab in schema.VOCABULARIES.items():
        assert o[column].isin(vocab).all(), column
    assert (o["value_best"] >= 0).all()
    assert (o["period_end"] >= o["period_start"]).all()


def test_real_hapi_idps_recommends_latest_round_only():
    o = read_path(DATA / "hapi_idps_HTI.csv").observations
    rec = o[o["role"] == "recommended"]
    # one recommended round per operation and admin unit
    units = rec.assign(op=rec["notes"].str.extract(r"operation=([^;]*)")[0])
    assert not units.duplicated(["op", "admin1_code", "admin2_code", "country_iso3"]).any()
    assert 0 < len(rec) < len(o)


def test_real_dtm_lines_skip_the_hxl_row():
    o = read_path(DATA / "dtm_api_admin0-2_HTI.csv").observations
    assert o["ingest_row"].min() == 3 and o["ingest_row"].max() == 1735


def test_real_conflict_events_civilian_fatalities():
    o = read_path(DATA / "hapi_conflict_events_SYR_2025-01.csv").observations
    civ = o[(o["metric"] == "killed") & (o["population"] == "civilians")]
    assert len(civ) > 0 and (civ["notes"].str.contains("civilian_targeting")).all()
    assert set(o["country_iso3"]) == {"SYR"}


def test_real_unhcr_syria_origin():
    o = read_path(DATA / "population_origin_SYR.csv").observations
    assert set(o["origin_iso3"]) == {"SYR"}
    assert (o["period_end"].dt.month == 12).all() and (o["date_precision"] == "year").all()
    assert o[(o["metric"] == "refugees") & (o["period_end"].dt.year == 2019)]["value_best"].sum() > 5_000_000
