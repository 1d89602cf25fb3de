"""Step ``features``: silver events, customers, items -> ``gold.user_features`` for the run date.

Point in time (no event after the run date counts) and written with replaceWhere on
``run_date``, so a rerun for the same date replaces its rows and leaves other dates alone.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.schemas import CUSTOMERS, EVENTS, HAS_PURCHASE, ITEMS, RUN_DATE
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import GOLD_USER_FEATURES, SILVER
from lakerec.segments.features import user_features

log = logging.getLogger("lakerec.features")

HINT = "run `lakerec conform` first"


def run(ctx: StepContext) -> StepResult:
    settings = ctx.config.features
    if not settings.enabled:
        return StepResult(status="skipped", summary=["features disabled (features.enabled)"])
    lake = ctx.lake
    versions_read: dict[str, int] = {}
    frames: dict[str, DataFrame] = {}
    for entity in (EVENTS, CUSTOMERS, ITEMS):
        frames[entity], versions_read[SILVER[entity].qualified_name] = lake.snapshot(
            SILVER[entity], hint=HINT)
    features = user_features(
        frames[EVENTS], frames[CUSTOMERS], frames[ITEMS], as_of=ctx.run_date,
        top_categories_n=settings.top_categories, recent_days=settings.trend_recent_days,
        baseline_days=settings.trend_baseline_days)
    predicate = f"{RUN_DATE} = '{ctx.run_date.isoformat()}'"
    log.info("writing %s for %s", GOLD_USER_FEATURES, ctx.run_date)
    version = lake.replace_where(features, GOLD_USER_FEATURES, predicate,
                                 partition_by=(RUN_DATE,))
    written = lake.read(GOLD_USER_FEATURES, version=version).where(predicate)
    counts = written.agg(F.count(F.lit(1)).alias("customers"),
                         F.count(F.when(F.col(HAS_PURCHASE), 1)).alias("buyers")).collect()[0]
    customers, buyers = int(counts["customers"]), int(counts["buyers"])
    return StepResult(
        rows_out=customers, versions_read=versions_read,
        versions_written={GOLD_USER_FEATURES.qualified_name: version},
        summary=[f"{GOLD_USER_FEATURES} v{version}: {customers} customers as of "
                 f"{ctx.run_date}, {buyers} with purchases"])
