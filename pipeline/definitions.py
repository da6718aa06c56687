"""The Dagster code location: assets, checks, jobs, schedules, sensors and resources. Logic lives elsewhere."""

from __future__ import annotations

import dagster as dg

from pipeline.assets.checks import aggregate_checks
from pipeline.assets.fetch import fetch_online
from pipeline.assets.ingest import observations
from pipeline.assets.reports import report_site
from pipeline.assets.resources import duckdb_resource
from pipeline.assets.validate import observations_suite
from pipeline.assets.warehouse import model_assets
from pipeline.schedules import make_daily_schedule
from pipeline.sensors import make_inbox_sensor

# What `displacement build` materializes: everything offline (no network).
all_assets = [observations, *model_assets, report_site]
all_checks = [observations_suite, *aggregate_checks]

# In the code location the online fetch sits upstream of the observations, so the UI shows the whole flow.
located_assets = [
    fetch_online,
    *dg.map_asset_specs(lambda spec: spec.merge_attributes(deps=[fetch_online.key]), [observations]),
    *model_assets,
    report_site,
]

# with run monitoring on (dagster.yaml), a run still going after this long is ended: it has hung, or its
# process was killed without the default run launcher seeing it
MAX_RUNTIME = {"dagster/max_runtime": str(6 * 3600)}
build_job = dg.define_asset_job(
    "build", selection=dg.AssetSelection.all() - dg.AssetSelection.assets(fetch_online), tags=MAX_RUNTIME,
    description="Ingest (default facts + inbox), validate, aggregate, publish. No network.")
daily_job = dg.define_asset_job(
    "daily", selection=dg.AssetSelection.all(), tags=MAX_RUNTIME,
    description="Fetch the online sources that have credentials into the inbox, then build and publish.")

# Every warehouse step is in one pool limited to 1, so steps never run side by side anyway: running them in
# the run's own process saves a Python start-up per step (about 5 s each on a 2-core machine). The
# in-process executor claims pool slots like the multiprocess one, so overlapping runs still take turns.
defs = dg.Definitions(
    executor=dg.in_process_executor,
    assets=located_assets,
    asset_checks=all_checks,
    jobs=[build_job, daily_job],
    schedules=[make_daily_schedule(daily_job)],
    sensors=[make_inbox_sensor(build_job)],
    resources={"duckdb": duckdb_resource()},
)
