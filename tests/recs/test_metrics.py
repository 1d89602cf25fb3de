"""Ranking and beyond-accuracy metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakerec.core.errors import InputError, MissingColumnError
from lakerec.recs.metrics import (
    catalog_coverage,
    exposure_gini,
    intra_list_diversity,
    long_tail_share,
    map_at_k,
    ndcg_at_k,
    ndcg_per_user,
    novelty,
    precision_at_k,
    ranking_metrics,
    ranking_metrics_by_group,
    recall_at_k,
)
from lakerec.recs.promotion import measure_many

LOG2_3 = math.log2(3)


@pytest.fixture(scope="module")
def recommended(spark: SparkSession) -> DataFrame:
    rows = [
        ("u1", "a", 1), ("u1", "b", 2), ("u1", "c", 3), ("u1", "d", 4),
        ("u2", "e", 1), ("u2", "f", 2),
        ("u3", "g", 1),                                  # no hit
        ("u4", "a", 1), ("u4", "h", 2), ("u4", "i", 3),  # no relevant item: not averaged
    ]
    return spark.createDataFrame(rows, "user_id string, item_id string, rank int")


@pytest.fixture(scope="module")
def relevant(spark: SparkSession) -> DataFrame:
    rows = [
        ("u1", "a"), ("u1", "c"), ("u1", "x"),  # 3 relevant, "c" only at rank 3
        ("u2", "f"), ("u2", "f"),              # duplicate row counts once
        ("u3", "z"),
        ("u5", "a"),                           # relevant but never recommended: zeros
    ]
    return spark.createDataFrame(rows, "user_id string, item_id string")


def test_metrics_at_2_by_hand(recommended: DataFrame, relevant: DataFrame) -> None:
    # u1: top 2 = a, b; hit a at rank 1; |T| = 3.   u2: top 2 = e, f; hit f at rank 2; |T| = 1.
    # u3 and u5 score zero; u4 has no relevant item and is not averaged: 4 users.
    metrics = ranking_metrics(recommended, relevant, ks=(2,))
    assert metrics["precision@2"] == pytest.approx((1 / 2 + 1 / 2) / 4)
    assert metrics["recall@2"] == pytest.approx((1 / 3 + 1) / 4)
    ndcg_u1 = 1.0 / (1.0 + 1.0 / LOG2_3)       # ideal: 2 hits (min(|T|, k) = 2)
    ndcg_u2 = (1.0 / LOG2_3) / 1.0             # ideal: 1 hit at rank 1
    assert metrics["ndcg@2"] == pytest.approx((ndcg_u1 + ndcg_u2) / 4)
    assert metrics["map@2"] == pytest.approx((1.0 / 2 + (1 / 2) / 1) / 4)
    assert set(metrics) == {"precision@2", "recall@2", "ndcg@2", "map@2"}


def test_ndcg_per_user_by_hand(recommended: DataFrame, relevant: DataFrame) -> None:
    per_user = {r["user_id"]: r["ndcg"] for r in ndcg_per_user(recommended, relevant, 2)
                .collect()}
    assert per_user == pytest.approx({"u1": 1.0 / (1.0 + 1.0 / LOG2_3), "u2": 1.0 / LOG2_3,
                                      "u3": 0.0, "u5": 0.0})   # u4: nothing relevant
    assert sum(per_user.values()) / 4 == pytest.approx(
        ranking_metrics(recommended, relevant, ks=(2,))["ndcg@2"])


def test_metrics_at_3_count_the_third_rank(recommended: DataFrame, relevant: DataFrame) -> None:
    metrics = ranking_metrics(recommended, relevant, ks=(3, 20))
    # u1 now hits a (rank 1) and c (rank 3).
    assert metrics["precision@3"] == pytest.approx((2 / 3 + 1 / 3) / 4)
    assert metrics["recall@3"] == pytest.approx((2 / 3 + 1) / 4)
    ndcg_u1 = (1.0 + 1.0 / 2.0) / (1.0 + 1.0 / LOG2_3 + 1.0 / 2.0)
    assert metrics["ndcg@3"] == pytest.approx((ndcg_u1 + 1.0 / LOG2_3) / 4)
    assert metrics["map@3"] == pytest.approx(((1.0 + 2 / 3) / 3 + 1 / 2) / 4)
    # k beyond every list: precision divides by k, u2 (1 relevant item) still normalised by 1.
    assert metrics["precision@20"] == pytest.approx((2 / 20 + 1 / 20) / 4)
    assert metrics["map@20"] == pytest.approx(((1.0 + 2 / 3) / 3 + 1 / 2) / 4)


def test_single_metric_functions_agree(recommended: DataFrame, relevant: DataFrame) -> None:
    assert precision_at_k(recommended, relevant, 2) == pytest.approx(0.25)
    assert recall_at_k(recommended, relevant, 2) == pytest.approx((1 / 3 + 1) / 4)
    assert map_at_k(recommended, relevant, 2) == pytest.approx(0.25)
    assert ndcg_at_k(recommended, relevant, 1) == pytest.approx(1 / 4)  # only u1 hits at 1


def test_perfect_ranking_scores_one(spark: SparkSession) -> None:
    recs = spark.createDataFrame([("u", "a", 1), ("u", "b", 2), ("u", "c", 3)],
                                 "user_id string, item_id string, rank int")
    truth = spark.createDataFrame([("u", "a"), ("u", "b")], "user_id string, item_id string")
    metrics = ranking_metrics(recs, truth, ks=(2,))
    assert metrics == pytest.approx({"precision@2": 1.0, "recall@2": 1.0, "ndcg@2": 1.0,
                                     "map@2": 1.0})


def test_custom_columns_and_errors(spark: SparkSession) -> None:
    recs = spark.createDataFrame([(1, 10, 1)], "user int, item int, pos int")
    truth = spark.createDataFrame([(1, 10)], "user int, item int")
    assert precision_at_k(recs, truth, 1, user_col="user", item_col="item",
                          rank_col="pos") == 1.0
    with pytest.raises(MissingColumnError, match="'rank'"):
        ranking_metrics(recs.withColumnRenamed("user", "user_id")
                        .withColumnRenamed("item", "item_id"),
                        truth.toDF("user_id", "item_id"))
    with pytest.raises(InputError, match="no user"):
        ranking_metrics(recs, truth.where("user < 0"), ks=(1,), user_col="user",
                        item_col="item", rank_col="pos")
    with pytest.raises(ValueError, match="positive"):
        ranking_metrics(recs, truth, ks=(0,), user_col="user", item_col="item", rank_col="pos")


def test_catalog_coverage(recommended: DataFrame) -> None:
    # rank <= 2: a, b, e, f, g, h (a twice) of a catalogue of 10.
    assert catalog_coverage(recommended, 10, 2) == pytest.approx(0.6)
    assert catalog_coverage(recommended, 10, 1) == pytest.approx(0.3)  # a, e, g
    with pytest.raises(ValueError):
        catalog_coverage(recommended, 0, 2)


def test_novelty(spark: SparkSession) -> None:
    recs = spark.createDataFrame(
        [("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 1), ("u2", "e", 2), ("u2", "c", 3)],
        "user_id string, item_id string, rank int")
    popularity = spark.createDataFrame([("a", 4), ("b", 2), ("c", 2)],
                                       "item_id string, interactions long")
    # p(a) = 4/8 -> 1 bit, p(b) = 2/8 -> 2 bits, e unseen -> counts as 1/8 -> 3 bits.
    assert novelty(recs, popularity, 2) == pytest.approx((1 + 2 + 1 + 3) / 4)
    assert novelty(recs, popularity, 1) == pytest.approx(1.0)
    assert math.isnan(novelty(recs.where("rank > 5"), popularity, 2))


def test_intra_list_diversity(spark: SparkSession) -> None:
    recs = spark.createDataFrame(
        [("u1", "a", 1), ("u1", "b", 2), ("u1", "c", 3), ("u1", "f", 4),
         ("u2", "a", 1), ("u2", "d", 2), ("u2", "f", 3),
         ("u3", "a", 1),                                  # one item: no pair, not averaged
         ("u4", "a", 1), ("u4", "n", 2)],                 # n has no category
        "user_id string, item_id string, rank int")
    categories = spark.createDataFrame(
        [("a", "X"), ("b", "X"), ("c", "Y"), ("d", "Y"), ("f", "Z"), ("n", None)],
        "item_id string, category string")
    # u1 top 3: X, X, Y -> 1 - 2/6 = 2/3; u2: X, Y, Z -> 1.
    assert intra_list_diversity(recs, categories, 3) == pytest.approx((2 / 3 + 1) / 2)
    # u1 top 2: X, X -> 0; u2: X, Y -> 1.
    assert intra_list_diversity(recs, categories, 2) == pytest.approx(0.5)
    assert math.isnan(intra_list_diversity(recs, categories, 1))


def test_exposure_gini(spark: SparkSession, recommended: DataFrame) -> None:
    # rank <= 2: a twice, b, e, f, g, h once, 4 of a catalogue of 10 never shown:
    # sorted 0,0,0,0,1,1,1,1,1,2 -> 2 * (5+6+7+8+9 + 2*10) / (10 * 7) - 11/10
    assert exposure_gini(recommended, 10, 2) == pytest.approx(2 * 55 / 70 - 1.1)
    equal = spark.createDataFrame([("u1", "a", 1), ("u2", "b", 1)],
                                  "user_id string, item_id string, rank int")
    assert exposure_gini(equal, 2, 1) == pytest.approx(0.0)
    assert exposure_gini(equal, 4, 1) == pytest.approx(0.5)   # half the catalogue unseen
    assert math.isnan(exposure_gini(equal, 2, 0))


def test_long_tail_share(spark: SparkSession) -> None:
    recs = spark.createDataFrame(
        [("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 1), ("u2", "e", 2)],
        "user_id string, item_id string, rank int")
    popularity = spark.createDataFrame([("a", 4), ("b", 2), ("c", 2)],
                                       "item_id string, interactions long")
    # 80%: a (0 before it), b (4 before) and c (6 before, < 6.4) are the head; e is unseen
    assert long_tail_share(recs, popularity, 2) == pytest.approx(1 / 4)
    # 50%: a alone holds the first half; b and e are long tail
    assert long_tail_share(recs, popularity, 2, head_share=0.5) == pytest.approx(2 / 4)
    assert long_tail_share(recs, popularity, 1, head_share=0.5) == pytest.approx(0.0)


def test_metrics_by_group_equal_metrics_of_each_group(
        spark: SparkSession, recommended: DataFrame, relevant: DataFrame) -> None:
    groups = spark.createDataFrame([("u1", 1), ("u2", 1), ("u3", 2), ("u4", 2)],
                                   "user_id string, segment_id int")
    by_group = ranking_metrics_by_group(recommended, relevant, groups, group_col="segment_id",
                                        ks=(2,))
    assert set(by_group) == {1, 2}   # u5 has no group; u4 has no relevant item
    for group in (1, 2):
        members = groups.where(f"segment_id = {group}").select("user_id")
        expected = ranking_metrics(recommended.join(members, "user_id"),
                                   relevant.join(members, "user_id"), ks=(2,))
        assert by_group[group] == pytest.approx(expected)


def test_measuring_many_lists_at_once_equals_measuring_each(
        spark: SparkSession, recommended: DataFrame, relevant: DataFrame) -> None:
    """``measure_many`` keys every list by (recommender, customer) to measure them in one set
    of jobs: each one's figures must be those of the single-list metric functions."""
    other = spark.createDataFrame(
        [("u1", "x", 1), ("u1", "a", 2), ("u3", "z", 1), ("u3", "a", 2), ("u5", "b", 1)],
        "user_id string, item_id string, rank int")
    empty = recommended.limit(0)
    popularity = spark.createDataFrame([("a", 4), ("b", 2), ("c", 2), ("x", 1)],
                                       "item_id string, interactions long")
    categories = spark.createDataFrame([("a", "X"), ("b", "X"), ("c", "Y"), ("x", "Z")],
                                       "item_id string, category string")
    segments = spark.createDataFrame([("u1", 1), ("u2", 1), ("u3", 2), ("u5", 2)],
                                     "user_id string, segment_id int")
    lists = {"first": recommended, "second": other, "none": empty}
    measured = measure_many(lists, relevant, ks=(1, 2), catalog_size=10,
                            item_popularity=popularity, item_categories=categories,
                            segments=segments)
    assert set(measured) == set(lists)
    for name, recs in lists.items():
        expected = {**ranking_metrics(recs, relevant, ks=(1, 2)),
                    "coverage@2": catalog_coverage(recs, 10, 2),
                    "novelty@2": novelty(recs, popularity, 2),
                    "diversity@2": intra_list_diversity(recs, categories, 2),
                    "gini@2": exposure_gini(recs, 10, 2),
                    "long_tail@2": long_tail_share(recs, popularity, 2),
                    **{f"ndcg@10.segment_{segment}": values["ndcg@10"]
                       for segment, values in ranking_metrics_by_group(
                           recs, relevant, segments, group_col="segment_id").items()}}
        assert measured[name].name == name
        assert measured[name].metrics == pytest.approx(expected, nan_ok=True), name
    assert measured["second"].metrics["ndcg@2"] > 0
    assert measured["none"].metrics["ndcg@2"] == 0.0
    assert math.isnan(measured["none"].metrics["gini@2"])
    with pytest.raises(InputError, match="no user"):
        measure_many(lists, relevant.limit(0), ks=(2,), catalog_size=10,
                     item_popularity=popularity, item_categories=categories)
