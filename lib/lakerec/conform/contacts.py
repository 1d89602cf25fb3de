"""Bronze contacts (channels' logs of a campaign's sends, deliveries, opens, clicks and
holdouts) to silver: typing, validation and deduplication.

A contact is one thing a channel did to one customer in one campaign, at one time. Its key
in silver is a hash of that content (``contact_key``), so a log landed twice adds nothing.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakerec.conform.parsing import (
    ORDER,
    REASON,
    T_KEY,
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

T_CAMPAIGN = "__campaign_id"


def classify_contacts(*, ingest_tolerance_hours: int, known: DataFrame | None) -> Transform:
    """Type bronze contacts and give each row a ``_reject_reason`` (null when accepted).

    Rules, first failing wins: malformed record, missing campaign or user id, an id that is
    not scalar text or too long, a contact type outside :data:`~lakerec.core.schemas.
    CONTACT_TYPES`, a missing, unparseable or future time. Then, among accepted rows: exact
    repeats and contacts silver holds already (``duplicate_row``), and every contact of a
    customer whom one campaign's logs both held out and contacted (``conflicting_group``:
    the channel broke the assignment, so neither group can have them).

    ``known``: silver contacts (``contact_key``, ``_batch_id``), or None before silver
    exists. Its rows of the batches classified are not "known": an interrupted earlier attempt
    at them committed those, and conform counts them as landed.
    """

    def transform(df: DataFrame) -> DataFrame:
        ts_text = text(df, S.CONTACT_TS)
        typed = df.select(
            "*", text(df, S.CAMPAIGN_ID).alias(T_CAMPAIGN), text(df, S.USER_ID).alias(T_USER),
            F.lower(text(df, S.CONTACT_TYPE)).alias(T_TYPE), parse_timestamp(ts_text).alias(T_TS))
        c = F.col
        rules = [
            (raw(df, S.CORRUPT_RECORD).isNotNull(), S.MALFORMED_RECORD),
            (c(T_CAMPAIGN).isNull(), S.MISSING_CAMPAIGN_ID),
            (c(T_USER).isNull(), S.MISSING_USER_ID),
            *id_rules(c(T_USER), c(T_CAMPAIGN)),
            (c(T_TYPE).isNull() | ~c(T_TYPE).isin(*S.CONTACT_TYPES), S.UNKNOWN_CONTACT_TYPE),
            (ts_text.isNull(), S.MISSING_TIMESTAMP),
            (c(T_TS).isNull(), S.UNPARSEABLE_TIMESTAMP),
            (c(T_TS) > c(S.INGEST_TS) + F.make_interval(hours=F.lit(ingest_tolerance_hours)),
             S.FUTURE_TIMESTAMP),
        ]
        order = [c(name) for name in ORDER if name in df.columns]
        keyed = typed.withColumn(REASON, first_reason(rules)).withColumns({
            T_ROW: row_hash([c(f"`{name}`") for name in data_columns(df)]),
            T_KEY: row_hash([c(T_CAMPAIGN), c(T_USER), c(T_TYPE), c(T_TS)])})
        keyed = flag_repeats(keyed, [T_ROW], S.DUPLICATE_ROW, order)
        keyed = flag_repeats(keyed, [T_KEY], S.DUPLICATE_ROW, order)
        if known is not None:  # silver's contacts, but for these batches' own (a rerun's)
            seen = (known.join(df.select(S.BATCH_ID).distinct(), S.BATCH_ID, "left_anti")
                    .select(F.col(S.CONTACT_KEY).alias("__known")))
            keyed = (keyed.join(seen, c(T_KEY) == c("__known"), "left")
                     .withColumn(REASON, F.when(c(REASON).isNull() & c("__known").isNotNull(),
                                                F.lit(S.DUPLICATE_ROW)).otherwise(c(REASON)))
                     .drop("__known"))
        pair = Window.partitionBy(c(REASON).isNull(), T_CAMPAIGN, T_USER)
        held_out = c(T_TYPE) == S.ContactType.HELD_OUT
        conflicting = (F.max(held_out.cast("int")).over(pair)
                       + F.max((~held_out).cast("int")).over(pair)) == 2
        return keyed.withColumn(REASON, F.when(c(REASON).isNull() & conflicting,
                                               F.lit(S.CONFLICTING_GROUP))
                                .otherwise(c(REASON)))

    return transform


def silver_contacts(df: DataFrame) -> DataFrame:
    """Accepted rows of :func:`classify_contacts` in silver's schema."""
    c = F.col
    return df.where(c(REASON).isNull()).select(
        c(T_CAMPAIGN).alias(S.CAMPAIGN_ID), c(T_USER).alias(S.USER_ID),
        text(df, S.CHANNEL).alias(S.CHANNEL), c(T_TYPE).alias(S.CONTACT_TYPE),
        c(T_TS).alias(S.CONTACT_TS), c(T_KEY).alias(S.CONTACT_KEY), c(S.BATCH_ID))
