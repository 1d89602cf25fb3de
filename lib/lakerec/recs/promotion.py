"""The evidence behind a model: held-out data, metrics of model and baseline, the verdict.

Both split protocols hold data out the same way for evaluation and, one level down, for the
validation split the grid search tunes on:

* ``time``: events of the last ``test_days`` before the cut-off are held out; the relevant
  items of a customer are the ones they bought (``relevant_event_types``) in that window and
  had not interacted with before. Only customers known before the window are evaluated
  (new customers are cold start, served by popularity, and would only measure that).
* ``random``: each customer's (customer, item) pairs are split 75/25 at random (stratified
  per customer); every held-out pair is relevant and training pairs are never recommended,
  the protocol of the Microsoft Recommenders benchmarks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.schemas import CATEGORY, EVENT_TS, INTERACTIONS, ITEM_ID, RANK, USER_ID
from lakerec.recs.interactions import event_confidence, positive_pairs
from lakerec.recs.metrics import catalog_coverage, intra_list_diversity, novelty, ranking_metrics
from lakerec.recs.splits import split_by_time, split_random_stratified, time_split_boundaries

log = logging.getLogger("lakerec.recs.promotion")

PRIMARY_METRIC = "ndcg@10"


@dataclass(frozen=True)
class ConfidenceSpec:
    """How events become confidences (see :func:`lakerec.recs.interactions.event_confidence`)."""

    weights: Mapping[str, float]
    half_life_days: float
    explicit_ratings: bool

    def of(self, events: DataFrame, as_of: datetime) -> DataFrame:
        return event_confidence(events, weights=self.weights, half_life_days=self.half_life_days,
                                as_of=as_of, explicit_ratings=self.explicit_ratings)


@dataclass
class Holdout:
    """Training interactions and the held-out relevant pairs of one split."""

    train: DataFrame            # user_id, item_id, confidence, last_event_ts
    relevant: DataFrame         # user_id, item_id
    definition: dict[str, str]  # logged to MLflow as the split's definition
    trained_until: datetime     # the training part holds nothing at or after this instant
    test_start: datetime | None  # held-out events start here; None: they span all history
    train_events: DataFrame | None = None  # time protocol: to carve a validation split

    def unseen_by(self, model_trained_until: datetime | None) -> bool:
        """True when a model trained on data up to ``model_trained_until`` cannot have seen
        any held-out event (so its measurement here is fair)."""
        return (self.test_start is not None and model_trained_until is not None
                and model_trained_until <= self.test_start)


def midnight(day: date) -> datetime:
    """The first moment of ``day``: data of the run date itself is never used."""
    return datetime.combine(day, time())


def time_holdout(events: DataFrame, spec: ConfidenceSpec, *, test_days: int, run_date: date,
                 relevant_event_types: Sequence[str]) -> Holdout:
    """Hold out the last ``test_days`` days up to ``run_date`` (see module docstring)."""
    train_events, test_events = split_by_time(events, test_days=test_days, run_date=run_date,
                                              ts_col=EVENT_TS, user_col=USER_ID, item_col=ITEM_ID)
    test_start, _ = time_split_boundaries(test_days, run_date)
    cutoff = test_start.date()
    train = spec.of(train_events, test_start)
    relevant = positive_pairs(test_events, relevant_event_types)
    definition = {"protocol": "time", "test_days": str(test_days),
                  "test_window": f"[{cutoff.isoformat()}, {run_date.isoformat()})",
                  "relevant": f"{'/'.join(relevant_event_types)} of items not seen before, "
                              "customers known before the window"}
    return Holdout(train, relevant, definition, trained_until=test_start,
                   test_start=test_start, train_events=train_events)


def random_holdout(interactions: DataFrame, *, ratio: float, seed: int,
                   trained_until: datetime) -> Holdout:
    """Stratified random split of the pairs; every held-out pair is relevant."""
    train, test = split_random_stratified(interactions, ratio=ratio, seed=seed,
                                          user_col=USER_ID, item_col=ITEM_ID)
    definition = {"protocol": "random", "ratio": str(ratio), "seed": str(seed),
                  "relevant": "every held-out pair; training pairs never recommended"}
    return Holdout(train, test.select(USER_ID, ITEM_ID), definition,
                   trained_until=trained_until, test_start=None)


def make_holdout(events: DataFrame, spec: ConfidenceSpec, *, protocol: str, test_days: int,
                 ratio: float, seed: int, run_date: date,
                 relevant_event_types: Sequence[str]) -> Holdout:
    """Evaluation split of the events before ``run_date`` under ``protocol``."""
    events = events.where(F.col(EVENT_TS) < F.lit(midnight(run_date)))
    if protocol == "time":
        return time_holdout(events, spec, test_days=test_days, run_date=run_date,
                            relevant_event_types=relevant_event_types)
    return random_holdout(spec.of(events, midnight(run_date)), ratio=ratio, seed=seed,
                          trained_until=midnight(run_date))


def validation_holdout(holdout: Holdout, spec: ConfidenceSpec, *, test_days: int, ratio: float,
                       seed: int, run_date: date,
                       relevant_event_types: Sequence[str]) -> Holdout:
    """The same protocol once more, inside the training part of ``holdout``."""
    if holdout.train_events is not None:
        cutoff = run_date - timedelta(days=test_days)
        return time_holdout(holdout.train_events, spec, test_days=test_days, run_date=cutoff,
                            relevant_event_types=relevant_event_types)
    return random_holdout(holdout.train, ratio=ratio, seed=seed + 1,
                          trained_until=holdout.trained_until)


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
            item_categories: DataFrame) -> Evidence:
    """Accuracy at every k in ``ks`` and beyond-accuracy metrics at the largest k.

    ``recommended`` holds ``(user_id, item_id, rank)``.
    """
    metrics = ranking_metrics(recommended, relevant, ks=tuple(ks), user_col=USER_ID,
                              item_col=ITEM_ID, rank_col=RANK)
    k = max(ks)
    metrics[f"coverage@{k}"] = catalog_coverage(recommended, catalog_size, k)
    metrics[f"novelty@{k}"] = novelty(recommended, item_popularity, k)
    metrics[f"diversity@{k}"] = intra_list_diversity(recommended, item_categories, k)
    return Evidence(name, {key: float(value) for key, value in metrics.items()})


def item_popularity(train: DataFrame) -> DataFrame:
    """``(item_id, interactions)``: customers who interacted with each item in training."""
    return train.groupBy(ITEM_ID).agg(F.countDistinct(USER_ID).alias(INTERACTIONS))


def item_categories(items: DataFrame) -> DataFrame:
    """``(item_id, category)`` with a missing category standing for its own item."""
    return items.select(ITEM_ID, F.coalesce(F.col(CATEGORY), F.concat(F.lit("item:"),
                                                                     F.col(ITEM_ID))).alias(CATEGORY))


def promotion_decision(new: Evidence, popularity: Evidence, champion: Evidence | None, *,
                       margin: float) -> tuple[bool, str]:
    """Whether ``new`` becomes champion, and why (one line).

    It must beat popularity's NDCG@10 and, where a champion exists, exceed the champion's
    NDCG@10 on the same holdout by the relative ``margin``.
    """
    if new.primary <= popularity.primary:
        return False, (f"{PRIMARY_METRIC} {new.primary:.4f} does not beat popularity's "
                       f"{popularity.primary:.4f}")
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


def plot_metrics_vs_k(evidence: Sequence[Evidence], ks: Sequence[int], path: Path) -> Path:
    """A PNG of precision, recall, NDCG and MAP against k, one line per recommender."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ("precision", "recall", "ndcg", "map")
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.5))
    for ax, metric in zip(axes, names, strict=True):
        for ev in evidence:
            ax.plot(list(ks), [ev.metrics.get(f"{metric}@{k}", 0.0) for k in ks],
                    marker="o", label=ev.name)
        ax.set_title(f"{metric}@k")
        ax.set_xlabel("k")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def metric_key(prefix: str, name: str) -> str:
    """MLflow metric names allow no '@': ``model.ndcg_at_10``."""
    return f"{prefix}.{name.replace('@', '_at_')}"
