"""The suite for the canonical `observations` table, built from pipeline.schema.

great_expectations is imported inside the functions: it takes seconds to import, and loading the
Dagster definitions must stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pipeline import schema

SUITE_NAME = "observations"


def expectations():
    import great_expectations as gx

    E = gx.expectations
    out = [E.ExpectTableColumnsToMatchSet(column_set=schema.COLUMN_NAMES, exact_match=True)]
    for col in schema.REQUIRED:
        out.append(E.ExpectColumnValuesToNotBeNull(column=col))
    for col, vocab in schema.VOCABULARIES.items():
        out.append(E.ExpectColumnValuesToBeInSet(column=col, value_set=list(vocab)))
    for col in ("value_low", "value_best", "value_high"):
        out.append(E.ExpectColumnValuesToBeBetween(column=col, min_value=0))
    out.append(E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="value_best", column_B="value_low", or_equal=True,
                                                         ignore_row_if="either_value_is_missing"))
    out.append(E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="value_high", column_B="value_best", or_equal=True,
                                                         ignore_row_if="either_value_is_missing"))
    out.append(E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="period_end", column_B="period_start", or_equal=True,
                                                         ignore_row_if="either_value_is_missing"))
    out.append(E.ExpectColumnValuesToBeUnique(column="obs_id"))
    out.append(E.ExpectColumnValuesToMatchRegex(column="country_iso3", regex=r"^[A-Z]{3}$"))
    return out


@dataclass
class SuiteResult:
    suite: str
    success: bool
    rows: int
    results: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.results if not r["success"]]


def validate(frame: pd.DataFrame, suite_name: str = SUITE_NAME, exps=None) -> SuiteResult:
    """Run a suite over a frame with an ephemeral GX context; return plain data, not GX objects."""
    import logging

    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    source = context.data_sources.add_pandas("frames")
    batch_def = source.add_dataframe_asset(suite_name).add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name))
    for exp in exps if exps is not None else expectations():
        suite.add_expectation(exp)
    frame = frame.copy()
    for col in frame.columns:  # GX compares datetimes as objects; give it dates it can order
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].astype("datetime64[ns]")
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=suite_name, data=batch_def, suite=suite))
    result = definition.run(batch_parameters={"dataframe": frame}, result_format={"result_format": "SUMMARY"})
    rows = []
    for r in result.results:
        cfg = r.expectation_config
        res = r.result or {}
        rows.append({
            "expectation": cfg.type,
            "column": cfg.kwargs.get("column") or ",".join(filter(None, [cfg.kwargs.get("column_A"), cfg.kwargs.get("column_B")])) or None,
            "success": bool(r.success),
            "unexpected_count": int(res.get("unexpected_count") or 0),
            "sample": ", ".join(str(v) for v in (res.get("partial_unexpected_list") or [])[:5]) or None,
        })
    rows.sort(key=lambda r: (r["expectation"], r["column"] or ""))
    return SuiteResult(suite=suite_name, success=bool(result.success), rows=len(frame), results=rows)
