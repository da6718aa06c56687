"""Asset checks on the aggregate models (suites in pipeline/expectations/aggregates.py): a cumulative
series never falls, no chosen daily rate is negative, daily totals reconcile with their flows.
Blocking: a model that breaks them never reaches the published site."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline import warehouse
from pipeline.assets.resources import WAREHOUSE_POOL
from pipeline.assets.validate import failures_metadata


def _aggregate_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(table), name=f"{table}_suite", blocking=True, pool=WAREHOUSE_POOL,
                    description=f"Aggregate suite for {table} (pipeline/expectations/aggregates.py), in DuckDB SQL.")
    def _check(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> dg.AssetCheckResult:
        from pipeline.expectations import aggregates

        with duckdb.get_connection() as con:
            result = aggregates.check(con, table)
            warehouse.record_validation(con, result, context.run.run_id)
        failed = failures_metadata([result])
        return dg.AssetCheckResult(
            passed=result.success,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "rows": result.rows,
                "expectations": len(result.results),
                "failed_expectations": len(failed),
                "unexpected_rows": result.unexpected,
                "failures": dg.MetadataValue.json(failed),
            },
        )

    return _check


# add to pipeline/definitions.py: all_checks = [observations_suite, *aggregate_checks]
aggregate_checks = [_aggregate_check(t) for t in ("displacement_flows", "displacement_daily")]
