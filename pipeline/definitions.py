"""The Dagster code location: assets, checks, jobs and resources. Kept short; logic lives elsewhere."""

from __future__ import annotations

import dagster as dg

from pipeline.assets.ingest import observations
from pipeline.assets.reports import report_site
from pipeline.assets.resources import duckdb_resource
from pipeline.assets.validate import observations_suite
from pipeline.assets.warehouse import model_assets

all_assets = [observations, *model_assets, report_site]
all_checks = [observations_suite]

build_job = dg.define_asset_job("build", selection=dg.AssetSelection.all(), description="Ingest, validate, aggregate, publish.")

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=[build_job],
    resources={"duckdb": duckdb_resource()},
)
