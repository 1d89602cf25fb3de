"""Synthetic customers, items and events with planted structure: pure DataFrame builders.

Everything is built inside Spark from ``spark.range`` and column expressions, so ten
million events never pass through the driver. Every random number is a hash of the seed,
a salt naming its purpose and the row's identity (:func:`uniform`), never ``F.rand``: the
data do not depend on partitioning, parallelism or the order of rows, and the same
arguments always give the same rows.

Planted structure (the ground truth the step writes beside the landing files):

- customers belong to behavioural segments (recency window, number of events, share of
  purchases, basket size) and to taste clusters;
- items belong to categories, categories to taste clusters (category index modulo the
  number of clusters); a ``taste_affinity`` share of each customer's events picks an item
  of their own cluster, the rest an item of another cluster;
- within a cluster item popularity is Zipf-skewed: rank ``r`` is drawn by the inverse CDF
  of a continuous power law on ``[1, n + 1)`` with exponent ``zipf_exponent``;
- bad rows: corrupted copies of good events with exactly one defect each (see
  :data:`EVENT_BAD_KINDS`), and customers with malformed emails.

Times are epoch seconds (UTC) inside; :func:`utc_text` formats them time-zone free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakerec.core import schemas as S
from lakerec.core.settings import SegmentShape
from lakerec.synthetic.draws import (
    DAY_S,
    draw_index,
    epoch_seconds,
    pick,
    uniform,
    utc_text,
    zipf_rank,
)
from lakerec.synthetic.population import (
    BAD_KIND,
    BLANK,
    CUSTOMER_BAD_KINDS,
    EPOCH_S,
    EVENT_BAD_KINDS,
    EVENT_NO,
    FIRST_EVENT_NO,
    GOOD,
    IDX,
    NON_PURCHASE_SPLIT,
    PURCHASE_ONLY_KINDS,
    RETURN,
    ROW_KIND,
    SEGMENT_INDEX,
    UNKNOWN_EVENT_TYPES,
    UNPARSEABLE_TIMESTAMPS,
)


# --- events -------------------------------------------------------------------------------
def _event_id(event_no: Column, slot: int) -> Column:
    """``E`` + a zero-padded number; slot 0 is the event, 1 its return, 2 its bad copy."""
    return F.format_string("E%010d", event_no * 3 + slot)


def planned_events(customers: DataFrame, items: DataFrame, *, seed: int,
                   segments: Mapping[str, SegmentShape], days: int, run_date: date,
                   taste_clusters: int, taste_affinity: float, zipf_exponent: float,
                   cluster_sizes_: Sequence[int]) -> DataFrame:
    """One typed row per planned event of :func:`build_customers`' customers.

    Columns: ``event_id, user_id, item_id, event_type, quantity, price, rating, order_id``,
    ``_epoch_s`` (event time), ``_window_end`` (end of the customer's active window, epoch
    seconds, exclusive) and ``_event_no`` (dense number of the planned event).
    """
    shapes = list(segments.values())
    seg = F.col(SEGMENT_INDEX)
    no = F.col(EVENT_NO)

    def u(salt: str) -> Column:
        return uniform(seed, salt, no)

    reference = epoch_seconds(run_date)
    low = pick([min(s.active_days_ago[0], days) * DAY_S for s in shapes], seg).cast("long")
    high = pick([min(s.active_days_ago[1], days) * DAY_S for s in shapes], seg).cast("long")
    window_end = F.lit(reference) - low
    epoch = window_end - 1 - F.floor(u("ts") * (high - low - 1)).cast("long")

    purchase_share = pick([s.purchase_share for s in shapes], seg)
    u_type = u("type")
    rest = (u_type - purchase_share) / F.greatest(1.0 - purchase_share, F.lit(1e-12))
    event_type = F.when(u_type < purchase_share, F.lit(S.EventType.PURCHASE))
    edge = 0.0
    for name, share in NON_PURCHASE_SPLIT[:-1]:
        edge += share
        event_type = event_type.when(rest < edge, F.lit(name))
    event_type = event_type.otherwise(F.lit(NON_PURCHASE_SPLIT[-1][0]))

    own = F.col(S.GT_TASTE_CLUSTER)
    if taste_clusters > 1:
        other = (own + 1 + draw_index(u("other_cluster"), taste_clusters - 1)) % taste_clusters
        pool = F.when(u("taste") < taste_affinity, own).otherwise(other)
    else:
        pool = own
    rank = zipf_rank(u("item"), pick(cluster_sizes_, F.col("_pool")), zipf_exponent)

    mean_quantity = pick([s.quantity_mean for s in shapes], seg)
    geometric = 1 + F.floor(F.log(1.0 - u("quantity")) / F.log(1.0 - 1.0 / mean_quantity))
    quantity = F.when(mean_quantity > 1, geometric).otherwise(F.lit(1)).cast("int")
    in_cluster = F.col("_item_cluster") == own
    rating = F.when(in_cluster, 3 + draw_index(u("rating"), 3)).otherwise(
        1 + draw_index(u("rating"), 4))
    is_purchase = F.col(S.EVENT_TYPE) == S.EventType.PURCHASE

    catalogue = items.select(
        F.col(S.GT_TASTE_CLUSTER).alias("_pool"), F.col(S.GT_CLUSTER_RANK).alias("_rank"),
        S.ITEM_ID, F.col(S.PRICE).alias("_item_price"),
        F.col(S.GT_TASTE_CLUSTER).alias("_item_cluster"))
    return (
        customers
        .select(IDX, S.USER_ID, SEGMENT_INDEX, S.GT_TASTE_CLUSTER,
                F.explode(F.sequence(F.col(FIRST_EVENT_NO),
                                     F.col(FIRST_EVENT_NO) + F.col(S.GT_PLANNED_EVENTS) - 1))
                .alias(EVENT_NO))
        .withColumn(EPOCH_S, epoch)
        .withColumn("_window_end", window_end)
        .withColumn(S.EVENT_TYPE, event_type)
        .withColumn("_pool", pool)
        .withColumn("_rank", rank)
        .join(F.broadcast(catalogue), ["_pool", "_rank"])
        .select(
            _event_id(no, 0).alias(S.EVENT_ID), S.USER_ID, S.ITEM_ID, S.EVENT_TYPE,
            F.when(is_purchase, quantity).alias(S.QUANTITY),
            F.when(is_purchase, F.col("_item_price")).alias(S.PRICE),
            F.when(F.col(S.EVENT_TYPE) == S.EventType.RATING, rating).alias(S.RATING),
            F.when(is_purchase, F.format_string(
                "O%06d-%s", F.col(IDX), utc_text(F.col(EPOCH_S), "yyyyMMdd")))
            .alias(S.ORDER_ID),
            EPOCH_S, "_window_end", EVENT_NO)
    )


def _bad_kind(u_bad: Column, is_purchase: Column, bad_row_share: float,
              purchase_fraction: float) -> Column:
    """The bad-row kind of an event, or null: each kind takes ``bad_row_share / kinds`` of
    the events; the purchase-only kinds are drawn among purchases."""
    if bad_row_share <= 0:
        return F.lit(None).cast("string")
    general = [k for k in EVENT_BAD_KINDS if k not in PURCHASE_ONLY_KINDS]
    step = bad_row_share / len(EVENT_BAD_KINDS)
    general_end = step * len(general)
    purchase_span = step / purchase_fraction * len(PURCHASE_ONLY_KINDS)
    return (F.when(u_bad < general_end,
                   pick(general, draw_index(u_bad / general_end, len(general))))
            .when(is_purchase & (u_bad < general_end + purchase_span),
                  pick(PURCHASE_ONLY_KINDS, draw_index((u_bad - general_end) / purchase_span,
                                                       len(PURCHASE_ONLY_KINDS)))))


def landing_events(planned: DataFrame, *, seed: int, return_share: float,
                   bad_row_share: float, purchase_fraction: float, absurd_quantity: int,
                   future_from: date) -> DataFrame:
    """The landing rows of :func:`planned_events`, every value as text, in one pass.

    Each planned event gives its own row (``_row_kind`` ``good``) and possibly:

    - a return (``_row_kind`` ``return``, for ``return_share`` of the purchases): same
      item and order, part of the quantity, 1..14 days later but inside the customer's
      active window (so before the run date);
    - one corrupted copy (``_row_kind`` names its kind in :data:`EVENT_BAD_KINDS`): about
      ``bad_row_share`` of the events, spread evenly over the kinds (quantity kinds among
      purchases, whose share of events is ``purchase_fraction``). Only ``duplicate_row``
      keeps the original's event_id. Future timestamps lie 2..365 days after
      ``future_from`` (00:00 UTC).

    ``event_ts`` is ``yyyy-MM-dd HH:mm:ss`` (UTC); ``_event_no`` is kept for ordering.
    """
    no = F.col(EVENT_NO)
    is_purchase = F.col(S.EVENT_TYPE) == S.EventType.PURCHASE
    decided = planned.select(
        "*", utc_text(F.col(EPOCH_S)).alias(S.EVENT_TS),
        (is_purchase & (uniform(seed, "return", no) < return_share)).alias("_returned"),
        _bad_kind(uniform(seed, "bad_row", no), is_purchase, bad_row_share,
                  purchase_fraction).alias("_kind"),
        uniform(seed, "bad_value", no).alias("_u_value"))

    def text(name: str) -> Column:
        return F.col(name).cast("string")

    good = {S.EVENT_ID: text(S.EVENT_ID), S.USER_ID: text(S.USER_ID),
            S.ITEM_ID: text(S.ITEM_ID), S.EVENT_TYPE: text(S.EVENT_TYPE),
            S.EVENT_TS: text(S.EVENT_TS), S.QUANTITY: text(S.QUANTITY),
            S.PRICE: text(S.PRICE), S.RATING: text(S.RATING), S.ORDER_ID: text(S.ORDER_ID),
            EVENT_NO: no, ROW_KIND: F.lit(GOOD)}
    delay = DAY_S + F.floor(uniform(seed, "return_delay", no) * 13 * DAY_S).cast("long")
    returned = {**good, S.EVENT_ID: _event_id(no, 1), S.EVENT_TYPE: F.lit(S.EventType.RETURN),
                S.EVENT_TS: utc_text(F.least(F.col(EPOCH_S) + delay,
                                             F.col("_window_end") - 1)),
                S.QUANTITY: (1 + F.floor(uniform(seed, "return_quantity", no)
                                         * F.col(S.QUANTITY))).cast("string"),
                S.RATING: F.lit(None).cast("string"), ROW_KIND: F.lit(RETURN)}

    kind, u_value = F.col("_kind"), F.col("_u_value")
    null = F.lit(None).cast("string")
    future = (F.lit(epoch_seconds(future_from) + 2 * DAY_S)
              + F.floor(u_value * 363 * DAY_S).cast("long"))
    defects: dict[str, dict[str, Column]] = {
        S.EVENT_ID: {k: _event_id(no, 2) for k in EVENT_BAD_KINDS if k != "duplicate_row"},
        S.USER_ID: {"null_user_id": null, "blank_user_id": F.lit(BLANK)},
        S.ITEM_ID: {"null_item_id": null, "blank_item_id": F.lit(BLANK)},
        S.EVENT_TYPE: {"unknown_event_type": pick(
            UNKNOWN_EVENT_TYPES, draw_index(u_value, len(UNKNOWN_EVENT_TYPES)))},
        S.EVENT_TS: {"unparseable_timestamp": pick(
            UNPARSEABLE_TIMESTAMPS, draw_index(u_value, len(UNPARSEABLE_TIMESTAMPS))),
            "future_timestamp": utc_text(future)},
        S.QUANTITY: {"negative_quantity": F.concat(F.lit("-"), text(S.QUANTITY)),
                     "absurd_quantity": F.lit(str(absurd_quantity))},
        ROW_KIND: {k: F.lit(k) for k in EVENT_BAD_KINDS},
    }
    corrupted = dict(good)
    for column, replacements in defects.items():
        value = corrupted[column]
        for defect, replacement in replacements.items():
            value = F.when(kind == defect, replacement).otherwise(value)
        corrupted[column] = value

    def row(values: Mapping[str, Column]) -> Column:
        return F.struct(*[v.alias(k) for k, v in values.items()])

    rows = F.array(row(good), F.when(F.col("_returned"), row(returned)),
                   F.when(kind.isNotNull(), row(corrupted)))
    return decided.select(F.explode(F.filter(rows, lambda r: r.isNotNull())).alias("_row")
                          ).select("_row.*")


# --- ground truth -------------------------------------------------------------------------
def _reason(kinds: Mapping[str, str]) -> Column:
    return F.element_at(F.create_map(*[F.lit(x) for kv in kinds.items() for x in kv]),
                        F.col(S.GT_BAD_KIND))


def bad_rows_truth(events: DataFrame, customers: DataFrame) -> DataFrame:
    """``table, key, bad_kind, _reject_reason`` of every planted bad row."""
    bad_events = events.where(F.col(ROW_KIND).isin(*EVENT_BAD_KINDS)).select(
        F.lit("events").alias(S.GT_TABLE), F.col(S.EVENT_ID).alias(S.GT_KEY),
        F.col(ROW_KIND).alias(S.GT_BAD_KIND)).withColumn(S.REJECT_REASON,
                                                         _reason(EVENT_BAD_KINDS))
    bad_customers = customers.where(F.col(BAD_KIND).isNotNull()).select(
        F.lit("customers").alias(S.GT_TABLE), F.col(S.USER_ID).alias(S.GT_KEY),
        F.col(BAD_KIND).alias(S.GT_BAD_KIND)).withColumn(S.REJECT_REASON,
                                                         _reason(CUSTOMER_BAD_KINDS))
    return bad_events.unionByName(bad_customers)
