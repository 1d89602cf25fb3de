"""The segment step's outcomes beyond the usual fit: score-only runs with the champion,
promotion only on evidence against the champion, and degenerate inputs that must not crash."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakerec.cli.runner import run_step
from lakerec.core.config import Config
from lakerec.core.lake import Lake
from lakerec.core.registry import CHAMPION, SEGMENTATION_MODEL, alias_version, tracking
from lakerec.core.schemas import (
    MODEL_VERSION,
    SILVER_CUSTOMERS_SCHEMA,
    SILVER_EVENTS_SCHEMA,
    SILVER_ITEMS_SCHEMA,
)
from lakerec.core.tables import GOLD_CUSTOMER_SEGMENTS, GOLD_USER_FEATURES
from lakerec.segments.features import user_features
from tests.conftest import make_config
from tests.core.test_registry import small_history

RUN_DATE = date(2026, 11, 27)
QUIET = {"out": lambda _: None}


def features_of(spark: SparkSession, events: DataFrame, config: Config) -> Lake:
    lake = Lake(spark, config.paths.root)
    features = user_features(
        events, spark.createDataFrame([], SILVER_CUSTOMERS_SCHEMA),
        spark.createDataFrame([], SILVER_ITEMS_SCHEMA), as_of=RUN_DATE, top_categories_n=3,
        recent_days=30, baseline_days=90)
    lake.replace_where(features, GOLD_USER_FEATURES, f"run_date = '{RUN_DATE}'")
    return lake


def same_purchases(spark: SparkSession, customers: int) -> DataFrame:
    """Every customer bought the same item once, at the same instant, with no price."""
    at = datetime.combine(RUN_DATE - timedelta(days=3), time(12))
    rows = [(f"e{u}", f"u{u}", "i1", "purchase", at, None, None, None, None, None, None,
             f"e{u}", "b") for u in range(customers)]
    return spark.createDataFrame(rows, SILVER_EVENTS_SCHEMA)


@pytest.mark.slow
def test_score_only_segments_with_the_champion_and_a_refit_of_the_same_clusters_does_not_win(
        spark: SparkSession, tmp_path: Path) -> None:
    # the fixed checks always pass: only the comparison with the champion decides
    config = make_config(tmp_path, "segment.k=3", "segment.seeds=[5]",
                         "segment.min_silhouette=-1", "segment.min_segment_share=0")
    lake = features_of(spark, small_history(spark), config)
    first = run_step("segment", config, RUN_DATE, spark=spark, **QUIET)
    client = tracking(config.mlflow)
    assert alias_version(client, SEGMENTATION_MODEL, CHAMPION) == 1
    assert any("first version" in line for line in first.summary)

    scored = run_step("segment", config, RUN_DATE, spark=spark,
                      options={"score_only": True}, **QUIET)
    assert any("score only" in line for line in scored.summary), scored.summary
    assert len(client.search_model_versions(f"name = '{SEGMENTATION_MODEL}'")) == 1

    # The same data fitted again finds the same clusters: no better silhouette on the same
    # customers, so the champion stays and no customer changes segment.
    again = run_step("segment", config, RUN_DATE, spark=spark, **QUIET)
    assert alias_version(client, SEGMENTATION_MODEL, CHAMPION) == 1
    assert any("does not beat the champion" in line for line in again.summary), again.summary
    gold = lake.read(GOLD_CUSTOMER_SEGMENTS)
    assert {r[MODEL_VERSION] for r in gold.select(MODEL_VERSION).distinct().collect()} == {1}
    assert any("0 changed segment" in line for line in again.summary)


@pytest.mark.slow
def test_customers_who_do_not_differ_get_one_segment_with_the_reason(
        spark: SparkSession, tmp_path: Path) -> None:
    customers = 30
    config = make_config(tmp_path, "segment.seeds=[5]")
    lake = features_of(spark, same_purchases(spark, customers), config)
    result = run_step("segment", config, RUN_DATE, spark=spark, **QUIET)
    assert result.status == "succeeded"
    assert any("do not differ" in w and "one segment" in w for w in result.warnings)
    gold = lake.read(GOLD_CUSTOMER_SEGMENTS)
    assert gold.count() == customers
    assert gold.select("segment_id").distinct().count() == 1


@pytest.mark.parametrize(("buyers", "viewers"), [(0, 5), (1, 4)])
def test_too_few_buyers_skip_segmentation_with_the_reason(
        spark: SparkSession, tmp_path: Path, buyers: int, viewers: int) -> None:
    config = make_config(tmp_path)
    events = same_purchases(spark, buyers + viewers).withColumn(
        "event_type", F.when(F.col("user_id").isin(*[f"u{u}" for u in range(buyers)]),
                             F.lit("purchase")).otherwise(F.lit("view")))
    lake = features_of(spark, events, config)
    result = run_step("segment", config, RUN_DATE, spark=spark, **QUIET)
    assert result.status == "skipped"
    assert any(f"{buyers} customer(s)" in w and "too few to cluster" in w
               for w in result.warnings), result.warnings
    assert not lake.exists(GOLD_CUSTOMER_SEGMENTS)
