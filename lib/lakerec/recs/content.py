"""Content similarity behind ``lakerec recommend``: items with no interactions placed among
the known ones by category, price band and title words, and the explanation of each
factor-model pick by the customer's own most similar past item.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.schemas import (
    CATEGORY,
    FACTOR_FEATURES,
    ITEM_ID,
    ITEM_IDX,
    PRICE,
    RANK,
    REASON_ITEM_ID,
    SCORE,
    SIMILAR_ITEM_ID,
    SIMILARITY,
    TITLE,
    USER_ID,
    USER_IDX,
)

TOKEN = "token"
NEIGHBOUR = "neighbour_id"
MIN_TITLE_WORD = 3   # shorter title words ("of", "a") carry no signal


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
