"""The real, dirty Online Retail log (541,909 lines; skipped where the shared data is absent):
ingested and conformed once for the module, then every row accounted for and every buyer
segmented exactly once."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakerec.cli.runner import run_step
from lakerec.core.config import Config
from lakerec.core.lake import Lake
from lakerec.core.schemas import (
    HAS_PURCHASE,
    RUN_DATE,
    SEGMENT_ID,
    USER_ID,
)
from lakerec.core.step import StepResult
from lakerec.core.tables import (
    GOLD_CUSTOMER_SEGMENTS,
    GOLD_USER_FEATURES,
    QUARANTINE_EVENTS,
    SILVER_EVENTS,
)
from tests.conftest import make_config

pytestmark = pytest.mark.slow
LAST_DAY = date(2011, 12, 9)  # the log's last day
QUIET = {"out": lambda _: None}


@pytest.fixture(scope="module")
def conformed(spark: SparkSession, online_retail_path: Path,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, StepResult]:
    root = tmp_path_factory.mktemp("online-retail")
    config = make_config(root, "segment.k=4", "segment.seeds=[7]")
    events = Path(config.paths.landing) / "events"
    events.mkdir(parents=True)
    shutil.copy(online_retail_path, events / online_retail_path.name)
    run_step("ingest", config, LAST_DAY, spark=spark, **QUIET)
    return config, run_step("conform", config, LAST_DAY, spark=spark, **QUIET)


def test_online_retail_log_is_fully_accounted_for(
        spark: SparkSession, online_retail_path: Path,
        conformed: tuple[Config, StepResult]) -> None:
    config, result = conformed
    lake = Lake(spark, config.paths.root)
    source_rows = spark.read.parquet(str(online_retail_path)).count()
    silver = lake.read(SILVER_EVENTS)
    quarantine = lake.read(QUARANTINE_EVENTS)
    assert result.rows_in == source_rows == silver.count() + quarantine.count()
    reasons = {r[0]: r[1] for r in quarantine.groupBy("_reject_reason").count().collect()}
    assert reasons["missing_user_id"] == 135_080
    assert reasons["duplicate_row"] > 0 and reasons["non_product_item"] > 0
    cancelled = spark.read.parquet(str(online_retail_path)).where(
        F.col("InvoiceNo").startswith("C") & F.col("CustomerID").isNotNull())
    returns = silver.where("event_type = 'return'")
    assert returns.count() > 0.5 * cancelled.count()
    assert returns.where("order_id NOT LIKE 'C%' OR quantity <= 0").count() == 0
    assert silver.where("event_type = 'purchase' AND order_id LIKE 'C%'").count() == 0


def test_online_retail_every_buyer_gets_exactly_one_segment(
        spark: SparkSession, conformed: tuple[Config, StepResult]) -> None:
    config, _ = conformed
    for step in ("features", "segment"):
        run_step(step, config, LAST_DAY, spark=spark, **QUIET)
    lake = Lake(spark, config.paths.root)
    buyers = (lake.read(GOLD_USER_FEATURES)
              .where((F.col(RUN_DATE) == LAST_DAY) & F.col(HAS_PURCHASE)).select(USER_ID))
    segments = lake.read(GOLD_CUSTOMER_SEGMENTS)
    per_buyer = buyers.join(segments, USER_ID, "left").groupBy(USER_ID).agg(
        F.count(SEGMENT_ID).alias("segments"))
    assert per_buyer.where(F.col("segments") != 1).count() == 0
    assert buyers.count() > 4000  # the log has 4,372 customers, nearly all buyers
