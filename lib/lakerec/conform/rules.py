"""Bronze to silver: typing, validation, deduplication and pseudonymisation.

Every bronze row ends in exactly one place: its silver table or the quarantine with a
``_reject_reason``. The classifying transforms add typed columns (prefixed ``__``) and the
reason; :func:`silver_events` and :func:`quarantined` then split the result. The first
failing rule gives the reason, in the order the rules are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakerec.conform.pii import hmac_sha256, normalized_email, normalized_name, normalized_phone
from lakerec.core import schemas as S
from lakerec.core.lake import Lake

Transform = Callable[[DataFrame], DataFrame]

TIMESTAMP_FORMATS = (
    "yyyy-MM-dd HH:mm:ss",
    "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "yyyy-MM-dd'T'HH:mm:ss",
    "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
    "yyyy-MM-dd'T'HH:mm:ssXXX",
    "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "yyyy-MM-dd HH:mm",
    "yyyy-MM-dd",
)
EMAIL_PATTERN = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"
TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")
SEP = "\u001f"
ORDER = (S.INGEST_TS, S.SOURCE_FILE)

# typed working columns
T_USER, T_ITEM, T_TYPE, T_TS = "__user_id", "__item_id", "__event_type", "__event_ts"
T_QTY, T_PRICE, T_RATING, T_ID, T_KEY = "__quantity", "__price", "__rating", "__event_id", "__key"
T_ROW = "__row_hash"
REASON = S.REJECT_REASON


def text(df: DataFrame, name: str) -> Column:
    """Trimmed text of column ``name``, null when blank or when the column is absent."""
    if name not in df.columns:
        return F.lit(None).cast("string")
    trimmed = F.trim(F.col(f"`{name}`"))
    return F.when(trimmed == "", None).otherwise(trimmed)


def raw(df: DataFrame, name: str) -> Column:
    return F.col(f"`{name}`") if name in df.columns else F.lit(None).cast("string")


def parse_timestamp(value: Column) -> Column:
    """The first of :data:`TIMESTAMP_FORMATS` that parses, else null."""
    return F.coalesce(*[F.try_to_timestamp(value, F.lit(fmt)) for fmt in TIMESTAMP_FORMATS])


def data_columns(df: DataFrame) -> list[str]:
    """The columns that landed (not lineage, not working columns)."""
    return [c for c in df.columns if not c.startswith("_")]


def _hash(columns: Sequence[Column]) -> Column:
    return F.sha2(F.concat_ws(SEP, *[F.coalesce(c.cast("string"), F.lit("\u0000"))
                                    for c in columns]), 256)


def _first_reason(rules: Sequence[tuple[Column, str]]) -> Column:
    reason = F.lit(None).cast("string")
    for condition, name in reversed(rules):
        reason = F.when(condition, F.lit(name)).otherwise(reason)
    return reason


def _flag_repeats(df: DataFrame, partition: Sequence[str], reason: str,
                  order: Sequence[Column]) -> DataFrame:
    """Among rows without a reason yet, mark all but the first of each partition."""
    ok = F.col(REASON).isNull()
    window = Window.partitionBy(ok, *partition).orderBy(*order)
    return df.withColumn(REASON, F.when(ok & (F.row_number().over(window) > 1), F.lit(reason))
                         .otherwise(F.col(REASON)))


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
        is_sale = c(T_TYPE).isin("purchase", "return")
        rules = [
            (corrupt.isNotNull(), S.MALFORMED_RECORD),
            (c(T_USER).isNull(), S.MISSING_USER_ID),
            (c(T_ITEM).isNull(), S.MISSING_ITEM_ID),
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
            ((c(T_TYPE) == "rating") & (c(T_RATING).isNull() | (c(T_RATING) < 1)
                                        | (c(T_RATING) > 5)), S.INVALID_RATING),
            (c(T_ITEM).isin(*non_product_items), S.NON_PRODUCT_ITEM),
        ]
        return typed.withColumn(REASON, _first_reason(rules)).transform(flag_duplicates)

    return transform


def flag_duplicates(df: DataFrame) -> DataFrame:
    """Mark repeats among accepted events, in three stages, keeping the first ingested.

    1. ``duplicate_row``: every landed column equal to an earlier row's;
    2. ``duplicate_event``: same content (user, item, type, time, quantity, price, rating,
       order) under another event_id; rows without an event_id get one from their content;
    3. ``duplicate_event_id``: an event_id already used by other content.
    """
    key = _hash([F.col(T_USER), F.col(T_ITEM), F.col(T_TYPE), F.col(T_TS), F.col(T_QTY),
                 F.col(T_PRICE), F.col(T_RATING), text(df, S.ORDER_ID)])
    order = [F.col(c) for c in ORDER if c in df.columns]
    out = df.withColumns({
        T_ROW: _hash([F.col(f"`{c}`") for c in data_columns(df)]),
        T_KEY: key,
    }).withColumn(T_ID, F.coalesce(F.col(T_ID), F.concat(F.lit("ek-"),
                                                         F.substring(key, 1, 32))))
    out = _flag_repeats(out, [T_ROW], S.DUPLICATE_ROW, order)
    out = _flag_repeats(out, [T_KEY], S.DUPLICATE_EVENT, [*order, F.col(T_ID)])
    return _flag_repeats(out, [T_ID], S.DUPLICATE_EVENT_ID, [*order, F.col(T_KEY)])


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
    is_sale = c(T_TYPE).isin("purchase", "return")
    return df.where(c(REASON).isNull()).select(
        c(T_ID).alias(S.EVENT_ID), c(T_USER).alias(S.USER_ID), c(T_ITEM).alias(S.ITEM_ID),
        c(T_TYPE).alias(S.EVENT_TYPE), c(T_TS).alias(S.EVENT_TS),
        F.when(c(T_QTY).isNull() & is_sale, F.lit(1)).otherwise(c(T_QTY)).cast("int")
        .alias(S.QUANTITY),
        c(T_PRICE).alias(S.PRICE),
        F.when(c(T_TYPE) == "rating", c(T_RATING)).alias(S.RATING),
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


def _latest_per_key(df: DataFrame, key: str) -> DataFrame:
    """Exact repeats are ``duplicate_row``; older versions of a key are ``duplicate_key``."""
    order = [F.col(c) for c in ORDER if c in df.columns]
    out = df.withColumn(T_ROW, _hash([F.col(f"`{c}`") for c in data_columns(df)]))
    out = _flag_repeats(out, [T_ROW], S.DUPLICATE_ROW, order)
    return _flag_repeats(out, [key], S.DUPLICATE_KEY, [o.desc() for o in order])


def classify_customers(df: DataFrame) -> DataFrame:
    """Type bronze customers and give each row a ``_reject_reason``.

    Rules: malformed record, missing user_id, an email that is present but not an address
    (blank text included), an unparseable signup time; then repeats (see
    :func:`_latest_per_key`: the latest version of a customer in a load wins).
    """
    email_raw = raw(df, S.EMAIL)
    email = normalized_email(email_raw)
    signup_text = text(df, S.SIGNUP_TS)
    typed = df.select("*", text(df, S.USER_ID).alias(T_USER), email.alias("__email"),
                      parse_timestamp(signup_text).alias("__signup_ts"))
    c = F.col
    rules = [
        (raw(df, S.CORRUPT_RECORD).isNotNull(), S.MALFORMED_RECORD),
        (c(T_USER).isNull(), S.MISSING_USER_ID),
        (email_raw.isNotNull() & ~c("__email").rlike(EMAIL_PATTERN), S.INVALID_EMAIL),
        (signup_text.isNotNull() & c("__signup_ts").isNull(), S.INVALID_SIGNUP_TS),
    ]
    return typed.withColumn(REASON, _first_reason(rules)).transform(
        lambda d: _latest_per_key(d, T_USER))


def silver_customers(df: DataFrame, *, pii_key: bytes) -> DataFrame:
    """Accepted customers with email, name and phone replaced by keyed pseudonyms."""
    c = F.col
    return df.where(c(REASON).isNull()).select(
        c(T_USER).alias(S.USER_ID),
        hmac_sha256(c("__email"), pii_key).alias(S.EMAIL),
        hmac_sha256(normalized_name(text(df, S.NAME)), pii_key).alias(S.NAME),
        hmac_sha256(normalized_phone(text(df, S.PHONE)), pii_key).alias(S.PHONE),
        text(df, S.COUNTRY).alias(S.COUNTRY),
        c("__signup_ts").alias(S.SIGNUP_TS),
        F.lit(None).cast("timestamp").alias(S.FIRST_SEEN_TS),
        F.lit(None).cast("timestamp").alias(S.LAST_SEEN_TS),
        c(S.BATCH_ID),
    )


def classify_items(*, max_price: float) -> Transform:
    """Type bronze items and give each row a ``_reject_reason``.

    Rules: malformed record, missing item_id, price not a number in 0..``max_price``, a stock
    flag that is not a yes/no word; then repeats (the latest version of an item wins).
    """

    def transform(df: DataFrame) -> DataFrame:
        price_text, stock_text = text(df, S.PRICE), F.lower(text(df, S.IN_STOCK))
        stock = (F.when(stock_text.isNull(), F.lit(True))
                 .when(stock_text.isin(*TRUE_WORDS), F.lit(True))
                 .when(stock_text.isin(*FALSE_WORDS), F.lit(False)))
        typed = df.select("*", text(df, S.ITEM_ID).alias(T_ITEM),
                          price_text.try_cast("double").alias(T_PRICE),
                          stock.alias("__in_stock"))
        c = F.col
        rules = [
            (raw(df, S.CORRUPT_RECORD).isNotNull(), S.MALFORMED_RECORD),
            (c(T_ITEM).isNull(), S.MISSING_ITEM_ID),
            (price_text.isNotNull() & (c(T_PRICE).isNull() | (c(T_PRICE) < 0)
                                       | (c(T_PRICE) > max_price)), S.INVALID_PRICE),
            (c("__in_stock").isNull(), S.INVALID_STOCK_FLAG),
        ]
        return typed.withColumn(REASON, _first_reason(rules)).transform(
            lambda d: _latest_per_key(d, T_ITEM))

    return transform


def silver_items(df: DataFrame) -> DataFrame:
    c = F.col
    return df.where(c(REASON).isNull()).select(
        c(T_ITEM).alias(S.ITEM_ID), text(df, S.TITLE).alias(S.TITLE),
        text(df, S.CATEGORY).alias(S.CATEGORY), c(T_PRICE).alias(S.PRICE),
        c("__in_stock").alias(S.IN_STOCK),
        F.lit(None).cast("timestamp").alias(S.FIRST_SEEN_TS),
        F.lit(None).cast("timestamp").alias(S.LAST_SEEN_TS),
        c(S.BATCH_ID),
    )


def customers_seen_in(events: DataFrame, batch_id: str) -> DataFrame:
    """One row per customer of ``events`` (silver) in silver.customers' schema."""
    return events.groupBy(S.USER_ID).agg(
        F.max_by(S.COUNTRY, F.when(F.col(S.COUNTRY).isNotNull(), F.col(S.EVENT_TS)))
        .alias(S.COUNTRY),
        F.min(S.EVENT_TS).alias(S.FIRST_SEEN_TS), F.max(S.EVENT_TS).alias(S.LAST_SEEN_TS),
    ).select(
        S.USER_ID, *[F.lit(None).cast("string").alias(c) for c in S.PII_COLUMNS], S.COUNTRY,
        F.lit(None).cast("timestamp").alias(S.SIGNUP_TS), S.FIRST_SEEN_TS, S.LAST_SEEN_TS,
        F.lit(batch_id).alias(S.BATCH_ID),
    )


