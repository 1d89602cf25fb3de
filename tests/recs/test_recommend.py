"""Business rules, cold start, content similarity and explanations on tiny frames."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pyspark.sql import SparkSession

from lakerec.core.schemas import ITEM_ID, RANK, REASON_ITEM_ID, SOURCE, USER_ID
from lakerec.recs.candidates import (
    active_users,
    final_recommendations,
    popular_by_segment,
    popular_candidates,
    recommendation_gaps,
)
from lakerec.recs.content import (
    borrowed_factors,
    content_neighbours,
    content_tokens,
    with_reason_item,
)

ITEMS = "item_id string, title string, category string, price double, in_stock boolean"
CANDIDATES = "user_id string, item_id string, score double, rank int, source string"
PAIRS = "user_id string, item_id string"


def items_frame(spark: SparkSession):
    return spark.createDataFrame([
        ("a1", "red garden chair", "garden", 20.0, True),
        ("a2", "blue garden chair", "garden", 22.0, True),
        ("a3", "garden table", "garden", 80.0, True),
        ("a4", "garden parasol", "garden", 40.0, True),
        ("k1", "kitchen knife", "kitchen", 15.0, True),
        ("k2", "kitchen pan", "kitchen", 30.0, False),   # out of stock
        ("k3", "kitchen bowl", "kitchen", 9.0, True),
        ("x1", "mystery box", None, 5.0, True),
    ], ITEMS)


def lists(df) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for row in df.orderBy(USER_ID, RANK).collect():
        out.setdefault(row[USER_ID], []).append((row[ITEM_ID], row[SOURCE]))
    return out


def test_final_recommendations_apply_every_rule(spark: SparkSession) -> None:
    candidates = spark.createDataFrame([
        ("u1", "a1", 0.9, 1, "als"), ("u1", "a2", 0.8, 2, "als"), ("u1", "a3", 0.7, 3, "als"),
        ("u1", "k2", 0.6, 4, "als"), ("u1", "k1", 0.5, 5, "als"), ("u1", "x1", 0.4, 6, "als"),
        ("u1", "k3", 0.3, 1, "popular"), ("u1", "a1", 0.3, 2, "popular"),
        ("u2", "k1", 0.3, 1, "segment_popular"), ("u2", "k2", 0.2, 2, "segment_popular"),
    ], CANDIDATES)
    bought = spark.createDataFrame([("u1", "a2"), ("u2", "k3")], PAIRS)
    got = lists(final_recommendations(candidates, items=items_frame(spark), excluded_pairs=bought,
                                      excluded_items=["x1"], k=4, max_per_category=2))
    # a2 bought, k2 out of stock, x1 excluded, a3 over the garden cap of 2 -> popular fills
    assert got["u1"] == [("a1", "als"), ("a3", "als"), ("k1", "als"), ("k3", "popular")]
    assert got["u2"] == [("k1", "segment_popular")]


def test_gaps_name_users_with_fewer_than_k(spark: SparkSession) -> None:
    users = spark.createDataFrame([("u1",), ("u2",), ("u3",)], "user_id string")
    recs = spark.createDataFrame([("u1", "a"), ("u1", "b"), ("u2", "a")], PAIRS)
    gaps = recommendation_gaps(users, recs, k=2, run_date=date(2026, 1, 31)).collect()
    assert {r[USER_ID]: r["reason"].split(" of")[0] for r in gaps} == {"u2": "only 1",
                                                                         "u3": "only 0"}


def test_active_users_window(spark: SparkSession) -> None:
    events = spark.createDataFrame([
        ("old", datetime(2025, 1, 1)), ("recent", datetime(2026, 1, 20)),
        ("future", datetime(2026, 2, 1)),
    ], "user_id string, event_ts timestamp")
    got = active_users(events, run_date=date(2026, 1, 31), window_days=365).collect()
    assert [r[USER_ID] for r in got] == ["recent"]


def test_cold_customers_get_segment_or_global_popularity(spark: SparkSession) -> None:
    interactions = spark.createDataFrame([
        ("s1", "a1"), ("s2", "a1"), ("s2", "a2"), ("t1", "k1"), ("t2", "k1"), ("t3", "k1"),
    ], PAIRS)
    segments = spark.createDataFrame([("s1", 1), ("s2", 1), ("t1", 2), ("t2", 2), ("t3", 2),
                                      ("new_in_1", 1)], "user_id string, segment_id int")
    popular = popular_by_segment(interactions, segments, top=5)
    users = spark.createDataFrame([("new_in_1",), ("nobody",)], "user_id string")
    got = lists(final_recommendations(
        popular_candidates(users, segments, popular), items=items_frame(spark),
        excluded_pairs=spark.createDataFrame([], PAIRS), excluded_items=[], k=2,
        max_per_category=5))
    assert got["new_in_1"] == [("a1", "segment_popular"), ("a2", "segment_popular")]
    assert got["nobody"] == [("k1", "popular"), ("a1", "popular")]


def test_new_item_borrows_factors_of_its_content_neighbours(spark: SparkSession) -> None:
    tokens = content_tokens(items_frame(spark))
    known = ["a1", "a3", "k1", "k3"]
    new_tokens = tokens.where(tokens.item_id == "a2")
    close = content_neighbours(new_tokens, tokens.where(tokens.item_id.isin(known)), 2)
    neighbours = [r["neighbour_id"] for r in close.orderBy("similarity", ascending=False)
                  .collect()]
    assert neighbours[0] == "a1"   # same category, price band and two title words
    factors = spark.createDataFrame([("a1", [1.0, 0.0]), ("a3", [3.0, 0.0]),
                                     ("k1", [0.0, 1.0]), ("k3", [0.0, 2.0])],
                                    "item_id string, features array<float>")
    borrowed = borrowed_factors(close, factors).collect()
    assert len(borrowed) == 1
    x, y = borrowed[0]["features"]
    assert y == pytest.approx(0.0) and x > 1.0   # garden direction, neighbours' length


def test_reason_item_is_the_most_similar_history_item(spark: SparkSession) -> None:
    factors = spark.createDataFrame([("a1", [1.0, 0.1]), ("a2", [0.9, 0.2]),
                                     ("k1", [0.1, 1.0]), ("k3", [0.0, 3.0])],
                                    "item_id string, features array<float>")
    recs = spark.createDataFrame([("u1", "a2", 1.0, 1, "als"), ("u1", "k3", 0.5, 2, "als")],
                                 CANDIDATES)
    history = spark.createDataFrame([("u1", "a1"), ("u1", "k1")], PAIRS)
    got = {r[ITEM_ID]: r[REASON_ITEM_ID]
           for r in with_reason_item(recs, history, factors).collect()}
    assert got == {"a2": "a1", "k3": "k1"}
