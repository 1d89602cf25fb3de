"""Column names and table schemas: every name is written once, here.

Business keys (``user_id``, ``item_id``) are strings everywhere outside model internals.
"""

from __future__ import annotations

from enum import StrEnum

from pyspark.sql import types as T

# --- business columns -------------------------------------------------------------------
USER_ID = "user_id"
ITEM_ID = "item_id"
EVENT_ID = "event_id"
EVENT_TYPE = "event_type"
EVENT_TS = "event_ts"
QUANTITY = "quantity"
PRICE = "price"
RATING = "rating"
ORDER_ID = "order_id"
ITEM_TITLE = "item_title"
COUNTRY = "country"
EVENT_KEY = "event_key"  # hash of the event's content, the natural key for deduplication

EMAIL = "email"
NAME = "name"
PHONE = "phone"
EMAIL_VALID = "email_valid"            # bronze: the landed email was an address (null: none)
PHONE_HAS_DIGITS = "phone_has_digits"  # bronze: the landed phone had digits (null: none)
MARKETING_CONSENT = "marketing_consent"
SIGNUP_TS = "signup_ts"
FIRST_SEEN_TS = "first_seen_ts"
LAST_SEEN_TS = "last_seen_ts"

CATEGORY = "category"
TITLE = "title"
IN_STOCK = "in_stock"

RUN_DATE = "run_date"

# --- campaigns and the channel's contact log ----------------------------------------------
CAMPAIGN_ID = "campaign_id"
CHANNEL = "channel"
CONTACT_TYPE = "contact_type"
CONTACT_TS = "contact_ts"
CONTACT_KEY = "contact_key"  # hash of the contact's content: its key in silver

# --- lineage columns --------------------------------------------------------------------
INGEST_TS = "_ingest_ts"
SOURCE_FILE = "_source_file"
SOURCE_CHECKSUM = "_source_checksum"  # SHA-256 of the landed file: a copy under a new name
BATCH_ID = "_batch_id"
CORRUPT_RECORD = "_corrupt_record"
REJECT_REASON = "_reject_reason"
LINEAGE_COLUMNS = (INGEST_TS, SOURCE_FILE, SOURCE_CHECKSUM, BATCH_ID)

# --- event contract ---------------------------------------------------------------------
class EventType(StrEnum):
    """The kinds of behaviour event the contract knows; each equals its text."""

    VIEW = "view"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    RETURN = "return"
    RATING = "rating"


EVENT_TYPES = tuple(EventType)
SALE_EVENT_TYPES = (EventType.PURCHASE, EventType.RETURN)  # carry a quantity and a price
EVENTS_REQUIRED = (USER_ID, ITEM_ID, EVENT_TYPE, EVENT_TS)
EVENTS_OPTIONAL = (EVENT_ID, QUANTITY, PRICE, RATING, ORDER_ID, ITEM_TITLE, COUNTRY)
CUSTOMERS_REQUIRED = (USER_ID,)
CUSTOMERS_OPTIONAL = (EMAIL, NAME, PHONE, COUNTRY, SIGNUP_TS, MARKETING_CONSENT)
ITEMS_REQUIRED = (ITEM_ID,)
ITEMS_OPTIONAL = (TITLE, CATEGORY, PRICE, IN_STOCK)


class ContactType(StrEnum):
    """What a channel's log says happened to one customer in one campaign. ``held_out``:
    the customer was drawn into the campaign's control group and sent nothing (channels
    such as Braze log control-group enrolment the same way)."""

    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    HELD_OUT = "held_out"


CONTACT_TYPES = tuple(ContactType)
CONTACTS_REQUIRED = (CAMPAIGN_ID, USER_ID, CONTACT_TYPE, CONTACT_TS)
CONTACTS_OPTIONAL = (CHANNEL,)
PII_COLUMNS = (EMAIL, NAME, PHONE)  # stored only as keyed pseudonyms, from bronze on
# columns that identify a customer: no Delta min/max statistics of them (core/lake.py)
IDENTIFYING_COLUMNS = (USER_ID, *PII_COLUMNS, CORRUPT_RECORD)

