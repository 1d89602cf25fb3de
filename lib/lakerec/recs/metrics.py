"""Offline evaluation of top-k recommendations, computed in Spark.

Accuracy metrics are Spark aggregations; only the final scalars reach the driver. The
metrics of exposure (coverage, Gini, novelty, long tail) are computed on the driver from
per-item counts (:func:`item_exposure`, :func:`item_counts`): one row per catalogue item at
most. Inputs are
long frames: ``recommended`` holds one row per (user, item) with its 1-based ``rank``
(each item at most once per user), ``relevant`` one row per (user, item) the user
actually interacted with in the test period (duplicates are ignored).

Definitions (``R_u@k``: the user's recommendations with rank <= k, ``T_u``: their
relevant items, ``hit``: an item of ``R_u@k`` in ``T_u``), each averaged over the users
with at least one relevant item (users without recommendations count as zero):

- ``precision@k = |R_u@k ∩ T_u| / k``
- ``recall@k = |R_u@k ∩ T_u| / |T_u|``
- ``ndcg@k = DCG / IDCG`` with ``DCG = sum over hits of 1 / log2(rank + 1)`` and
  ``IDCG = sum_{i=1}^{min(|T_u|, k)} 1 / log2(i + 1)`` (binary relevance)
- ``map@k = (sum over hits of precision@rank) / min(|T_u|, k)``

Beyond accuracy (see the functions): catalog coverage, novelty, intra-list diversity, and
popularity bias: the Gini coefficient of item exposure and the long-tail share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.errors import InputError, MissingColumnError
from lakerec.core.schemas import CATEGORY, INTERACTIONS, ITEM_ID, RANK, USER_ID

METRICS = ("precision", "recall", "ndcg", "map")
EXPOSURE = "_exposure"    # top-k slots of an item (:func:`item_exposure`)
DIVERSITY = "_diversity"  # a user's intra-list diversity (:func:`diversity_per_user`)


def require_columns(df: DataFrame, what: str, *columns: str) -> None:
    """Raise :class:`MissingColumnError` for the first of ``columns`` ``df`` lacks."""
    for column in columns:
        if column not in df.columns:
            raise MissingColumnError(what, column)


def ideal_dcg(n: int) -> float:
    """DCG of a list whose first ``n`` items are all relevant."""
    return sum(1.0 / math.log2(i + 1) for i in range(1, n + 1))


def _checked_ks(ks: Sequence[int]) -> list[int]:
    checked = sorted(set(ks))
    if not checked or checked[0] < 1:
        raise ValueError(f"ks must be positive cut-offs, got {list(ks)}")
    return checked


def ranking_metrics(recommended: DataFrame, relevant: DataFrame, *,
                    ks: Sequence[int] = (5, 10, 20), user_col: str = USER_ID,
                    item_col: str = ITEM_ID, rank_col: str = RANK) -> dict[str, float]:
    """precision, recall, NDCG and MAP at every cut-off of ``ks``, in one Spark job.

    Returns
    -------
    dict
        Keys ``"precision@10"``, ``"recall@10"``, ``"ndcg@10"``, ``"map@10"``, ... for each
        k in ``ks``.

    Raises
    ------
    InputError
        When ``relevant`` holds no user: there is nothing to evaluate.
    """
    cutoffs = _checked_ks(ks)
    per_user = _per_user(recommended, relevant, cutoffs, user_col, item_col, rank_col)
    row = per_user.agg(F.count("*").alias("users"), *_averages(cutoffs)).first()
    if row is None or not row["users"]:
        raise InputError("relevant items hold no user: nothing to evaluate")
    return {name: float(value) for name, value in row.asDict().items() if name != "users"}


def ndcg_per_user(recommended: DataFrame, relevant: DataFrame, k: int, *,
                  user_col: str = USER_ID, item_col: str = ITEM_ID,
                  rank_col: str = RANK) -> DataFrame:
    """``(user_col, ndcg)``: each user's NDCG@``k``, one row per user with a relevant item
    (0 when none is recommended); :func:`ranking_metrics`'s ``ndcg@k`` is their mean."""
    cutoffs = _checked_ks((k,))
    per_user = _per_user(recommended, relevant, cutoffs, user_col, item_col, rank_col)
    return per_user.select(user_col, (F.col(f"_dcg_{k}") / _ideal_dcg_of(k)).alias("ndcg"))


