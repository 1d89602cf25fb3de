"""``lakerec campaign plan``: the audience written to gold.campaign_audiences, stable on rerun,
with offers, the power check, and an export without personal data."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakerec.campaigns.audience import CONTROL, GROUP, TREATMENT
from lakerec.cli.runner import run_step
from lakerec.core import schemas as S
from lakerec.core.lake import Lake
from lakerec.core.tables import (
    GOLD_CAMPAIGN_AUDIENCES,
    GOLD_CUSTOMER_SEGMENTS,
    GOLD_RECOMMENDATIONS,
    SILVER_CUSTOMERS,
    SILVER_EVENTS,
)
from tests.conftest import REPO, make_config

SEND = date(2026, 11, 20)  # the run date winback (no send date of its own) is planned on
N = 400


def seed_lake(spark: SparkSession, lake: Lake) -> None:
    """400 customers: even ones 'at risk', odd ones 'champions'; last purchases 10 to 209
    days before the send, and one 60 days before that; every 10th opted out; four
    recommendations each."""
    events, segments, recs, customers = [], [], [], []
    for i in range(N):
        user = f"U{i:03d}"
        last = datetime.combine(SEND, datetime.min.time()) - timedelta(days=10 + i % 200)
        for back in (0, 60):  # a purchase 60 days earlier too: some convert at baseline
            ts = last - timedelta(days=back)
            events.append((f"E{i}-{back}", user, f"I{i % 7}", "purchase", ts, 1, 5.0, None,
                           f"O{i}-{back}", None, "NL", f"k{i}-{back}", "b1"))
        segments.append((user, i % 2, "at risk" if i % 2 == 0 else "champions", 0.5, 3,
                         SEND - timedelta(days=1)))
        recs += [(user, rank, f"I{(i + rank) % 7}", 1.0 / rank, "als", None, 5,
                  SEND - timedelta(days=1)) for rank in (1, 2, 3, 4)]
        customers.append((user, None, None, None, "NL", None, i % 10 != 0, None, None, "b1"))
    lake.overwrite(spark.createDataFrame(events, S.SILVER_EVENTS_SCHEMA), SILVER_EVENTS)
    lake.overwrite(spark.createDataFrame(customers, S.SILVER_CUSTOMERS_SCHEMA), SILVER_CUSTOMERS)
    lake.overwrite(spark.createDataFrame(segments, S.CUSTOMER_SEGMENTS_SCHEMA),
                   GOLD_CUSTOMER_SEGMENTS)
    lake.overwrite(spark.createDataFrame(recs, S.RECOMMENDATIONS_SCHEMA), GOLD_RECOMMENDATIONS)


@pytest.fixture
def planned(spark: SparkSession, tmp_path: Path) -> tuple[Lake, Path, list[str], list[str]]:
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    shutil.copy(REPO / "conf" / "campaigns" / "winback.yaml", campaigns / "winback.yaml")
    config = make_config(tmp_path, f"paths.campaigns={campaigns}")
    lake = Lake(spark, config.paths.root)
    seed_lake(spark, lake)
    first: list[str] = []
    run_step("campaign", config, SEND, spark=spark, options={"action": "plan",
                                                             "name": "winback"},
             out=first.append)
    second: list[str] = []
    run_step("campaign", config, SEND, spark=spark, options={"action": "plan",
                                                             "name": "winback"},
             out=second.append)
    return lake, Path(config.paths.artifacts), first, second


def test_plan_writes_the_audience_once_and_a_rerun_changes_nobody(
        spark: SparkSession, planned: tuple[Lake, Path, list[str], list[str]]) -> None:
    lake, artifacts, first, second = planned
    rows = lake.read(GOLD_CAMPAIGN_AUDIENCES).collect()
    before = lake.read(GOLD_CAMPAIGN_AUDIENCES, version=0).collect()
    key = {r[S.USER_ID]: (r[GROUP], tuple(r[S.OFFERED_ITEMS])) for r in rows}
    assert key == {r[S.USER_ID]: (r[GROUP], tuple(r[S.OFFERED_ITEMS])) for r in before}
    assert len(rows) == len(key)  # the rerun replaced the plan: one row per customer

    # the rule: 'at risk' only (even ids), recency 45..365 days, consent, no cool-down hit
    for r in rows:
        i = int(r[S.USER_ID][1:])
        assert i % 2 == 0 and i % 10 != 0 and 10 + i % 200 >= 45, r[S.USER_ID]
        assert r[S.SEGMENT_LABEL] == "at risk"
        assert list(r[S.OFFERED_ITEMS]) == [f"I{(i + rank) % 7}" for rank in (1, 2, 3)]
        assert r["model_versions"] == {"recommendations": 5, "segmentation": 3}
    expected = sum(1 for i in range(0, N, 2) if i % 10 != 0 and 10 + i % 200 >= 45)
    assert len(rows) == expected
    groups = [r[GROUP] for r in rows]
    assert set(groups) == {CONTROL, TREATMENT}

    assert any("minimum detectable lift" in line for line in first)
    plan_lines = [[line for line in run if "campaign winback: " in line] for run in (first, second)]
    assert plan_lines[0] and plan_lines[0][0].split(" -> ")[0] == plan_lines[1][0].split(" -> ")[0]
    assert any("cannot detect the lift its decision rule asks for" in line for line in first)

    export = artifacts / "campaigns" / "winback" / SEND.isoformat()
    parquet = spark.read.parquet(str(export / "treatment.parquet"))
    assert parquet.columns == [S.USER_ID, "channel", S.OFFERED_ITEMS]
    assert parquet.count() == groups.count(TREATMENT)
    csv = spark.read.option("header", "true").csv(str(export / "treatment.csv"))
    assert csv.count() == groups.count(TREATMENT)
    assert {r["channel"] for r in csv.collect()} == {"email"}
