"""Pure transforms adding what some checks look at (no actions, no IO).

GX validates columns of one frame; where a check needs a parsed value, a join or an
aggregate, it is computed here in Spark and validated by a built-in expectation on the
derived column or frame, so its result lands in Data Docs and ``ops.dq_results`` like any
other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakerec.conform.parsing import parse_timestamp, text
from lakerec.core.schemas import (
    ALREADY_PURCHASED,
    BASKET_SIZE,
    COUNT_OK,
    CUSTOMER_KNOWN,
    EVENT_TYPE,
    HAS_GAP_REASON,
    HAS_SEGMENT,
    ITEM_ID,
    ITEM_KNOWN,
    ORDER_ID,
    PARSED_SUFFIX,
    RECOMMENDED_COUNT,
    USER_ID,
    EventType,
)

Transform = Callable[[DataFrame], DataFrame]


def parsed(name: str) -> str:
    """Name of the check column holding the typed value of raw column ``name``."""
    return f"{name}{PARSED_SUFFIX}"


def with_parsed_values(*, keys: Sequence[str], numbers: Sequence[str] = (),
                       timestamps: Sequence[str] = (), lowercase: Sequence[str] = ()) -> Transform:
    """Add ``<col>__parsed`` columns with the typed value of raw bronze strings.

    Keys become trimmed text (null when blank), ``numbers`` doubles, ``timestamps`` timestamps
    in any format conform accepts, ``lowercase`` trimmed lower-case text; anything that does
    not parse is null. Absent columns give nulls, so a missing column fails its checks.
    """

    def transform(df: DataFrame) -> DataFrame:
        added: list[Column] = []
        added += [text(df, c).alias(parsed(c)) for c in keys]
        added += [text(df, c).try_cast("double").alias(parsed(c)) for c in numbers]
        added += [parse_timestamp(text(df, c)).alias(parsed(c)) for c in timestamps]
        added += [F.lower(text(df, c)).alias(parsed(c)) for c in lowercase]
        return df.select("*", *added)

    return transform


def with_known_references(items: DataFrame, customers: DataFrame | None) -> Transform:
    """Add ``item_known`` / ``customer_known``: the event's key exists in the other table.

    ``customer_known`` is left out when there is no customers table.
    """

    def transform(events: DataFrame) -> DataFrame:
        known_items = items.select(ITEM_ID).distinct().withColumn(ITEM_KNOWN, F.lit(True))
        out = events.join(F.broadcast(known_items), on=ITEM_ID, how="left")
        out = out.withColumn(ITEM_KNOWN, F.coalesce(F.col(ITEM_KNOWN), F.lit(False)))
        if customers is not None:
            known = customers.select(USER_ID).distinct().withColumn(CUSTOMER_KNOWN, F.lit(True))
            out = out.join(known, on=USER_ID, how="left").withColumn(
                CUSTOMER_KNOWN, F.coalesce(F.col(CUSTOMER_KNOWN), F.lit(False)))
        return out

    return transform


def basket_sizes(events: DataFrame) -> DataFrame:
    """One row per purchase order with ``basket_size``, its number of lines."""
    return (events.where((F.col(EVENT_TYPE) == EventType.PURCHASE) & F.col(ORDER_ID).isNotNull())
            .groupBy(ORDER_ID).agg(F.count(F.lit(1)).cast("double").alias(BASKET_SIZE)))


def with_segment_flag(segments: DataFrame) -> Transform:
    """Add ``has_segment`` to customer features: the customer has a segment row."""

    def transform(features: DataFrame) -> DataFrame:
        segmented = segments.select(USER_ID).distinct().withColumn(HAS_SEGMENT, F.lit(True))
        return (features.select(USER_ID).join(segmented, on=USER_ID, how="left")
                .withColumn(HAS_SEGMENT, F.coalesce(F.col(HAS_SEGMENT), F.lit(False))))

    return transform


def purchased_pairs(events: DataFrame) -> DataFrame:
    """Distinct (user_id, item_id) of purchase events."""
    return events.where(F.col(EVENT_TYPE) == EventType.PURCHASE).select(USER_ID, ITEM_ID).distinct()


def with_already_purchased(purchases: DataFrame) -> Transform:
    """Add ``already_purchased`` to recommendations: the user bought the item before."""

    def transform(recommendations: DataFrame) -> DataFrame:
        bought = purchases.withColumn(ALREADY_PURCHASED, F.lit(True))
        return (recommendations.join(bought, on=[USER_ID, ITEM_ID], how="left")
                .withColumn(ALREADY_PURCHASED,
                            F.coalesce(F.col(ALREADY_PURCHASED), F.lit(False))))

    return transform


def recommendation_counts(recommendations: DataFrame, gaps: DataFrame | None,
                          active_users: DataFrame, *, k: int) -> DataFrame:
    """Per active or recommended user: ``recommended_count``, ``has_gap_reason``, ``count_ok``.

    ``count_ok`` holds when the user has exactly ``k`` recommendations or a recorded reason in
    ``gaps`` (``gold.recommendation_gaps``) why not.
    """
    counts = recommendations.groupBy(USER_ID).agg(F.count(F.lit(1)).alias(RECOMMENDED_COUNT))
    users = active_users.select(USER_ID).unionByName(counts.select(USER_ID)).distinct()
    out = users.join(counts, on=USER_ID, how="left").fillna(0, subset=[RECOMMENDED_COUNT])
    if gaps is None:
        out = out.withColumn(HAS_GAP_REASON, F.lit(False))
    else:
        reasons = gaps.select(USER_ID).distinct().withColumn(HAS_GAP_REASON, F.lit(True))
        out = out.join(reasons, on=USER_ID, how="left").withColumn(
            HAS_GAP_REASON, F.coalesce(F.col(HAS_GAP_REASON), F.lit(False)))
    return out.withColumn(COUNT_OK, (F.col(RECOMMENDED_COUNT) == k) | F.col(HAS_GAP_REASON))

