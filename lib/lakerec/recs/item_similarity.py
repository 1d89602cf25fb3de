"""Item-item collaborative filtering in the manner of SAR (Smart Adaptive Recommendations):
co-occurrence of items in customers' histories, turned into a similarity, scored against each
customer's (time-decayed) affinities. Pure DataFrame transforms; it scales by joins.

* co-occurrence ``C[i, j]``: customers who interacted with both ``i`` and ``j`` (``C[i, i]``
  is the item's own count of customers);
* similarity ``S[i, j]``, by ``metric``:
  ``jaccard`` = ``C[i, j] / (C[i, i] + C[j, j] - C[i, j])``,
  ``lift`` = ``C[i, j] / (C[i, i] * C[j, j])``,
  ``cooccurrence`` = ``C[i, j]``; pairs seen together by fewer than ``min_cooccurrence``
  customers get no similarity;
* score of item ``j`` for customer ``u``: ``sum over i of A[u, i] * S[i, j]``, where the
  affinity ``A[u, i]`` is the pair's confidence (weights and time decay of
  :func:`lakerec.recs.interactions.event_confidence`).

Notes
-----
The co-occurrence is a self-join of the (customer, item) pairs on the customer: its size is
the sum over customers of their number of items squared, so a few customers with thousands
of items dominate it. ``max_items_per_user`` keeps each customer's most confident items only.
"""

from __future__ import annotations

from typing import get_args

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.schemas import (
    CONFIDENCE,
    ITEM_ID,
    RANK,
    SCORE,
    SIMILAR_ITEM_ID,
    SIMILARITY,
    USER_ID,
)
from lakerec.core.settings import SimilarityMetric

SIMILARITY_METRICS: tuple[str, ...] = get_args(SimilarityMetric)
COOCCURRENCE = "cooccurrence"


def item_cooccurrence(interactions: DataFrame, *,
                      max_items_per_user: int | None = None) -> DataFrame:
    """``(item_id, similar_item_id, cooccurrence)`` for every pair of items some customer
    shares, the diagonal included."""
    pairs = interactions.select(USER_ID, ITEM_ID, CONFIDENCE).distinct()
    if max_items_per_user is not None:
        best = Window.partitionBy(USER_ID).orderBy(F.col(CONFIDENCE).desc(), F.col(ITEM_ID))
        pairs = pairs.withColumn("_n", F.row_number().over(best)).where(
            F.col("_n") <= max_items_per_user)
    left = pairs.select(USER_ID, F.col(ITEM_ID).alias("_i"))
    right = pairs.select(USER_ID, F.col(ITEM_ID).alias("_j"))
    return (left.join(right, USER_ID).groupBy("_i", "_j").agg(F.count("*").alias(COOCCURRENCE))
            .select(F.col("_i").alias(ITEM_ID), F.col("_j").alias(SIMILAR_ITEM_ID),
                    F.col(COOCCURRENCE).cast("double").alias(COOCCURRENCE)))


def item_similarity(cooccurrence: DataFrame, *, metric: str = "jaccard",
                    min_cooccurrence: int = 1, neighbours: int | None = None) -> DataFrame:
    """``(item_id, similar_item_id, similarity)`` from :func:`item_cooccurrence` (see the
    module docstring for the metrics).

    ``neighbours`` keeps each item's most similar other items only (item-kNN): scoring then
    joins each affinity with at most that many rows, instead of every co-occurring item.
    The diagonal goes with it (an item's similarity to itself only scores items the
    customer has, which are never recommended).

    Raises
    ------
    ValueError
        For a metric not in :data:`SIMILARITY_METRICS` or a threshold below 1.
    """
    if metric not in SIMILARITY_METRICS:
        raise ValueError(f"similarity metric must be one of {SIMILARITY_METRICS}, got {metric!r}")
    if min_cooccurrence < 1:
        raise ValueError(f"min_cooccurrence must be at least 1, got {min_cooccurrence}")
    if neighbours is not None and neighbours < 1:
        raise ValueError(f"neighbours must be at least 1, got {neighbours}")
    own = cooccurrence.where(F.col(ITEM_ID) == F.col(SIMILAR_ITEM_ID)).select(
        F.col(ITEM_ID).alias("_item"), F.col(COOCCURRENCE).alias("_own"))
    together = F.col(COOCCURRENCE)
    with_counts = (cooccurrence.where(together >= min_cooccurrence)
                   .join(own.withColumnRenamed("_own", "_own_i"),
                         F.col(ITEM_ID) == F.col("_item")).drop("_item")
                   .join(own.withColumnRenamed("_own", "_own_j"),
                         F.col(SIMILAR_ITEM_ID) == F.col("_item")).drop("_item"))
    similarity = {
        "jaccard": together / (F.col("_own_i") + F.col("_own_j") - together),
        "lift": together / (F.col("_own_i") * F.col("_own_j")),
        "cooccurrence": together,
    }[metric]
    similar = with_counts.select(ITEM_ID, SIMILAR_ITEM_ID, similarity.alias(SIMILARITY))
    if neighbours is None:
        return similar
    nearest = Window.partitionBy(ITEM_ID).orderBy(F.col(SIMILARITY).desc(),
                                                  F.col(SIMILAR_ITEM_ID))
    return (similar.where(F.col(ITEM_ID) != F.col(SIMILAR_ITEM_ID))
            .withColumn("_n", F.row_number().over(nearest))
            .where(F.col("_n") <= neighbours).drop("_n"))


def item_similarity_top_k(interactions: DataFrame, similarity: DataFrame, k: int, *,
                          users: DataFrame | None = None,
                          exclude_seen: bool = True) -> DataFrame:
    """Top-k ``(user_id, item_id, score, rank)``: each customer's affinities times the item
    similarities, summed per candidate item; items the customer already has are skipped.

    ``users`` restricts scoring to those customers (``user_id``); ties break by item id.
    """
    affinity = interactions.select(USER_ID, ITEM_ID, F.col(CONFIDENCE).alias("_a"))
    if users is not None:
        affinity = affinity.join(users.select(USER_ID).distinct(), USER_ID)
    scored = (affinity.join(similarity, ITEM_ID)
              .groupBy(USER_ID, F.col(SIMILAR_ITEM_ID).alias(ITEM_ID))
              .agg(F.sum(F.col("_a") * F.col(SIMILARITY)).alias(SCORE)))
    if exclude_seen:
        scored = scored.join(affinity.select(USER_ID, ITEM_ID), [USER_ID, ITEM_ID], "left_anti")
    order = Window.partitionBy(USER_ID).orderBy(F.col(SCORE).desc(), F.col(ITEM_ID))
    return (scored.where(F.col(SCORE) > 0).withColumn(RANK, F.row_number().over(order))
            .where(F.col(RANK) <= k).select(USER_ID, ITEM_ID, SCORE, RANK))


def item_item_top_k(interactions: DataFrame, k: int, *, users: DataFrame | None = None,
                    metric: str = "jaccard", min_cooccurrence: int = 1,
                    max_items_per_user: int | None = None,
                    neighbours: int | None = None) -> DataFrame:
    """Item-item recommendations from ``interactions`` ``(user_id, item_id, confidence)``
    alone: :func:`item_cooccurrence`, then :func:`item_similarity`, then
    :func:`item_similarity_top_k` (see each for the arguments)."""
    similarity = item_similarity(
        item_cooccurrence(interactions, max_items_per_user=max_items_per_user),
        metric=metric, min_cooccurrence=min_cooccurrence, neighbours=neighbours)
    return item_similarity_top_k(interactions, similarity, k, users=users)
