"""Pure transforms behind ``lakerec recommend``: who gets recommendations, the fallbacks for
cold customers, content similarity for new items, business rules, explanations.

Sources of a recommendation (column ``source``):

* ``als``: top items of the champion ALS model (score: predicted preference);
* ``content``: an item with no interactions, scored through factors borrowed from the known
  items most similar to it by category, price band and title words;
* ``segment_popular`` / ``popular``: most popular items of the customer's segment, or of
  everyone when the customer has no segment (score: share of customers who interacted).

ALS and content candidates come first, in score order; popular ones fill what remains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.schemas import (
    CATEGORY,
    EVENT_TS,
    EVENT_TYPE,
    FACTOR_FEATURES,
    GAP_REASON,
    ITEM_ID,
    ITEM_IDX,
    PRICE,
    RANK,
    REASON_ITEM_ID,
    RUN_DATE,
    SCORE,
    SEGMENT_ID,
    SIMILAR_ITEM_ID,
    SIMILARITY,
    SOURCE,
    TITLE,
    USER_ID,
    USER_IDX,
)

TOKEN = "token"
NEIGHBOUR = "neighbour_id"
GLOBAL_SEGMENT = -1  # segment id under which global popularity is listed
MIN_TITLE_WORD = 3   # shorter title words ("of", "a") carry no signal
PURCHASE = "purchase"


def active_users(events: DataFrame, *, run_date: date, window_days: int) -> DataFrame:
    """``(user_id)`` of customers with an event in the ``window_days`` before ``run_date``."""
    start = F.date_sub(F.lit(run_date), window_days)
    return (events.where((F.col(EVENT_TS) >= start.cast("timestamp"))
                         & (F.col(EVENT_TS) < F.lit(run_date).cast("timestamp")))
            .select(USER_ID).distinct())


def history_items(events: DataFrame) -> DataFrame:
    """``(user_id, item_id)`` explaining recommendations: what the customer bought, or, for
    customers without purchases, every item they interacted with."""
    bought = events.where(F.col(EVENT_TYPE) == PURCHASE).select(USER_ID, ITEM_ID).distinct()
    others = (events.select(USER_ID, ITEM_ID).distinct()
              .join(bought.select(USER_ID).distinct(), USER_ID, "left_anti"))
    return bought.unionByName(others)


# --- content similarity -------------------------------------------------------------------
def content_tokens(items: DataFrame) -> DataFrame:
    """``(item_id, token)``: category, price band (powers of two) and title words."""
    category = F.concat(F.lit("category:"), F.lower(F.col(CATEGORY)))
    band = F.concat(F.lit("price:"), F.floor(F.log2(F.greatest(F.col(PRICE), F.lit(0.01))))
                    .cast("int").cast("string"))
    words = F.transform(
        F.filter(F.split(F.lower(F.coalesce(F.col(TITLE), F.lit(""))), "[^a-z0-9]+"),
                 lambda w: (F.length(w) >= MIN_TITLE_WORD) & ~w.rlike("^[0-9]+$")),
        lambda w: F.concat(F.lit("word:"), w))
    tokens = F.array_distinct(F.concat(
        F.array(category, band), words))
    return (items.select(ITEM_ID, F.explode(tokens).alias(TOKEN))
            .where(F.col(TOKEN).isNotNull()).distinct())


def content_neighbours(new_tokens: DataFrame, known_tokens: DataFrame, n: int) -> DataFrame:
    """``(item_id, neighbour_id, similarity)``: the ``n`` known items closest to each new one.

    Similarity is the cosine of binary token vectors: shared tokens / sqrt(|a| |b|).
    """
    sizes_new = new_tokens.groupBy(ITEM_ID).agg(F.count("*").alias("_na"))
    sizes_known = (known_tokens.groupBy(ITEM_ID).agg(F.count("*").alias("_nb"))
                   .withColumnRenamed(ITEM_ID, NEIGHBOUR))
    shared = (new_tokens.join(known_tokens.withColumnRenamed(ITEM_ID, NEIGHBOUR), TOKEN)
              .groupBy(ITEM_ID, NEIGHBOUR).agg(F.count("*").alias("_shared")))
    scored = (shared.join(sizes_new, ITEM_ID).join(sizes_known, NEIGHBOUR)
              .withColumn(SIMILARITY, F.col("_shared") / F.sqrt(F.col("_na") * F.col("_nb"))))
    best = Window.partitionBy(ITEM_ID).orderBy(F.col(SIMILARITY).desc(), F.col(NEIGHBOUR))
    return (scored.withColumn("_n", F.row_number().over(best)).where(F.col("_n") <= n)
            .select(ITEM_ID, NEIGHBOUR, SIMILARITY))


def borrowed_factors(neighbours: DataFrame, known_factors: DataFrame) -> DataFrame:
    """``(item_id, features)`` of new items: the similarity-weighted mean of their
    neighbours' factors, rescaled to the neighbours' mean length (a plain mean is shorter,
    and would never make a top k).

    ``known_factors`` holds ``(item_id, features)``.
    """
    joined = neighbours.join(known_factors.withColumnRenamed(ITEM_ID, NEIGHBOUR), NEIGHBOUR)
    norm = F.sqrt(F.aggregate(F.col(FACTOR_FEATURES), F.lit(0.0), lambda a, x: a + x * x))
    exploded = joined.select(ITEM_ID, SIMILARITY, norm.alias("_norm"),
                             F.posexplode(FACTOR_FEATURES).alias("_pos", "_x"))
    per_dim = (exploded.groupBy(ITEM_ID, "_pos")
               .agg((F.sum(F.col(SIMILARITY) * F.col("_x")) / F.sum(SIMILARITY)).alias("_x"),
                    (F.sum(F.col(SIMILARITY) * F.col("_norm")) / F.sum(SIMILARITY))
                    .alias("_target")))
    vectors = per_dim.groupBy(ITEM_ID).agg(
        F.sort_array(F.collect_list(F.struct("_pos", "_x"))).alias("_v"),
        F.first("_target").alias("_target"))
    raw = F.transform(F.col("_v"), lambda s: s["_x"])
    length = F.sqrt(F.aggregate(raw, F.lit(0.0), lambda a, x: a + x * x))
    return vectors.select(ITEM_ID, F.transform(
        raw, lambda x: (x * F.col("_target") / F.greatest(length, F.lit(1e-12))).cast("float"))
        .alias(FACTOR_FEATURES))


# --- factors: similarity and explanations --------------------------------------------------
def normalised(factors: DataFrame) -> DataFrame:
    """Factors scaled to unit length, so that dot products are cosines."""
    length = F.sqrt(F.aggregate(F.col(FACTOR_FEATURES), F.lit(0.0), lambda a, x: a + x * x))
    return factors.withColumn(FACTOR_FEATURES, F.transform(
        F.col(FACTOR_FEATURES), lambda x: (x / F.greatest(length, F.lit(1e-12))).cast("float")))


def _dot(a: Column, b: Column) -> Column:
    return F.aggregate(F.zip_with(a, b, lambda x, y: x * y), F.lit(0.0), lambda s, v: s + v)


def with_reason_item(recommendations: DataFrame, history: DataFrame,
                     item_factors: DataFrame) -> DataFrame:
    """Add ``reason_item_id``: the customer's history item whose factors are closest (cosine)
    to the recommended item's; null for rows without factors or history.

    ``item_factors`` holds ``(item_id, features)``, any length (normalised here).
    """
    unit = normalised(item_factors)
    rec_vec = unit.select(F.col(ITEM_ID), F.col(FACTOR_FEATURES).alias("_rv"))
    hist_vec = unit.select(F.col(ITEM_ID).alias("_hist"), F.col(FACTOR_FEATURES).alias("_hv"))
    keys = recommendations.select(USER_ID, ITEM_ID).distinct()
    reasons = (keys.join(rec_vec, ITEM_ID)
               .join(history.withColumnRenamed(ITEM_ID, "_hist"), USER_ID)
               .join(hist_vec, "_hist")
               .where(F.col("_hist") != F.col(ITEM_ID))
               .groupBy(USER_ID, ITEM_ID)
               .agg(F.max_by("_hist", F.struct(_dot(F.col("_rv"), F.col("_hv")),
                                                F.col("_hist"))).alias(REASON_ITEM_ID)))
    return recommendations.join(reasons, [USER_ID, ITEM_ID], "left")


def similar_items_from_scores(scored: DataFrame, item_index: DataFrame) -> DataFrame:
    """``gold.similar_items`` rows from blocked scores of unit item factors against
    themselves (``user_idx`` = the item, ``item_idx`` = its neighbour)."""
    ids = item_index.select(F.col(ITEM_IDX).alias("_i"), F.col(ITEM_ID).alias("_id"))
    return (scored.join(ids.withColumnRenamed("_i", USER_IDX), USER_IDX)
            .withColumnRenamed("_id", ITEM_ID)
            .join(ids.withColumnRenamed("_i", ITEM_IDX), ITEM_IDX)
            .select(ITEM_ID, F.col("_id").alias(SIMILAR_ITEM_ID), F.col(RANK).cast("int"),
                    F.col(SCORE).alias(SIMILARITY)))


# --- popularity for cold customers ---------------------------------------------------------
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
                                F.when(has_segment, "segment_popular").otherwise("popular")
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
        source. Model sources (``als``, ``content``) come before popularity ones.
    items
        ``(item_id, category, in_stock)``: out-of-stock items are never recommended; items
        without a category have no category cap.
    excluded_pairs
        ``(user_id, item_id)`` never to recommend (what the customer bought).
    excluded_items
        Item ids never recommended (business rule).
    """
    priority = F.when(F.col(SOURCE).isin("als", "content"), 0).otherwise(1)
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


def candidate_depth(k: int, max_per_category: int) -> int:
    """Candidates to score per user so that ``k`` survive exclusions and the category cap."""
    return k * max(3, math.ceil(k / max_per_category))
