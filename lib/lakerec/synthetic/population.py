"""Synthetic items (categories, taste clusters, Zipf popularity) and customers (segments,
taste clusters, personal data, malformed emails) as Spark DataFrames."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakerec.core import schemas as S
from lakerec.core.settings import SegmentShape
from lakerec.synthetic.draws import (
    DAY_S,
    cluster_sizes,
    draw_index,
    epoch_seconds,
    normal,
    pick,
    uniform,
    utc_text,
    zipf_mass,
)

_JITTER_SIGMA = 0.25  # spread of events per customer around the segment's mean
_SIGNUP_SPREAD_DAYS = 730  # customers signed up up to two years before the event window

# Helper columns of the generator only; the step drops them before writing.
IDX = "_idx"
SEGMENT_INDEX = "_segment_index"
FIRST_EVENT_NO = "_first_event_no"
EVENT_NO = "_event_no"
EPOCH_S = "_epoch_s"
ROW_KIND = "_row_kind"
BAD_KIND = "_bad_kind"

GOOD = "good"
RETURN = S.EventType.RETURN  # row kind of a planted return
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
NON_PURCHASE_SPLIT = ((S.EventType.VIEW, 0.75), (S.EventType.ADD_TO_CART, 0.15),
                      (S.EventType.RATING, 0.10))

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
                    run_date: date, bad_email_share: float, opt_out_share: float) -> DataFrame:
    """Customers with their planted segment, taste cluster and number of events.

    Columns: ``user_id, email, name, phone, country, signup_ts, marketing_consent``
    (landing; ``signup_ts`` as text, consent "no" for a share ``opt_out_share``),
    ``segment, taste_cluster, planned_events`` (ground truth) and helper columns.
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
            F.when(uniform(seed, "opt_out", idx) < opt_out_share, F.lit("no"))
            .otherwise(F.lit("yes")).alias(S.MARKETING_CONSENT),
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
