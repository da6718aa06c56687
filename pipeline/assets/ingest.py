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
    result = ingest_lib.ingest(files)
    with duckdb.get_connection() as con:
        warehouse.load_base_tables(con, result.observations, result.rejected)
        warehouse.record_files(con, result.files)
    for row in result.files.itertuples():
        if isinstance(row.error, str) and row.error:
            context.log.warning(f"{row.file}: {row.error}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(result.observations),
            "rows_rejected": int(result.files["rows_rejected"].sum()) if len(result.files) else 0,
            "rejections_by_rule": dg.MetadataValue.json(
                {str(k): int(v) for k, v in result.rejected["rule"].value_counts().sort_index().items()}),
            "files": dg.MetadataValue.json(result.files.drop(columns=["sha256"]).to_dict("records")),
            "input_sha256": dg.MetadataValue.json({r.file: r.sha256 for r in result.files.itertuples()}),
        }
    )
