"""Runs steps: builds the context, times the step, records it, prints its summary."""

from __future__ import annotations

import importlib
import logging
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from types import ModuleType
from typing import Any

from pyspark.sql import SparkSession

from lakerec.core.config import Config
from lakerec.core.errors import LakerecError
from lakerec.core.lake import Lake, java_message
from lakerec.core.runlog import RunRecord, run_record_frame
from lakerec.core.session import build_spark
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import OPS_PIPELINE_RUNS

log = logging.getLogger("lakerec")

# Each step's module, in its stage's package: it defines ``run(ctx) -> StepResult`` and may
# define ``add_arguments(parser)`` for its own options.
STEP_MODULES: dict[str, str] = {
    "generate": "lakerec.synthetic.generate_step",
    "ingest": "lakerec.ingest.ingest_step",
    "conform": "lakerec.conform.conform_step",
    "quality": "lakerec.quality.quality_step",
    "features": "lakerec.segments.features_step",
    "segment": "lakerec.segments.segment_step",
    "train": "lakerec.recs.train_step",
    "evaluate": "lakerec.recs.evaluate_step",
    "recommend": "lakerec.recs.recommend_step",
    "dp_report": "lakerec.privacy.dp_report_step",
    "forget": "lakerec.privacy.forget_step",
    "maintain": "lakerec.maintenance.maintain_step",
    "campaign": "lakerec.campaigns.campaign_step",
}


def step_module(step: str) -> ModuleType:
    return importlib.import_module(STEP_MODULES[step])


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def spark_for(config: Config) -> SparkSession:
    return build_spark(config.spark, config.paths.checkpoint)


def step_label(step: str, options: dict[str, Any]) -> str:
    """How a step run is named in output and in ``ops.pipeline_runs``: ``quality layer=gold``."""
    return step + "".join(f" {k}={v}" for k, v in options.items() if v not in (None, False))


def run_step(step: str, config: Config, run_date: date, *, spark: SparkSession | None = None,
             options: dict[str, Any] | None = None, pipeline_run_id: str | None = None,
             out: Callable[[str], None] = print) -> StepResult:
    """Run one step and record it in ``ops.pipeline_runs``, also when it fails.

    Raises whatever the step raised, after recording it.
    """
    module = step_module(step)
    spark = spark or spark_for(config)
    lake = Lake(spark, config.paths.root)
    ctx = StepContext(config=config, spark=spark, lake=lake, run_date=run_date,
                      run_id=new_run_id(), pipeline_run_id=pipeline_run_id,
                      options=dict(options or {}))
    label = step_label(step, ctx.options)
    out(f"== {label} | run date {run_date.isoformat()} | run {ctx.run_id} ==")
    started = datetime.now(UTC).replace(tzinfo=None)
    result: StepResult | None = None
    error: BaseException | None = None
    try:
        result = module.run(ctx)
    except BaseException as exc:
        error = exc
        raise
    finally:
        finished = datetime.now(UTC).replace(tzinfo=None)
        so_far = getattr(error, "result", None)  # what a step that stopped had counted
        shown = result or (so_far if isinstance(so_far, StepResult) else None)
        res = shown or StepResult(status="failed", message=f"{type(error).__name__}: {error}")
        if error is not None and not isinstance(error, LakerecError):
            res.message = f"{type(error).__name__}: {error}"
        record = RunRecord(
            run_id=ctx.run_id, pipeline_run_id=pipeline_run_id, step=label, run_date=run_date,
            status=res.status if error is None else "failed", started_at=started,
            finished_at=finished, rows_in=res.rows_in, rows_out=res.rows_out,
            rows_quarantined=res.rows_quarantined, versions_read=res.versions_read,
            versions_written=res.versions_written,
            # a step's warnings are its reasons (one segment, popularity only, skipped: why)
            message=res.message or "; ".join(res.warnings),
            customers_suppressed=res.customers_suppressed, versions_before=res.versions_before)
        try:
            lake.append(run_record_frame(spark, record), OPS_PIPELINE_RUNS, merge_schema=True)
        except Exception as exc:  # never hide the step's own error behind the log's
            print(f"lakerec {label}: this run could not be recorded in ops.pipeline_runs: "
                  f"{java_message(exc)}", file=sys.stderr)
        if shown is not None:
            for line in shown.summary:
                out(f"  {line}")
            for line in shown.warnings:
                out(f"  WARNING: {line}")
        out(f"  {record.status} in {record.duration_s:.1f} s")
        sys.stdout.flush()
    return result