def items_seen_in(events: DataFrame, batch_id: str) -> DataFrame:
    """One row per item of ``events`` (silver) in silver.items' schema: its latest title and
    purchase price; in stock, category unknown."""
    titled = F.when(F.col(S.ITEM_TITLE).isNotNull(), F.col(S.EVENT_TS))
    priced = F.when(F.col(S.PRICE).isNotNull() & (F.col(S.EVENT_TYPE) == "purchase"),
                    F.col(S.EVENT_TS))
    return events.groupBy(S.ITEM_ID).agg(
        F.max_by(S.ITEM_TITLE, titled).alias(S.TITLE),
        F.max_by(S.PRICE, priced).alias(S.PRICE),
        F.min(S.EVENT_TS).alias(S.FIRST_SEEN_TS), F.max(S.EVENT_TS).alias(S.LAST_SEEN_TS),
    ).select(
        S.ITEM_ID, S.TITLE, F.lit(None).cast("string").alias(S.CATEGORY), S.PRICE,
        F.lit(True).alias(S.IN_STOCK), S.FIRST_SEEN_TS, S.LAST_SEEN_TS,
        F.lit(batch_id).alias(S.BATCH_ID),
    )


# --- IO edge: which bronze rows are waiting for conform ---------------------------------
OPS = "ops"
CONFORMED_BATCHES = "conformed_batches"


def pending_bronze(lake: Lake, entity: str, *, version: int | None = None) -> DataFrame | None:
    """Bronze rows of ``entity`` whose batch has not been conformed yet (None: no table)."""
    bronze = lake.read_if_exists("bronze", entity, version=version)
    if bronze is None:
        return None
    done = lake.read_if_exists(OPS, CONFORMED_BATCHES)
    if done is None:
        return bronze
    done_batches = done.where(F.col("entity") == entity).select(S.BATCH_ID).distinct()
    return bronze.join(done_batches, on=S.BATCH_ID, how="left_anti")
