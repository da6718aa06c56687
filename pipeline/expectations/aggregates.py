"""Suites for the aggregate models, run as asset checks on their warehouse assets (pipeline/assets/checks.py).

- displacement_flows: a cumulative series never falls: every differenced interval (kind 'difference')
  has value_best >= 0 (a fall means a revision or two series mixed into one, and would become
  negative daily rates);
- displacement_daily: no negative daily rate among the chosen rows; and the totals reconcile: per
  series, the daily people summed over all its days equal the flows it came from (nested flows
  counted inside their parent), so spreading neither adds nor loses anyone.
"""

from __future__ import annotations

from pipeline.expectations.rules import Rule, SuiteResult, run_sql

TOLERANCE = 1e-6  # relative, for floating-point sums of rates


def flows_rules() -> list[Rule]:
    return [
        Rule("expect_cumulative_series_never_to_fall", "value_best",
             "differenced intervals of a cumulative series are >= 0", bad="kind = 'difference' AND value_best < 0"),
        Rule("expect_column_values_to_not_be_null", "value_best", "every flow has a best value",
             bad="value_best IS NULL"),
        Rule("expect_period_start_not_after_period_end", "period_start", "every flow spans at least one day",
             bad="period_start > period_end"),
    ]


def daily_rules() -> list[Rule]:
    reconcile = (
        "WITH f AS (SELECT series, sum(value_best) AS v FROM displacement_flows WHERE kind <> 'nested' GROUP BY series), "
        "d AS (SELECT series, sum(people_best) AS v FROM {table} GROUP BY series), "
        "x AS (SELECT series, coalesce(f.v, 0) AS flows, coalesce(d.v, 0) AS daily FROM f FULL JOIN d USING (series)) "
    )
    where = f"WHERE abs(flows - daily) > {TOLERANCE} * greatest(1, abs(flows))"
    return [
        Rule("expect_chosen_daily_rates_not_negative", "people_best", "chosen rows have people_best >= 0",
             bad="series_role = 'chosen' AND people_best < 0"),
        Rule("expect_daily_totals_to_reconcile_with_flows", "series",
             "per series, the sum of daily people equals the sum of its flows",
             count_sql=reconcile + f"SELECT count(*) FROM x {where}",
             sample_sql=reconcile + f"SELECT series || ': flows ' || round(flows, 2) || ', daily ' || round(daily, 2) "
                                    f"FROM x {where} ORDER BY series LIMIT 5"),
    ]


SUITES = {"displacement_flows": flows_rules, "displacement_daily": daily_rules}


def check(con, table: str) -> SuiteResult:
    return run_sql(con, table, SUITES[table](), table)
