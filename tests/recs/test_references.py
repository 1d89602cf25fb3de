"""EASE, the bench's reference of another family, against its closed form on a small example.

Customers: u1 {a, b}, u2 {a, b, c}, u3 {b, c}, u4 {c, d}. ``X'X`` holds the co-occurrence
counts; with ``P = (X'X + lambda I)^-1`` the weight of item i for item j is
``-P[i, j] / P[j, j]`` (0 on the diagonal), and a customer's score of j sums the weights of
their items for it.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import DataFrame, SparkSession

from lakerec.core.errors import InputError
from lakerec.core.schemas import ITEM_ID, RANK, SCORE, USER_ID
from lakerec.recs.metrics import ranking_metrics
from lakerec.recs.references import Ease, choose_ease_lambda

HISTORY = {"u1": "ab", "u2": "abc", "u3": "bc", "u4": "cd"}
ITEMS = "abcd"


def pairs(spark: SparkSession) -> DataFrame:
    # confidences other than 1 and a repeated pair: EASE sees each pair once, as a 1
    rows = [(user, item, 7.0) for user, items in HISTORY.items() for item in items]
    return spark.createDataFrame([*rows, ("u1", "a", 2.0)],
                                 "user_id string, item_id string, confidence double")


def closed_form_scores(lamb: float) -> dict[tuple[str, str], float]:
    x = np.array([[item in HISTORY[user] for item in ITEMS] for user in HISTORY], float)
    p = np.linalg.inv(x.T @ x + lamb * np.eye(len(ITEMS)))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    scores = x @ b
    return {(user, item): scores[u, i] for u, user in enumerate(HISTORY)
            for i, item in enumerate(ITEMS) if item not in HISTORY[user]}


def users(spark: SparkSession, *names: str) -> DataFrame:
    return spark.createDataFrame([(name,) for name in names], "user_id string")


def test_ease_scores_unseen_items_by_the_closed_form_and_ranks_them(spark: SparkSession) -> None:
    ease = Ease(pairs(spark))
    # blocks of 2 customers: the scores of one block do not depend on the others
    recs = ease.top_k(users(spark, "u1", "u2", "u3", "u4", "stranger"), 3, lamb=1.0,
                      users_per_block=2).collect()

    expected = closed_form_scores(1.0)
    got = {(r[USER_ID], r[ITEM_ID]): r[SCORE] for r in recs}
    # every unseen item of each known customer (u2 has one only), no training pair, no
    # customer without training pairs
    assert set(got) == set(expected)
    assert got == pytest.approx(expected)
    for user in HISTORY:
        ranked = sorted((r for r in recs if r[USER_ID] == user), key=lambda r: r[RANK])
        assert [r[RANK] for r in ranked] == list(range(1, len(ranked) + 1))
        assert [r[SCORE] for r in ranked] == sorted((r[SCORE] for r in ranked), reverse=True)
    # u1 bought a and b: c, bought with both, comes before d, bought with neither, whose
    # weight from b is negative (Steck's EASE keeps negative weights; Cornac's default would
    # make it 0)
    assert [r[ITEM_ID] for r in sorted((r for r in recs if r[USER_ID] == "u1"),
                                       key=lambda r: r[RANK])] == ["c", "d"]
    assert got[("u1", "c")] > 0 > got[("u1", "d")]
    # a stronger lambda shrinks the weights
    stronger = ease.top_k(users(spark, "u1"), 1, lamb=100.0, users_per_block=2).first()
    assert stronger[SCORE] < got[("u1", "c")]


def test_lambda_is_chosen_by_the_score_it_is_given(spark: SparkSession) -> None:
    ease = Ease(pairs(spark))
    relevant = spark.createDataFrame([("u1", "c"), ("u3", "a")], "user_id string, item_id string")

    def ndcg(recs: DataFrame) -> float:
        return ranking_metrics(recs, relevant, ks=(10,))["ndcg@10"]

    def u1_score_of_c(recs: DataFrame) -> float:
        return recs.where("user_id = 'u1' and item_id = 'c'").first()[SCORE]

    # the ranking is the same at every lambda here: a tie, which goes to the larger lambda
    lamb, score = choose_ease_lambda(ease, users(spark, "u1", "u3"), ndcg, k=10,
                                     users_per_block=2, lambdas=(1.0, 10.0))
    assert (lamb, score) == (10.0, pytest.approx(1.0))
    # u1's score of c falls as lambda grows: the smallest lambda wins
    lamb, score = choose_ease_lambda(ease, users(spark, "u1"), u1_score_of_c, k=10,
                                     users_per_block=2, lambdas=(10.0, 1.0, 100.0))
    assert lamb == 1.0 and score == pytest.approx(closed_form_scores(1.0)[("u1", "c")])
    with pytest.raises(InputError, match="no lambda"):
        choose_ease_lambda(ease, users(spark, "u1"), ndcg, k=10, users_per_block=2,
                           lambdas=())


def test_ease_refuses_an_empty_training_part(spark: SparkSession) -> None:
    with pytest.raises(InputError, match="no pairs"):
        Ease(pairs(spark).limit(0))
