"""The evidence behind a model (metrics of model, baseline and champion on one holdout) and
the verdict: champion or challenger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.schemas import CATEGORY, INTERACTIONS, ITEM_ID, RANK, SEGMENT_ID, USER_ID
from lakerec.recs.metrics import (
    catalog_coverage,
    exposure_gini,
    intra_list_diversity,
    long_tail_share,
    novelty,
    ranking_metrics,
    ranking_metrics_by_group,
)

PRIMARY_K = 10
PRIMARY_METRIC = f"ndcg@{PRIMARY_K}"


@dataclass
class Evidence:
    """Metrics of one recommender on one holdout."""

    name: str
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def primary(self) -> float:
        return self.metrics.get(PRIMARY_METRIC, 0.0)


def measure(name: str, recommended: DataFrame, relevant: DataFrame, *, ks: Sequence[int],
            catalog_size: int, item_popularity: DataFrame,
            item_categories: DataFrame, segments: DataFrame | None = None) -> Evidence:
    """Accuracy at every k in ``ks``, beyond-accuracy metrics at the largest k, and, with
    ``segments`` ``(user_id, segment_id)``, NDCG@10 per segment (``ndcg@10.segment_<id>``:
    is a segment served worse than the others?).

    ``recommended`` holds ``(user_id, item_id, rank)``.
    """
    metrics = ranking_metrics(recommended, relevant, ks=tuple(ks), user_col=USER_ID,
                              item_col=ITEM_ID, rank_col=RANK)
    k = max(ks)
    metrics[f"coverage@{k}"] = catalog_coverage(recommended, catalog_size, k)
    metrics[f"novelty@{k}"] = novelty(recommended, item_popularity, k)
    metrics[f"diversity@{k}"] = intra_list_diversity(recommended, item_categories, k)
    metrics[f"gini@{k}"] = exposure_gini(recommended, catalog_size, k)
    metrics[f"long_tail@{k}"] = long_tail_share(recommended, item_popularity, k)
    if segments is not None:
        by_segment = ranking_metrics_by_group(recommended, relevant, segments,
                                              group_col=SEGMENT_ID, ks=(PRIMARY_K,))
        metrics.update({f"{PRIMARY_METRIC}.segment_{segment}": values[PRIMARY_METRIC]
                        for segment, values in sorted(by_segment.items())})
    return Evidence(name, {key: float(value) for key, value in metrics.items()})


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
