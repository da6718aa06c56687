"""Measure the observations suite at scale: `python -m pipeline.expectations.timing [ROWS]`.

Builds ROWS synthetic canonical observations in an in-memory DuckDB (labelled synthetic, never
published), then times: every rule in SQL over all rows; the whole blocking check (SQL + GX on the
50,000-row sample + agreement); and the naive path, GX over the whole frame through pandas.
Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

import duckdb

from pipeline import schema


def synthetic(con, rows: int) -> None:
    con.execute(schema.duckdb_ddl("observations"))
    con.execute(f"""
        INSERT INTO observations
        SELECT
            substr(md5(i::VARCHAR), 1, 20), 'synthetic', 'Synthetic (not real)', 'synthetic', NULL, DATE '2020-03-01',
            ['displaced', 'killed', 'idps_present'][1 + i % 3], ['flow', 'stock'][1 + i % 2], 'all', 'people', NULL,
            v, v, v, 'exact',
            DATE '2019-01-01' + (i % 400)::INTEGER, DATE '2019-01-01' + (i % 400)::INTEGER + (i % 7)::INTEGER, 'day',
            ['SYR', 'HTI', 'COD'][1 + i % 3],
            ['SY', 'HT', 'CD'][1 + i % 3] || lpad((1 + i % 14)::VARCHAR, 2, '0'), NULL,
            ['SY', 'HT', 'CD'][1 + i % 3] || lpad((1 + i % 14)::VARCHAR, 2, '0') || lpad((1 + i % 9)::VARCHAR, 2, '0'),
            NULL, NULL, NULL, NULL, NULL, ['recommended', 'triangulation'][1 + i % 2], NULL,
            'synthetic.csv', i + 2, 'sha'
        FROM (SELECT i, (i % 5000)::DOUBLE AS v FROM range({rows}) t(i))
    """)


def main(rows: int = 1_000_000, naive: bool = True) -> dict:
    from pipeline.expectations import observations as suite
    from pipeline.expectations.rules import run_sql

    con = duckdb.connect()
    synthetic(con, rows)
    out = {"rows": rows, "rules": len(suite.rules())}
    t = time.perf_counter()
    import great_expectations  # noqa: F401  (about 3.5 s, paid once per process; not counted below)
    out["gx_import_seconds"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    full = run_sql(con, "observations", suite.rules(), suite.SUITE_NAME)
    out["sql_all_rules_seconds"] = round(time.perf_counter() - t, 2)
    assert full.success, full.failed

    t = time.perf_counter()
    results = suite.check(con)
    out["check_seconds"] = round(time.perf_counter() - t, 2)  # SQL + 50k sample through GX + agreement
    assert results[0].success, results[0].failed

    if naive:
        t = time.perf_counter()
        frame = con.execute("SELECT * FROM observations").df()
        out["naive_to_pandas_seconds"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        gx_full = suite.validate(frame)
        out["naive_gx_whole_frame_seconds"] = round(time.perf_counter() - t, 2)
        out["naive_gx_expectations"] = len(gx_full.results)
        out["speedup_vs_naive"] = round((out["naive_to_pandas_seconds"] + out["naive_gx_whole_frame_seconds"])
                                        / out["check_seconds"], 1)
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(json.dumps(main(n, naive="--no-naive" not in sys.argv)))