def ranking_metrics_by_group(recommended: DataFrame, relevant: DataFrame, groups: DataFrame,
                             *, group_col: str, ks: Sequence[int] = (10,),
                             user_col: str = USER_ID, item_col: str = ITEM_ID,
                             rank_col: str = RANK) -> dict[object, dict[str, float]]:
    """:func:`ranking_metrics` per group of users (for example per customer segment), in one
    Spark job: ``{group: {"ndcg@10": ..., ...}}``. ``groups`` holds ``(user_col, group_col)``;
    users in no group are left out, groups with no relevant user are absent."""
    require_columns(groups, "user groups", user_col, group_col)
    per_user = per_user_counts(recommended, relevant, ks, user_col=user_col,
                               item_col=item_col, rank_col=rank_col)
    return averages_by(per_user.join(groups.select(user_col, group_col)
                                     .dropDuplicates([user_col]), user_col),
                       F.col(group_col), ks)


def per_user_counts(recommended: DataFrame, relevant: DataFrame, ks: Sequence[int], *,
                    user_col: str = USER_ID, item_col: str = ITEM_ID,
                    rank_col: str = RANK) -> DataFrame:
    """One row per user with a relevant item, holding what :func:`ranking_metrics` averages
    at every k of ``ks`` (hits, DCG, precisions at hits, relevant items): compute it once
    to average it by several groupings (:func:`averages_by`)."""
    return _per_user(recommended, relevant, _checked_ks(ks), user_col, item_col, rank_col)


def averages_by(per_user: DataFrame, group: Column, ks: Sequence[int]
                ) -> dict[object, dict[str, float]]:
    """:func:`ranking_metrics` at every k of ``ks`` (each one of the
    :func:`per_user_counts` frame's) averaged per value of ``group``, in one Spark job:
    ``{group value: {"ndcg@10": ..., ...}}``."""
    rows = per_user.groupBy(group.alias("_group")).agg(*_averages(_checked_ks(ks))).collect()
    return {row["_group"]: {name: float(value) for name, value in row.asDict().items()
                            if name != "_group"} for row in rows}


def _per_user(recommended: DataFrame, relevant: DataFrame, cutoffs: list[int], user_col: str,
              item_col: str, rank_col: str) -> DataFrame:
    """One row per user with a relevant item: ``_n_relevant`` and, per k, hits, DCG and the
    sum of precisions at hits."""
    require_columns(recommended, "recommendations", user_col, item_col, rank_col)
    require_columns(relevant, "relevant items", user_col, item_col)
    truth = relevant.select(user_col, item_col).distinct()
    relevant_counts = truth.groupBy(user_col).agg(F.count("*").alias("_n_relevant"))

    hits = (recommended
            .where(F.col(rank_col) <= cutoffs[-1])
            .select(user_col, item_col, F.col(rank_col).cast("int").alias("_rank"))
            .join(truth, [user_col, item_col], "inner")
            .withColumn("_hit_no", F.row_number().over(
                Window.partitionBy(user_col).orderBy("_rank"))))
    per_user_aggs = []
    for k in cutoffs:
        in_top = F.col("_rank") <= k
        per_user_aggs += [
            F.sum(F.when(in_top, 1.0).otherwise(0.0)).alias(f"_hits_{k}"),
            F.sum(F.when(in_top, 1.0 / F.log2(F.col("_rank") + 1)).otherwise(0.0))
            .alias(f"_dcg_{k}"),
            F.sum(F.when(in_top, F.col("_hit_no") / F.col("_rank")).otherwise(0.0))
            .alias(f"_ap_{k}"),
        ]
    return (relevant_counts
            .join(hits.groupBy(user_col).agg(*per_user_aggs), user_col, "left")
            .fillna(0.0))


