"""Personal data never lands raw: landing rows are pseudonymised before bronze.

Customers keep their contract columns only. Email, name and phone become keyed pseudonyms of
their normalised values (:mod:`lakerec.core.pii`), with the two flags conform's rules need:
``email_valid`` (the landed email was an address) and ``phone_has_digits``. A malformed
record's raw text becomes its pseudonym too: it still marks the row malformed, and reveals
nothing. Columns outside the contract are dropped from customer files, since they may be
personal. Other entities carry no personal columns by contract; any that appear anyway are
pseudonymised the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakerec.core import schemas as S
from lakerec.core.pii import (
    EMAIL_PATTERN,
    PiiKey,
    normalized_email,
    normalized_name,
    normalized_phone,
)

KEPT_CUSTOMER_COLUMNS = (*S.CUSTOMERS_REQUIRED, *S.CUSTOMERS_OPTIONAL, S.CORRUPT_RECORD,
                         *S.LINEAGE_COLUMNS)
NORMALIZE: dict[str, Callable[[Column], Column]] = {
    S.EMAIL: normalized_email, S.NAME: normalized_name, S.PHONE: normalized_phone,
}


def _column(df: DataFrame, name: str) -> Column:
    return F.col(f"`{name}`").cast("string")


def pseudonymised(entity: str, key: PiiKey) -> Callable[[DataFrame], DataFrame]:
    """Landing rows of ``entity`` as bronze may hold them (see the module's docstring)."""

    def transform(df: DataFrame) -> DataFrame:
        if entity == S.CUSTOMERS:
            df = df.select(*[F.col(f"`{c}`") for c in df.columns if c in KEPT_CUSTOMER_COLUMNS])
        replaced: dict[str, Column] = {
            name: key.pseudonym(NORMALIZE[name](_column(df, name)))
            for name in S.PII_COLUMNS if name in df.columns}
        if S.EMAIL in df.columns:
            email = normalized_email(_column(df, S.EMAIL))
            replaced[S.EMAIL_VALID] = (F.when(_column(df, S.EMAIL).isNull(), None)
                                       .otherwise(email.rlike(EMAIL_PATTERN)))
        if S.PHONE in df.columns:
            replaced[S.PHONE_HAS_DIGITS] = (F.when(_column(df, S.PHONE).isNull(), None)
                                            .otherwise(normalized_phone(_column(df, S.PHONE))
                                                       .isNotNull()))
        if entity == S.CUSTOMERS and S.CORRUPT_RECORD in df.columns:
            replaced[S.CORRUPT_RECORD] = key.pseudonym(F.col(S.CORRUPT_RECORD))
        return df.withColumns(replaced) if replaced else df

    return transform


def dropped_columns(entity: str, columns: list[str]) -> list[str]:
    """The landed columns :func:`pseudonymised` drops (customers' columns outside the contract)."""
    if entity != S.CUSTOMERS:
        return []
    return [c for c in columns if c not in KEPT_CUSTOMER_COLUMNS]
