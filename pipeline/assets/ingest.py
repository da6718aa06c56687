import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline import ingest as ingest_lib
from pipeline import warehouse
from pipeline.assets.resources import WAREHOUSE_POOL


@dg.asset(
    group_name="ingest",
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    description="Every input file (embedded default facts + data/inbox) read into the canonical observation "
    "table; rows that fail the row rules go to rejected_observations with file, line, column and reason.",
)
def observations(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    files = ingest_lib.input_files()
    with duckdb.get_connection() as con:
        result = ingest_lib.ingest_into(con, files)  # large plain CSVs in DuckDB SQL, the rest in pandas
        warehouse.load_reference_tables(con)
        warehouse.record_files(con, result)
        rows = warehouse.run(con, "SELECT count(*) FROM observations")[0][0]
        by_rule = warehouse.run(con, "SELECT rule, count(*) FROM rejected_observations GROUP BY rule ORDER BY rule")
    for row in result.itertuples():
        if isinstance(row.error, str) and row.error:
            context.log.warning(f"{row.file}: {row.error}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": int(rows),
            "rows_rejected": int(result["rows_rejected"].sum()) if len(result) else 0,
            "rejections_by_rule": dg.MetadataValue.json({str(k): int(v) for k, v in by_rule}),
            "files": dg.MetadataValue.json(result.drop(columns=["sha256"]).to_dict("records")),
            "input_sha256": dg.MetadataValue.json({r.file: r.sha256 for r in result.itertuples()}),
        }
    )
