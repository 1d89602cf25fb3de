"""The hybrid blend: rank points, the weight grid and choosing weights on validation."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakerec.core.schemas import ITEM_ID, RANK, USER_ID
from lakerec.recs.blend import BLEND, BlendWeights, blend, choose_weights, weight_grid
from lakerec.recs.metrics import ranking_metrics


def ranked(spark: SparkSession, rows: list[tuple[str, str, int]]) -> DataFrame:
    return spark.createDataFrame(rows, f"{USER_ID} string, {ITEM_ID} string, {RANK} int")


def test_weights_name_their_family_and_must_sum_to_one() -> None:
    assert BlendWeights().family == "als"
    assert BlendWeights(0.0, 1.0, 0.0).family == "item_item"
    assert BlendWeights(0.0, 0.0, 1.0).family == "popular"
    assert BlendWeights(0.5, 0.5, 0.0).family == BLEND
    with pytest.raises(ValueError, match="sum to 1"):
        BlendWeights(0.5, 0.6, 0.0)
    with pytest.raises(ValueError, match="non-negative"):
        BlendWeights(1.5, -0.5, 0.0)
    logged = {k: str(v) for k, v in BlendWeights(0.25, 0.75, 0.0).logged().items()}
    assert BlendWeights.from_logged(logged) == BlendWeights(0.25, 0.75, 0.0)
    assert BlendWeights.from_logged({"rank": "32"}) == BlendWeights()  # before blends


def test_weight_grid_covers_the_simplex_corners_first() -> None:
    grid = weight_grid(0.25)
    assert len(grid) == 15   # (4 + 2 choose 2) ways to split 4 quarters among 3
    assert [w.family for w in grid[:3]] == ["als", "item_item", "popular"]
    assert all(w.family == BLEND for w in grid[3:])
    assert len(set(grid)) == 15
    assert len(weight_grid(1.0)) == 3
    assert weight_grid(0.25, ["als"]) == [BlendWeights()]
    assert len(weight_grid(0.5, ["als", "item_item"])) == 3   # 1/0, 0/1, 1/2 each
    with pytest.raises(ValueError, match="components"):
        weight_grid(0.5, ["svd"])
    with pytest.raises(ValueError, match="divide 1"):
        weight_grid(0.3)


def test_blend_adds_weighted_rank_points(spark: SparkSession) -> None:
    # depth 3: rank 1 earns 1, rank 2 earns 2/3, rank 3 earns 1/3
    als = ranked(spark, [("u", "a", 1), ("u", "b", 2), ("u", "c", 3)])
    item_item = ranked(spark, [("u", "c", 1), ("u", "d", 2), ("u", "a", 3)])
    lists = {"als": als, "item_item": item_item}
    out = blend(lists, BlendWeights(0.5, 0.5, 0.0), depth=3, k=4).orderBy(RANK).collect()
    # a: .5 * 1 + .5 * 1/3 = 2/3; c: .5 * 1/3 + .5 * 1 = 2/3; b: .5 * 2/3 = 1/3; d: 1/3
    assert [r[ITEM_ID] for r in out] == ["a", "c", "b", "d"]  # ties break by item id
    assert [round(r["score"], 6) for r in out] == [round(2 / 3, 6)] * 2 + [round(1 / 3, 6)] * 2
    tilted = blend(lists, BlendWeights(0.25, 0.75, 0.0), depth=3, k=2).orderBy(RANK).collect()
    assert [r[ITEM_ID] for r in tilted] == ["c", "a"]   # c: .25/3 + .75 = 0.833; a: 0.5
    alone = blend(lists, BlendWeights(), depth=3, k=3).orderBy(RANK).collect()
    assert [r[ITEM_ID] for r in alone] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="popular"):
        blend(lists, BlendWeights(0.5, 0.0, 0.5), depth=3, k=3)


def test_choose_weights_finds_the_mix_that_validation_rewards(spark: SparkSession) -> None:
    """Planted: ALS ranks one relevant item of each customer first, item-item the other, and
    popularity none; only an even mix puts both in the top 2."""
    users = [f"u{n}" for n in range(20)]
    als = ranked(spark, [row for u in users for row in
                         ((u, f"{u}-a", 1), (u, "x1", 2), (u, "x2", 3), (u, "x3", 4))])
    item_item = ranked(spark, [row for u in users for row in
                               ((u, f"{u}-b", 1), (u, "y1", 2), (u, "y2", 3), (u, "y3", 4))])
    popular = ranked(spark, [(u, f"p{r}", r) for u in users for r in range(1, 5)])
    relevant = spark.createDataFrame([(u, f"{u}-{s}") for u in users for s in "ab"],
                                     f"{USER_ID} string, {ITEM_ID} string")
    lists = {"als": als, "item_item": item_item, "popular": popular}

    def ndcg_at_2(recs: DataFrame) -> float:
        return ranking_metrics(recs, relevant, ks=(2,))["ndcg@2"]

    best, results = choose_weights(lists, weight_grid(0.25), ndcg_at_2, depth=4, k=2)
    assert len(results) == 15
    scores = {w: s for w, s in results}
    assert scores[BlendWeights(0.0, 0.0, 1.0)] == 0.0
    one_hit = 1 / (1 + 1 / math.log2(3))   # one of two relevant items, at rank 1
    assert scores[BlendWeights()] == pytest.approx(one_hit)
    assert scores[BlendWeights(0.0, 1.0, 0.0)] == pytest.approx(one_hit)
    # 0.5/0.5: each family's hit earns 0.5 and beats the runners-up (0.375); with any other
    # weights on the grid a runner-up or a popular item takes one of the two places
    assert best == BlendWeights(0.5, 0.5, 0.0)
    assert scores[best] == pytest.approx(1.0)
