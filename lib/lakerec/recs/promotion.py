"""The evidence behind a model (metrics of model, baseline and champion on one holdout) and
the verdict: champion or challenger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import cast

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from lakerec.core.errors import InputError
from lakerec.core.schemas import CATEGORY, INTERACTIONS, ITEM_ID, RANK, SEGMENT_ID, USER_ID
from lakerec.recs.metrics import (
    DIVERSITY,
    EXPOSURE,
    averages_by,
    coverage_of,
    diversity_per_user,
    gini_of,
    head_items,
    item_counts,
    item_exposure,
    long_tail_of,
    novelty_of,
    per_user_counts,
)

PRIMARY_K = 10
PRIMARY_METRIC = f"ndcg@{PRIMARY_K}"
_SYSTEM, _KEY = "_system", "_key"


@dataclass
class Evidence:
    """Metrics of one recommender on one holdout."""

    name: str
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def primary(self) -> float:
        return self.metrics.get(PRIMARY_METRIC, 0.0)


def measure_many(recommended: Mapping[str, DataFrame], relevant: DataFrame, *,
                 ks: Sequence[int], catalog_size: int, item_popularity: DataFrame,
                 item_categories: DataFrame, segments: DataFrame | None = None
                 ) -> dict[str, Evidence]:
    """The evidence of several recommenders on the same ``relevant`` items, by name:
    accuracy at every k in ``ks``, beyond-accuracy metrics at the largest k, and, with
    ``segments`` ``(user_id, segment_id)``, NDCG@10 per segment (``ndcg@10.segment_<id>``:
    is a segment served worse than the others?).

    Each ``recommended`` list holds ``(user_id, item_id, rank)``. Every metric is computed
    for all of them at once, keyed by ``(recommender, user_id)`` (a handful of Spark jobs,
    whatever the number of recommenders); the lists are cached meanwhile unless they are
    already.

    Raises
    ------
    InputError
        When ``relevant`` holds no user.
    """
    if not recommended:
        raise ValueError("no recommendations to measure")
    k = max(ks)
    spark = relevant.sparkSession
    owned = [df for df in recommended.values() if not df.is_cached]
    for df in owned:
        df.cache()
    try:
        every = reduce(DataFrame.unionByName, [
            df.select(USER_ID, ITEM_ID, RANK).withColumn(_SYSTEM, F.lit(name))
            for name, df in recommended.items()])
        systems = spark.createDataFrame([(name,) for name in recommended], f"{_SYSTEM} string")
        keyed_relevant = (relevant.select(USER_ID, ITEM_ID).crossJoin(F.broadcast(systems))
                          .select(F.struct(_SYSTEM, USER_ID).alias(_KEY), ITEM_ID))
        keyed = every.select(F.struct(_SYSTEM, USER_ID).alias(_KEY), ITEM_ID, RANK)
        # each (recommender, customer)'s hits and DCG: once, for every grouping below
        per_user = per_user_counts(keyed, keyed_relevant, sorted({*ks, PRIMARY_K}),
                                   user_col=_KEY).cache()
        owned.append(per_user)
        accuracy = {str(system): values for system, values in
                    averages_by(per_user, F.col(f"{_KEY}.{_SYSTEM}"), ks).items()}
        if not accuracy:
            raise InputError("relevant items hold no user: nothing to evaluate")
        exposure: dict[str, dict[object, float]] = {name: {} for name in recommended}
        for row in item_exposure(every, k, by=[_SYSTEM]).collect():
            exposure[row[_SYSTEM]][row[ITEM_ID]] = float(row[EXPOSURE])
        diversity = {row[_SYSTEM]: row["diversity"] for row in
                     diversity_per_user(keyed, item_categories, k, user_col=_KEY)
                     .groupBy(F.col(f"{_KEY}.{_SYSTEM}").alias(_SYSTEM))
                     .agg(F.avg(DIVERSITY).alias("diversity")).collect()}
        by_segment: dict[str, dict[int, float]] = {name: {} for name in recommended}
        if segments is not None:
            segment_of = (segments.select(F.col(USER_ID).alias("_user"), SEGMENT_ID)
                          .dropDuplicates(["_user"]))
            in_segments = per_user.join(segment_of, F.col(f"{_KEY}.{USER_ID}") == F.col("_user"))
            for group, values in averages_by(
                    in_segments, F.struct(F.col(f"{_KEY}.{_SYSTEM}").alias(_SYSTEM),
                                          SEGMENT_ID), (PRIMARY_K,)).items():
                system, segment = cast(Row, group)   # (_system, segment_id)
                by_segment[system][segment] = values[PRIMARY_METRIC]
    finally:
        for df in owned:
            df.unpersist()
    popularity = item_counts(item_popularity, INTERACTIONS)
    head = head_items(popularity)
    evidence = {}
    for name in recommended:
        shown = exposure[name]
        metrics = {**accuracy.get(name, {}),
                   f"coverage@{k}": coverage_of(shown, catalog_size),
                   f"novelty@{k}": novelty_of(shown, popularity),
                   f"diversity@{k}": diversity.get(name, float("nan")),
                   f"gini@{k}": gini_of(shown, catalog_size),
                   f"long_tail@{k}": long_tail_of(shown, head),
                   **{f"{PRIMARY_METRIC}.segment_{segment}": value
                      for segment, value in sorted(by_segment[name].items())}}
        evidence[name] = Evidence(name, {key: float("nan") if value is None else float(value)
                                         for key, value in metrics.items()})
    return evidence


def item_interaction_counts(train: DataFrame) -> DataFrame:
    """``(item_id, interactions)``: customers who interacted with each item in training (the
    popularity that novelty measures against)."""
    return train.groupBy(ITEM_ID).agg(F.countDistinct(USER_ID).alias(INTERACTIONS))


def item_categories(items: DataFrame) -> DataFrame:
    """``(item_id, category)`` with a missing category standing for its own item."""
    return items.select(ITEM_ID, F.coalesce(F.col(CATEGORY), F.concat(F.lit("item:"),
                                                                     F.col(ITEM_ID))).alias(CATEGORY))


def clears_popularity(evidence: Evidence, popularity: Evidence, margin: float) -> bool:
    """Whether ``evidence`` beats popularity's NDCG@10 by at least the relative ``margin``."""
    return evidence.primary > popularity.primary * (1.0 + margin)


