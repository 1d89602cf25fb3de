"""A past campaign planted by the generator, measured from its channel's contact log: the
contact log's path through ingest and conform, and every planted segment's lift inside its
measured 95% interval.

The segments are the planted ones here (written as the segmentation of the day before the
send), so that each measured row has one planted lift; ``lakerec run`` measures the same
campaign on its own KMeans segments (tests/cli/test_pipeline.py runs it).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakerec.cli.runner import run_step
from lakerec.core import schemas as S
from lakerec.core.config import Config
from lakerec.core.lake import Lake
from lakerec.core.tables import (
    BRONZE,
    GOLD_CAMPAIGN_AUDIENCES,
    GOLD_CAMPAIGN_RESULTS,
    GOLD_CUSTOMER_SEGMENTS,
    QUARANTINE,
    SILVER,
)
from tests.conftest import make_config

pytestmark = pytest.mark.slow
RUN_DATE = date(2026, 11, 27)
SIZE = ("generate.customers=4000", "generate.items=200", "generate.events=24000",
        "generate.files=1", "generate.bad_row_share=0.0")


@pytest.fixture(scope="module")
def measured(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Config, Lake, dict, list[str]]:
    config = make_config(tmp_path_factory.mktemp("planted"), *SIZE)
    for step in ("generate", "ingest", "conform"):
        run_step(step, config, RUN_DATE, spark=spark, out=lambda _: None)
    summary = json.loads(Path(config.paths.ground_truth, "summary.json").read_text())
    lake = Lake(spark, config.paths.root)
    send = RUN_DATE - timedelta(days=config.generate.campaigns["reactivation"].send_days_ago)
    planted_segments = (spark.read.parquet(f"{config.paths.ground_truth}/customers")
                        .select(S.USER_ID, F.lit(0).alias(S.SEGMENT_ID),
                                F.col(S.GT_SEGMENT).alias(S.SEGMENT_LABEL),
                                F.lit(None).cast("double").alias(S.DISTANCE_TO_CENTROID),
                                F.lit(None).cast("int").alias(S.MODEL_VERSION),
                                F.lit(send - timedelta(days=1)).alias(S.RUN_DATE)))
    lake.overwrite(planted_segments, GOLD_CUSTOMER_SEGMENTS)
    lines: list[str] = []
    run_step("campaign", config, RUN_DATE, spark=spark,
             options={"action": "measure", "name": "reactivation"}, out=lines.append)
    return config, lake, summary, lines


def test_the_contact_log_lands_in_silver_with_one_group_per_customer(
        measured: tuple[Config, Lake, dict, list[str]]) -> None:
    _, lake, summary, _ = measured
    planted = summary["campaigns"]["reactivation"]
    bronze = lake.read(BRONZE[S.CONTACTS]).count()
    silver = lake.read(SILVER[S.CONTACTS])
    quarantined = (lake.read(QUARANTINE[S.CONTACTS]).count()
                   if lake.exists(QUARANTINE[S.CONTACTS]) else 0)
    assert (silver.count(), quarantined) == (bronze, 0)  # the generator plants no bad contact
    audience = lake.read(GOLD_CAMPAIGN_AUDIENCES).where(F.col(S.CAMPAIGN_ID) == "reactivation")
    groups = {r[0]: r[1] for r in audience.groupBy(S.CAMPAIGN_GROUP).count().collect()}
    assert groups == {"treatment": sum(v["treatment"] for v in planted.values()),
                      "control": sum(v["control"] for v in planted.values())}
    held_out = silver.where(F.col(S.CONTACT_TYPE) == "held_out").count()
    assert held_out == groups["control"]
    assert silver.where(F.col(S.CONTACT_TYPE) == "sent").count() == groups["treatment"]


def test_every_planted_segments_lift_lies_within_its_measured_interval(
        measured: tuple[Config, Lake, dict, list[str]]) -> None:
    _, lake, summary, lines = measured
    planted = summary["campaigns"]["reactivation"]
    results = {r[S.SEGMENT_LABEL]: r.asDict() for r in lake.read(GOLD_CAMPAIGN_RESULTS)
               .where(F.col(S.CAMPAIGN_ID) == "reactivation").collect()}
    assert set(results) == {*planted, "(all)"}
    for segment, truth in planted.items():
        row = results[segment]
        assert row["treatment_customers"] == truth["treatment"]
        assert row["conversion_lift_low"] <= truth["planted_lift"] <= row[
            "conversion_lift_high"], (segment, truth, row)
    # nobody at risk buys in the window unprompted: the planted +4 points are found
    assert planted["at_risk"]["organic_rate"] == 0.0
    assert results["at_risk"]["verdict"] == "won"
    assert results["at_risk"]["conversion_lift_low"] > 0
    assert sum("planted" in line and "inside the 95% interval" in line for line in lines) == 6
