from dagster_duckdb import DuckDBResource

from pipeline.warehouse import warehouse_path

# Every asset that touches the DuckDB file belongs to this pool; dagster.yaml limits it to 1,
# because DuckDB allows one writing process per database file.
WAREHOUSE_POOL = "duckdb_warehouse"


def duckdb_resource() -> DuckDBResource:
    path = warehouse_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return DuckDBResource(database=str(path))