# The landing entities: each has a landing folder and a bronze, silver and quarantine table.
ENTITY = "entity"  # the column naming one of them
EVENTS = "events"
CUSTOMERS = "customers"
ITEMS = "items"
CONTACTS = "contacts"  # channels' logs of campaign sends, deliveries, opens, clicks, holdouts
ENTITIES = (EVENTS, CUSTOMERS, ITEMS, CONTACTS)
REQUIRED_COLUMNS = {EVENTS: EVENTS_REQUIRED, CUSTOMERS: CUSTOMERS_REQUIRED, ITEMS: ITEMS_REQUIRED,
                    CONTACTS: CONTACTS_REQUIRED}
OPTIONAL_COLUMNS = {EVENTS: EVENTS_OPTIONAL, CUSTOMERS: CUSTOMERS_OPTIONAL, ITEMS: ITEMS_OPTIONAL,
                    CONTACTS: CONTACTS_OPTIONAL}

# --- silver schemas ---------------------------------------------------------------------
SILVER_EVENTS_SCHEMA = T.StructType([
    T.StructField(EVENT_ID, T.StringType(), False),
    T.StructField(USER_ID, T.StringType(), False),
    T.StructField(ITEM_ID, T.StringType(), False),
    T.StructField(EVENT_TYPE, T.StringType(), False),
    T.StructField(EVENT_TS, T.TimestampType(), False),
    T.StructField(QUANTITY, T.IntegerType(), True),
    T.StructField(PRICE, T.DoubleType(), True),
    T.StructField(RATING, T.DoubleType(), True),
    T.StructField(ORDER_ID, T.StringType(), True),
    T.StructField(ITEM_TITLE, T.StringType(), True),
    T.StructField(COUNTRY, T.StringType(), True),
    T.StructField(EVENT_KEY, T.StringType(), False),
    T.StructField(BATCH_ID, T.StringType(), False),
])

SILVER_CUSTOMERS_SCHEMA = T.StructType([
    T.StructField(USER_ID, T.StringType(), False),
    T.StructField(EMAIL, T.StringType(), True),   # HMAC-SHA256 pseudonym
    T.StructField(NAME, T.StringType(), True),    # HMAC-SHA256 pseudonym
    T.StructField(PHONE, T.StringType(), True),   # HMAC-SHA256 pseudonym
    T.StructField(COUNTRY, T.StringType(), True),
    T.StructField(SIGNUP_TS, T.TimestampType(), True),
    T.StructField(MARKETING_CONSENT, T.BooleanType(), True),  # null: privacy.consent.default
    T.StructField(FIRST_SEEN_TS, T.TimestampType(), True),
    T.StructField(LAST_SEEN_TS, T.TimestampType(), True),
    T.StructField(BATCH_ID, T.StringType(), False),
])

SILVER_ITEMS_SCHEMA = T.StructType([
    T.StructField(ITEM_ID, T.StringType(), False),
    T.StructField(TITLE, T.StringType(), True),
    T.StructField(CATEGORY, T.StringType(), True),
    T.StructField(PRICE, T.DoubleType(), True),
    T.StructField(IN_STOCK, T.BooleanType(), False),
    T.StructField(FIRST_SEEN_TS, T.TimestampType(), True),
    T.StructField(LAST_SEEN_TS, T.TimestampType(), True),
    T.StructField(BATCH_ID, T.StringType(), False),
])

SILVER_CONTACTS_SCHEMA = T.StructType([
    T.StructField(CAMPAIGN_ID, T.StringType(), False),
    T.StructField(USER_ID, T.StringType(), False),
    T.StructField(CHANNEL, T.StringType(), True),
    T.StructField(CONTACT_TYPE, T.StringType(), False),
    T.StructField(CONTACT_TS, T.TimestampType(), False),
    T.StructField(CONTACT_KEY, T.StringType(), False),
    T.StructField(BATCH_ID, T.StringType(), False),
])

SILVER_KEYS = {EVENTS: EVENT_ID, CUSTOMERS: USER_ID, ITEMS: ITEM_ID, CONTACTS: CONTACT_KEY}

