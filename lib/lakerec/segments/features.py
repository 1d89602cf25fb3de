"""Customer features as of a date: recency, frequency, monetary and behaviour.

Every function here is a pure ``DataFrame -> DataFrame`` transform. Point in time: only
events up to the end of the as-of date count, so features for a past date are what was
knowable on that date.

Definitions (one row per customer with at least one event up to the as-of date):

- ``recency_days``: days from the last purchase to the as-of date (null without purchases)
- ``frequency``: distinct orders; purchases without an order id count one order per day
- ``gross_revenue``: sum of ``quantity * price`` over purchases; ``returned_value`` the same
  over returns (taken as positive whatever sign the source gives); ``monetary`` is gross
  minus returned, so it can be negative when a customer returns goods bought earlier
- ``avg_basket_value``: monetary / frequency (null without orders)
- ``return_rate``: returned value / gross revenue, at most 1 (null without purchases)
- ``tenure_days``: days from the first activity (first event, or sign-up when earlier)
- ``activity_trend``: ``(r - b) / (r + b)`` where ``r`` is the event rate in the recent
  window and ``b`` the rate in the baseline window before it; from -1 (went quiet) to 1
  (only recent activity), 0 when steady or without events in either window
- ``category_spend_share``: share of gross revenue per top category over all customers,
  the rest summed under ``other``; items without a category count as ``uncategorised``

A missing event price falls back to the item's price, a missing quantity counts as 1.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.dates import midnight
from lakerec.core.schemas import (
    ACTIVITY_TREND,
    AVG_BASKET_VALUE,
    CATEGORY,
    CATEGORY_SHARE,
    DAYS_SINCE_LAST_EVENT,
    EVENT_TS,
    EVENT_TYPE,
    EVENTS_BASELINE,
    EVENTS_RECENT,
    EVENTS_TOTAL,
    FIRST_ACTIVITY_TS,
    FREQUENCY,
    GROSS_REVENUE,
    HAS_PURCHASE,
    ITEM_ID,
    LAST_EVENT_TS,
    LAST_PURCHASE_TS,
    MONETARY,
    ORDER_ID,
    OTHER_CATEGORY,
    PRICE,
    QUANTITY,
    RECENCY_DAYS,
    RETURN_RATE,
    RETURNED_VALUE,
    RUN_DATE,
    SIGNUP_TS,
    TENURE_DAYS,
    UNKNOWN_CATEGORY,
    USER_FEATURES_SCHEMA,
    USER_ID,
    EventType,
)

LINE_VALUE = "_line_value"
_ORDER_KEY = "_order_key"


def cutoff_ts(as_of: date) -> datetime:
    """The first instant after ``as_of``: events at or after it are in the future."""
    return midnight(as_of + timedelta(days=1))


def events_as_of(events: DataFrame, as_of: date, *, ts_col: str = EVENT_TS) -> DataFrame:
    """Events that happened up to the end of ``as_of``."""
    return events.where(F.col(ts_col) < F.lit(cutoff_ts(as_of)))


def with_line_values(events: DataFrame, items: DataFrame) -> DataFrame:
    """Add ``category`` and the event's money value ``|quantity| * price``.

    The event's price wins; the item's price fills it where missing.
    """
    catalog = items.select(
        F.col(ITEM_ID),
        F.coalesce(F.col(CATEGORY), F.lit(UNKNOWN_CATEGORY)).alias(CATEGORY),
        F.col(PRICE).alias("_item_price"))
    quantity = F.abs(F.coalesce(F.col(QUANTITY), F.lit(1)))
    price = F.coalesce(F.col(PRICE), F.col("_item_price"), F.lit(0.0))
    return (events.drop(CATEGORY).join(F.broadcast(catalog), ITEM_ID, "left")
            .withColumn(CATEGORY, F.coalesce(F.col(CATEGORY), F.lit(UNKNOWN_CATEGORY)))
            .withColumn(LINE_VALUE, F.abs(quantity * price))
            .drop("_item_price"))


def _value_of(event_type: str) -> Column:
    return F.when(F.col(EVENT_TYPE) == event_type, F.col(LINE_VALUE)).otherwise(0.0)


def customer_activity(events: DataFrame, *, as_of: date, recent_days: int,
                      baseline_days: int) -> DataFrame:
    """Per customer: first/last event, last purchase, orders, revenue, event counts."""
    cutoff = cutoff_ts(as_of)
    recent_start = cutoff - timedelta(days=recent_days)
    baseline_start = recent_start - timedelta(days=baseline_days)
    is_purchase = F.col(EVENT_TYPE) == EventType.PURCHASE
    order_key = F.coalesce(F.col(ORDER_ID), F.date_format(EVENT_TS, "'day-'yyyy-MM-dd"))
    ts = F.col(EVENT_TS)
    return events.groupBy(USER_ID).agg(
        F.min(EVENT_TS).alias("_first_event_ts"),
        F.max(EVENT_TS).alias(LAST_EVENT_TS),
        F.max(F.when(is_purchase, ts)).alias(LAST_PURCHASE_TS),
        F.countDistinct(F.when(is_purchase, order_key)).alias(FREQUENCY),
        F.sum(_value_of(EventType.PURCHASE)).alias(GROSS_REVENUE),
        F.sum(_value_of(EventType.RETURN)).alias(RETURNED_VALUE),
        F.count(F.lit(1)).alias(EVENTS_TOTAL),
        F.count(F.when(ts >= F.lit(recent_start), 1)).alias(EVENTS_RECENT),
        F.count(F.when((ts >= F.lit(baseline_start)) & (ts < F.lit(recent_start)), 1))
        .alias(EVENTS_BASELINE),
    )


def top_categories(valued_events: DataFrame, n: int) -> DataFrame:
    """The ``n`` categories with the largest gross revenue, as one column ``category``."""
    totals = (valued_events.where(F.col(EVENT_TYPE) == EventType.PURCHASE)
              .groupBy(CATEGORY).agg(F.sum(LINE_VALUE).alias("_total")))
    rank = F.row_number().over(Window.orderBy(F.desc("_total"), F.asc(CATEGORY)))
    return totals.withColumn("_rank", rank).where(F.col("_rank") <= n).select(CATEGORY)


def category_shares(valued_events: DataFrame, n: int) -> DataFrame:
    """Per customer with purchases: map of top category (or ``other``) to share of spend."""
    purchases = valued_events.where(F.col(EVENT_TYPE) == EventType.PURCHASE)
    top = top_categories(valued_events, n).withColumn("_is_top", F.lit(True))
    bucket = F.when(F.col("_is_top"), F.col(CATEGORY)).otherwise(F.lit(OTHER_CATEGORY))
    spend = (purchases.join(F.broadcast(top), CATEGORY, "left")
             .groupBy(USER_ID, bucket.alias("_bucket"))
             .agg(F.sum(LINE_VALUE).alias("_spend")))
    total = F.sum("_spend").over(Window.partitionBy(USER_ID))
    share = F.when(total > 0, F.col("_spend") / total).otherwise(F.lit(0.0))
    return (spend.withColumn("_share", share)
            .groupBy(USER_ID)
            .agg(F.map_from_entries(F.collect_list(F.struct("_bucket", "_share")))
                 .alias(CATEGORY_SHARE)))


def _days_since(ts_col: str, as_of: date) -> Column:
    return F.datediff(F.lit(as_of), F.to_date(F.col(ts_col))).cast("int")


def user_features(events: DataFrame, customers: DataFrame, items: DataFrame, *,
                  as_of: date, top_categories_n: int, recent_days: int,
                  baseline_days: int) -> DataFrame:
    """``gold.user_features`` for ``as_of``: one row per customer with events up to it.

    Parameters
    ----------
    events, customers, items
        ``silver.events``, ``silver.customers`` (for sign-up dates) and ``silver.items``
        (for categories and prices missing from events).
    as_of
        The run date; events after its end are ignored.
    top_categories_n
        Categories given their own entry in ``category_spend_share``.
    recent_days, baseline_days
        Windows of the activity trend.
    """
    valued = with_line_values(events_as_of(events, as_of), items)
    activity = customer_activity(valued, as_of=as_of, recent_days=recent_days,
                                 baseline_days=baseline_days)
    signups = (customers.where(F.col(SIGNUP_TS) < F.lit(cutoff_ts(as_of)))
               .select(USER_ID, SIGNUP_TS))
    recent_rate = F.col(EVENTS_RECENT) / F.lit(float(recent_days))
    baseline_rate = F.col(EVENTS_BASELINE) / F.lit(float(baseline_days))
    trend = F.when(recent_rate + baseline_rate > 0,
                   (recent_rate - baseline_rate) / (recent_rate + baseline_rate)).otherwise(0.0)
    gross = F.col(GROSS_REVENUE)
    features = (
        activity.join(signups, USER_ID, "left")
        .join(category_shares(valued, top_categories_n), USER_ID, "left")
        .withColumn(FIRST_ACTIVITY_TS, F.least("_first_event_ts", SIGNUP_TS))
        .withColumn(HAS_PURCHASE, F.col(LAST_PURCHASE_TS).isNotNull())
        .withColumn(RECENCY_DAYS, _days_since(LAST_PURCHASE_TS, as_of))
        .withColumn(DAYS_SINCE_LAST_EVENT, _days_since(LAST_EVENT_TS, as_of))
        .withColumn(TENURE_DAYS, _days_since(FIRST_ACTIVITY_TS, as_of))
        .withColumn(MONETARY, gross - F.col(RETURNED_VALUE))
        .withColumn(AVG_BASKET_VALUE, F.when(F.col(FREQUENCY) > 0,
                                             F.col(MONETARY) / F.col(FREQUENCY)))
        .withColumn(RETURN_RATE, F.when(gross > 0,
                                        F.least(F.lit(1.0), F.col(RETURNED_VALUE) / gross)))
        .withColumn(ACTIVITY_TREND, trend)
        .withColumn(RUN_DATE, F.lit(as_of))
    )
    return features.select(*[F.col(f.name).cast(f.dataType) for f in USER_FEATURES_SCHEMA])
