"""The blocking check on `observations`, as a plain function: the Dagster asset check
(pipeline/assets/validate.py) and the benchmark (bench/run.py) run this same code."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import warehouse
from pipeline.expectations.rules import SuiteResult


@dataclass
class BlockingCheck:
    passed: bool
    files: SuiteResult  # the readers' table rules, per input file
    full: SuiteResult  # the observations suite in SQL over every row (with the table rules)
    gx: SuiteResult | None  # GX on the sample; None when the columns alone failed
    last_good_rows: int | None


def run_blocking_check(con, run_id: str | None) -> BlockingCheck:
    """The per-file rules, the observations suite (SQL over every row, GX on a sample that must agree, a
    drop in rows against the last good run); every result recorded under run_id, and on success the row
    count as the new last good run."""
    from pipeline.expectations import ingest_files
    from pipeline.expectations import observations as suite

    files = ingest_files.check(con)
    last_good = warehouse.last_good_rows(con, suite.SUITE_NAME)
    results = suite.check(con, last_good_rows=last_good)
    full = results[0]
    passed = files.success and full.success
    for r in [files, *results]:
        warehouse.record_validation(con, r, run_id)
    if passed:
        warehouse.record_good_rows(con, suite.SUITE_NAME, full.rows, run_id)
    return BlockingCheck(passed, files, full, results[1] if len(results) > 1 else None, last_good)