# --- reject reasons (quarantine._reject_reason) -----------------------------------------
MALFORMED_RECORD = "malformed_record"
MISSING_USER_ID = "missing_user_id"
MISSING_ITEM_ID = "missing_item_id"
NON_SCALAR_ID = "non_scalar_id"          # a user or item id that is a JSON object or array
ID_TOO_LONG = "id_too_long"              # a user or item id over MAX_ID_LENGTH characters
MAX_ID_LENGTH = 256
MISSING_EVENT_TYPE = "missing_event_type"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
MISSING_TIMESTAMP = "missing_timestamp"
UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
TIMESTAMP_BEFORE_START = "timestamp_before_start"
INVALID_QUANTITY = "invalid_quantity"
INVALID_PRICE = "invalid_price"
INVALID_RATING = "invalid_rating"
NON_PRODUCT_ITEM = "non_product_item"
DUPLICATE_ROW = "duplicate_row"          # every column equal to another row
DUPLICATE_EVENT = "duplicate_event"      # same event content under another event_id
DUPLICATE_EVENT_ID = "duplicate_event_id"  # same event_id, different content
INVALID_EMAIL = "invalid_email"
INVALID_SIGNUP_TS = "invalid_signup_ts"
INVALID_STOCK_FLAG = "invalid_stock_flag"
INVALID_CONSENT_FLAG = "invalid_consent_flag"
DUPLICATE_KEY = "duplicate_key"          # an older version of a customer/item in the same load
MISSING_CAMPAIGN_ID = "missing_campaign_id"
UNKNOWN_CONTACT_TYPE = "unknown_contact_type"
CONFLICTING_GROUP = "conflicting_group"  # a customer both held out and sent to, one campaign

# --- gold: customer features and segments (segmentation) -------------------------------
FIRST_ACTIVITY_TS = "first_activity_ts"
LAST_EVENT_TS = "last_event_ts"
LAST_PURCHASE_TS = "last_purchase_ts"
RECENCY_DAYS = "recency_days"            # days since the last purchase
DAYS_SINCE_LAST_EVENT = "days_since_last_event"
TENURE_DAYS = "tenure_days"              # days since the first activity
FREQUENCY = "frequency"                  # distinct orders (purchase days without order ids)
GROSS_REVENUE = "gross_revenue"
RETURNED_VALUE = "returned_value"
MONETARY = "monetary"                    # gross revenue minus returned value
AVG_BASKET_VALUE = "avg_basket_value"
RETURN_RATE = "return_rate"
EVENTS_TOTAL = "events_total"
EVENTS_RECENT = "events_recent"
EVENTS_BASELINE = "events_baseline"
ACTIVITY_TREND = "activity_trend"
CATEGORY_SHARE = "category_spend_share"  # map: top category (or "other") -> share of spend
HAS_PURCHASE = "has_purchase"
OTHER_CATEGORY = "other"
UNKNOWN_CATEGORY = "uncategorised"

SEGMENT_ID = "segment_id"
SEGMENT_LABEL = "segment_label"
DISTANCE_TO_CENTROID = "distance_to_centroid"
MODEL_VERSION = "model_version"

USER_FEATURES_SCHEMA = T.StructType([
    T.StructField(USER_ID, T.StringType(), False),
    T.StructField(FIRST_ACTIVITY_TS, T.TimestampType(), True),
    T.StructField(LAST_EVENT_TS, T.TimestampType(), True),
    T.StructField(LAST_PURCHASE_TS, T.TimestampType(), True),
    T.StructField(RECENCY_DAYS, T.IntegerType(), True),
    T.StructField(DAYS_SINCE_LAST_EVENT, T.IntegerType(), True),
    T.StructField(TENURE_DAYS, T.IntegerType(), True),
    T.StructField(FREQUENCY, T.LongType(), False),
    T.StructField(GROSS_REVENUE, T.DoubleType(), False),
    T.StructField(RETURNED_VALUE, T.DoubleType(), False),
    T.StructField(MONETARY, T.DoubleType(), False),
    T.StructField(AVG_BASKET_VALUE, T.DoubleType(), True),
    T.StructField(RETURN_RATE, T.DoubleType(), True),
    T.StructField(EVENTS_TOTAL, T.LongType(), False),
    T.StructField(EVENTS_RECENT, T.LongType(), False),
    T.StructField(EVENTS_BASELINE, T.LongType(), False),
    T.StructField(ACTIVITY_TREND, T.DoubleType(), False),
    T.StructField(CATEGORY_SHARE, T.MapType(T.StringType(), T.DoubleType()), True),
    T.StructField(HAS_PURCHASE, T.BooleanType(), False),
    T.StructField(RUN_DATE, T.DateType(), False),
])

