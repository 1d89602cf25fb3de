"""Step ``quality --layer bronze|silver|gold``: Great Expectations checks of one layer.

Validates the layer's frames (bronze: rows not conformed yet; silver: the tables; gold: this
run date's rows), appends one row per expectation to ``ops.dq_results``, builds GX Data Docs
under ``paths.data_docs/<run date>/<layer>-<run id>/index.html`` and prints warnings. A failed
error-level check raises :class:`~lakerec.core.errors.QualityError` (exit code 3), so ``lakerec
run`` stops before anything downstream reads the layer.

Write, audit, publish for silver: when the silver gate fails, the tables the latest
successful ``conform`` of the run date wrote (silver, quarantine, the conformed-batch marks)
are put back to their versions before it (``versions_before`` of its ``ops.pipeline_runs``
row; emptied where conform created them), so downstream readers and the next run see silver
exactly as it was, and the next run conforms those batches again.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from pyspark.sql import functions as F

from lakerec.core.dates import midnight
from lakerec.core.errors import QualityError
from lakerec.core.runlog import ABSENT_VERSION
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import DECLARED, OPS_DQ_RESULTS, OPS_PIPELINE_RUNS, Layer
from lakerec.quality.docs import docs_dir, index_html
from lakerec.quality.history import history_from_results
from lakerec.quality.targets import (
    LAYERS,
    LayerPlan,
    Window,
    bronze_targets,
    gold_targets,
    history_keys,
    layer_tables,
    silver_targets,
)
from lakerec.quality.validate import CheckResult, results_frame, validate

log = logging.getLogger("lakerec.quality")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layer", choices=LAYERS, required=True,
                        help="which layer's tables to check")


def _plan(ctx: StepContext, layer: str, window: Window) -> LayerPlan:
    quality, lake = ctx.config.quality, ctx.lake
    history = history_from_results(lake.read_if_exists(OPS_DQ_RESULTS), layer_tables(layer),
                                   history_keys(quality), exclude_run_id=ctx.run_id)
    if layer == Layer.BRONZE:
        return bronze_targets(lake, quality, window, history)
    if layer == Layer.SILVER:
        return silver_targets(lake, quality, window, history)
    return gold_targets(lake, quality, window, history, k=ctx.config.recommend.k,
                        active_window_days=ctx.config.recommend.active_window_days)


def _summary(results: list[CheckResult], notes: list[str], index: str | None,
             seconds: float) -> list[str]:
    lines = []
    for table in dict.fromkeys(r.table for r in results):
        mine = [r for r in results if r.table == table]
        tally = Counter("passed" if r.success else r.severity for r in mine)
        version = mine[0].delta_version
        lines.append(f"{table} v{version}: {len(mine)} checks, {tally['passed']} passed, "
                     f"{tally['warn']} warnings, {tally['error']} errors")
    lines += [f"  {r.describe()}" for r in results if not r.success]
    lines += [f"note: {n}" for n in notes]
    lines.append(f"checks took {seconds:.1f} s")
    if index:
        lines.append(f"Data Docs: {index}")
    return lines


def _unpublish_conform(ctx: StepContext) -> str:
    """Put the tables of the run date's latest successful conform back as they were before
    it; what was done, as the end of the error message."""
    runs = ctx.lake.read_if_exists(OPS_PIPELINE_RUNS)
    last = None if runs is None else (
        runs.where((F.col("step") == "conform") & (F.col("status") == "succeeded")
                   & (F.col("run_date") == F.lit(ctx.run_date)))
        .orderBy(F.col("started_at").desc()).first())
    if last is None or not last.asDict().get("versions_before"):
        return "; no conform run to undo was found"
    before = last["versions_before"]
    done = []
    for name, version in sorted(before.items()):
        table = DECLARED[name]
        current = ctx.lake.version(table)
        if current is None or current == version:
            continue
        if version == ABSENT_VERSION:
            ctx.lake.clear(table)
            done.append(f"{name} emptied")
        else:
            ctx.lake.restore(table, version)
            done.append(f"{name} back to v{version}")
    log.error("silver gate failed: conform run %s undone (%s)", last["run_id"],
              ", ".join(done) or "nothing had changed")
    return (f"; conform run {last['run_id']} undone: " + (", ".join(done) or "nothing to undo")
            + " (fix the data or the rules, then run conform again)")


def run(ctx: StepContext) -> StepResult:
    layer = ctx.options.get("layer")
    if layer not in LAYERS:
        raise QualityError(f"quality needs --layer {'|'.join(LAYERS)}, got {layer!r}")
    quality = ctx.config.quality
    if not quality.enabled:
        return StepResult(status="skipped", summary=["quality checks disabled (quality.enabled)"])
    started = time.perf_counter()
    checked_at = datetime.now(UTC).replace(tzinfo=None)
    window = Window(run_date=ctx.run_date,
                    min_ts=midnight(ctx.config.conform.min_event_ts),
                    max_ts=checked_at + timedelta(hours=ctx.config.conform.future_tolerance_hours))
    plan = _plan(ctx, layer, window)
    results: list[CheckResult] = []
    index = None
    if plan.targets:
        base = docs_dir(ctx.config.paths.data_docs, ctx.run_date, layer, ctx.run_id)
        results = validate(plan.targets, docs_base=base,
                           partial_unexpected_count=quality.partial_unexpected_count)
        written = ctx.lake.append(results_frame(ctx.spark, results, run_id=ctx.run_id,
                                                run_date=ctx.run_date, checked_at=checked_at),
                                  OPS_DQ_RESULTS)
        plan.versions_written[OPS_DQ_RESULTS.qualified_name] = written
        index = str(index_html(base))
    summary = _summary(results, plan.notes, index, time.perf_counter() - started)
    errors = [r for r in results if r.is_error]
    if errors:
        for line in summary:
            log.error(line)
        first = errors[0]
        more = f" (+{len(errors) - 1} more error-level failures)" if len(errors) > 1 else ""
        put_back = _unpublish_conform(ctx) if layer == Layer.SILVER else ""
        raise QualityError(f"{first.table}: check {first.expectation} failed, observed "
                           f"{first.observed_value}{more}; Data Docs: {index}{put_back}")
    return StepResult(rows_out=len(results), versions_read=plan.versions_read,
                      versions_written=plan.versions_written, summary=summary)
