"""The daily schedule: fetch the online sources that have credentials, then rebuild and publish."""

from __future__ import annotations

import dagster as dg

DAILY_CRON = "0 5 * * *"  # 05:00 UTC: after the publishers' overnight updates, before the working day


def make_daily_schedule(job) -> dg.ScheduleDefinition:
    def daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        from pipeline.assets.fetch import plan

        for name, why_not in plan():
            context.log.info(f"{name}: {'will fetch' if not why_not else 'skipped: ' + why_not}")
        return dg.RunRequest(tags={"displacement/trigger": "daily"})

    return dg.ScheduleDefinition(
        name="daily_refresh",
        job=job,
        cron_schedule=DAILY_CRON,
        execution_timezone="UTC",
        execution_fn=daily,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every day: fetch the online sources whose credentials are set (the run logs why others are "
        "skipped), rebuild every model and publish the site.",
    )