def _ideal_dcg_of(k: int) -> Column:
    """The ideal DCG@``k`` of a :func:`_per_user` row (its relevant items capped at ``k``)."""
    idcg = F.array(*[F.lit(ideal_dcg(n)) for n in range(k + 1)])
    return F.element_at(idcg, F.least(F.col("_n_relevant").cast("int"), F.lit(k)) + 1)


def _averages(cutoffs: list[int]) -> list[Column]:
    """The metrics of :func:`ranking_metrics`, averaged over the rows of :func:`_per_user`."""
    n_relevant = F.col("_n_relevant").cast("int")
    averages = []
    for k in cutoffs:
        capped = F.least(n_relevant, F.lit(k))
        averages += [
            F.avg(F.col(f"_hits_{k}") / k).alias(f"precision@{k}"),
            F.avg(F.col(f"_hits_{k}") / n_relevant).alias(f"recall@{k}"),
            F.avg(F.col(f"_dcg_{k}") / _ideal_dcg_of(k)).alias(f"ndcg@{k}"),
            F.avg(F.col(f"_ap_{k}") / capped).alias(f"map@{k}"),
        ]
    return averages


def _single(metric: str, recommended: DataFrame, relevant: DataFrame, k: int,
            user_col: str, item_col: str, rank_col: str) -> float:
    values = ranking_metrics(recommended, relevant, ks=(k,), user_col=user_col,
                             item_col=item_col, rank_col=rank_col)
    return values[f"{metric}@{k}"]


def precision_at_k(recommended: DataFrame, relevant: DataFrame, k: int, *,
                   user_col: str = USER_ID, item_col: str = ITEM_ID,
                   rank_col: str = RANK) -> float:
    """Share of the top k that is relevant, averaged over users (see module docstring)."""
    return _single("precision", recommended, relevant, k, user_col, item_col, rank_col)


def recall_at_k(recommended: DataFrame, relevant: DataFrame, k: int, *,
                user_col: str = USER_ID, item_col: str = ITEM_ID,
                rank_col: str = RANK) -> float:
    """Share of the relevant items found in the top k, averaged over users."""
    return _single("recall", recommended, relevant, k, user_col, item_col, rank_col)


def ndcg_at_k(recommended: DataFrame, relevant: DataFrame, k: int, *,
              user_col: str = USER_ID, item_col: str = ITEM_ID,
              rank_col: str = RANK) -> float:
    """Normalised discounted cumulative gain at k (binary relevance), averaged over users."""
    return _single("ndcg", recommended, relevant, k, user_col, item_col, rank_col)


def map_at_k(recommended: DataFrame, relevant: DataFrame, k: int, *,
             user_col: str = USER_ID, item_col: str = ITEM_ID, rank_col: str = RANK) -> float:
    """Mean average precision at k, normalised by ``min(|relevant|, k)``."""
    return _single("map", recommended, relevant, k, user_col, item_col, rank_col)


def item_exposure(recommended: DataFrame, k: int, *, by: Sequence[str] = (),
                  item_col: str = ITEM_ID, rank_col: str = RANK) -> DataFrame:
    """``(*by, item_col, _exposure)``: how many top-``k`` slots each item takes (per group of
    the ``by`` columns): the input of :func:`coverage_of`, :func:`gini_of`,
    :func:`novelty_of` and :func:`long_tail_of`, at most one row per catalogue item and group."""
    require_columns(recommended, "recommendations", *by, item_col, rank_col)
    return (recommended.where(F.col(rank_col) <= k).groupBy(*by, item_col)
            .agg(F.count("*").alias(EXPOSURE)))


def item_counts(frame: DataFrame, value_col: str, *, item_col: str = ITEM_ID
                ) -> dict[object, float]:
    """``{item: value}`` of a small per-item frame (exposures or interaction counts),
    collected to the driver: one row per catalogue item at most."""
    require_columns(frame, "per-item counts", item_col, value_col)
    return {row[0]: float(row[1] or 0) for row in frame.select(item_col, value_col).collect()}