CUSTOMER_SEGMENTS_SCHEMA = T.StructType([
    T.StructField(USER_ID, T.StringType(), False),
    T.StructField(SEGMENT_ID, T.IntegerType(), False),
    T.StructField(SEGMENT_LABEL, T.StringType(), False),
    T.StructField(DISTANCE_TO_CENTROID, T.DoubleType(), True),
    T.StructField(MODEL_VERSION, T.IntegerType(), True),
    T.StructField(RUN_DATE, T.DateType(), False),
])

# --- recommendations (issue: recommendations) -------------------------------------------
USER_IDX = "user_idx"            # ALS integer id of a customer (gold.user_index)
ITEM_IDX = "item_idx"            # ALS integer id of an item (gold.item_index)
CONFIDENCE = "confidence"        # implicit-feedback strength of a (customer, item) pair
SCORE = "score"
RANK = "rank"
SOURCE = "source"                # als | segment_popular | popular | content
REASON_ITEM_ID = "reason_item_id"
SIMILAR_ITEM_ID = "similar_item_id"
SIMILARITY = "similarity"
GAP_REASON = "reason"            # gold.recommendation_gaps
OPTED_OUT_REASON = "opted out of marketing (no consent): no recommendations"


class Source(StrEnum):
    """Where a recommendation came from (``gold.recommendations.source``)."""

    ALS = "als"                          # the champion factor model
    SEGMENT_POPULAR = "segment_popular"  # popular in the customer's segment
    POPULAR = "popular"                  # popular overall (cold start)
    CONTENT = "content"                  # a new item placed by its content's neighbours
    ITEM_ITEM = "item_item"              # items similar to the customer's (co-occurrence)
    EASE = "ease"                        # EASE's learned item-to-item weights
    BLEND = "blend"                      # the champion's weighted blend of several of these


RECOMMENDATION_SOURCES = tuple(Source)
MODEL_SOURCES = (Source.ALS, Source.CONTENT, Source.ITEM_ITEM, Source.EASE,  # not fallbacks
                 Source.BLEND)

RECOMMENDATIONS_SCHEMA = T.StructType([
    T.StructField(USER_ID, T.StringType(), False),
    T.StructField(RANK, T.IntegerType(), False),
    T.StructField(ITEM_ID, T.StringType(), False),
    T.StructField(SCORE, T.DoubleType(), False),
    T.StructField(SOURCE, T.StringType(), False),
    T.StructField(REASON_ITEM_ID, T.StringType(), True),
    T.StructField(MODEL_VERSION, T.IntegerType(), True),
    T.StructField(RUN_DATE, T.DateType(), False),
])

# --- evaluation and blocked scoring (issue: recommendations, part A) --------------------
FACTOR_ID = "id"                 # ALSModel.userFactors / itemFactors: integer id
FACTOR_FEATURES = "features"     # ... and its latent vector, array<float>
SCORED_USER = "user"             # lakerec.recs.scoring.top_k_blocked output: integer user id
SCORED_ITEM = "item"             # ... and integer item id
INTERACTIONS = "interactions"    # interaction count of an item (novelty's popularity input)

# --- generate: planted ground truth of synthetic data (lakerec generate) -----------------
GT_SEGMENT = "segment"                # planted behavioural segment of a customer
GT_TASTE_CLUSTER = "taste_cluster"    # planted taste cluster of a customer or an item
GT_PLANNED_EVENTS = "planned_events"  # good events planned for a customer (before returns)
GT_CLUSTER_RANK = "cluster_rank"      # base popularity: 1 = most popular of its taste cluster
GT_EXPECTED_SHARE = "expected_share"  # planted share of all item draws that pick the item
GT_TABLE = "table"                    # bad_rows: "events" or "customers"
GT_KEY = "key"                        # bad_rows: the row's event_id or user_id
GT_ORGANIC_RATE = "organic_rate"      # campaigns: share of a segment's audience buying anyway
GT_PLANTED_LIFT = "planted_lift"      # campaigns: the conversion lift planted for the customer
GT_BAD_KIND = "bad_kind"              # bad_rows: how the row was corrupted

