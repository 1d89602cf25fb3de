"""The popularity baseline every model must beat."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.schemas import ITEM_ID, RANK, SCORE, USER_ID
from lakerec.recs.metrics import require_columns


def item_popularity(train: DataFrame, *, item_col: str = ITEM_ID,
                    weight_col: str | None = None) -> DataFrame:
    """``item_col``, ``score``, ``rank``: items by popularity, most popular first.

    The score is the number of rows of the item (or the sum of ``weight_col``); the
    global rank breaks ties by item id, so it is deterministic.
    """
    require_columns(train, "training interactions", item_col,
                    *((weight_col,) if weight_col else ()))
    weight = F.col(weight_col).cast("double") if weight_col else F.lit(1.0)
    scored = train.groupBy(item_col).agg(F.sum(weight).alias(SCORE))
    # One window over all items: the catalogue is small enough for one partition.
    return scored.withColumn(RANK, F.row_number().over(
        Window.orderBy(F.col(SCORE).desc(), F.col(item_col))))


def popularity_top_k(train: DataFrame, users: DataFrame, k: int, *, exclude_seen: bool = True,
                     user_col: str = USER_ID, item_col: str = ITEM_ID,
                     weight_col: str | None = None) -> DataFrame:
    """The k most popular items of ``train`` for every user of ``users``.

    Returns
    -------
    DataFrame
        ``user_col``, ``item_col``, ``rank`` (1..k), ``score`` (the item's popularity).
        With ``exclude_seen``, items the user has in ``train`` are skipped and the next
        popular ones move up; a user who has seen nearly everything gets fewer than k rows.

    Notes
    -----
    Without a cross join of users and the whole catalogue: user u can only need the first
    ``k + seen(u)`` items of the global ranking, so each user is paired with exactly those
    positions (an equi-join on the global rank), then its seen items are dropped.
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    require_columns(train, "training interactions", user_col, item_col)
    require_columns(users, "users to recommend for", user_col)
    ranked = item_popularity(train, item_col=item_col, weight_col=weight_col)
    targets = users.select(user_col).distinct()
    if not exclude_seen:
        return (targets.crossJoin(F.broadcast(ranked.where(F.col(RANK) <= k)))
                .select(user_col, item_col, F.col(RANK).cast("int").alias(RANK), SCORE))

    seen = train.select(user_col, item_col).distinct()
    seen_counts = seen.groupBy(user_col).agg(F.count("*").alias("_seen"))
    positions = (targets.join(seen_counts, user_col, "left")
                 .select(user_col, F.explode(F.sequence(
                     F.lit(1), F.lit(k) + F.coalesce(F.col("_seen"), F.lit(0)).cast("int")))
                     .alias(RANK)))
    candidates = (positions.join(ranked, RANK, "inner")
                  .join(seen, [user_col, item_col], "left_anti"))
    by_user = Window.partitionBy(user_col).orderBy(F.col(RANK))
    return (candidates.withColumn("_user_rank", F.row_number().over(by_user))
            .where(F.col("_user_rank") <= k)
            .select(user_col, item_col, F.col("_user_rank").cast("int").alias(RANK), SCORE))