def _check_catalog(catalog_size: int) -> None:
    if catalog_size < 1:
        raise ValueError(f"catalog_size must be positive, got {catalog_size}")


def coverage_of(exposure: Mapping[object, float], catalog_size: int) -> float:
    """Share of the catalogue with at least one slot."""
    _check_catalog(catalog_size)
    return sum(1 for n in exposure.values() if n > 0) / catalog_size


def gini_of(exposure: Mapping[object, float], catalog_size: int) -> float:
    """Gini coefficient of the exposures, items never shown counting 0 up to
    ``catalog_size`` items (see :func:`exposure_gini`); NaN when nothing is shown."""
    _check_catalog(catalog_size)
    counts = list(exposure.values())
    n = max(catalog_size, len(counts))
    ordered = sorted([0.0] * (n - len(counts)) + counts)
    total = sum(ordered)
    if total == 0:
        return float("nan")
    weighted = sum(i * x for i, x in enumerate(ordered, start=1))
    return 2.0 * weighted / (n * total) - (n + 1) / n


def novelty_of(exposure: Mapping[object, float], popularity: Mapping[object, float]) -> float:
    """Mean self-information of the slots, in bits (see :func:`novelty`); NaN when nothing
    is shown."""
    total = sum(popularity.values())
    slots = sum(exposure.values())
    if slots == 0 or total <= 0:
        return float("nan")
    bits = sum(n * -math.log2(max(popularity.get(item, 1.0), 1.0) / total)
               for item, n in exposure.items())
    return bits / slots


def head_items(popularity: Mapping[object, float], head_share: float = 0.8) -> set[object]:
    """The most popular items that together hold the first ``head_share`` of all
    interactions (Pareto's 80%), equal counts in item order (see :func:`long_tail_share`)."""
    if not 0 < head_share <= 1:
        raise ValueError(f"head_share must be in (0, 1], got {head_share}")
    total = sum(popularity.values())
    head: set[object] = set()
    before = 0.0
    for item, n in sorted(popularity.items(), key=lambda pair: (-pair[1], pair[0])):
        if before >= total * head_share:
            break
        head.add(item)
        before += n
    return head


def long_tail_of(exposure: Mapping[object, float], head: set[object]) -> float:
    """Share of the slots given to items outside ``head``; NaN when nothing is shown."""
    slots = sum(exposure.values())
    if slots == 0:
        return float("nan")
    return sum(n for item, n in exposure.items() if item not in head) / slots


def catalog_coverage(recommended: DataFrame, catalog_size: int, k: int, *,
                     item_col: str = ITEM_ID, rank_col: str = RANK) -> float:
    """Share of the catalogue that appears in at least one user's top k.

    ``distinct items with rank <= k over all users / catalog_size``.
    """
    _check_catalog(catalog_size)  # before the Spark job
    exposure = item_exposure(recommended, k, item_col=item_col, rank_col=rank_col)
    return coverage_of(item_counts(exposure, EXPOSURE, item_col=item_col), catalog_size)


def novelty(recommended: DataFrame, item_popularity: DataFrame, k: int, *,
            item_col: str = ITEM_ID, rank_col: str = RANK,
            count_col: str = INTERACTIONS) -> float:
    """Mean self-information of the recommended items, in bits.

    ``p(i) = interactions(i) / sum of interactions`` over ``item_popularity``; each row of
    the top k contributes ``-log2 p(i)`` and the result is their mean, so an item shown
    to many users weighs as often as it is shown. Items absent from ``item_popularity`` (or
    with no interactions) count as having one interaction: the most novel finite value.
    NaN when there is no recommendation with rank <= k.
    """
    exposure = item_exposure(recommended, k, item_col=item_col, rank_col=rank_col)
    return novelty_of(item_counts(exposure, EXPOSURE, item_col=item_col),
                      item_counts(item_popularity, count_col, item_col=item_col))


