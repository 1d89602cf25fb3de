"""Step ``dp_report``: segments and sales -> differentially private reports for partners.

Reads the latest ``gold.customer_segments`` run on or before the run date, and the purchases
and returns of ``silver.events`` (with ``silver.items`` for categories) in the window
``dp_reports.window_days``; writes ``gold.segment_profiles_dp`` and
``gold.segment_category_revenue_dp`` with replaceWhere on ``run_date``, and appends the
budget each report spent to ``ops.privacy_budget``.

Notes
-----
Every run draws fresh noise and spends ``dp_reports.epsilon`` and ``dp_reports.delta``
again, a rerun for the same date included: the rows it replaces may already have been
read, so the ledger keeps every run. How the figures are made: :mod:`lakerec.privacy.dp_reports`
and docs/privacy.md.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakerec.core.errors import InputError
from lakerec.core.schemas import EVENTS, ITEMS, PRIVACY_BUDGET_SCHEMA, RUN_DATE
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import (
    GOLD_CUSTOMER_SEGMENTS,
    GOLD_SEGMENT_CATEGORY_REVENUE_DP,
    GOLD_SEGMENT_PROFILES_DP,
    OPS_PRIVACY_BUDGET,
    SILVER,
    Table,
)
from lakerec.privacy.dp_reports import (
    Release,
    customer_category_revenue,
    latest_segments,
    segment_category_report,
    segment_report,
)

log = logging.getLogger("lakerec.dp_report")


def _publish(spark: SparkSession, release: Release) -> tuple[DataFrame, int, int]:
    """The release's noisy groups, drawn once (a few hundred rows at most); how many there
    are, and how many groups the bounded data held (an internal figure, not for partners)."""
    rows = release.groups.collect()
    groups = release.contributions.select(*release.keys).distinct().count()
    return spark.createDataFrame(rows, release.groups.schema), len(rows), groups


def _write_explanation(folder: Path, table: Table, release: Release) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table.name}.txt"
    path.write_text(release.explanation + "\n", encoding="utf-8")
    return path


def run(ctx: StepContext) -> StepResult:
    settings = ctx.config.dp_reports
    if not settings.enabled:
        return StepResult(status="skipped", summary=["DP reports disabled (dp_reports.enabled)"])
    lake, run_date = ctx.lake, ctx.run_date
    if not lake.exists(GOLD_CUSTOMER_SEGMENTS):  # segment skipped: too few buyers to cluster
        reason = (f"skipped: {GOLD_CUSTOMER_SEGMENTS} does not exist (segment skipped or not "
                  "run yet): no segments to report on")
        return StepResult(status="skipped", message=reason, summary=[reason], warnings=[reason])
    segments_all, segments_version = lake.snapshot(GOLD_CUSTOMER_SEGMENTS,
                                                   hint="run `lakerec segment` first")
    events, events_version = lake.snapshot(SILVER[EVENTS], hint="run `lakerec conform` first")
    items, items_version = lake.snapshot(SILVER[ITEMS], hint="run `lakerec conform` first")
    segments = latest_segments(segments_all, as_of=run_date).cache()
    latest = segments.agg(F.count(F.lit(1)).alias("customers"),
                          F.max(RUN_DATE).alias(RUN_DATE)).collect()[0]
    segmented, segments_date = int(latest["customers"]), latest[RUN_DATE]
    if segmented == 0:
        raise InputError(f"{GOLD_CUSTOMER_SEGMENTS} has no customers segmented on or before "
                         f"{run_date} (run `lakerec segment` first)")
    revenue = customer_category_revenue(events, items, as_of=run_date,
                                        window_days=settings.window_days).cache()

    releases = {
        GOLD_SEGMENT_PROFILES_DP: segment_report(segments, revenue, settings, run_date=run_date),
        GOLD_SEGMENT_CATEGORY_REVENUE_DP: segment_category_report(segments, revenue, settings,
                                                                  run_date=run_date),
    }
    predicate = f"{RUN_DATE} = '{run_date.isoformat()}'"
    artifacts = Path(ctx.config.paths.artifacts) / "dp_report" / ctx.run_id
    written: dict[str, int] = {}
    ledger = []
    published: dict[Table, tuple[int, int]] = {}
    recorded_at = datetime.now(UTC).replace(tzinfo=None)
    for table, release in releases.items():
        frame, shown, groups = _publish(ctx.spark, release)
        log.info("%s: %d of %d groups published", table, shown, groups)
        log.debug("%s:\n%s", table, release.explanation)
        _write_explanation(artifacts, table, release)
        written[table.qualified_name] = lake.replace_where(frame, table, predicate)
        published[table] = (shown, groups - shown)
        ledger.append((ctx.run_id, run_date, table.qualified_name, release.budget.epsilon,
                       release.budget.delta, shown, groups - shown, recorded_at))
    written[OPS_PRIVACY_BUDGET.qualified_name] = lake.append(
        ctx.spark.createDataFrame(ledger, PRIVACY_BUDGET_SCHEMA), OPS_PRIVACY_BUDGET)
    segments.unpersist()
    revenue.unpersist()

    (seg_shown, seg_suppressed) = published[GOLD_SEGMENT_PROFILES_DP]
    (cat_shown, cat_suppressed) = published[GOLD_SEGMENT_CATEGORY_REVENUE_DP]
    budget = f"ε={settings.epsilon:g}, δ={settings.delta:g}"
    summary = [
        f"customers of the segmentation of {segments_date}: {segmented}; net revenue of the "
        f"{settings.window_days} days up to {run_date}, clipped per customer to "
        f"[0, {settings.max_revenue_per_customer:g}] in their segment and "
        f"[0, {settings.max_revenue_per_category:g}] in each of at most "
        f"{settings.max_categories_per_customer} categories",
        *[f"{table} v{written[table.qualified_name]}: {shown} groups published, {suppressed} "
          f"suppressed (under {settings.min_group_size} customers or not selected), "
          f"ε={releases[table].budget.epsilon:g}, δ={releases[table].budget.delta:g}"
          for table, (shown, suppressed) in published.items()],
        f"privacy budget spent by this run: {budget} (the reports' sum), logged to "
        f"{OPS_PRIVACY_BUDGET} v{written[OPS_PRIVACY_BUDGET.qualified_name]}; how each figure "
        f"was made: {artifacts}",
    ]
    return StepResult(
        rows_in=segmented, rows_out=seg_shown + cat_shown,
        versions_read={GOLD_CUSTOMER_SEGMENTS.qualified_name: segments_version,
                       SILVER[EVENTS].qualified_name: events_version,
                       SILVER[ITEMS].qualified_name: items_version},
        versions_written=written,
        summary=summary,
        highlights=[f"DP report: {seg_shown} segments, {cat_shown} segment×category groups "
                    f"published ({budget}), {seg_suppressed + cat_suppressed} suppressed"])
