"""Customer features on a tiny hand-made history, and the features step on Delta tables."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakerec.cli.runner import run_step
from lakerec.core.schemas import (
    ACTIVITY_TREND,
    AVG_BASKET_VALUE,
    CATEGORY_SHARE,
    DAYS_SINCE_LAST_EVENT,
    EVENTS_BASELINE,
    EVENTS_RECENT,
    EVENTS_TOTAL,
    FREQUENCY,
    GROSS_REVENUE,
    HAS_PURCHASE,
    MONETARY,
    RECENCY_DAYS,
    RETURN_RATE,
    RETURNED_VALUE,
    RUN_DATE,
    SILVER_CUSTOMERS_SCHEMA,
    SILVER_EVENTS_SCHEMA,
    SILVER_ITEMS_SCHEMA,
    TENURE_DAYS,
    USER_FEATURES_SCHEMA,
    USER_ID,
)
from lakerec.core.tables import GOLD_USER_FEATURES, SILVER_CUSTOMERS, SILVER_EVENTS, SILVER_ITEMS
from lakerec.segments.features import user_features

AS_OF = date(2026, 6, 30)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def silver_events(spark: SparkSession) -> DataFrame:
    """Alice: 3 orders (two lines in one), a partial return, one event after the run date.
    Bob: views only. Carol: one purchase without order id or price (price from the item)."""
    rows = [
        # event_id, user, item, type, ts, quantity, price, order_id
        ("e1", "alice", "i1", "view", "2026-03-01 10:00:00", None, None, None),
        ("e2", "alice", "i1", "purchase", "2026-03-01 10:05:00", 2, 10.0, "o1"),
        ("e3", "alice", "i2", "purchase", "2026-03-01 10:05:00", 1, 30.0, "o1"),
        ("e4", "alice", "i2", "purchase", "2026-06-01 09:00:00", 1, 30.0, "o2"),
        ("e5", "alice", "i1", "return", "2026-06-05 12:00:00", 1, 10.0, "o1"),
        ("e6", "alice", "i3", "purchase", "2026-06-20 23:59:59", 3, 5.0, "o3"),
        ("e7", "alice", "i3", "purchase", "2026-07-01 00:00:00", 100, 5.0, "o4"),  # future
        ("e8", "bob", "i1", "view", "2026-06-29 08:00:00", None, None, None),
        ("e9", "bob", "i2", "add_to_cart", "2026-06-29 08:01:00", 1, None, None),
        ("e10", "carol", "i3", "purchase", "2026-06-30 23:00:00", None, None, None),
        ("e11", "dave", "i1", "purchase", "2026-07-02 10:00:00", 1, 10.0, "o9"),  # future
    ]
    data = [(eid, user, item, kind, ts(t), qty, price, None, order, None, None, f"k{eid}",
             "b1") for eid, user, item, kind, t, qty, price, order in rows]
    return spark.createDataFrame(data, SILVER_EVENTS_SCHEMA)


def silver_customers(spark: SparkSession) -> DataFrame:
    data = [("alice", None, None, None, None, ts("2026-01-15 00:00:00"), None, None, None,
             "b1"),
            ("bob", None, None, None, None, ts("2026-08-01 00:00:00"), None, None, None, "b1")]
    return spark.createDataFrame(data, SILVER_CUSTOMERS_SCHEMA)


def silver_items(spark: SparkSession) -> DataFrame:
    data = [("i1", "mug", "kitchen", 10.0, True, None, None, "b1"),
            ("i2", "lamp", "home", 30.0, True, None, None, "b1"),
            ("i3", "pen", None, 4.0, True, None, None, "b1")]
    return spark.createDataFrame(data, SILVER_ITEMS_SCHEMA)


@pytest.fixture
def features(spark: SparkSession) -> dict[str, dict]:
    df = user_features(silver_events(spark), silver_customers(spark), silver_items(spark),
                       as_of=AS_OF, top_categories_n=2, recent_days=30, baseline_days=90)
    assert [(f.name, f.dataType) for f in df.schema] == [
        (f.name, f.dataType) for f in USER_FEATURES_SCHEMA]
    return {row[USER_ID]: row.asDict() for row in df.collect()}


def test_one_row_per_customer_with_events_up_to_the_run_date(features: dict) -> None:
    assert sorted(features) == ["alice", "bob", "carol"]  # dave's only event is later


def test_rfm_subtracts_returns_and_ignores_later_events(features: dict) -> None:
    alice = features["alice"]
    assert alice[RECENCY_DAYS] == 10          # last purchase 2026-06-20, as of 2026-06-30
    assert alice[FREQUENCY] == 3              # o1, o2, o3; o4 is after the run date
    assert alice[GROSS_REVENUE] == pytest.approx(20 + 30 + 30 + 15)
    assert alice[RETURNED_VALUE] == pytest.approx(10.0)
    assert alice[MONETARY] == pytest.approx(85.0)
    assert alice[AVG_BASKET_VALUE] == pytest.approx(85.0 / 3)
    assert alice[RETURN_RATE] == pytest.approx(10.0 / 95.0)
    assert alice[EVENTS_TOTAL] == 6
    assert alice[TENURE_DAYS] == (AS_OF - date(2026, 1, 15)).days  # sign-up before events
    assert alice[HAS_PURCHASE] is True
    assert alice[RUN_DATE] == AS_OF


def test_activity_trend_compares_recent_with_baseline_rate(features: dict) -> None:
    alice = features["alice"]
    # recent window: 2026-06-01 .. 06-30 -> e4, e5, e6; baseline: 03-03 .. 05-31 -> none
    assert (alice[EVENTS_RECENT], alice[EVENTS_BASELINE]) == (3, 0)
    assert alice[ACTIVITY_TREND] == pytest.approx(1.0)


def test_category_shares_of_gross_spend_with_top_categories(features: dict) -> None:
    # spend by category: home 60, kitchen 20, uncategorised 15 + carol's 4 -> top 2 are
    # home and kitchen; alice's 15 on i3 goes to "other"
    assert features["alice"][CATEGORY_SHARE] == pytest.approx(
        {"home": 60 / 95, "kitchen": 20 / 95, "other": 15 / 95})
    assert features["carol"][CATEGORY_SHARE] == {"other": 1.0}


def test_customers_without_purchases(features: dict) -> None:
    bob = features["bob"]
    assert bob[HAS_PURCHASE] is False
    assert bob[RECENCY_DAYS] is None and bob[AVG_BASKET_VALUE] is None
    assert bob[FREQUENCY] == 0 and bob[MONETARY] == 0.0
    assert bob[DAYS_SINCE_LAST_EVENT] == 1
    assert bob[TENURE_DAYS] == 1  # his sign-up lies after the run date: first event counts
    assert bob[CATEGORY_SHARE] is None


def test_missing_price_and_quantity_fall_back_to_item_price_and_one(features: dict) -> None:
    carol = features["carol"]
    assert carol[MONETARY] == pytest.approx(4.0)
    assert carol[FREQUENCY] == 1  # no order id: one order per purchase day
    assert carol[RECENCY_DAYS] == 0


def test_features_step_replaces_its_run_date_only(spark: SparkSession, config, lake) -> None:
    lake.overwrite(silver_events(spark), SILVER_EVENTS)
    lake.overwrite(silver_customers(spark), SILVER_CUSTOMERS)
    lake.overwrite(silver_items(spark), SILVER_ITEMS)
    run_step("features", config, AS_OF, spark=spark, out=lambda _: None)
    run_step("features", config, date(2026, 7, 1), spark=spark, out=lambda _: None)
    result = run_step("features", config, AS_OF, spark=spark, out=lambda _: None)
    table = lake.read(GOLD_USER_FEATURES)
    counts = {r[RUN_DATE]: r["count"] for r in table.groupBy(RUN_DATE).count().collect()}
    assert counts == {AS_OF: 3, date(2026, 7, 1): 3}  # alice, bob, carol on each date
    assert result.rows_out == 3
    later = table.where(f"{RUN_DATE} = '2026-07-01'").where(f"{USER_ID} = 'alice'").first()
    assert later[FREQUENCY] == 4  # o4 counts from 2026-07-01 on
