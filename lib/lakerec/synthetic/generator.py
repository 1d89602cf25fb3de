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

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakerec.core import schemas as S
from lakerec.core.config import SegmentShape

DAY_S = 86_400
TS_FORMAT = "yyyy-MM-dd HH:mm:ss"
_EPOCH_NTZ = "TIMESTAMP_NTZ'1970-01-01 00:00:00'"
_TWO_53 = 2**53
_JITTER_SIGMA = 0.25  # spread of events per customer around the segment's mean
_SIGNUP_SPREAD_DAYS = 730  # customers signed up up to two years before the event window

# Helper columns of this module only; the step drops them before writing.
IDX = "_idx"
SEGMENT_INDEX = "_segment_index"
FIRST_EVENT_NO = "_first_event_no"
EVENT_NO = "_event_no"
EPOCH_S = "_epoch_s"
ROW_KIND = "_row_kind"
BAD_KIND = "_bad_kind"

GOOD = "good"
RETURN = "return"
# Event bad-row kinds and the reason conform must give them. The last two need a purchase.
EVENT_BAD_KINDS: dict[str, str] = {
    "null_user_id": S.MISSING_USER_ID,
    "blank_user_id": S.MISSING_USER_ID,
    "null_item_id": S.MISSING_ITEM_ID,
    "blank_item_id": S.MISSING_ITEM_ID,
    "unparseable_timestamp": S.UNPARSEABLE_TIMESTAMP,
    "future_timestamp": S.FUTURE_TIMESTAMP,
    "unknown_event_type": S.UNKNOWN_EVENT_TYPE,
    "duplicate_row": S.DUPLICATE_ROW,
    "duplicate_event": S.DUPLICATE_EVENT,
    "negative_quantity": S.INVALID_QUANTITY,
    "absurd_quantity": S.INVALID_QUANTITY,
}
PURCHASE_ONLY_KINDS = ("negative_quantity", "absurd_quantity")
CUSTOMER_BAD_KINDS: dict[str, str] = {
    "email_without_at": S.INVALID_EMAIL,
    "email_without_domain_dot": S.INVALID_EMAIL,
    "email_double_at": S.INVALID_EMAIL,
    "email_blank": S.INVALID_EMAIL,
}
BLANK = "  "
UNPARSEABLE_TIMESTAMPS = ("31/02/2025 25:61", "not a date", "yesterday")
UNKNOWN_EVENT_TYPES = ("click", "wishlist")
# Of the events that are not purchases: views, then carts, then ratings.
NON_PURCHASE_SPLIT = (("view", 0.75), ("add_to_cart", 0.15), ("rating", 0.10))

CATEGORY_WORDS = (
    ("mug", "teapot", "bowl", "plate", "jug", "cup"),
    ("lamp", "candle", "lantern", "bulb", "shade", "holder"),
    ("notebook", "pen", "pencil", "journal", "planner", "card"),
    ("cushion", "throw", "blanket", "pillow", "rug", "quilt"),
    ("bag", "tote", "purse", "wallet", "backpack", "pouch"),
    ("frame", "mirror", "clock", "poster", "print", "sign"),
    ("doll", "puzzle", "kite", "robot", "yoyo", "blocks"),
    ("soap", "lotion", "sponge", "towel", "brush", "balm"),
    ("necklace", "ring", "bracelet", "earring", "brooch", "pendant"),
    ("plant", "pot", "planter", "seeds", "trowel", "vase"),
    ("scarf", "hat", "glove", "sock", "beanie", "mitten"),
    ("box", "tin", "jar", "basket", "crate", "hamper"),
    ("ribbon", "wrap", "bow", "tag", "gift", "tissue"),
    ("tray", "coaster", "napkin", "placemat", "apron", "runner"),
    ("speaker", "charger", "cable", "headphones", "stand", "case"),
    ("ball", "racket", "bottle", "mat", "band", "whistle"),
    ("biscuits", "tea", "coffee", "chocolate", "jam", "honey"),
    ("shirt", "dress", "skirt", "jacket", "hoodie", "tee"),
    ("hook", "shelf", "rack", "peg", "drawer", "cabinet"),
    ("badge", "sticker", "magnet", "keyring", "pin", "patch"),
)
ADJECTIVES = ("vintage", "classic", "rustic", "modern", "floral", "retro", "large", "small",
              "red", "blue", "green", "white", "pink", "wooden", "ceramic", "glass")
