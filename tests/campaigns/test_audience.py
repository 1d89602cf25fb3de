"""Campaign audiences on tiny data: the audience rule, a stable cap, and group assignment that
never reshuffles anyone and holds the holdout share in every segment."""

from __future__ import annotations

import math
from datetime import date, datetime

from pyspark.sql import DataFrame, SparkSession

from lakerec.campaigns.audience import (
    CONTROL,
    GROUP,
    RECENCY_DAYS,
    TREATMENT,
    assign_groups,
    capped,
    eligible,
    group_counts,
    last_purchases,
)
from lakerec.core.campaigns import find_campaign
from lakerec.core.schemas import SEGMENT_LABEL, USER_ID
from tests.conftest import REPO

WINBACK = find_campaign(REPO / "conf" / "campaigns", "winback")  # holdout 0.2
SEGMENTS = ("at risk", "hibernating", "champions")


def customers(spark: SparkSession, n: int) -> DataFrame:
    return spark.createDataFrame([(f"U{i}", SEGMENTS[i % 3]) for i in range(n)],
                                 f"{USER_ID} string, {SEGMENT_LABEL} string")


def groups(df: DataFrame) -> dict[str, str]:
    return {r[USER_ID]: r[GROUP] for r in df.select(USER_ID, GROUP).collect()}


def test_groups_are_stable_across_reruns_and_a_larger_audience(spark: SparkSession) -> None:
    first = groups(assign_groups(customers(spark, 600), WINBACK))
    again = groups(assign_groups(customers(spark, 600), WINBACK))
    larger = groups(assign_groups(customers(spark, 900), WINBACK))
    assert first == again
    assert {user: larger[user] for user in first} == first
    resalted = groups(assign_groups(customers(spark, 600),
                                    WINBACK.model_copy(update={"salt": "another"})))
    assert resalted != first  # the salt, not the customer alone, decides


def test_the_holdout_share_holds_in_every_segment(spark: SparkSession) -> None:
    n = 6000
    counts = group_counts(assign_groups(customers(spark, n), WINBACK)).collect()
    assert {r[SEGMENT_LABEL] for r in counts} == set(SEGMENTS)
    share = WINBACK.holdout_share
    for row in counts:
        size = row[CONTROL] + row[TREATMENT]
        assert size == n // 3
        sigma = math.sqrt(share * (1 - share) / size)
        assert abs(row[CONTROL] / size - share) < 3 * sigma, row


def test_the_audience_rule_and_a_stable_cap(spark: SparkSession) -> None:
    as_of = date(2026, 11, 20)
    events = spark.createDataFrame([
        ("U0", "purchase", datetime(2026, 9, 1)),    # 80 days: in (45..365)
        ("U1", "purchase", datetime(2026, 11, 10)),  # 10 days: too recent
        ("U2", "purchase", datetime(2026, 8, 1)),    # 111 days, but opted out
        ("U3", "purchase", datetime(2026, 7, 1)),    # 142 days, but contacted lately
        ("U4", "purchase", datetime(2026, 6, 1)),    # 172 days, champions: other segment
        ("U5", "view", datetime(2026, 9, 1)),        # never bought: no recency
        ("U6", "purchase", datetime(2026, 5, 1)),    # 203 days
        ("U6", "purchase", datetime(2026, 12, 1)),   # after the plan date: ignored
    ], "user_id string, event_type string, event_ts timestamp")
    segments = spark.createDataFrame(
        [(f"U{i}", "champions" if i == 4 else "at risk") for i in range(7)],
        f"{USER_ID} string, {SEGMENT_LABEL} string")
    opted_out = spark.createDataFrame([("U2",)], f"{USER_ID} string")
    contacted = spark.createDataFrame([("U3",)], f"{USER_ID} string")
    recency = last_purchases(events, as_of)
    audience = eligible(segments, recency, opted_out, contacted, WINBACK.audience)
    found = {r[USER_ID]: r[RECENCY_DAYS] for r in audience.collect()}
    assert found == {"U0": 80, "U6": 203}

    many = customers(spark, 300)
    small = WINBACK.model_copy(update={"max_audience": 50})
    kept = {r[USER_ID] for r in capped(many, small).collect()}
    assert len(kept) == 50 and kept == {r[USER_ID] for r in capped(many, small).collect()}
    assert {r[GROUP] for r in assign_groups(capped(many, small), small).collect()} == {
        CONTROL, TREATMENT}