# --- quality: ops.dq_results and check columns (issue: data quality) --------------------
DQ_RUN_ID = "run_id"
DQ_TABLE = "table"
DQ_DELTA_VERSION = "delta_version"       # version of the table validated
DQ_SUITE = "suite"
DQ_EXPECTATION = "expectation"           # e.g. expect_column_values_to_not_be_null(user_id)
DQ_SEVERITY = "severity"                 # error | warn
DQ_SUCCESS = "success"
DQ_OBSERVED_VALUE = "observed_value"
DQ_UNEXPECTED_COUNT = "unexpected_count"
DQ_UNEXPECTED_PERCENT = "unexpected_percent"
DQ_CHECKED_AT = "checked_at"
DQ_RESULTS_SCHEMA = T.StructType([
    T.StructField(DQ_RUN_ID, T.StringType(), False),
    T.StructField(RUN_DATE, T.DateType(), False),
    T.StructField(DQ_TABLE, T.StringType(), False),
    T.StructField(DQ_DELTA_VERSION, T.LongType(), True),
    T.StructField(DQ_SUITE, T.StringType(), False),
    T.StructField(DQ_EXPECTATION, T.StringType(), False),
    T.StructField(DQ_SEVERITY, T.StringType(), False),
    T.StructField(DQ_SUCCESS, T.BooleanType(), False),
    T.StructField(DQ_OBSERVED_VALUE, T.StringType(), True),
    T.StructField(DQ_UNEXPECTED_COUNT, T.LongType(), True),
    T.StructField(DQ_UNEXPECTED_PERCENT, T.DoubleType(), True),
    T.StructField(DQ_CHECKED_AT, T.TimestampType(), False),
])
# --- ops.erasures: the audit of `lakerec forget`, never holding a raw customer id ---------
USER_PSEUDONYM = "user_pseudonym"        # HMAC of the user_id under the pseudonymisation key
ERASURES_SCHEMA = T.StructType([
    T.StructField("request_id", T.StringType(), False),   # the forget run's id
    T.StructField(USER_PSEUDONYM, T.StringType(), False),
    T.StructField("erased_at", T.TimestampType(), False),
    T.StructField("rows_deleted", T.LongType(), False),
    T.StructField("tables_touched", T.MapType(T.StringType(), T.LongType()), False),
    T.StructField("vacuum_retention_hours", T.IntegerType(), False),
])
# --- campaigns --------------------------------------------------------------------------
CAMPAIGN_GROUP = "group"              # treatment | control
OFFERED_ITEMS = "offered_items"
SEND_DATE = "send_date"
CAMPAIGN_AUDIENCES_SCHEMA = T.StructType([   # gold.campaign_audiences: one row per customer
    T.StructField(CAMPAIGN_ID, T.StringType(), False),
    T.StructField(USER_ID, T.StringType(), False),
    T.StructField(CAMPAIGN_GROUP, T.StringType(), False),
    T.StructField(SEGMENT_LABEL, T.StringType(), True),
    T.StructField(OFFERED_ITEMS, T.ArrayType(T.StringType()), True),  # control: the same
    T.StructField("model_versions", T.MapType(T.StringType(), T.LongType()), True),
    T.StructField(SEND_DATE, T.DateType(), False),
    T.StructField("planned_at", T.TimestampType(), False),
])
_GROUP_FIGURES = [T.StructField(f"{group}_{figure}", kind, True)
                  for group in ("treatment", "control")
                  for figure, kind in (("customers", T.LongType()), ("converters", T.LongType()),
                                       ("conversion_rate", T.DoubleType()),
                                       ("revenue_per_customer", T.DoubleType()))]
_LIFT_FIGURES = [T.StructField(f"{metric}_{figure}", T.DoubleType(), True)
                 for metric in ("conversion", "revenue")
                 for figure in ("lift", "lift_low", "lift_high", "relative_lift", "p_value")]
