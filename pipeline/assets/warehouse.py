"""One Dagster asset per SQL model in sql/, with its dependencies read from the file."""


import hashlib
import math

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline import warehouse
from pipeline.assets.resources import WAREHOUSE_POOL


PREVIEW_ROWS = 5


def _cell(value):
    """A preview cell as a type the Dagster UI can show (dates and decimals become text)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _model_asset(name: str, deps: set[str], sql: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name="warehouse",
        deps=sorted(d for d in deps if d not in ("gazetteer", "key_events")),
        pool=WAREHOUSE_POOL,
        kinds={"duckdb", "sql"},
        code_version=hashlib.sha256(sql.encode()).hexdigest()[:12],
        description=(sql.split("\n", 1)[1].split("CREATE", 1)[0].replace("-- ", "").strip() or None),
    )
    def _asset(duckdb: DuckDBResource) -> dg.MaterializeResult:
        with duckdb.get_connection() as con:
            counts = warehouse.run_models(con, [name])
            columns = con.execute(f"DESCRIBE {name}").fetchall()
            # a model table is stored in no particular order: its preview is its first rows by every column,
            # the same rows each run (a top-n, cheap); a view (places, over every observation) as it reads
            kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = ?",
                               [name]).fetchall()
            order = " ORDER BY ALL" if kind == [("BASE TABLE",)] else ""
            head = warehouse.run(con, f"SELECT * FROM {name}{order} LIMIT {PREVIEW_ROWS}")
        schema = dg.TableSchema(columns=[dg.TableColumn(c[0], c[1]) for c in columns])
        return dg.MaterializeResult(metadata={
            "dagster/row_count": counts[name],
            "dagster/column_schema": schema,
            "preview": dg.MetadataValue.table(
                records=[dg.TableRecord({c[0]: _cell(v) for c, v in zip(columns, row)}) for row in head],
                schema=schema,
            ),
        })

    return _asset


model_assets = [_model_asset(name, deps, sql) for name, (deps, sql) in warehouse.models().items()]
