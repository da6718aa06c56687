"""The blocking check on `observations`: the readers' table rules, the observations suite in DuckDB SQL
over every row, and Great Expectations on a deterministic sample to check that GX and the SQL agree.
On failure no model or page downstream runs, so the published site stays as it was."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline import warehouse
from pipeline.assets.ingest import observations
from pipeline.assets.resources import WAREHOUSE_POOL


def failures_metadata(results) -> list[dict]:
    return [{"suite": s.suite, "expectation": r["expectation"], "column": r["column"],
             "unexpected_count": r["unexpected_count"], "sample": r["sample"]}
            for s in results for r in s.failed]


@dg.asset_check(asset=observations, blocking=True, pool=WAREHOUSE_POOL,
                description="Table rules per input file (readable, required columns, rows reconcile, not every row "
                "rejected, no repeated ids), the observations suite compiled to DuckDB SQL over every row, a drop "
                "in row count against the last good run, and the GX suite on a 50,000-row sample that must agree "
                "with the SQL. Blocks the models on failure.")
def observations_suite(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    from pipeline.expectations.blocking import run_blocking_check

    with duckdb.get_connection() as con:
        check = run_blocking_check(con, context.run.run_id)
        rows_rejected, rejections = warehouse.run(
            con, "SELECT (SELECT coalesce(sum(rows_rejected), 0) FROM ingest_files), "
                 "(SELECT count(*) FROM rejected_observations)")[0]
    files, full, gx, last_good, passed = check.files, check.full, check.gx, check.last_good_rows, check.passed
    failed = failures_metadata([files, full])
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows": full.rows,
            "rows_rejected": int(rows_rejected),
            "rejections": int(rejections),
            "files": files.rows,
            "expectations": len(files.results) + len(full.results),
            "failed_expectations": len(failed),
            "unexpected_rows": files.unexpected + full.unexpected,
            "last_good_rows": last_good if last_good is not None else -1,
            "gx_sample_rows": gx.rows if gx else 0,
            "gx_expectations": len(gx.results) if gx else 0,
            "gx_failed_expectations": len(gx.failed) if gx else 0,
            "failures": dg.MetadataValue.json(failed),
        },
    )
