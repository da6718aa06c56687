"""The suite for the readers' stage: one row per input file in `ingest_files` (what each reader made
of its file before its rows joined `observations`). Table rules only, each fails the blocking check:

- every file could be read: no unknown format, no required column missing (detect names the column);
- rows read = rows accepted + rows rejected (nothing silently disappears);
- not every row of a non-empty file was rejected (a changed export format, not a few bad rows);
- no two rows of one file carry the same obs_id (the source's own key repeated: which one is true?).
  The same file delivered twice is fine: its ids repeat across files, and ingest keeps them once.
"""

from __future__ import annotations

from pipeline.expectations.rules import Rule, SuiteResult, run_sql

SUITE_NAME = "ingest_files"


def rules() -> list[Rule]:
    return [
        Rule("expect_file_to_be_readable", "error", "every file has a known format and its required columns",
             bad="error IS NOT NULL"),
        Rule("expect_rows_read_to_equal_accepted_plus_rejected", "file", "rows read = accepted + rejected",
             bad="rows_read <> rows_accepted + rows_rejected"),
        Rule("expect_some_rows_of_each_file_accepted", "file", "a file with rows has at least one accepted",
             bad="rows_read > 0 AND rows_accepted = 0"),
        Rule("expect_obs_id_unique_within_file", "file", "no obs_id twice within one file",
             bad="coalesce(duplicate_ids, 0) > 0"),
    ]


def check(con, table: str = "ingest_files") -> SuiteResult:
    return run_sql(con, table, rules(), SUITE_NAME)
