"""Implicit feedback: one confidence per (customer, item), and the stable integer ids ALS needs.

Confidence of a pair is the sum over its events of ``weight(event_type) x decay(age)``, where
``decay = 0.5 ** (age_days / half_life_days)`` with the age measured up to ``as_of``;
returns count with their weight *subtracted*, and a rating event counts ``weight x rating``.
Pairs whose confidence is not positive (bought and returned) are dropped; however old, a
kept pair stays a positive (see :data:`MIN_STRENGTH`). With explicit ratings the value is
instead the customer's latest rating of the item.

ALS takes integer ids. ``gold.user_index`` and ``gold.item_index`` map business keys to them;
they are only ever extended (new keys get ids above the current maximum, in key order), so a
customer keeps its id across runs and any registered model's factors stay addressable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import get_args

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.schemas import (
    CONFIDENCE,
    EVENT_TS,
    EVENT_TYPE,
    ITEM_ID,
    ITEM_IDX,
    LAST_EVENT_TS,
    RATING,
    USER_ID,
    USER_IDX,
    EventType,
)
from lakerec.core.settings import ConfidenceTransform

SECONDS_PER_DAY = 86400.0

#: The least strength a kept pair has. Decay shrinks an old event's weight towards 0 (a 30-day
#: half-life leaves 1e-9 after 2.5 years, less than a float holds after 12), and Spark's ALS,
#: which reads its ratings as floats, takes a pair rated 0 or less as unobserved: without the
#: floor, a customer whose history is old (a ratings log spanning decades) would have no
#: positives at all. Floored, an old pair keeps ALS's base confidence 1, as decay intends.
MIN_STRENGTH = 1e-30


CONFIDENCE_TRANSFORMS: tuple[str, ...] = get_args(ConfidenceTransform)


def event_confidence(events: DataFrame, *, weights: Mapping[str, float],
                     half_life_days: float | None, as_of: datetime,
                     transform: str = "linear", epsilon: float = 1.0,
                     explicit_ratings: bool = False) -> DataFrame:
    """Aggregate events into ``(user_id, item_id, confidence, last_event_ts)``.

    The strength ``r`` of a pair is the sum over its events of weight x decay, at least
    :data:`MIN_STRENGTH`. Pairs whose sum is not positive (returned) are dropped, however
    small its terms: an old pair is kept. The confidence is then ``1`` (``binary``), ``r``
    (``linear``) or ``log1p(r / epsilon)`` (``log``); ALS turns it into
    ``1 + alpha x confidence``.

    Parameters
    ----------
    events
        Silver events (``user_id, item_id, event_type, event_ts, rating``).
    weights
        Weight per event type; the weight of ``return`` is subtracted. Types without a
        weight count zero.
    half_life_days
        Age at which an event counts half; None: no decay.
    as_of
        The moment ages are measured from (events after it count fully, never more).
    transform
        One of :data:`CONFIDENCE_TRANSFORMS`.
    epsilon
        Scale of the ``log`` transform.
    explicit_ratings
        Use the latest rating of each pair instead of weighted implicit feedback.
    """
    if transform not in CONFIDENCE_TRANSFORMS:
        raise ValueError(f"confidence transform must be one of {CONFIDENCE_TRANSFORMS}, "
                         f"got {transform!r}")
    if explicit_ratings:
        latest = Window.partitionBy(USER_ID, ITEM_ID).orderBy(F.col(EVENT_TS).desc())
        return (events.where((F.col(EVENT_TYPE) == EventType.RATING) & F.col(RATING).isNotNull())
                .withColumn("_n", F.row_number().over(latest)).where("_n = 1")
                .select(USER_ID, ITEM_ID, F.col(RATING).cast("double").alias(CONFIDENCE),
                        F.col(EVENT_TS).alias(LAST_EVENT_TS)))
    weight = F.lit(0.0)
    for event_type, value in weights.items():
        signed = -float(value) if event_type == EventType.RETURN else float(value)
        weight = F.when(F.col(EVENT_TYPE) == event_type, F.lit(signed)).otherwise(weight)
    rating_factor = F.when(F.col(EVENT_TYPE) == EventType.RATING,
                           F.coalesce(F.col(RATING).cast("double"), F.lit(1.0))).otherwise(1.0)
    age_days = F.greatest(
        (F.lit(as_of).cast("timestamp").cast("double") - F.col(EVENT_TS).cast("double"))
        / SECONDS_PER_DAY, F.lit(0.0))
    decay = (F.lit(1.0) if half_life_days is None
             else F.pow(F.lit(0.5), age_days / F.lit(float(half_life_days))))
    pair_term = weight * rating_factor
    # positive beyond rounding, relative to the size of its terms (a purchase and its return
    # cancel out); when the decay leaves nothing at all (it underflows), the undecayed sum
    # tells a held pair from a returned one
    kept = ((F.col("_r") > 1e-9 * F.col("_gross"))
            | ((F.col("_gross") == 0) & (F.col("_net") > 1e-9)))
    strength = F.greatest(F.col("_r"), F.lit(MIN_STRENGTH))
    confidence = {"binary": F.lit(1.0), "linear": strength,
                  "log": F.log1p(strength / F.lit(float(epsilon)))}[transform]
    return (events
            .groupBy(USER_ID, ITEM_ID)
            .agg(F.sum(pair_term * decay).alias("_r"),
                 F.sum(F.abs(pair_term * decay)).alias("_gross"),
                 F.sum(pair_term).alias("_net"), F.max(EVENT_TS).alias(LAST_EVENT_TS))
            .where(kept)
            .select(USER_ID, ITEM_ID, confidence.cast("double").alias(CONFIDENCE),
                    LAST_EVENT_TS))


def new_index_rows(existing: DataFrame | None, keys: DataFrame, *, key_col: str,
                   index_col: str) -> DataFrame:
    """Rows ``(key_col, index_col)`` for the keys of ``keys`` not yet in ``existing``.

    New keys are numbered in key order from one above the current maximum, so the result
    depends only on the data, and existing ids never change.

    Notes
    -----
    The numbering uses a window without partitions: one task sorts the *new* keys, which
    are few after the first run.
    """
    distinct = keys.select(key_col).where(F.col(key_col).isNotNull()).distinct()
    if existing is None:
        fresh, offset = distinct, F.lit(-1)
    else:
        fresh = distinct.join(existing.select(key_col), key_col, "left_anti")
        top = existing.agg(F.coalesce(F.max(index_col), F.lit(-1)).alias("_top"))
        fresh = fresh.crossJoin(top)
        offset = F.col("_top")
    numbered = fresh.withColumn(
        index_col, (offset + F.row_number().over(Window.orderBy(key_col))).cast("int"))
    return numbered.select(key_col, index_col)


def with_indices(interactions: DataFrame, user_index: DataFrame, item_index: DataFrame, *,
                 columns: Sequence[str] = (CONFIDENCE,)) -> DataFrame:
    """Add ``user_idx`` and ``item_idx`` (inner joins: pairs of unknown keys are dropped)."""
    return (interactions.join(user_index, USER_ID).join(item_index, ITEM_ID)
            .select(USER_ID, ITEM_ID, USER_IDX, ITEM_IDX, *columns))


def positive_pairs(events: DataFrame, event_types: Sequence[str]) -> DataFrame:
    """Distinct ``(user_id, item_id)`` with an event of one of ``event_types``."""
    return (events.where(F.col(EVENT_TYPE).isin(list(event_types)))
            .select(USER_ID, ITEM_ID).distinct())
