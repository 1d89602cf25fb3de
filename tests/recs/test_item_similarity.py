"""Item-item similarity (SAR-style) on a hand-computed example.

Customers: u1 {a, b}, u2 {a, b, c}, u3 {b, c}, u4 {d}. Co-occurrence: a 2, b 3, c 2, d 1;
a-b 2, a-c 1, b-c 2. Jaccard: a-b 2/3, a-c 1/3, b-c 2/3; lift: a-b 1/3, a-c 1/4, b-c 1/3.
"""

from __future__ import annotations

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakerec.core.schemas import ITEM_ID, RANK, SCORE, SIMILAR_ITEM_ID, SIMILARITY, USER_ID
from lakerec.recs.item_similarity import (
    item_cooccurrence,
    item_similarity,
    item_similarity_top_k,
)

HISTORY = {"u1": "ab", "u2": "abc", "u3": "bc", "u4": "d"}


def interactions(spark: SparkSession, affinity: dict[tuple[str, str], float] | None = None
                 ) -> DataFrame:
    rows = [(user, item, (affinity or {}).get((user, item), 1.0))
            for user, items in HISTORY.items() for item in items]
    return spark.createDataFrame(rows, "user_id string, item_id string, confidence double")


def similarities(df: DataFrame) -> dict[tuple[str, str], float]:
    return {(r[ITEM_ID], r[SIMILAR_ITEM_ID]): r[SIMILARITY] for r in df.collect()}


def test_cooccurrence_and_similarity_metrics(spark: SparkSession) -> None:
    co = item_cooccurrence(interactions(spark))
    counts = {(r[ITEM_ID], r[SIMILAR_ITEM_ID]): r["cooccurrence"] for r in co.collect()}
    assert counts[("a", "a")] == 2 and counts[("b", "b")] == 3 and counts[("d", "d")] == 1
    assert counts[("a", "b")] == counts[("b", "a")] == 2 and counts[("a", "c")] == 1
    assert ("a", "d") not in counts

    jaccard = similarities(item_similarity(co, metric="jaccard"))
    assert jaccard[("a", "b")] == pytest.approx(2 / 3)
    assert jaccard[("a", "c")] == pytest.approx(1 / 3)
    assert jaccard[("b", "c")] == pytest.approx(2 / 3)
    assert jaccard[("a", "a")] == pytest.approx(1.0)
    lift = similarities(item_similarity(co, metric="lift"))
    assert lift[("a", "b")] == pytest.approx(1 / 3)
    assert lift[("a", "c")] == pytest.approx(1 / 4)
    assert lift[("c", "b")] == pytest.approx(1 / 3)
    supported = similarities(item_similarity(co, metric="jaccard", min_cooccurrence=2))
    assert ("a", "c") not in supported and ("a", "b") in supported
    # one neighbour each: b's nearest other item is a (2/3, ties broken by id), c's is b
    nearest = similarities(item_similarity(co, metric="jaccard", neighbours=1))
    assert nearest == {("a", "b"): pytest.approx(2 / 3), ("b", "a"): pytest.approx(2 / 3),
                       ("c", "b"): pytest.approx(2 / 3)}
    with pytest.raises(ValueError, match="metric"):
        item_similarity(co, metric="cosine")


def test_scores_are_affinity_times_similarity_without_seen_items(spark: SparkSession) -> None:
    data = interactions(spark, {("u1", "a"): 2.0})
    similarity = item_similarity(item_cooccurrence(data), metric="jaccard")
    top = {(r[USER_ID], r[ITEM_ID]): (r[SCORE], r[RANK])
           for r in item_similarity_top_k(data, similarity, 5).collect()}
    # u1 holds a (affinity 2) and b (1): c scores 2 x 1/3 + 1 x 2/3
    assert top[("u1", "c")] == (pytest.approx(4 / 3), 1)
    # u3 holds b and c: a scores 2/3 + 1/3
    assert top[("u3", "a")] == (pytest.approx(1.0), 1)
    assert not [key for key in top if key[0] in ("u2", "u4")]   # nothing unseen to offer
    only_u1 = item_similarity_top_k(data, similarity, 5,
                                    users=spark.createDataFrame([("u1",)], "user_id string"))
    assert {r[USER_ID] for r in only_u1.collect()} == {"u1"}
