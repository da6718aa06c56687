from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def default_warehouse():
    """The embedded default data, ingested and modelled in an in-memory DuckDB (no Dagster)."""
    from pipeline import ingest, warehouse

    result = ingest.ingest(ingest.DEFAULT_FILES)
    con = duckdb.connect()
    warehouse.load_base_tables(con, result.observations, result.rejected)
    warehouse.run_models(con)
    yield con
    con.close()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Warehouse, site and inbox in a temporary folder, so tests never touch the project's own."""
    paths = {"warehouse": tmp_path / "warehouse.duckdb", "site": tmp_path / "site", "inbox": tmp_path / "inbox"}
    paths["inbox"].mkdir()
    monkeypatch.setenv("DISPLACEMENT_WAREHOUSE", str(paths["warehouse"]))
    monkeypatch.setenv("DISPLACEMENT_SITE", str(paths["site"]))
    monkeypatch.setenv("DISPLACEMENT_INBOX", str(paths["inbox"]))
    return paths