def intra_list_diversity(recommended: DataFrame, item_categories: DataFrame, k: int, *,
                         user_col: str = USER_ID, item_col: str = ITEM_ID,
                         rank_col: str = RANK, category_col: str = CATEGORY) -> float:
    """Mean share of item pairs in a user's top k that belong to different categories.

    For a user whose top k holds ``n`` items with a known category, ``n_c`` of them in
    category ``c``: ``ILD_u = 1 - sum_c n_c (n_c - 1) / (n (n - 1))``, the share of the
    ``n (n - 1) / 2`` unordered pairs whose categories differ (0: one category only;
    1: all different). Averaged over users with ``n >= 2``; items without a category are
    left out. NaN when no user has two categorised items.
    """
    per_user = diversity_per_user(recommended, item_categories, k, user_col=user_col,
                                  item_col=item_col, rank_col=rank_col,
                                  category_col=category_col)
    row = per_user.agg(F.avg(DIVERSITY).alias("diversity")).first()
    value = row["diversity"] if row else None
    return float("nan") if value is None else float(value)


def diversity_per_user(recommended: DataFrame, item_categories: DataFrame, k: int, *,
                       user_col: str = USER_ID, item_col: str = ITEM_ID, rank_col: str = RANK,
                       category_col: str = CATEGORY) -> DataFrame:
    """``(user_col, _diversity)``: :func:`intra_list_diversity` of each user with at least
    two categorised items in their top k."""
    require_columns(recommended, "recommendations", user_col, item_col, rank_col)
    require_columns(item_categories, "item categories", item_col, category_col)
    categories = (item_categories.select(item_col, category_col)
                  .where(F.col(category_col).isNotNull())
                  .dropDuplicates([item_col]))
    per_category = (recommended.where(F.col(rank_col) <= k).select(user_col, item_col)
                    .join(categories, item_col, "inner")
                    .groupBy(user_col, category_col).agg(F.count("*").alias("_n_c")))
    return (per_category.groupBy(user_col)
            .agg(F.sum("_n_c").alias("_n"),
                 F.sum(F.col("_n_c") * (F.col("_n_c") - 1)).alias("_same"))
            .where(F.col("_n") >= 2)
            .select(user_col, (1.0 - F.col("_same") / (F.col("_n") * (F.col("_n") - 1)))
                    .alias(DIVERSITY)))


def exposure_gini(recommended: DataFrame, catalog_size: int, k: int, *,
                  item_col: str = ITEM_ID, rank_col: str = RANK) -> float:
    """Gini coefficient of how often each catalogue item appears in the top k.

    0: every item is shown equally often; near 1: a few items take every slot. Items never
    recommended count with exposure 0, up to ``catalog_size`` items. With the exposures
    ``x_1 <= ... <= x_n``: ``G = 2 sum_i i x_i / (n sum_i x_i) - (n + 1) / n``. NaN when
    nothing is recommended.
    """
    _check_catalog(catalog_size)  # before the Spark job
    exposure = item_exposure(recommended, k, item_col=item_col, rank_col=rank_col)
    return gini_of(item_counts(exposure, EXPOSURE, item_col=item_col), catalog_size)


def long_tail_share(recommended: DataFrame, item_popularity: DataFrame, k: int, *,
                    head_share: float = 0.8, item_col: str = ITEM_ID, rank_col: str = RANK,
                    count_col: str = INTERACTIONS) -> float:
    """Share of top-k slots given to long-tail items.

    The head is the most popular items of ``item_popularity`` that together hold the first
    ``head_share`` of all interactions (Pareto's 80%); every other item, never-seen ones
    included, is long tail. NaN when nothing is recommended.
    """
    head = head_items(item_counts(item_popularity, count_col, item_col=item_col), head_share)
    exposure = item_exposure(recommended, k, item_col=item_col, rank_col=rank_col)
    return long_tail_of(item_counts(exposure, EXPOSURE, item_col=item_col), head)
