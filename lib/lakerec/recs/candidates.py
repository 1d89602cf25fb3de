"""Pure transforms behind ``lakerec recommend``: who gets recommendations, the fallbacks for
cold customers, business rules and gaps (content similarity: :mod:`lakerec.recs.content`).

Sources of a recommendation (column ``source``):

* ``als``: top items of the champion ALS model (score: predicted preference);
* ``item_item`` / ``blend``: top items of a champion that is item-item collaborative
  filtering, or a blend of ALS, item-item and popularity (score: blended rank points,
  :mod:`lakerec.recs.blend`);
* ``content``: an item with no interactions, scored through factors borrowed from the known
  items most similar to it by category, price band and title words;
* ``segment_popular`` / ``popular``: most popular items of the customer's segment, or of
  everyone when the customer has no segment (score: share of customers who interacted).

Model candidates come first, in score order; popular ones fill what remains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.schemas import (
    CATEGORY,
    EVENT_TS,
    EVENT_TYPE,
    GAP_REASON,
    ITEM_ID,
    MODEL_SOURCES,
    OPTED_OUT_REASON,
    RANK,
    RUN_DATE,
    SCORE,
    SEGMENT_ID,
    SOURCE,
    USER_ID,
    EventType,
    Source,
)

GLOBAL_SEGMENT = -1  # segment id under which global popularity is listed


def active_users(events: DataFrame, *, run_date: date, window_days: int) -> DataFrame:
    """``(user_id)`` of customers with an event in the ``window_days`` before ``run_date``."""
    start = F.date_sub(F.lit(run_date), window_days)
    return (events.where((F.col(EVENT_TS) >= start.cast("timestamp"))
                         & (F.col(EVENT_TS) < F.lit(run_date).cast("timestamp")))
            .select(USER_ID).distinct())


def history_items(events: DataFrame) -> DataFrame:
    """``(user_id, item_id)`` explaining recommendations: what the customer bought, or, for
    customers without purchases, every item they interacted with."""
    bought = (events.where(F.col(EVENT_TYPE) == EventType.PURCHASE)
              .select(USER_ID, ITEM_ID).distinct())
    others = (events.select(USER_ID, ITEM_ID).distinct()
              .join(bought.select(USER_ID).distinct(), USER_ID, "left_anti"))
    return bought.unionByName(others)


# --- content similarity -------------------------------------------------------------------
def popular_by_segment(interactions: DataFrame, segments: DataFrame | None, top: int) -> DataFrame:
    """``(segment_id, item_id, score, rank)``: the ``top`` items with the largest share of a
    segment's customers, plus global popularity under segment id ``GLOBAL_SEGMENT``.

    ``interactions`` holds ``(user_id, item_id)``; ``segments`` ``(user_id, segment_id)``.
    """
    pairs = interactions.select(USER_ID, ITEM_ID).distinct()
    grouped = pairs.withColumn(SEGMENT_ID, F.lit(GLOBAL_SEGMENT))
    if segments is not None:
        grouped = grouped.unionByName(pairs.join(segments.select(USER_ID, SEGMENT_ID), USER_ID))
    sizes = grouped.groupBy(SEGMENT_ID).agg(F.countDistinct(USER_ID).alias("_size"))
    counts = (grouped.groupBy(SEGMENT_ID, ITEM_ID).agg(F.count("*").alias("_n"))
              .join(sizes, SEGMENT_ID)
              .withColumn(SCORE, F.col("_n") / F.col("_size")))
    order = Window.partitionBy(SEGMENT_ID).orderBy(F.col(SCORE).desc(), F.col(ITEM_ID))
    return (counts.withColumn(RANK, F.row_number().over(order)).where(F.col(RANK) <= top)
            .select(SEGMENT_ID, ITEM_ID, SCORE, RANK))


def popular_candidates(users: DataFrame, segments: DataFrame | None,
                       popular: DataFrame) -> DataFrame:
    """``(user_id, item_id, score, rank, source)``: popular items of each user's segment
    (``segment_popular``), or global ones (``popular``) for users without a segment."""
    with_segment = users.select(USER_ID)
    if segments is not None:
        with_segment = with_segment.join(segments.select(USER_ID, SEGMENT_ID), USER_ID, "left")
    else:
        with_segment = with_segment.withColumn(SEGMENT_ID, F.lit(None).cast("int"))
    has_segment = F.col(SEGMENT_ID).isNotNull()
    keyed = with_segment.select(USER_ID, F.coalesce(F.col(SEGMENT_ID), F.lit(GLOBAL_SEGMENT))
                                .alias(SEGMENT_ID),
                                F.when(has_segment, Source.SEGMENT_POPULAR)
                                .otherwise(Source.POPULAR)
                                .alias(SOURCE))
    return keyed.join(popular, SEGMENT_ID).select(USER_ID, ITEM_ID, SCORE, RANK, SOURCE)


# --- assembling the final lists -------------------------------------------------------------
def final_recommendations(candidates: DataFrame, *, items: DataFrame, excluded_pairs: DataFrame,
                          excluded_items: Sequence[str], k: int,
                          max_per_category: int) -> DataFrame:
    """The first ``k`` eligible candidates per user, ranked 1..k.

    Parameters
    ----------
    candidates
        ``(user_id, item_id, score, rank, source)``; ``rank`` orders candidates within a
        source. Model sources (``als``, ``content``, ``item_item``, ``blend``) come before
        popularity ones.
    items
        ``(item_id, category, in_stock)``: out-of-stock items are never recommended; items
        without a category have no category cap.
    excluded_pairs
        ``(user_id, item_id)`` never to recommend (what the customer bought).
    excluded_items
        Item ids never recommended (business rule).
    """
    priority = F.when(F.col(SOURCE).isin(*MODEL_SOURCES), 0).otherwise(1)
    order = [priority, F.col(RANK), F.col(ITEM_ID)]
    eligible = (candidates
                .join(excluded_pairs.select(USER_ID, ITEM_ID), [USER_ID, ITEM_ID], "left_anti")
                .join(items.where("in_stock").select(ITEM_ID, CATEGORY), ITEM_ID)
                .where(~F.col(ITEM_ID).isin(list(excluded_items))))
    first_of_item = Window.partitionBy(USER_ID, ITEM_ID).orderBy(*order)
    capped = Window.partitionBy(USER_ID, F.coalesce(F.col(CATEGORY), F.col(ITEM_ID))).orderBy(
        *order)
    final = Window.partitionBy(USER_ID).orderBy(*order)
    return (eligible
            .withColumn("_dup", F.row_number().over(first_of_item)).where("_dup = 1")
            .withColumn("_in_cat", F.row_number().over(capped))
            .where(F.col("_in_cat") <= max_per_category)
            .withColumn("_final", F.row_number().over(final)).where(F.col("_final") <= k)
            .select(USER_ID, F.col("_final").cast("int").alias(RANK), ITEM_ID,
                    F.col(SCORE).cast("double").alias(SCORE), SOURCE))


def recommendation_gaps(users: DataFrame, recommendations: DataFrame, *, k: int,
                        run_date: date) -> DataFrame:
    """``(user_id, run_date, reason)`` for users with fewer than ``k`` recommendations."""
    counts = recommendations.groupBy(USER_ID).agg(F.count("*").alias("_n"))
    n = F.coalesce(F.col("_n"), F.lit(0))
    return (users.select(USER_ID).distinct().join(counts, USER_ID, "left").where(n < k)
            .select(USER_ID, F.lit(run_date).alias(RUN_DATE),
                    F.concat(F.lit("only "), n.cast("string"),
                             F.lit(f" of {k} eligible items left after excluding bought, "
                                   "out-of-stock and excluded items and the category cap"))
                    .alias(GAP_REASON)))


def opted_out_gaps(opted_out: DataFrame, *, run_date: date) -> DataFrame:
    """``(user_id, run_date, reason)`` for customers left out for want of marketing consent."""
    return opted_out.select(USER_ID, F.lit(run_date).alias(RUN_DATE),
                            F.lit(OPTED_OUT_REASON).alias(GAP_REASON))


def candidate_depth(k: int, max_per_category: int) -> int:
    """Candidates to score per user so that ``k`` survive exclusions and the category cap."""
    return k * max(3, math.ceil(k / max_per_category))