CAMPAIGN_RESULTS_SCHEMA = T.StructType([   # gold.campaign_results: one row per segment
    T.StructField(CAMPAIGN_ID, T.StringType(), False),
    T.StructField(SEGMENT_LABEL, T.StringType(), False),   # "(all)": the whole audience
    *_GROUP_FIGURES, *_LIFT_FIGURES,
    T.StructField("p_value_adjusted", T.DoubleType(), True),  # Holm across segments
    T.StructField("incremental_conversions", T.DoubleType(), True),
    T.StructField("incremental_revenue", T.DoubleType(), True),
    T.StructField("verdict", T.StringType(), False),          # won | lost | inconclusive
    T.StructField("sample_ratio_p_value", T.DoubleType(), False),
    T.StructField(RUN_DATE, T.DateType(), False),
])
REJECTED_FILES_SCHEMA = T.StructType([   # quarantine.landing_files: files ingest refused
    T.StructField(ENTITY, T.StringType(), False),           # one of ENTITIES
    T.StructField(SOURCE_FILE, T.StringType(), False),
    T.StructField(SOURCE_CHECKSUM, T.StringType(), True),   # null: unreadable
    T.StructField("size_bytes", T.LongType(), False),
    T.StructField("rows", T.LongType(), False),             # data lines (header excluded)
    T.StructField(REJECT_REASON, T.StringType(), False),
    T.StructField(BATCH_ID, T.StringType(), False),
    T.StructField(INGEST_TS, T.TimestampType(), False),
])
LEASE_SCHEMA = T.StructType([                          # ops.lake_lease: one row, the lease
    T.StructField("lease", T.StringType(), False),         # always "lake": the MERGE key
    T.StructField("holder", T.StringType(), False),        # the run id holding it
    T.StructField("host", T.StringType(), False),
    T.StructField("pid", T.IntegerType(), False),
    T.StructField("acquired_at", T.TimestampType(), False),
    T.StructField("expires_at", T.TimestampType(), False),  # free after this, or released
    T.StructField("released", T.BooleanType(), False),
])
PARSED_SUFFIX = "__parsed"               # bronze check columns: the typed value of a raw string
ITEM_KNOWN = "item_known"                # silver events: item_id is in silver.items
CUSTOMER_KNOWN = "customer_known"        # silver events: user_id is in silver.customers
BASKET_SIZE = "basket_size"              # lines of one purchase order
HAS_SEGMENT = "has_segment"              # gold.user_features row has a segment
ALREADY_PURCHASED = "already_purchased"  # recommended item bought by the user before
RECOMMENDED_COUNT = "recommended_count"  # recommendations of a user
HAS_GAP_REASON = "has_gap_reason"        # user is in gold.recommendation_gaps
COUNT_OK = "count_ok"                    # recommended_count == k or has_gap_reason

# --- privacy: differentially private reports (issue 13, gold.*_dp, ops.privacy_budget) ---
NET_REVENUE = "net_revenue"              # purchases minus returns of a customer (in a category)
DP_CUSTOMERS = "customers"               # noisy count of the customers of a published group
DP_REVENUE_SUM = "revenue_sum"           # noisy sum of their clipped net revenue
DP_REVENUE_MEAN = "revenue_mean"         # noisy mean net revenue per customer
DP_EPSILON = "epsilon"                   # the (epsilon, delta) a report spent
DP_DELTA = "delta"
DP_REPORT = "report"                     # ops.privacy_budget: the table released, layer.name
DP_GROUPS_PUBLISHED = "groups_published"
DP_GROUPS_SUPPRESSED = "groups_suppressed"  # groups of the true data left out (internal figure)
DP_RUN_ID = "run_id"
DP_RECORDED_AT = "recorded_at"

_DP_FIGURES = [
    T.StructField(DP_CUSTOMERS, T.LongType(), False),
    T.StructField(DP_REVENUE_SUM, T.DoubleType(), False),
    T.StructField(DP_REVENUE_MEAN, T.DoubleType(), False),
    T.StructField(DP_EPSILON, T.DoubleType(), False),
    T.StructField(DP_DELTA, T.DoubleType(), False),
    T.StructField(RUN_DATE, T.DateType(), False),
]
SEGMENT_PROFILES_DP_SCHEMA = T.StructType([
    T.StructField(SEGMENT_LABEL, T.StringType(), False), *_DP_FIGURES])
SEGMENT_CATEGORY_REVENUE_DP_SCHEMA = T.StructType([
    T.StructField(SEGMENT_LABEL, T.StringType(), False),
    T.StructField(CATEGORY, T.StringType(), False), *_DP_FIGURES])
PRIVACY_BUDGET_SCHEMA = T.StructType([
    T.StructField(DP_RUN_ID, T.StringType(), False),
    T.StructField(RUN_DATE, T.DateType(), False),
    T.StructField(DP_REPORT, T.StringType(), False),
    T.StructField(DP_EPSILON, T.DoubleType(), False),
    T.StructField(DP_DELTA, T.DoubleType(), False),
    T.StructField(DP_GROUPS_PUBLISHED, T.LongType(), False),
    T.StructField(DP_GROUPS_SUPPRESSED, T.LongType(), False),
    T.StructField(DP_RECORDED_AT, T.TimestampType(), False),
])
