"""The hybrid blend: rank points, the weight grid and choosing weights on validation."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakerec.core.schemas import ITEM_ID, RANK, USER_ID
from lakerec.recs.blend import (
    BLEND,
    WEIGHTING,
    BlendWeights,
    blend,
    blend_grid,
    choose_weights,
    ndcg_per_weighting,
    weight_grid,
)
from lakerec.recs.metrics import ndcg_per_user

THREE = ["als", "item_item", "popular"]   # the families of planted_lists


def ranked(spark: SparkSession, rows: list[tuple[str, str, int]]) -> DataFrame:
    return spark.createDataFrame(rows, f"{USER_ID} string, {ITEM_ID} string, {RANK} int")


def planted_lists(spark: SparkSession, users: list[str], als: list[str],
                  item_item: list[str]) -> dict[str, DataFrame]:
    """Every customer's ALS and item-item lists, in order (``{u}`` stands for the customer),
    and the same popular list ``p1 .. p4``."""
    def lists_of(items: list[str]) -> DataFrame:
        return ranked(spark, [(u, item.format(u=u), rank) for u in users
                              for rank, item in enumerate(items, start=1)])

    return {"als": lists_of(als), "item_item": lists_of(item_item),
            "popular": lists_of([f"p{rank}" for rank in range(1, 5)])}


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
    # before EASE: no blend.ease param, no weight for it
    assert BlendWeights.from_logged({"blend.als": "0.5", "blend.item_item": "0.5",
                                     "blend.popular": "0.0"}) == BlendWeights(0.5, 0.5, 0.0)
    assert BlendWeights(0.0, 0.0, 0.0, 1.0).family == "ease"


def test_weight_grid_covers_the_simplex_corners_first() -> None:
    grid = weight_grid(0.25, THREE)
    assert len(grid) == 15   # (4 + 2 choose 2) ways to split 4 quarters among 3
    assert [w.family for w in grid[:3]] == ["als", "item_item", "popular"]
    assert all(w.family == BLEND for w in grid[3:])
    assert len(set(grid)) == 15
    every = weight_grid(0.25)   # all four families, EASE included
    assert len(every) == 35     # (4 + 3 choose 3)
    assert [w.family for w in every[:4]] == ["als", "item_item", "popular", "ease"]
    assert BlendWeights(0.75, 0.0, 0.0, 0.25) in every
    assert len(weight_grid(1.0)) == 4
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


def test_the_whole_grid_in_one_job_equals_each_weighting_alone(spark: SparkSession) -> None:
    """blend_grid and ndcg_per_weighting give, weighting by weighting, what blend and
    ndcg_per_user give one weighting at a time (scores, ranks, ties and customers with no
    hit alike)."""
    users = [f"u{n}" for n in range(6)]
    lists = planted_lists(spark, users, ["{u}-a", "x1", "{u}-c", "x2"],
                          ["x1", "{u}-b", "y1", "{u}-a"])
    relevant = spark.createDataFrame([(u, f"{u}-{s}") for n, u in enumerate(users)
                                      for s in "abc"[: n % 3 + 1]] + [("u9", "x1")],
                                     f"{USER_ID} string, {ITEM_ID} string")
    grid = weight_grid(0.25, THREE)
    together = blend_grid(lists, grid, depth=4, k=3).collect()
    values = ndcg_per_weighting(blend_grid(lists, grid, depth=4, k=3), relevant, 3,
                                len(grid)).collect()
    assert {r[WEIGHTING] for r in together} == set(range(len(grid)))
    for n, weights in enumerate(grid):
        alone = blend(lists, weights, depth=4, k=3)
        assert sorted((r[USER_ID], r[ITEM_ID], round(r["score"], 9), r[RANK])
                      for r in together if r[WEIGHTING] == n) == sorted(
            (r[USER_ID], r[ITEM_ID], round(r["score"], 9), r[RANK]) for r in alone.collect())
        expected = {r[USER_ID]: r["ndcg"] for r in ndcg_per_user(alone, relevant, 3).collect()}
        assert {r[USER_ID]: r["_value"] for r in values if r[WEIGHTING] == n} == (
            pytest.approx(expected))
    assert {r[USER_ID] for r in values} == {*users, "u9"}   # u9: relevant, never recommended


def test_choose_weights_finds_the_mix_that_validation_rewards(spark: SparkSession) -> None:
    """Planted: ALS ranks one relevant item of each customer first, item-item the other, and
    popularity none; only an even mix puts both in the top 2."""
    users = [f"u{n}" for n in range(20)]
    lists = planted_lists(spark, users, ["{u}-a", "x1", "x2", "x3"], ["{u}-b", "y1", "y2", "y3"])
    relevant = spark.createDataFrame([(u, f"{u}-{s}") for u in users for s in "ab"],
                                     f"{USER_ID} string, {ITEM_ID} string")

    best, results = choose_weights(lists, weight_grid(0.25, THREE), relevant, depth=4, k=2,
                                   tolerance_se=1.0)
    assert len(results) == 15
    by_weights = {w.weights: w for w in results}
    assert by_weights[BlendWeights(0.0, 0.0, 1.0)].score == 0.0
    one_hit = 1 / (1 + 1 / math.log2(3))   # one of two relevant items, at rank 1
    assert by_weights[BlendWeights()].score == pytest.approx(one_hit)
    assert by_weights[BlendWeights(0.0, 1.0, 0.0)].score == pytest.approx(one_hit)
    # 0.5/0.5: each family's hit earns 0.5 and beats the runners-up (0.375); with any other
    # weights on the grid a runner-up or a popular item takes one of the two places
    assert best == BlendWeights(0.5, 0.5, 0.0)
    assert by_weights[best].score == pytest.approx(1.0)
    # every customer gains the same from the mix: a sure gain, kept at any tolerance
    assert by_weights[BlendWeights()].shortfall == pytest.approx(1.0 - one_hit)
    assert by_weights[BlendWeights()].shortfall_se == pytest.approx(0.0)
    assert by_weights[best].shortfall == 0.0


def test_choose_weights_keeps_the_simpler_family_when_the_gain_is_noise(
        spark: SparkSession) -> None:
    """Planted, top 1 of 4: ALS ranks ``a`` then ``c``, item-item ``b`` then ``c``, so ALS
    alone serves ``a`` and an even mix ``c`` (0.75 points against 0.5). ``c`` is what 3 of 20
    customers want, ``a`` what 2 want: the mix scores 0.15 against ALS's 0.10, a gain of
    0.05 whose paired standard error is 0.11 (+1 for three customers, -1 for two)."""
    users = [f"u{n:02d}" for n in range(20)]
    lists = planted_lists(spark, users, ["{u}-a", "{u}-c", "x1", "x2"],
                          ["{u}-b", "{u}-c", "y1", "y2"])
    wanted = {u: "c" if n < 3 else "a" if n < 5 else "nothing" for n, u in enumerate(users)}
    relevant = spark.createDataFrame([(u, f"{u}-{w}") for u, w in wanted.items()],
                                     f"{USER_ID} string, {ITEM_ID} string")

    best, results = choose_weights(lists, weight_grid(0.25, THREE), relevant, depth=4, k=1,
                                   tolerance_se=0.0)
    assert best == BlendWeights(0.5, 0.5, 0.0)   # the top score; the 3-family tie is less simple
    by_weights = {w.weights: w for w in results}
    assert by_weights[BlendWeights(0.5, 0.25, 0.25)].shortfall == pytest.approx(0.0)
    assert by_weights[BlendWeights(0.5, 0.25, 0.25)].shortfall_se is None  # not simpler: moot
    chosen, results = choose_weights(lists, weight_grid(0.25, THREE), relevant, depth=4, k=1,
                                     tolerance_se=1.0)
    assert chosen == BlendWeights()
    als_alone = next(w for w in results if w.weights == BlendWeights())
    assert als_alone.score == pytest.approx(0.10)
    assert als_alone.shortfall == pytest.approx(0.05)
    assert als_alone.shortfall_se == pytest.approx(math.sqrt((5 - 20 * 0.05**2) / 19 / 20))
    # item-item alone falls short by 0.15 (three customers, nobody gains): not within 1 se
    item_item_alone = next(w for w in results if w.weights == BlendWeights(0.0, 1.0, 0.0))
    assert item_item_alone.shortfall == pytest.approx(0.15)
    assert not item_item_alone.within(1.0)
    with pytest.raises(ValueError, match="tolerance"):
        choose_weights(lists, weight_grid(0.5, THREE), relevant, depth=4, k=1, tolerance_se=-1.0)


def test_choose_weights_on_scores_projected_to_the_refits_size(spark: SparkSession) -> None:
    """Planted, top 1, each customer wants one item. Trained on the validation pairs, ALS
    hits 4 of 10 customers and item-item 5; trained on fewer pairs, ALS hits 1 and item-item
    the same 5. Item-item leads as measured (0.5 against 0.4), but ALS is the family that
    gains from more pairs: one step further on (``reach`` 1), the three customers it gained
    count twice (0.7 against 0.5), and ALS is chosen."""
    users = [f"u{n}" for n in range(10)]
    relevant = spark.createDataFrame([(u, f"{u}-hit") for u in users],
                                     f"{USER_ID} string, {ITEM_ID} string")

    def top_1(hits: range) -> DataFrame:
        return ranked(spark, [(u, f"{u}-hit" if n in hits else "junk", 1)
                              for n, u in enumerate(users)])

    measured = {"als": top_1(range(4)), "item_item": top_1(range(4, 9))}
    fewer = {"als": top_1(range(1)), "item_item": top_1(range(4, 9))}
    grid = [BlendWeights(), BlendWeights(0.0, 1.0, 0.0)]
    chosen, results = choose_weights(measured, grid, relevant, depth=1, k=1)
    assert chosen == BlendWeights(0.0, 1.0, 0.0)
    assert [w.score for w in results] == pytest.approx([0.4, 0.5])
    chosen, results = choose_weights(measured, grid, relevant, depth=1, k=1, thinned=fewer,
                                     reach=1.0)
    assert chosen == BlendWeights()
    assert [w.score for w in results] == pytest.approx([0.7, 0.5])
