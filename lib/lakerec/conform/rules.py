"""Bronze events to silver: typing, validation and deduplication.

Every bronze row ends in exactly one place: its silver table or the quarantine with a
``_reject_reason``. The classifying transforms add typed columns (prefixed ``__``) and the
reason; :func:`silver_events` and :func:`quarantined` then split the result. The first
failing rule gives the reason, in the order the rules are listed. Customers and items:
:mod:`lakerec.conform.entities`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.conform.parsing import (
    ORDER,
    REASON,
    T_ID,
    T_ITEM,
    T_KEY,
    T_PRICE,
    T_QTY,
    T_RATING,
    T_ROW,
    T_TS,
    T_TYPE,
    T_USER,
    Transform,
    data_columns,
    first_reason,
    flag_repeats,
    id_rules,
    parse_timestamp,
    raw,
    row_hash,
    text,
)
from lakerec.core import schemas as S


def classify_events(*, ingest_tolerance_hours: int, min_event_ts: date, max_quantity: int,
                    max_price: float, non_product_items: Sequence[str]) -> Transform:
    """Type bronze events and give each row a ``_reject_reason`` (null when accepted).

    Rules, first failing wins: malformed record, missing user/item/event type, unknown event
    type, missing or unparseable timestamp, timestamp later than its ingest time plus
    ``ingest_tolerance_hours`` (future) or before ``min_event_ts``, quantity not a whole
    number in 1..``max_quantity``, price not a number in 0..``max_price`` (and not 0 on a
    purchase or return), rating event without a rating in 1..5, non-product item. Then,
    among accepted rows: exact duplicate rows, the same event content under another
    event_id, the same event_id with other content (see :func:`flag_duplicates`).
    """

    def transform(df: DataFrame) -> DataFrame:
        event_type = F.lower(text(df, S.EVENT_TYPE))
        ts_text = text(df, S.EVENT_TS)
        ts = parse_timestamp(ts_text)
        qty_text, price_text, rating_text = (text(df, S.QUANTITY), text(df, S.PRICE),
                                             text(df, S.RATING))
        qty, price, rating = (qty_text.try_cast("double"), price_text.try_cast("double"),
                              rating_text.try_cast("double"))
        corrupt = raw(df, S.CORRUPT_RECORD)
        typed = df.select(
            "*",
            text(df, S.USER_ID).alias(T_USER), text(df, S.ITEM_ID).alias(T_ITEM),
            event_type.alias(T_TYPE), ts.alias(T_TS),
            qty.alias(T_QTY), price.alias(T_PRICE), rating.alias(T_RATING),
            text(df, S.EVENT_ID).alias(T_ID),
        )
        c = F.col
        is_sale = c(T_TYPE).isin(*S.SALE_EVENT_TYPES)
        rules = [
            (corrupt.isNotNull(), S.MALFORMED_RECORD),
            (c(T_USER).isNull(), S.MISSING_USER_ID),
            (c(T_ITEM).isNull(), S.MISSING_ITEM_ID),
            *id_rules(c(T_USER), c(T_ITEM)),
            (c(T_TYPE).isNull(), S.MISSING_EVENT_TYPE),
            (~c(T_TYPE).isin(*S.EVENT_TYPES), S.UNKNOWN_EVENT_TYPE),
            (ts_text.isNull(), S.MISSING_TIMESTAMP),
            (c(T_TS).isNull(), S.UNPARSEABLE_TIMESTAMP),
            (c(T_TS) > c(S.INGEST_TS) + F.make_interval(hours=F.lit(ingest_tolerance_hours)),
             S.FUTURE_TIMESTAMP),
            (c(T_TS) < F.lit(min_event_ts).cast("timestamp"), S.TIMESTAMP_BEFORE_START),
            (qty_text.isNotNull() & (c(T_QTY).isNull() | (c(T_QTY) != F.floor(c(T_QTY)))
                                     | (c(T_QTY) < 1) | (c(T_QTY) > max_quantity)),
             S.INVALID_QUANTITY),
            (price_text.isNotNull() & (c(T_PRICE).isNull() | (c(T_PRICE) < 0)
                                       | (c(T_PRICE) > max_price)
                                       | (is_sale & (c(T_PRICE) == 0))), S.INVALID_PRICE),
            ((c(T_TYPE) == S.EventType.RATING) & (c(T_RATING).isNull() | (c(T_RATING) < 1)
                                        | (c(T_RATING) > 5)), S.INVALID_RATING),
            (c(T_ITEM).isin(*non_product_items), S.NON_PRODUCT_ITEM),
        ]
        return typed.withColumn(REASON, first_reason(rules)).transform(flag_duplicates)

    return transform


def flag_duplicates(df: DataFrame) -> DataFrame:
    """Mark repeats among accepted events, in three stages, keeping the first ingested.

    1. ``duplicate_row``: every landed column equal to an earlier row's;
    2. ``duplicate_event``: same content (user, item, type, time, quantity, price, rating,
       order) under another event_id; rows without an event_id get one from their content;
    3. ``duplicate_event_id``: an event_id already used by other content.
    """
    key = row_hash([F.col(T_USER), F.col(T_ITEM), F.col(T_TYPE), F.col(T_TS), F.col(T_QTY),
                 F.col(T_PRICE), F.col(T_RATING), text(df, S.ORDER_ID)])
    order = [F.col(c) for c in ORDER if c in df.columns]
    out = df.withColumns({
        T_ROW: row_hash([F.col(f"`{c}`") for c in data_columns(df)]),
        T_KEY: key,
    }).withColumn(T_ID, F.coalesce(F.col(T_ID), F.concat(F.lit("ek-"),
                                                         F.substring(key, 1, 32))))
    out = flag_repeats(out, [T_ROW], S.DUPLICATE_ROW, order)
    out = flag_repeats(out, [T_KEY], S.DUPLICATE_EVENT, [*order, F.col(T_ID)])
    return flag_repeats(out, [T_ID], S.DUPLICATE_EVENT_ID, [*order, F.col(T_KEY)])


def flag_known_events(known: DataFrame | None) -> Transform:
    """Reject accepted events that silver already holds.

    ``known`` has silver's ``event_id`` and ``event_key``. Same id and content:
    ``duplicate_row``; same content, other id: ``duplicate_event``; same id, other content:
    ``duplicate_event_id``.
    """

    def transform(df: DataFrame) -> DataFrame:
        if known is None:
            return df
        by_key = known.select(F.col(S.EVENT_KEY).alias("__known_key"),
                              F.col(S.EVENT_ID).alias("__known_id_of_key"))
        by_id = known.select(F.col(S.EVENT_ID).alias("__known_id"))
        joined = (df.join(by_key, F.col(T_KEY) == F.col("__known_key"), "left")
                  .join(by_id, F.col(T_ID) == F.col("__known_id"), "left"))
        ok = F.col(REASON).isNull()
        reason = (F.when(ok & F.col("__known_key").isNotNull()
                         & (F.col("__known_id_of_key") == F.col(T_ID)), F.lit(S.DUPLICATE_ROW))
                  .when(ok & F.col("__known_key").isNotNull(), F.lit(S.DUPLICATE_EVENT))
                  .when(ok & F.col("__known_id").isNotNull(), F.lit(S.DUPLICATE_EVENT_ID))
                  .otherwise(F.col(REASON)))
        return (joined.withColumn(REASON, reason)
                .drop("__known_key", "__known_id_of_key", "__known_id"))

    return transform


def silver_events(df: DataFrame) -> DataFrame:
    """Accepted rows of :func:`classify_events` in silver's schema."""
    c = F.col
    is_sale = c(T_TYPE).isin(*S.SALE_EVENT_TYPES)
    return df.where(c(REASON).isNull()).select(
        c(T_ID).alias(S.EVENT_ID), c(T_USER).alias(S.USER_ID), c(T_ITEM).alias(S.ITEM_ID),
        c(T_TYPE).alias(S.EVENT_TYPE), c(T_TS).alias(S.EVENT_TS),
        F.when(c(T_QTY).isNull() & is_sale, F.lit(1)).otherwise(c(T_QTY)).cast("int")
        .alias(S.QUANTITY),
        c(T_PRICE).alias(S.PRICE),
        F.when(c(T_TYPE) == S.EventType.RATING, c(T_RATING)).alias(S.RATING),
        text(df, S.ORDER_ID).alias(S.ORDER_ID), text(df, S.ITEM_TITLE).alias(S.ITEM_TITLE),
        text(df, S.COUNTRY).alias(S.COUNTRY), c(T_KEY).alias(S.EVENT_KEY),
        c(S.BATCH_ID),
    )


def quarantined(df: DataFrame, run_id: str) -> DataFrame:
    """Rejected rows as they landed, with their reason and the run that rejected them."""
    landed = [c for c in df.columns if not c.startswith("__") and c != REASON]
    return (df.where(F.col(REASON).isNotNull())
            .select(*[F.col(f"`{c}`") for c in landed], F.col(REASON),
                    F.lit(run_id).alias("_run_id")))


def not_conformed(conformed_batches: DataFrame | None, entity: str) -> Transform:
    """Keep the bronze rows of ``entity`` whose batch is not in ``ops.conformed_batches``."""

    def transform(bronze: DataFrame) -> DataFrame:
        if conformed_batches is None:
            return bronze
        done = (conformed_batches.where(F.col(S.ENTITY) == entity)
                .select(S.BATCH_ID).distinct())
        return bronze.join(done, on=S.BATCH_ID, how="left_anti")

    return transform
