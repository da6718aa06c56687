import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline import warehouse
from pipeline.assets.ingest import observations
from pipeline.assets.resources import WAREHOUSE_POOL


@dg.asset_check(asset=observations, blocking=True, pool=WAREHOUSE_POOL,
                description="Great Expectations suite generated from pipeline/schema.py; blocks the models on failure.")
def observations_suite(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    from pipeline.expectations.observations import validate

    with duckdb.get_connection() as con:
        frame = con.execute("SELECT * FROM observations ORDER BY obs_id").df()
        result = validate(frame)
        warehouse.record_validation(con, result)
    failed = result.failed
    return dg.AssetCheckResult(
        passed=result.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows": result.rows,
            "expectations": len(result.results),
            "failed_expectations": len(failed),
            "unexpected_rows": sum(r["unexpected_count"] for r in result.results),
            "failures": dg.MetadataValue.json(failed),
        },
    )