def promotion_decision(new: Evidence, popularity: Evidence, champion: Evidence | None, *,
                       margin: float, popularity_margin: float) -> tuple[bool, str]:
    """Whether ``new`` becomes champion, and why (one line).

    It must beat popularity's NDCG@10 by the relative ``popularity_margin`` (a model barely
    better than "most popular" is not worth serving) and, where a champion exists, exceed the
    champion's NDCG@10 on the same holdout by the relative ``margin``.
    """
    if not clears_popularity(new, popularity, popularity_margin):
        return False, (f"{PRIMARY_METRIC} {new.primary:.4f} does not beat popularity's "
                       f"{popularity.primary:.4f} by {popularity_margin:.0%}")
    if champion is None:
        return True, (f"{PRIMARY_METRIC} {new.primary:.4f} beats popularity's "
                      f"{popularity.primary:.4f}; no champion yet")
    needed = champion.primary * (1.0 + margin)
    if new.primary < needed:
        return False, (f"{PRIMARY_METRIC} {new.primary:.4f} is below the champion's "
                       f"{champion.primary:.4f} x (1 + margin {margin}) = {needed:.4f}")
    return True, (f"{PRIMARY_METRIC} {new.primary:.4f} beats the champion's "
                  f"{champion.primary:.4f} by at least {margin:.0%} and popularity's "
                  f"{popularity.primary:.4f}")


def metric_key(prefix: str, name: str) -> str:
    """MLflow metric names allow no '@': ``model.ndcg_at_10``."""
    return f"{prefix}.{name.replace('@', '_at_')}"
