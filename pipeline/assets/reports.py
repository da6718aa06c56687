from datetime import timedelta
import hashlib
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline import publish, warehouse
from pipeline.assets.resources import WAREHOUSE_POOL

PIPELINE = Path(__file__).resolve().parents[1]


def site_code_version() -> str:
    """A hash of everything that shapes the site's bytes: templates, static files, chart code, publishing."""
    files = [PIPELINE / "publish.py", *sorted((PIPELINE / "site").rglob("*")), *sorted((PIPELINE / "charts").rglob("*.py"))]
    digest = hashlib.sha256()
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(PIPELINE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


@dg.asset(
    group_name="reports",
    deps=sorted(warehouse.models()),
    pool=WAREHOUSE_POOL,
    kinds={"html", "altair"},
    code_version=site_code_version(),
    # the daily schedule republishes every morning; a day and a half without a new site is a failure
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=36), warn_window=timedelta(hours=26)),
    description="The static report site in reports/site/, written beside the live one and swapped in whole.",
)
def report_site(duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        summary = publish.publish_site(con)
    site = Path(summary["path"])
    digest = hashlib.sha256()
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(site)).encode() + b"\0" + path.read_bytes())
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(site)),
            "index": dg.MetadataValue.url((site / "index.html").resolve().as_uri()),
            "files": summary["files"],
            "pages": dg.MetadataValue.json(summary["pages"]),
            "site_sha256": digest.hexdigest(),
        },
        data_version=dg.DataVersion(digest.hexdigest()[:16]),
    )