FIRST_NAMES = ("anna", "ben", "chloe", "david", "emma", "felix", "grace", "harry", "isla",
               "jack", "katie", "liam", "mia", "noah", "olivia", "paul", "rosa", "sam",
               "tara", "umar", "vera", "will", "yara", "zoe", "lukas", "sofia", "marco",
               "elena", "jan", "ines")
LAST_NAMES = ("smith", "jones", "taylor", "brown", "wilson", "evans", "thomas", "roberts",
              "walker", "wright", "muller", "schmidt", "martin", "bernard", "garcia",
              "lopez", "rossi", "russo", "jansen", "devries", "murphy", "kelly", "nowak",
              "kowalski", "andersson", "nilsson", "dubois", "moreau", "costa", "silva")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
COUNTRIES = (("GB", 44), ("DE", 49), ("FR", 33), ("NL", 31), ("ES", 34), ("IT", 39),
             ("IE", 353), ("US", 1), ("SE", 46), ("PL", 48))


# --- randomness and small expressions ----------------------------------------------------
def uniform(seed: int, salt: str, *ids: Column) -> Column:
    """A uniform number in [0, 1) from a hash of ``seed``, ``salt`` and ``ids``."""
    hashed = F.xxhash64(F.lit(seed), F.lit(salt), *ids)
    return F.pmod(hashed, F.lit(_TWO_53)) / float(_TWO_53)


def normal(seed: int, salt: str, *ids: Column) -> Column:
    """A standard normal number (Box-Muller on two hashed uniforms)."""
    radius = F.sqrt(-2.0 * F.log(1.0 - uniform(seed, salt + ":r", *ids)))
    return radius * F.cos(2.0 * math.pi * uniform(seed, salt + ":a", *ids))


def pick(values: Sequence[Any], index: Column) -> Column:
    """``values[index]`` for a 0-based integer column."""
    return F.element_at(F.array(*[F.lit(v) for v in values]), index.cast("int") + 1)


def draw_index(u: Column, n: int) -> Column:
    """An integer in [0, n) from a uniform column."""
    return F.least(F.floor(u * n), F.lit(n - 1)).cast("int")


def utc_text(epoch_s: Column, fmt: str = TS_FORMAT) -> Column:
    """Format epoch seconds as UTC text, whatever the session time zone."""
    return F.date_format(F.timestamp_add("SECOND", epoch_s, F.expr(_EPOCH_NTZ)), fmt)


