"""A rule stated once, run two ways: compiled to DuckDB SQL over the whole table, and (where GX has the
expectation) as a Great Expectations expectation over a bounded sample, to check the two agree.

Why: GX 1.x has no DuckDB source, and validating a 5-million-row frame through pandas costs about 24 s
for five expectations. One DuckDB pass computes every rule's unexpected count over every row in well
under a second; GX then checks on a deterministic sample (the same rows each run, chosen by a hash of
the key) that the SQL means what the expectation means.

A rule is either a row rule (`bad`: a SQL predicate, TRUE for an offending row; NULL counts as not
offending, as GX ignores missing values in column-map expectations) or a table rule (`count_sql`: a
query over `{table}` returning the number of offending rows, with `sample_sql` listing a few).

A row rule over few distinct values (a code's shape, a vocabulary) may name columns that include
every column its predicate reads (`reads`): it is then evaluated once per distinct combination of
those columns and each verdict weighted by how many rows carry that combination. The count is the
same as row by row (the predicate sees nothing else, and a column left out of `reads` fails to bind
instead of being miscounted), but at 5 million rows with ten thousand distinct codes the regexes run
500 times less often. Rules naming the same `reads` share one grouping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Rule:
    expectation: str  # a GX expectation type name, or our own name for a rule GX cannot state
    column: str | None
    description: str
    bad: str | None = None  # row rule: SQL predicate, TRUE when the row breaks the rule
    count_sql: str | None = None  # table rule: SELECT returning one number (offending rows), over {table}
    sample_sql: str | None = None  # table rule: SELECT returning up to 5 offending values, over {table}
    gx: Callable[[], object] | None = field(default=None, compare=False)  # builds the GX expectation
    show: str | None = None  # SQL for the sample of an offending row (default: the column's value)
    reads: tuple[str, ...] = ()  # row rule: columns including all that `bad` reads, to count per distinct value

    @property
    def key(self) -> str:
        return f"{self.expectation}({self.column or ''})"


@dataclass
class SuiteResult:
    suite: str
    success: bool
    rows: int
    results: list[dict] = field(default_factory=list)
    engine: str = "duckdb"

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.results if not r["success"]]

    @property
    def unexpected(self) -> int:
        return sum(r["unexpected_count"] for r in self.results)


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _count(r: Rule) -> str:
    """The aggregate counting a row rule's offending rows over a table: count_if of its predicate, or
    for a plain `col IS NULL` the same number as count(*) - count(col), which DuckDB answers from the
    column's validity data without evaluating a predicate per row."""
    if r.column and r.bad == f"{q(r.column)} IS NULL":
        return f"count(*) - count({q(r.column)})"
    return f"count_if(({r.bad}) IS TRUE)"


def run_sql(con, table: str, rules: list[Rule], suite: str, *, sample: int = 5) -> SuiteResult:
    """Every row rule in one statement: the rules without `reads` in one scan of `table`, each group of
    rules with the same `reads` over `table` grouped by those columns (each predicate once per distinct
    combination, its verdict counted with the combination's rows); table rules one query each; samples
    of offending values only for the rules that failed, so a clean table costs one statement."""
    row_rules = [r for r in rules if r.bad is not None]
    per_row = [r for r in row_rules if not r.reads]
    by_reads: dict[tuple[str, ...], list[Rule]] = {}
    for r in row_rules:
        if r.reads:
            by_reads.setdefault(r.reads, []).append(r)
    parts = [f"(SELECT {', '.join(['count(*)'] + [_count(r) for r in per_row])} FROM {table})"]
    for reads, group in by_reads.items():
        cols = ", ".join(q(c) for c in reads)
        sums = ", ".join(f"coalesce(sum(_rows) FILTER (WHERE ({r.bad}) IS TRUE), 0)" for r in group)
        parts.append(f"(SELECT {sums} FROM (SELECT {cols}, count(*) AS _rows FROM {table} GROUP BY {cols}))")
    counts = con.execute("SELECT * FROM " + ", ".join(f"{p} AS _{i}" for i, p in enumerate(parts))).fetchall()[0]
    ordered = per_row + [r for group in by_reads.values() for r in group]
    rows, by_rule = int(counts[0]), dict(zip(ordered, counts[1:]))
    for r in rules:
        if r.count_sql is not None:
            by_rule[r] = con.execute(r.count_sql.format(table=table)).fetchall()[0][0] or 0
    results = []
    for r in rules:
        n = int(by_rule[r])
        shown = None
        if n:
            if r.bad is not None:
                what = r.show or (f"CAST({q(r.column)} AS VARCHAR)" if r.column else "'row'")
                query = f"SELECT DISTINCT {what} FROM {table} WHERE ({r.bad}) IS TRUE ORDER BY 1 LIMIT {sample}"
            else:
                query = r.sample_sql.format(table=table) if r.sample_sql else None
            if query:
                shown = ", ".join("null" if v[0] is None else str(v[0])[:300] for v in con.execute(query).fetchall())
        results.append({"expectation": r.expectation, "column": r.column, "success": n == 0,
                        "unexpected_count": n, "sample": shown, "rule": r.key})
    return SuiteResult(suite=suite, success=all(x["success"] for x in results), rows=rows, results=results)
