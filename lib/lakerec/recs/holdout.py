"""Held-out data: how events become training confidences and what is held out to measure on.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.dates import midnight
from lakerec.core.schemas import EVENT_TS, ITEM_ID, USER_ID
from lakerec.recs.interactions import event_confidence, positive_pairs
from lakerec.recs.splits import split_by_time, split_random_stratified, time_split_boundaries


@dataclass(frozen=True)
class ConfidenceSpec:
    """How events become confidences (see :func:`lakerec.recs.interactions.event_confidence`)."""

    weights: Mapping[str, float]
    half_life_days: float | None
    explicit_ratings: bool
    transform: str = "linear"
    epsilon: float = 1.0

    def of(self, events: DataFrame, as_of: datetime) -> DataFrame:
        return event_confidence(events, weights=self.weights, half_life_days=self.half_life_days,
                                as_of=as_of, transform=self.transform, epsilon=self.epsilon,
                                explicit_ratings=self.explicit_ratings)

    def with_settings(self, *, transform: str, half_life_days: float | None) -> ConfidenceSpec:
        """The same weights under another transform and half-life (searched settings)."""
        return replace(self, transform=transform, half_life_days=half_life_days)


@dataclass
class Holdout:
    """Training interactions and the held-out relevant pairs of one split."""

    train: DataFrame            # user_id, item_id, confidence, last_event_ts
    relevant: DataFrame         # user_id, item_id
    definition: dict[str, str]  # logged to MLflow as the split's definition
    trained_until: datetime     # the training part holds nothing at or after this instant
    test_start: datetime | None  # held-out events start here; None: they span all history
    events: DataFrame           # the events the training part was made of (before trained_until)

    def unseen_by(self, model_trained_until: datetime | None) -> bool:
        """True when a model trained on data up to ``model_trained_until`` cannot have seen
        any held-out event (so its measurement here is fair)."""
        return (self.test_start is not None and model_trained_until is not None
                and model_trained_until <= self.test_start)

    def unpersist(self) -> None:
        self.train.unpersist()
        self.relevant.unpersist()

    def thinned(self, share: float, seed: int) -> Holdout:
        """The same held-out pairs, with ``share`` of each customer's training pairs (drawn
        as the random protocol draws: :func:`split_random_stratified`): a point further down
        the learning curve of whatever is measured on this split."""
        train, _ = split_random_stratified(self.train, ratio=share, seed=seed,
                                           user_col=USER_ID, item_col=ITEM_ID)
        return replace(self, train=train.cache(),
                       definition={**self.definition, "training_share": str(share)})

    def train_with(self, spec: ConfidenceSpec) -> DataFrame:
        """The training pairs with confidences under ``spec`` (the same pairs, re-weighted)."""
        pairs = self.train.select(USER_ID, ITEM_ID)
        return spec.of(self.events, self.trained_until).join(pairs, [USER_ID, ITEM_ID],
                                                             "left_semi")


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
                   test_start=test_start, events=train_events)


def random_holdout(interactions: DataFrame, events: DataFrame, *, ratio: float, seed: int,
                   trained_until: datetime) -> Holdout:
    """Stratified random split of the pairs; every held-out pair is relevant."""
    train, test = split_random_stratified(interactions, ratio=ratio, seed=seed,
                                          user_col=USER_ID, item_col=ITEM_ID)
    definition = {"protocol": "random", "ratio": str(ratio), "seed": str(seed),
                  "relevant": "every held-out pair; training pairs never recommended"}
    return Holdout(train, test.select(USER_ID, ITEM_ID), definition,
                   trained_until=trained_until, test_start=None, events=events)


def make_holdout(events: DataFrame, spec: ConfidenceSpec, *, protocol: str, test_days: int,
                 ratio: float, seed: int, run_date: date,
                 relevant_event_types: Sequence[str]) -> Holdout:
    """Evaluation split of the events before ``run_date`` under ``protocol``."""
    events = events.where(F.col(EVENT_TS) < F.lit(midnight(run_date)))
    if protocol == "time":
        return time_holdout(events, spec, test_days=test_days, run_date=run_date,
                            relevant_event_types=relevant_event_types)
    return random_holdout(spec.of(events, midnight(run_date)), events, ratio=ratio, seed=seed,
                          trained_until=midnight(run_date))


def validation_holdout(holdout: Holdout, spec: ConfidenceSpec, *, test_days: int, ratio: float,
                       seed: int, run_date: date,
                       relevant_event_types: Sequence[str]) -> Holdout:
    """The same protocol once more, inside the training part of ``holdout``."""
    if holdout.definition["protocol"] == "time":
        cutoff = run_date - timedelta(days=test_days)
        return time_holdout(holdout.events, spec, test_days=test_days, run_date=cutoff,
                            relevant_event_types=relevant_event_types)
    return random_holdout(holdout.train, holdout.events, ratio=ratio, seed=seed + 1,
                          trained_until=holdout.trained_until)