def epoch_seconds(day: date) -> int:
    """Epoch seconds of ``day`` at 00:00 UTC."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def zipf_rank(u: Column, n: Column, exponent: float) -> Column:
    """A 1-based rank in [1, n]: inverse CDF of a power law ``x^-s`` on [1, n + 1)."""
    if math.isclose(exponent, 1.0):
        x = F.pow(n + 1.0, u)
    else:
        a = 1.0 - exponent
        x = F.pow(1.0 + u * (F.pow(n + 1.0, a) - 1.0), 1.0 / a)
    return F.least(F.greatest(F.floor(x), F.lit(1)), n).cast("int")


def zipf_mass(rank: Column, n: Column, exponent: float) -> Column:
    """The probability :func:`zipf_rank` gives ``rank`` among ``n``."""
    if math.isclose(exponent, 1.0):
        return (F.log(rank + 1.0) - F.log(rank)) / F.log(n + 1.0)
    a = 1.0 - exponent
    return (F.pow(rank + 1.0, a) - F.pow(rank, a)) / (F.pow(n + 1.0, a) - 1.0)


def cluster_sizes(items: int, categories: int, taste_clusters: int) -> list[int]:
    """Items per taste cluster: item ``i`` is in category ``i % categories``, which is in
    cluster ``category % taste_clusters``."""
    sizes = [0] * taste_clusters
    for category in range(categories):
        sizes[category % taste_clusters] += items // categories + (category < items % categories)
    return sizes


def expected_purchase_fraction(segments: Mapping[str, SegmentShape]) -> float:
    """Expected share of purchases among the good (non-return) events."""
    weights = [s.share * s.events_per_customer for s in segments.values()]
    purchases = sum(w * s.purchase_share for w, s in zip(weights, segments.values(), strict=True))
    return purchases / sum(weights)


# --- items --------------------------------------------------------------------------------
def build_items(spark: SparkSession, *, seed: int, items: int, categories: int,
                taste_clusters: int, zipf_exponent: float,
                out_of_stock_share: float) -> DataFrame:
    """The catalogue with its planted truth.

    Columns: ``item_id, title, category, price, in_stock`` (landing) and ``taste_cluster,
    cluster_rank, expected_share`` (ground truth): ``cluster_rank`` 1 is the most popular
    item of its taste cluster, ``expected_share`` the share of all item draws it gets.
    """
    idx = F.col(IDX)
    category = idx % categories
    words = F.element_at(
        F.array(*[F.array(*[F.lit(w) for w in ws]) for ws in CATEGORY_WORDS]),
        (category % len(CATEGORY_WORDS)).cast("int") + 1)
    nouns = 1 + draw_index(uniform(seed, "title_length", idx), 3)  # 2..4 words in all
    start = draw_index(uniform(seed, "title_start", idx), len(CATEGORY_WORDS[0])) + 1
    title_words = F.concat(F.array(pick(ADJECTIVES, draw_index(uniform(seed, "adj", idx),
                                                               len(ADJECTIVES)))),
                           F.slice(F.concat(words, words), start, nouns))
    # Log-normal prices around a per-category level, ending in .99, within 1.99..199.99.
    level = math.log(4.0) + uniform(seed, "category_price", category) * math.log(60.0 / 4.0)
    raw_price = F.exp(level + 0.5 * normal(seed, "price", idx))
    price = F.least(F.greatest(F.round(raw_price) - 0.01, F.lit(1.99)), F.lit(199.99))
    sizes = cluster_sizes(items, categories, taste_clusters)
    cluster = (category % taste_clusters).cast("int")
    by_popularity = Window.partitionBy(S.GT_TASTE_CLUSTER).orderBy(
        uniform(seed, "popularity", idx), idx)
    return (
        spark.range(items).withColumnRenamed("id", IDX)
        .select(
            idx,
            F.format_string("I%05d", idx).alias(S.ITEM_ID),
            F.initcap(F.array_join(title_words, " ")).alias(S.TITLE),
            F.format_string("C%02d", category).alias(S.CATEGORY),
            F.round(price, 2).alias(S.PRICE),
            (uniform(seed, "stock", idx) >= out_of_stock_share).alias(S.IN_STOCK),
            cluster.alias(S.GT_TASTE_CLUSTER))
        .withColumn(S.GT_CLUSTER_RANK, F.row_number().over(by_popularity))
        # Every cluster receives 1/taste_clusters of all draws (see build_events).
        .withColumn(S.GT_EXPECTED_SHARE, zipf_mass(
            F.col(S.GT_CLUSTER_RANK), pick(sizes, F.col(S.GT_TASTE_CLUSTER)),
            zipf_exponent) / taste_clusters)
    )


# --- customers ----------------------------------------------------------------------------
def build_customers(spark: SparkSession, *, seed: int, customers: int, events: int,
                    segments: Mapping[str, SegmentShape], taste_clusters: int, days: int,
                    run_date: date, bad_email_share: float) -> DataFrame:
    """Customers with their planted segment, taste cluster and number of events.

    Columns: ``user_id, email, name, phone, country, signup_ts`` (landing; ``signup_ts`` as
    text), ``segment, taste_cluster, planned_events`` (ground truth) and helper columns.
    The number of events is ``events_per_customer * scale * jitter`` (log-normal jitter of
    mean 1), with ``scale`` chosen so that the expected total is ``events``.
    """
    shapes = list(segments.values())
    total_share = sum(s.share for s in shapes)
    mean_events = sum(s.share * s.events_per_customer for s in shapes) / total_share
    scale = events / (customers * mean_events)
    idx = F.col(IDX)
    u_segment = uniform(seed, "segment", idx)
    segment = F.lit(len(shapes) - 1)
    cumulative = [sum(s.share for s in shapes[: i + 1]) / total_share for i in range(len(shapes))]
    for i in reversed(range(len(shapes) - 1)):
        segment = F.when(u_segment < cumulative[i], F.lit(i)).otherwise(segment)
    jitter = F.exp(_JITTER_SIGMA * normal(seed, "jitter", idx) - _JITTER_SIGMA**2 / 2)
    planned = F.greatest(F.lit(1), F.round(
        pick([s.events_per_customer for s in shapes], F.col(SEGMENT_INDEX)) * scale * jitter))

    first = pick(FIRST_NAMES, draw_index(uniform(seed, "first_name", idx), len(FIRST_NAMES)))
    last = pick(LAST_NAMES, draw_index(uniform(seed, "last_name", idx), len(LAST_NAMES)))
    local = F.concat(first, F.lit("."), last, draw_index(uniform(seed, "email_no", idx), 1000))
    domain = pick(EMAIL_DOMAINS, draw_index(uniform(seed, "domain", idx), len(EMAIL_DOMAINS)))
    u_bad = uniform(seed, "bad_email", idx)
    bad_kind = F.when(u_bad < bad_email_share, pick(
        list(CUSTOMER_BAD_KINDS),
        draw_index(u_bad / max(bad_email_share, 1e-12), len(CUSTOMER_BAD_KINDS))))
    email = (F.when(F.col(BAD_KIND) == "email_without_at", F.concat(local, F.lit("."), domain))
             .when(F.col(BAD_KIND) == "email_without_domain_dot",
                   F.concat(local, F.lit("@"), last))
             .when(F.col(BAD_KIND) == "email_double_at", F.concat(local, F.lit("@@"), domain))
             .when(F.col(BAD_KIND) == "email_blank", F.lit(""))
             .otherwise(F.concat(local, F.lit("@"), domain)))
    country = draw_index(uniform(seed, "country", idx), len(COUNTRIES))
    phone = F.format_string("+%d %09d", pick([c[1] for c in COUNTRIES], country),
                            F.pmod(F.xxhash64(F.lit(seed), F.lit("phone"), idx),
                                   F.lit(10**9)))
    signup_days_ago = days + uniform(seed, "signup", idx) * _SIGNUP_SPREAD_DAYS
    signup = F.lit(epoch_seconds(run_date)) - (signup_days_ago * DAY_S).cast("long")
    customer_rows = (
        spark.range(customers).withColumnRenamed("id", IDX)
        .withColumn(SEGMENT_INDEX, segment.cast("int"))
        .withColumn(BAD_KIND, bad_kind)
        .select(
            idx, F.col(SEGMENT_INDEX), F.col(BAD_KIND),
            F.format_string("U%06d", idx).alias(S.USER_ID),
            email.alias(S.EMAIL),
            F.initcap(F.concat_ws(" ", first, last)).alias(S.NAME),
            phone.alias(S.PHONE),
            pick([c[0] for c in COUNTRIES], country).alias(S.COUNTRY),
            utc_text(signup).alias(S.SIGNUP_TS),
            pick(list(segments), F.col(SEGMENT_INDEX)).alias(S.GT_SEGMENT),
            draw_index(uniform(seed, "taste", idx), taste_clusters).alias(S.GT_TASTE_CLUSTER),
            planned.cast("long").alias(S.GT_PLANNED_EVENTS))
    )
    return with_first_event_no(customer_rows)


def with_first_event_no(customers: DataFrame, block: int = 4096) -> DataFrame:
    """Number the customers' planned events densely: add ``_first_event_no``, the sum of
    ``planned_events`` of all customers with a smaller ``_idx``.

    A running sum over blocks of ``block`` customers, plus the totals of all earlier
    blocks (a small self-join), so no window moves every customer into one partition.
    """
    block_no = F.floor(F.col(IDX) / block)
    in_block = Window.partitionBy("_block").orderBy(IDX).rowsBetween(
        Window.unboundedPreceding, -1)
    totals = customers.groupBy(block_no.alias("_block")).agg(
        F.sum(S.GT_PLANNED_EVENTS).alias("_total"))
    before = (totals.alias("b").join(totals.alias("a"), F.col("a._block") < F.col("b._block"))
              .groupBy(F.col("b._block").alias("_block"))
              .agg(F.sum("a._total").alias("_before_block")))
    return (customers.withColumn("_block", block_no)
            .join(F.broadcast(before), "_block", "left")
            .withColumn(FIRST_EVENT_NO,
                        F.coalesce(F.col("_before_block"), F.lit(0))
                        + F.coalesce(F.sum(S.GT_PLANNED_EVENTS).over(in_block), F.lit(0)))
            .drop("_block", "_before_block"))


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
    event_type = F.when(u_type < purchase_share, F.lit("purchase"))
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
    is_purchase = F.col(S.EVENT_TYPE) == "purchase"

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
            F.when(F.col(S.EVENT_TYPE) == "rating", rating).alias(S.RATING),
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
    is_purchase = F.col(S.EVENT_TYPE) == "purchase"
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
    returned = {**good, S.EVENT_ID: _event_id(no, 1), S.EVENT_TYPE: F.lit("return"),
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
