"""Adapters mapping other shapes of landing data onto the event contract.

The first maps transaction logs shaped like the UCI Online Retail data set (one row per
invoice line: invoice, stock code, description, quantity, date, unit price, customer,
country). Column names are configurable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakerec.core.schemas import (
    COUNTRY,
    EVENT_TS,
    EVENT_TYPE,
    ITEM_ID,
    ITEM_TITLE,
    ORDER_ID,
    PRICE,
    QUANTITY,
    USER_ID,
    EventType,
)
from lakerec.core.settings import OnlineRetailColumns


def looks_like_online_retail(columns: Sequence[str], names: OnlineRetailColumns) -> bool:
    """True when the invoice, item, quantity, date and customer columns are all present."""
    return {names.invoice, names.item, names.quantity, names.timestamp,
            names.customer} <= set(columns)


# Names that columns of each role of a transaction log go by (compared without case, spaces
# or punctuation): enough to recognise a near miss such as Online Retail II.
_ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice", "invoiceno", "invoicenumber", "orderid", "order", "orderno"),
    "item": ("stockcode", "item", "itemid", "sku", "product", "productid"),
    "description": ("description", "productname", "itemname", "title"),
    "quantity": ("quantity", "qty", "units"),
    "timestamp": ("invoicedate", "orderdate", "date", "timestamp", "datetime"),
    "price": ("price", "unitprice", "itemprice"),
    "customer": ("customerid", "customer", "customerno", "clientid"),
    "country": ("country",),
}
# Roles an adapted log cannot do without (looks_like_online_retail's set).
_REQUIRED_ROLES = ("invoice", "item", "quantity", "timestamp", "customer")


def _plain(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def transaction_log_hint(columns: Sequence[str], names: OnlineRetailColumns) -> str | None:
    """For an events file that is neither the contract nor the configured transaction log:
    when its columns look like a transaction log under other names, the ``--set`` options
    that would map it; else None."""
    found = {}
    for role, synonyms in _ROLE_NAMES.items():
        match = next((c for c in columns if _plain(c) in synonyms), None)
        if match is not None:
            found[role] = match
    if not set(_REQUIRED_ROLES) <= set(found):
        return None
    settings = [f"--set 'ingest.online_retail.{role}={column}'"
                for role, column in found.items() if getattr(names, role) != column]
    return ("it looks like a transaction log (" + ", ".join(found.values()) + ") under other "
            "column names than configured: set " + " ".join(settings))


def _text(name: str) -> Column:
    return F.trim(F.col(f"`{name}`"))


def online_retail_to_events(names: OnlineRetailColumns) -> Callable[[DataFrame], DataFrame]:
    """Transform a transaction log (all columns text) into contract events (all text).

    - invoices starting with ``names.cancellation_prefix`` become ``return`` events with the
      cancelled quantity made positive; every other line is a ``purchase``;
    - customer numbers lose a trailing ``.0`` (Parquet stores them as doubles); a missing
      customer stays null, so ``conform`` rejects the row as ``missing_user_id``;
    - the invoice becomes ``order_id``, the description ``item_title``.

    Other lines with a non-positive quantity (stock adjustments) keep their quantity, and
    ``conform`` quarantines them as ``invalid_quantity``. Columns the mapping does not use are
    dropped, as are lineage columns, which the caller adds afterwards.
    """

    def transform(df: DataFrame) -> DataFrame:
        invoice = _text(names.invoice)
        is_cancellation = invoice.startswith(names.cancellation_prefix)
        quantity = _text(names.quantity)
        optional = {
            PRICE: names.price, ITEM_TITLE: names.description, COUNTRY: names.country,
        }
        extras = [(_text(src) if src in df.columns else F.lit(None).cast("string")).alias(dst)
                  for dst, src in optional.items()]
        corrupt = [c for c in df.columns if c.startswith("_corrupt")]
        return df.select(
            F.regexp_replace(_text(names.customer), r"\.0+$", "").alias(USER_ID),
            _text(names.item).alias(ITEM_ID),
            _text(names.timestamp).alias(EVENT_TS),
            F.when(is_cancellation, F.lit(EventType.RETURN))
            .otherwise(F.lit(EventType.PURCHASE))
            .alias(EVENT_TYPE),
            F.when(is_cancellation, F.regexp_replace(quantity, "^-", "")).otherwise(quantity)
            .alias(QUANTITY),
            invoice.alias(ORDER_ID),
            *extras,
            *corrupt,
        )

    return transform
