"""The popularity baseline."""

from __future__ import annotations

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakerec.recs.baselines import popularity_top_k


@pytest.fixture(scope="module")
def train(spark: SparkSession) -> DataFrame:
    # Popularity: p1 5 rows, p2 4, p3 3, p4 2, p0 2 (ties p4: lower id first), p5 1.
    counts = {"p1": 5, "p2": 4, "p3": 3, "p4": 2, "p0": 2, "p5": 1}
    rows = [(f"x{n}", item, 1.0) for item, count in counts.items() for n in range(count)]
    rows += [("uA", "p1", 10.0), ("uA", "p3", 1.0)]   # p1 now 6 rows, p3 4 rows
    return spark.createDataFrame(rows, "user_id string, item_id string, weight double")


def _lists(df: DataFrame) -> dict[str, list[tuple[int, str]]]:
    lists: dict[str, list[tuple[int, str]]] = {}
    for row in df.collect():
        lists.setdefault(row.user_id, []).append((row["rank"], row.item_id))
    return {user: sorted(items) for user, items in lists.items()}


def test_popularity_excludes_seen_items(spark: SparkSession, train: DataFrame) -> None:
    users = spark.createDataFrame([("uA",), ("uB",), ("uB",)], "user_id string")
    top = popularity_top_k(train, users, 3)
    assert set(top.columns) == {"user_id", "item_id", "rank", "score"}
    # Ranking: p1 (6), p2 (4), p3 (4; p2 < p3), p0 (2), p4 (2), p5 (1).
    assert _lists(top) == {"uA": [(1, "p2"), (2, "p0"), (3, "p4")],
                           "uB": [(1, "p1"), (2, "p2"), (3, "p3")]}
    scores = {(r.user_id, r.item_id): r.score for r in top.collect()}
    assert scores[("uB", "p1")] == 6.0


def test_popularity_with_seen_items_and_weights(spark: SparkSession, train: DataFrame) -> None:
    users = spark.createDataFrame([("uA",)], "user_id string")
    assert _lists(popularity_top_k(train, users, 2, exclude_seen=False)) == {
        "uA": [(1, "p1"), (2, "p2")]}
    # Weights: p1 = 5 + 10 = 15, p3 = 3 + 1 = 4 = p2 -> p2 first by id.
    weighted = popularity_top_k(train, users, 2, exclude_seen=False, weight_col="weight")
    assert [(r["rank"], r.item_id, r.score) for r in weighted.orderBy("rank").collect()] == [
        (1, "p1", 15.0), (2, "p2", 4.0)]


def test_popularity_runs_out_of_unseen_items(spark: SparkSession, train: DataFrame) -> None:
    users = spark.createDataFrame([("uA",)], "user_id string")
    # 6 items, uA has seen 2: only 4 remain for k = 10.
    assert [item for _, item in _lists(popularity_top_k(train, users, 10))["uA"]] == [
        "p2", "p0", "p4", "p5"]
