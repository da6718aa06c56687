"""`displacement build`: materialize every asset in one process and publish the site."""

from __future__ import annotations

import logging
import sys
import time

from pipeline.schema import printable


def register(sub) -> None:
    p = sub.add_parser("build", help="ingest, validate, aggregate and publish the report site (all assets, one process)")
    p.add_argument("--verbose", dest="quiet", action="store_false", help="show Dagster's step log")
    p.set_defaults(func=run)


def build(quiet: bool = True):
    """Materialize all assets and checks in-process with an ephemeral Dagster instance."""
    import dagster as dg

    from pipeline import definitions

    if quiet:
        logging.getLogger("dagster").setLevel(logging.WARNING)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [*definitions.all_assets, *definitions.all_checks],
            resources={"duckdb": definitions.duckdb_resource()},
            instance=instance,
            raise_on_error=False,
            # quiet: Dagster's own console log (with its stack traces) stays out; the summary below says what failed
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL" if quiet else "INFO"}}}},
        )
    return result


def run(args) -> int:
    from pipeline.publish import site_dir
    from pipeline.warehouse import warehouse_path

    started = time.monotonic()
    result = build(quiet=args.quiet)
    checks = result.get_asset_check_evaluations()
    failed_checks = [c for c in checks if not c.passed]
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    for c in failed_checks:
        print(f"check failed: {c.asset_key.to_user_string()} / {c.check_name}; the published site was left as it was",
              file=sys.stderr)
        failures = c.metadata.get("failures")
        for f in (failures.value if failures is not None else [])[:20]:
            what = f.get("expectation", "?")
            where = ", ".join(str(v) for v in (f.get("column"), f.get("sample")) if v)
            count = f.get("unexpected_count")
            hint = "; `displacement validate FILE` names its rows" if f.get("column") == "file" else ""
            print(printable(f"  - {what}" + (f" ({count} unexpected)" if count else "") + (f": {where}" if where else "")
                            + hint), file=sys.stderr)
    if not result.success or failed_checks or "report_site" not in done:
        for ev in result.all_events:
            if ev.is_step_failure:
                err = ev.step_failure_data.error
                if err is not None and "DagsterAssetCheckFailedError" in (err.cls_name or ""):
                    continue  # already said above, with the failed expectations
                # Dagster wraps an error raised in the step's own code: say that one (the cause) instead
                while err is not None and err.cause is not None and err.cls_name == "DagsterExecutionStepExecutionError":
                    err = err.cause
                message = err.message.strip().splitlines()[0] if err else "failed"
                print(printable(f"step failed: {ev.step_key}: {message}"), file=sys.stderr)
        print(f"build failed after {time.monotonic() - started:.1f}s; warehouse {warehouse_path()}; "
              "rerun with --verbose for Dagster's step log", file=sys.stderr)
        return 1
    print(f"built {len(done)} assets and {len(checks)} checks in {time.monotonic() - started:.1f}s; "
          f"site: {site_dir()}/index.html")
    return 0
