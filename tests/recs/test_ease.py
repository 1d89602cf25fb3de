"""EASE, a family ``train`` can choose, against its closed form on a small example and
against Cornac's implementation on a random one.

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
from lakerec.recs.ease import (
    EaseModel,
    TooManyItemsError,
    choose_lambda,
    ease_top_k,
    ease_weights,
    gram_within,
    item_gram,
    no_recommendations,
)
from lakerec.recs.metrics import ranking_metrics

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


def test_two_items_weigh_each_other_by_their_cooccurrence_over_the_penalised_count() -> None:
    # G = [[3, 1], [1, 2]], lambda 1: B[a, b] = 1 / (3 + 1), B[b, a] = 1 / (2 + 1)
    weights = ease_weights(np.array([[3.0, 1.0], [1.0, 2.0]]), 1.0)
    assert weights == pytest.approx(np.array([[0.0, 1 / 4], [1 / 3, 0.0]]))
    with pytest.raises(ValueError, match="positive"):
        ease_weights(np.eye(2), 0.0)


def test_edlae_penalises_each_item_by_its_own_count_as_well() -> None:
    # dropout 0.5: item j's penalty is 1 + 0.5 / 0.5 * G[j, j], so a's is 1 + 3 = 4 and b's
    # 1 + 2 = 3; B[a, b] = 1 / (3 + 4), B[b, a] = 1 / (2 + 3): the popular a weighs less
    weights = ease_weights(np.array([[3.0, 1.0], [1.0, 2.0]]), 1.0, dropout=0.5)
    assert weights == pytest.approx(np.array([[0.0, 1 / 7], [1 / 5, 0.0]]))
    for dropout in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
            ease_weights(np.eye(2), 1.0, dropout=dropout)


def test_the_gram_matrix_counts_customers_per_item_pair(spark: SparkSession) -> None:
    gram = item_gram(pairs(spark), max_items=4)
    assert list(gram.items) == list(ITEMS)
    assert gram.matrix.tolist() == [[2, 2, 1, 0], [2, 3, 2, 0], [1, 2, 3, 1], [0, 0, 1, 1]]
    with pytest.raises(TooManyItemsError, match=r"4 items, more than recommend\.ease\.max_items=3"):
        item_gram(pairs(spark), max_items=3)
    with pytest.raises(InputError, match=r"no \(customer, item\) pairs"):
        item_gram(pairs(spark).limit(0), max_items=4)
    # the families' way round it: no Gram matrix, the reason, and an empty list to serve
    assert gram_within(pairs(spark), max_items=4)[0] is not None
    none, reason = gram_within(pairs(spark), max_items=3)
    assert none is None and reason is not None and "more than recommend.ease.max_items=3" in reason
    nothing = no_recommendations(spark)
    assert nothing.count() == 0
    assert nothing.schema == ease_top_k(gram.model(1.0), pairs(spark), 1).schema


def test_ease_scores_unseen_items_by_the_closed_form_and_ranks_them(spark: SparkSession) -> None:
    model = item_gram(pairs(spark), max_items=10).model(1.0)
    # blocks of 2 customers: the scores of one block do not depend on the others
    recs = ease_top_k(model, pairs(spark), 3, users=users(spark, "u1", "u2", "u3", "u4",
                                                          "stranger"),
                      users_per_block=2).collect()

    expected = closed_form_scores(1.0)
    got = {(r[USER_ID], r[ITEM_ID]): r[SCORE] for r in recs}
    # every unseen item of each known customer (u2 has one only), no training pair, no
    # customer without training pairs
    assert set(got) == set(expected)
    assert got == pytest.approx(expected, rel=1e-5)
    for user in HISTORY:
        ranked = sorted((r for r in recs if r[USER_ID] == user), key=lambda r: r[RANK])
        assert [r[RANK] for r in ranked] == list(range(1, len(ranked) + 1))
        assert [r[SCORE] for r in ranked] == sorted((r[SCORE] for r in ranked), reverse=True)
    # u1 bought a and b: c, bought with both, comes before d, bought with neither, whose
    # weight from b is negative (Steck's EASE keeps negative weights)
    assert [r[ITEM_ID] for r in sorted((r for r in recs if r[USER_ID] == "u1"),
                                       key=lambda r: r[RANK])] == ["c", "d"]
    assert got[("u1", "c")] > 0 > got[("u1", "d")]
    # a stronger lambda shrinks the weights
    stronger = ease_top_k(item_gram(pairs(spark), max_items=10).model(100.0), pairs(spark), 1,
                          users=users(spark, "u1")).first()
    assert stronger[SCORE] < got[("u1", "c")]
    # without users: every customer of the interactions
    everyone = ease_top_k(model, pairs(spark), 1).select(USER_ID).collect()
    assert sorted(r[USER_ID] for r in everyone) == sorted(HISTORY)


def test_the_top_k_equals_cornacs_ease(spark: SparkSession) -> None:
    from cornac.data import Dataset
    from cornac.models import EASE

    rng = np.random.default_rng(7)
    # 60 customers, 40 items, popularity skewed so that co-occurrences vary
    popularity = rng.power(0.4, 40)
    rows = sorted({(f"u{u:02d}", f"i{i:02d}") for u in range(60)
                   for i in rng.choice(40, size=rng.integers(2, 12), replace=False,
                                       p=popularity / popularity.sum())})
    interactions = spark.createDataFrame(rows, "user_id string, item_id string")
    ours = ease_top_k(item_gram(interactions, max_items=100).model(30.0), interactions, 10,
                      users_per_block=7).collect()

    dataset = Dataset.from_uir([(u, i, 1.0) for u, i in rows], seed=0)
    cornac = EASE(lamb=30.0, posB=False, verbose=False).fit(dataset)
    items = {index: item for item, index in dataset.iid_map.items()}
    for user, index in dataset.uid_map.items():
        history = cornac.U[index]
        scores = np.asarray(history.dot(cornac.B)).ravel()
        scores[history.nonzero()[1]] = -np.inf
        expected = {items[j]: scores[j] for j in np.argsort(-scores, kind="stable")[:10]}
        got = {r[ITEM_ID]: r[SCORE] for r in ours if r[USER_ID] == user}
        # the same ten items with the same scores (float32 weights: ties may swap places)
        assert got == pytest.approx(expected, rel=1e-4, abs=1e-5), user


def test_lambda_is_chosen_by_the_score_it_is_given(spark: SparkSession) -> None:
    gram = item_gram(pairs(spark), max_items=10)
    relevant = spark.createDataFrame([("u1", "c"), ("u3", "a")], "user_id string, item_id string")

    def ndcg(model: EaseModel) -> float:
        recs = ease_top_k(model, pairs(spark), 10, users=users(spark, "u1", "u3"))
        return ranking_metrics(recs, relevant, ks=(10,))["ndcg@10"]

    def u1_score_of_c(model: EaseModel) -> float:
        recs = ease_top_k(model, pairs(spark), 10, users=users(spark, "u1"))
        return recs.where("item_id = 'c'").first()[SCORE]

    # the ranking is the same at every lambda here: a tie, which goes to the larger lambda
    model, scores = choose_lambda(gram, ndcg, (1.0, 10.0))
    assert model.lamb == 10.0 and scores == {1.0: pytest.approx(1.0), 10.0: pytest.approx(1.0)}
    # u1's score of c falls as lambda grows: the smallest lambda wins
    model, scores = choose_lambda(gram, u1_score_of_c, (10.0, 1.0, 100.0))
    assert model.lamb == 1.0
    assert scores[1.0] == pytest.approx(closed_form_scores(1.0)[("u1", "c")], rel=1e-5)
    with pytest.raises(ValueError, match="no lambda"):
        choose_lambda(gram, ndcg, ())
