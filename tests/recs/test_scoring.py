"""Blocked top-k scoring against Spark's built-in recommendForAllUsers."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, SparkSession

from lakerec.core.errors import MissingColumnError
from lakerec.recs.scoring import top_k_blocked, top_k_indices

K = 5
N_USERS, N_ITEMS = 60, 40


@pytest.fixture(scope="module")
def interactions(spark: SparkSession) -> DataFrame:
    rng = random.Random(3)
    rows = [(user, item, float(rng.randint(1, 5)))
            for user in range(N_USERS) for item in rng.sample(range(N_ITEMS), 8)]
    return spark.createDataFrame(rows, "user int, item int, rating float")


@pytest.fixture(scope="module")
def model(interactions: DataFrame) -> ALSModel:
    als = ALS(rank=6, maxIter=4, regParam=0.1, implicitPrefs=True, alpha=5.0, seed=11,
              userCol="user", itemCol="item", ratingCol="rating")
    return als.fit(interactions)


def _top_lists(df: DataFrame) -> dict[int, list[tuple[int, int, float]]]:
    lists: dict[int, list[tuple[int, int, float]]] = {}
    for row in df.collect():
        lists.setdefault(row.user, []).append((row["rank"], row.item, row.score))
    return {user: sorted(items) for user, items in lists.items()}


def test_same_top_k_as_recommend_for_all_users(model: ALSModel) -> None:
    blocked = _top_lists(top_k_blocked(model.userFactors, model.itemFactors, K,
                                       users_per_block=7))   # several blocks per batch
    builtin = {row.user: [(rec.item, rec.rating) for rec in row.recommendations]
               for row in model.recommendForAllUsers(K).collect()}
    assert set(blocked) == set(builtin) and len(blocked) == N_USERS
    for user, expected in builtin.items():
        got = blocked[user]
        assert [rank for rank, _, _ in got] == list(range(1, K + 1))
        scores = [score for _, _, score in got]
        assert scores == sorted(scores, reverse=True)
        kth_score = expected[-1][1]
        differing = {item for _, item, _ in got} ^ {item for item, _ in expected}
        # Item sets agree except, at most, among items tied with the k-th score.
        builtin_scores = dict(expected)
        blocked_scores = {item: score for _, item, score in got}
        for item in differing:
            score = blocked_scores.get(item, builtin_scores.get(item))
            assert score == pytest.approx(kth_score, abs=1e-5), (user, item)
        for item in blocked_scores.keys() & builtin_scores.keys():
            assert blocked_scores[item] == pytest.approx(builtin_scores[item], abs=1e-5)


def test_never_returns_excluded_pairs_or_items(model: ALSModel, interactions: DataFrame) -> None:
    out_of_stock = [3, 17]
    top = top_k_blocked(model.userFactors, model.itemFactors, K, exclude_pairs=interactions,
                        exclude_items=out_of_stock, users_per_block=16)
    rows = top.collect()
    seen = {(row.user, row.item) for row in interactions.collect()}
    assert not {(row.user, row.item) for row in rows} & seen
    assert not {row.item for row in rows} & set(out_of_stock)
    # 40 items - 8 seen - at most 2 out of stock >= K: exactly K rows per user.
    assert Counter(row.user for row in rows) == dict.fromkeys(range(N_USERS), K)


def test_short_lists_and_ties(spark: SparkSession) -> None:
    factors = "id int, features array<float>"
    users = spark.createDataFrame([(1, [1.0, 0.0]), (2, [0.0, 1.0])], factors)
    # Items 10, 11, 12 tie for user 1; item 13 is best for user 2.
    items = spark.createDataFrame([(12, [1.0, 0.0]), (10, [1.0, 0.0]), (11, [1.0, 0.0]),
                                   (13, [0.0, 2.0])], factors)
    masks = spark.createDataFrame([(2, 13), (2, 10), (2, 11), (2, 99)], "user int, item int")
    lists = _top_lists(top_k_blocked(users, items, 2, exclude_pairs=masks,
                                     exclude_items=[12]))
    # User 1: ties broken by item id. User 2: only item 12 remains, and it is out of stock.
    assert lists == {1: [(1, 10, 1.0), (2, 11, 1.0)]}
    # With 12 in stock, user 2 gets the one item left: fewer than k rows.
    lists = _top_lists(top_k_blocked(users, items, 3, exclude_pairs=masks))
    assert lists == {1: [(1, 10, 1.0), (2, 11, 1.0), (3, 12, 1.0)], 2: [(1, 12, 0.0)]}


def test_missing_columns_are_named(spark: SparkSession) -> None:
    users = spark.createDataFrame([(1, [1.0])], "id int, features array<float>")
    with pytest.raises(MissingColumnError, match="'user'"):
        top_k_blocked(users, users, 1, exclude_pairs=users)


def test_top_k_indices_breaks_ties_by_index() -> None:
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1],
                       [1.0, 2.0, 3.0, 4.0, 5.0],
                       [-np.inf, 0.2, -np.inf, -np.inf, -np.inf]], dtype=np.float32)
    assert top_k_indices(scores, 3).tolist() == [[1, 0, 2], [4, 3, 2], [1, 0, 2]]
    assert top_k_indices(scores, 9).shape == (3, 5)


def test_top_k_indices_matches_a_full_sort_on_tie_heavy_scores() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        n_rows, n_cols = int(rng.integers(1, 6)), int(rng.integers(1, 30))
        scores = rng.integers(0, 5, (n_rows, n_cols)).astype(np.float32)
        scores[rng.random((n_rows, n_cols)) < 0.2] = -np.inf
        k = int(rng.integers(1, 35))
        got = top_k_indices(scores, k)
        for row in range(n_rows):
            expected = np.lexsort((np.arange(n_cols), -scores[row]))[:k]
            assert got[row].tolist() == expected.tolist()
