import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline import publish, warehouse
from pipeline.assets.resources import WAREHOUSE_POOL


@dg.asset(
    group_name="reports",
    deps=sorted(warehouse.models()),
    pool=WAREHOUSE_POOL,
    kinds={"html", "altair"},
    description="The static report site in reports/site/, written beside the live one and swapped in whole.",
)
def report_site(duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        summary = publish.publish_site(con)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(summary["path"])),
        "files": summary["files"],
        "pages": dg.MetadataValue.json(summary["pages"]),
    })
