"""Typing helpers of conform: trimmed text, timestamps, row hashes, first failing rule.

Shared by the event, customer and item rules, and by the bronze quality checks, which parse
raw values the way conform will.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core import schemas as S

Transform = Callable[[DataFrame], DataFrame]

TIMESTAMP_FORMATS = (
    "yyyy-MM-dd HH:mm:ss",
    "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "yyyy-MM-dd'T'HH:mm:ss",
    "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
    "yyyy-MM-dd'T'HH:mm:ssXXX",
    "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "yyyy-MM-dd HH:mm:ssXXX",
    "yyyy-MM-dd HH:mm",
    "yyyy-MM-dd",
    "yyyy/MM/dd HH:mm:ss",
    "yyyy/MM/dd HH:mm",
    "yyyy/MM/dd",
)
EPOCH_SECONDS = r"^[0-9]{9,10}$"  # 2001-09-09 .. 2286: seconds since 1970-01-01 UTC
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


def non_scalar(value: Column) -> Column:
    """True for text that is a JSON object or array (a nested field landed as an id)."""
    return value.rlike(r"^[\[{]")


def id_rules(*ids: Column) -> list[tuple[Column, str]]:
    """The reject rules every id (already trimmed text, null when blank) must pass after its
    presence: scalar, and at most ``MAX_ID_LENGTH`` characters."""
    return [
        (F.greatest(*[F.coalesce(non_scalar(i), F.lit(False)) for i in ids], F.lit(False)),
         S.NON_SCALAR_ID),
        (F.greatest(*[F.coalesce(F.length(i) > S.MAX_ID_LENGTH, F.lit(False)) for i in ids],
                    F.lit(False)), S.ID_TOO_LONG),
    ]


def raw(df: DataFrame, name: str) -> Column:
    return F.col(f"`{name}`") if name in df.columns else F.lit(None).cast("string")


def parse_timestamp(value: Column) -> Column:
    """The first of :data:`TIMESTAMP_FORMATS` that parses, or epoch seconds (9 or 10
    digits), else null. Offsets are converted to UTC, the session's time zone."""
    epoch = F.when(value.rlike(EPOCH_SECONDS), F.timestamp_seconds(value.cast("long")))
    return F.coalesce(*[F.try_to_timestamp(value, F.lit(fmt)) for fmt in TIMESTAMP_FORMATS],
                      epoch)


def data_columns(df: DataFrame) -> list[str]:
    """The columns that landed (not lineage, not working columns)."""
    return [c for c in df.columns if not c.startswith("_")]


def row_hash(columns: Sequence[Column]) -> Column:
    return F.sha2(F.concat_ws(SEP, *[F.coalesce(c.cast("string"), F.lit("\u0000"))
                                    for c in columns]), 256)


def first_reason(rules: Sequence[tuple[Column, str]]) -> Column:
    reason = F.lit(None).cast("string")
    for condition, name in reversed(rules):
        reason = F.when(condition, F.lit(name)).otherwise(reason)
    return reason


def flag_repeats(df: DataFrame, partition: Sequence[str], reason: str,
                  order: Sequence[Column]) -> DataFrame:
    """Among rows without a reason yet, mark all but the first of each partition."""
    ok = F.col(REASON).isNull()
    window = Window.partitionBy(ok, *partition).orderBy(*order)
    return df.withColumn(REASON, F.when(ok & (F.row_number().over(window) > 1), F.lit(reason))
                         .otherwise(F.col(REASON)))
