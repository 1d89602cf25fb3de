"""Run expectation suites on Spark DataFrames with GX 1.x and turn results into rows."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.data_context.types.base import ProgressBarsConfig
from pyspark.sql import DataFrame, SparkSession

from lakerec.core.schemas import DQ_RESULTS_SCHEMA
from lakerec.quality.docs import SITE_NAME, site_config
from lakerec.quality.expectations import ERROR, expectation_id, our_severity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One frame to validate: ``suite`` on ``frame``, which holds rows of ``table``."""

    table: str
    delta_version: int | None
    suite: gx.ExpectationSuite
    frame: DataFrame


@dataclass(frozen=True)
class CheckResult:
    table: str
    delta_version: int | None
    suite: str
    expectation: str
    severity: str
    success: bool
    observed_value: str | None
    unexpected_count: int | None
    unexpected_percent: float | None

    @property
    def is_error(self) -> bool:
        return not self.success and self.severity == ERROR

    def describe(self) -> str:
        state = "ok" if self.success else ("FAILED" if self.severity == ERROR else "WARNING")
        return (f"{state} [{self.severity}] {self.table}: {self.expectation} "
                f"observed {self.observed_value}")


def _observed(result: dict[str, Any]) -> str | None:
    if result.get("observed_value") is not None:
        return json.dumps(result["observed_value"], default=str)
    if result.get("unexpected_count") is not None:
        return (f"{result['unexpected_count']} of {result.get('element_count')} rows unexpected "
                f"({result.get('unexpected_percent') or 0.0:.2f}%)")
    return None


def to_check_result(target: Target, result: ExpectationValidationResult) -> CheckResult:
    config = result.expectation_config
    assert config is not None, "GX returns the configuration with each result"
    body: dict[str, Any] = dict(result.result or {})
    raised = (result.exception_info or {}).get("raised_exception")
    observed = (f"exception: {result.exception_info.get('exception_message')}" if raised
                else _observed(body))
    count = body.get("unexpected_count")
    percent = body.get("unexpected_percent")
    return CheckResult(
        table=target.table, delta_version=target.delta_version, suite=target.suite.name,
        expectation=expectation_id(config), severity=our_severity(config),
        success=bool(result.success) and not raised, observed_value=observed,
        unexpected_count=None if count is None else int(count),
        unexpected_percent=None if percent is None else float(percent))


def validate(targets: list[Target], *, docs_base: Path,
             partial_unexpected_count: int) -> list[CheckResult]:
    """Validate every target with a GX checkpoint and build the run's Data Docs site.

    GX's Spark data source persists each frame while it computes the suite's metrics (it
    bundles aggregate metrics into few Spark jobs); the frame is released afterwards.
    """
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(SITE_NAME, site_config(docs_base))
    source = context.data_sources.add_spark(name="lakerec")
    result_format = {"result_format": "SUMMARY" if partial_unexpected_count else "BASIC",
                     "partial_unexpected_count": partial_unexpected_count}
    out: list[CheckResult] = []
    for target in targets:
        name = target.suite.name
        asset = source.add_dataframe_asset(name=name)
        batch_definition = asset.add_batch_definition_whole_dataframe("whole")
        suite = context.suites.add(target.suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=suite))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=name, validation_definitions=[definition], result_format=result_format,
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[SITE_NAME])]))
        started = datetime.now()
        try:
            run = checkpoint.run(batch_parameters={"dataframe": target.frame})
        finally:
            target.frame.unpersist()  # GX's Spark data source persists the frame it validates
        log.info("validated %s (%d expectations) in %.1f s", name,
                 len(target.suite.expectations), (datetime.now() - started).total_seconds())
        for validation in run.run_results.values():
            out.extend(to_check_result(target, r) for r in validation.results)
    return out


def results_frame(spark: SparkSession, results: list[CheckResult], *, run_id: str,
                  run_date: date, checked_at: datetime) -> DataFrame:
    """Rows of ``ops.dq_results`` (schema :data:`lakerec.core.schemas.DQ_RESULTS_SCHEMA`)."""
    rows = [(run_id, run_date, r.table, r.delta_version, r.suite, r.expectation, r.severity,
             r.success, r.observed_value, r.unexpected_count, r.unexpected_percent, checked_at)
            for r in results]
    return spark.createDataFrame(rows, DQ_RESULTS_SCHEMA)
