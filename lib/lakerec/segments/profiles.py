"""Segment profiles a marketer can read, and the rules that name the segments.

A profile row per segment: its size and share of customers, its share of net revenue,
mean and median recency, frequency and monetary, the median basket value and tenure, the
mean return rate, and its top categories by spend.

Labelling rules
---------------
Rule segments keep their names (``new``, ``browsers``). For clustered segments, each
segment's medians are compared with the medians of all customers with purchases, as
differences of signed ``log1p`` values: ``f`` frequency, ``m`` monetary, ``b`` basket value,
``r`` recency (days since last purchase; higher is worse) and ``t`` tenure. Each label has
a score:

=================  ==========================  ==========================================
label              score                       reads as
=================  ==========================  ==========================================
``champions``      ``f + m - r``               buy often, spend most, bought recently
``loyal``          ``f - r``                   buy often and recently
``big spenders``   ``2 b``                     few but large baskets
``at risk``        ``r + (f + m) / 2``         were valuable, have not bought for long
``hibernating``    ``r - f - m``               bought little, long ago
``promising``      ``-t - r``                  recent first purchases
=================  ==========================  ==========================================

Labels are handed out greedily: the (segment, label) pair with the highest positive score
first, then the next among the segments and labels still free. A segment left without a
positive score is ``occasional`` (``occasional 2``, ... when several), so labels are unique
within a run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.schemas import (
    AVG_BASKET_VALUE,
    CATEGORY_SHARE,
    FREQUENCY,
    GROSS_REVENUE,
    HAS_PURCHASE,
    MONETARY,
    OTHER_CATEGORY,
    RECENCY_DAYS,
    RETURN_RATE,
    SEGMENT_ID,
    SEGMENT_LABEL,
    TENURE_DAYS,
)

CUSTOMERS = "customers"
CUSTOMER_SHARE = "customer_share"
REVENUE = "revenue"
REVENUE_SHARE = "revenue_share"
TOP_CATEGORIES = "top_categories"
MEDIAN_COLUMNS = (RECENCY_DAYS, FREQUENCY, MONETARY, AVG_BASKET_VALUE, TENURE_DAYS)
FALLBACK_LABEL = "occasional"

LABEL_SCORES = {
    "champions": lambda s: s["f"] + s["m"] - s["r"],
    "loyal": lambda s: s["f"] - s["r"],
    "big spenders": lambda s: 2 * s["b"],
    "at risk": lambda s: s["r"] + (s["f"] + s["m"]) / 2,
    "hibernating": lambda s: s["r"] - s["f"] - s["m"],
    "promising": lambda s: -s["t"] - s["r"],
}
_SIGNALS = {"f": FREQUENCY, "m": MONETARY, "b": AVG_BASKET_VALUE, "r": RECENCY_DAYS,
            "t": TENURE_DAYS}


def _median(column: str) -> F.Column:
    return F.median(column).alias(f"median_{column}")


def top_categories_by_segment(assigned: DataFrame, n: int) -> DataFrame:
    """Per segment the ``n`` categories with the most spend, as one text ``a, b, c``."""
    spend = (assigned.select(SEGMENT_ID, GROSS_REVENUE,
                             F.explode(CATEGORY_SHARE).alias("_category", "_share"))
             .where(F.col("_category") != OTHER_CATEGORY)
             .groupBy(SEGMENT_ID, "_category")
             .agg(F.sum(F.col("_share") * F.col(GROSS_REVENUE)).alias("_spend")))
    rank = F.row_number().over(
        Window.partitionBy(SEGMENT_ID).orderBy(F.desc("_spend"), F.asc("_category")))
    ordered = F.sort_array(F.collect_list(F.struct(F.col("_rank"), F.col("_category"))))
    return (spend.withColumn("_rank", rank).where(F.col("_rank") <= n)
            .groupBy(SEGMENT_ID)
            .agg(F.array_join(F.transform(ordered, lambda s: s["_category"]), ", ")
                 .alias(TOP_CATEGORIES)))


def segment_profiles(assigned: DataFrame, *, top_categories_n: int) -> DataFrame:
    """One row per segment of ``assigned`` (customer features with ``segment_id``)."""
    per_segment = assigned.groupBy(SEGMENT_ID).agg(
        F.count(F.lit(1)).alias(CUSTOMERS),
        F.sum(MONETARY).alias(REVENUE),
        F.mean(RECENCY_DAYS).alias(f"mean_{RECENCY_DAYS}"),
        F.mean(FREQUENCY).alias(f"mean_{FREQUENCY}"),
        F.mean(MONETARY).alias(f"mean_{MONETARY}"),
        *[_median(c) for c in MEDIAN_COLUMNS],
        F.mean(RETURN_RATE).alias(f"mean_{RETURN_RATE}"),
    )
    everyone = Window.partitionBy()
    return (per_segment
            .withColumn(CUSTOMER_SHARE, F.col(CUSTOMERS) / F.sum(CUSTOMERS).over(everyone))
            .withColumn(REVENUE_SHARE, F.when(
                F.sum(REVENUE).over(everyone) != 0,
                F.col(REVENUE) / F.sum(REVENUE).over(everyone)).otherwise(F.lit(0.0)))
            .join(top_categories_by_segment(assigned, top_categories_n), SEGMENT_ID, "left")
            .select(SEGMENT_ID, CUSTOMERS, CUSTOMER_SHARE, REVENUE, REVENUE_SHARE,
                    *[c for c in per_segment.columns if c not in (SEGMENT_ID, CUSTOMERS, REVENUE)],
                    TOP_CATEGORIES)
            .orderBy(SEGMENT_ID))


def buyer_medians(assigned: DataFrame) -> DataFrame:
    """One row: the medians of the labelling signals over all customers with purchases."""
    return assigned.where(F.col(HAS_PURCHASE)).agg(*[_median(c) for c in MEDIAN_COLUMNS])


def _signed_log(value: float | None) -> float:
    v = float(value or 0.0)
    return math.copysign(math.log1p(abs(v)), v)


def label_segments(profiles: Sequence[Mapping[str, Any]],
                   population: Mapping[str, Any],
                   fixed: Mapping[int, str]) -> dict[int, str]:
    """Unique labels for the segments of ``profiles`` (rows of :func:`segment_profiles`).

    Parameters
    ----------
    profiles
        Profile rows holding ``segment_id`` and ``median_<signal>`` values.
    population
        The row of :func:`buyer_medians`.
    fixed
        Segment ids whose label is given (rule segments); they take no part in scoring.
    """
    labels = {int(seg): fixed[int(seg)] for seg in (p[SEGMENT_ID] for p in profiles)
              if int(seg) in fixed}
    scored = []
    for profile in profiles:
        segment = int(profile[SEGMENT_ID])
        if segment in fixed:
            continue
        signals = {key: _signed_log(profile[f"median_{col}"])
                   - _signed_log(population[f"median_{col}"]) for key, col in _SIGNALS.items()}
        scored += [(score(signals), segment, label) for label, score in LABEL_SCORES.items()]
    taken = set(labels.values())
    for score, segment, label in sorted(scored, key=lambda x: (-x[0], x[1], x[2])):
        if score > 0 and segment not in labels and label not in taken:
            labels[segment] = label
            taken.add(label)
    fallback = 1
    for profile in sorted(profiles, key=lambda p: int(p[SEGMENT_ID])):
        segment = int(profile[SEGMENT_ID])
        if segment not in labels:
            labels[segment] = FALLBACK_LABEL if fallback == 1 else f"{FALLBACK_LABEL} {fallback}"
            fallback += 1
    return labels


def with_segment_labels(df: DataFrame, labels: Mapping[int, str]) -> DataFrame:
    """Add ``segment_label`` from a segment id -> label mapping."""
    mapping = F.create_map(*[F.lit(x) for seg, label in sorted(labels.items())
                             for x in (seg, label)])
    return df.withColumn(SEGMENT_LABEL, mapping[F.col(SEGMENT_ID)])
