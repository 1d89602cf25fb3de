"""Bronze customers and items to silver, and both as seen in silver events.

The latest row of each key in a load wins; older ones go to quarantine as duplicates.
Personal columns arrive as keyed pseudonyms: ingest pseudonymised them
(:mod:`lakerec.ingest.personal`), leaving the flags the email rule needs.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakerec.conform.parsing import (
    FALSE_WORDS,
    ORDER,
    REASON,
    T_ITEM,
    T_PRICE,
    T_ROW,
    T_USER,
    TRUE_WORDS,
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


def yes_no(word: Column) -> Column:
    """True or false for a yes/no word (lower case), null for anything else."""
    return (F.when(word.isin(*TRUE_WORDS), F.lit(True))
            .when(word.isin(*FALSE_WORDS), F.lit(False)))


def _latest_per_key(df: DataFrame, key: str) -> DataFrame:
    """Exact repeats are ``duplicate_row``; older versions of a key are ``duplicate_key``."""
    order = [F.col(c) for c in ORDER if c in df.columns]
    out = df.withColumn(T_ROW, row_hash([F.col(f"`{c}`") for c in data_columns(df)]))
    out = flag_repeats(out, [T_ROW], S.DUPLICATE_ROW, order)
    return flag_repeats(out, [key], S.DUPLICATE_KEY, [o.desc() for o in order])


def classify_customers(df: DataFrame) -> DataFrame:
    """Type bronze customers and give each row a ``_reject_reason``.

    Rules: malformed record, missing user_id, an email that was present but not an address
    (blank text included; ingest's ``email_valid`` flag), an unparseable signup time, a
    consent flag that is not a yes/no word; then repeats (see :func:`_latest_per_key`: the
    latest version of a customer in a load wins).
    """
    signup_text = text(df, S.SIGNUP_TS)
    consent_text = F.lower(text(df, S.MARKETING_CONSENT))
    typed = df.select("*", text(df, S.USER_ID).alias(T_USER),
                      parse_timestamp(signup_text).alias("__signup_ts"),
                      yes_no(consent_text).alias("__consent"))
    c = F.col
    rules = [
        (raw(df, S.CORRUPT_RECORD).isNotNull(), S.MALFORMED_RECORD),
        (c(T_USER).isNull(), S.MISSING_USER_ID),
        *id_rules(c(T_USER)),
        (raw(df, S.EMAIL_VALID).cast("boolean") == F.lit(False), S.INVALID_EMAIL),
        (signup_text.isNotNull() & c("__signup_ts").isNull(), S.INVALID_SIGNUP_TS),
        (consent_text.isNotNull() & c("__consent").isNull(), S.INVALID_CONSENT_FLAG),
    ]
    return typed.withColumn(REASON, first_reason(rules)).transform(
        lambda d: _latest_per_key(d, T_USER))


def silver_customers(df: DataFrame) -> DataFrame:
    """Accepted customers; email, name and phone are the pseudonyms ingest made."""
    c = F.col
    return df.where(c(REASON).isNull()).select(
        c(T_USER).alias(S.USER_ID),
        *[text(df, name).alias(name) for name in S.PII_COLUMNS],
        text(df, S.COUNTRY).alias(S.COUNTRY),
        c("__signup_ts").alias(S.SIGNUP_TS),
        c("__consent").alias(S.MARKETING_CONSENT),
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
        stock = F.when(stock_text.isNull(), F.lit(True)).otherwise(yes_no(stock_text))
        typed = df.select("*", text(df, S.ITEM_ID).alias(T_ITEM),
                          price_text.try_cast("double").alias(T_PRICE),
                          stock.alias("__in_stock"))
        c = F.col
        rules = [
            (raw(df, S.CORRUPT_RECORD).isNotNull(), S.MALFORMED_RECORD),
            (c(T_ITEM).isNull(), S.MISSING_ITEM_ID),
            *id_rules(c(T_ITEM)),
            (price_text.isNotNull() & (c(T_PRICE).isNull() | (c(T_PRICE) < 0)
                                       | (c(T_PRICE) > max_price)), S.INVALID_PRICE),
            (c("__in_stock").isNull(), S.INVALID_STOCK_FLAG),
        ]
        return typed.withColumn(REASON, first_reason(rules)).transform(
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
        F.lit(None).cast("timestamp").alias(S.SIGNUP_TS),
        F.lit(None).cast("boolean").alias(S.MARKETING_CONSENT), S.FIRST_SEEN_TS, S.LAST_SEEN_TS,
        F.lit(batch_id).alias(S.BATCH_ID),
    )


def items_seen_in(events: DataFrame, batch_id: str) -> DataFrame:
    """One row per item of ``events`` (silver) in silver.items' schema: its latest title and
    purchase price; in stock, category unknown."""
    titled = F.when(F.col(S.ITEM_TITLE).isNotNull(), F.col(S.EVENT_TS))
    priced = F.when(F.col(S.PRICE).isNotNull() & (F.col(S.EVENT_TYPE) == S.EventType.PURCHASE),
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
