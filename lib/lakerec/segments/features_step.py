"""Step ``features``: silver events, customers, items -> ``gold.user_features`` for the run date.

Point in time (no event after the run date counts) and written with replaceWhere on
``run_date``, so a rerun for the same date replaces its rows and leaves other dates alone.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.errors import TableNotFoundError
from lakerec.core.schemas import HAS_PURCHASE, RUN_DATE, USER_FEATURES
from lakerec.core.step import StepContext, StepResult
from lakerec.segments.features import user_features

log = logging.getLogger("lakerec.segments.features")

SILVER = "silver"
GOLD = "gold"
HINT = "run `lakerec conform` first"


def run(ctx: StepContext) -> StepResult:
    settings = ctx.config.features
    if not settings.enabled:
        return StepResult(status="skipped", summary=["features disabled (features.enabled)"])
    lake = ctx.lake
    versions_read: dict[str, int] = {}
    frames: dict[str, DataFrame] = {}
    for name in ("events", "customers", "items"):
        version = lake.version(SILVER, name)
        if version is None:
            raise TableNotFoundError(f"{SILVER}.{name}", lake.path(SILVER, name), HINT)
        frames[name] = lake.read(SILVER, name, version=version)
        versions_read[f"{SILVER}.{name}"] = version
    features = user_features(
        frames["events"], frames["customers"], frames["items"], as_of=ctx.run_date,
        top_categories_n=settings.top_categories, recent_days=settings.trend_recent_days,
        baseline_days=settings.trend_baseline_days)
    predicate = f"{RUN_DATE} = '{ctx.run_date.isoformat()}'"
    log.info("writing %s.%s for %s", GOLD, USER_FEATURES, ctx.run_date)
    version = lake.replace_where(features, GOLD, USER_FEATURES, predicate,
                                 partition_by=(RUN_DATE,))
    written = lake.read(GOLD, USER_FEATURES, version=version).where(predicate)
    counts = written.agg(F.count(F.lit(1)).alias("customers"),
                         F.count(F.when(F.col(HAS_PURCHASE), 1)).alias("buyers")).collect()[0]
    customers, buyers = int(counts["customers"]), int(counts["buyers"])
    return StepResult(
        rows_out=customers, versions_read=versions_read,
        versions_written={f"{GOLD}.{USER_FEATURES}": version},
        summary=[f"{GOLD}.{USER_FEATURES} v{version}: {customers} customers as of "
                 f"{ctx.run_date}, {buyers} with purchases"])
