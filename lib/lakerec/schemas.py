"""Column names and table schemas: every name is written once, here.

Business keys (``user_id``, ``item_id``) are strings everywhere outside model internals.
"""

from __future__ import annotations

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
SIGNUP_TS = "signup_ts"
FIRST_SEEN_TS = "first_seen_ts"
LAST_SEEN_TS = "last_seen_ts"

CATEGORY = "category"
TITLE = "title"
IN_STOCK = "in_stock"

RUN_DATE = "run_date"

# --- lineage columns --------------------------------------------------------------------
INGEST_TS = "_ingest_ts"
SOURCE_FILE = "_source_file"
BATCH_ID = "_batch_id"
CORRUPT_RECORD = "_corrupt_record"
REJECT_REASON = "_reject_reason"
LINEAGE_COLUMNS = (INGEST_TS, SOURCE_FILE, BATCH_ID)

# --- event contract ---------------------------------------------------------------------
EVENT_TYPES = ("view", "add_to_cart", "purchase", "return", "rating")
EVENTS_REQUIRED = (USER_ID, ITEM_ID, EVENT_TYPE, EVENT_TS)
EVENTS_OPTIONAL = (EVENT_ID, QUANTITY, PRICE, RATING, ORDER_ID, ITEM_TITLE, COUNTRY)
CUSTOMERS_REQUIRED = (USER_ID,)
CUSTOMERS_OPTIONAL = (EMAIL, NAME, PHONE, COUNTRY, SIGNUP_TS)
ITEMS_REQUIRED = (ITEM_ID,)
ITEMS_OPTIONAL = (TITLE, CATEGORY, PRICE, IN_STOCK)
PII_COLUMNS = (EMAIL, NAME, PHONE)

REQUIRED_COLUMNS = {"events": EVENTS_REQUIRED, "customers": CUSTOMERS_REQUIRED,
                    "items": ITEMS_REQUIRED}
OPTIONAL_COLUMNS = {"events": EVENTS_OPTIONAL, "customers": CUSTOMERS_OPTIONAL,
                    "items": ITEMS_OPTIONAL}
ENTITIES = ("events", "customers", "items")

# --- silver schemas ---------------------------------------------------------------------
SILVER_EVENTS = T.StructType([
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

SILVER_CUSTOMERS = T.StructType([
    T.StructField(USER_ID, T.StringType(), False),
    T.StructField(EMAIL, T.StringType(), True),   # HMAC-SHA256 pseudonym
    T.StructField(NAME, T.StringType(), True),    # HMAC-SHA256 pseudonym
    T.StructField(PHONE, T.StringType(), True),   # HMAC-SHA256 pseudonym
    T.StructField(COUNTRY, T.StringType(), True),
    T.StructField(SIGNUP_TS, T.TimestampType(), True),
    T.StructField(FIRST_SEEN_TS, T.TimestampType(), True),
    T.StructField(LAST_SEEN_TS, T.TimestampType(), True),
    T.StructField(BATCH_ID, T.StringType(), False),
])

SILVER_ITEMS = T.StructType([
    T.StructField(ITEM_ID, T.StringType(), False),
    T.StructField(TITLE, T.StringType(), True),
    T.StructField(CATEGORY, T.StringType(), True),
    T.StructField(PRICE, T.DoubleType(), True),
    T.StructField(IN_STOCK, T.BooleanType(), False),
    T.StructField(FIRST_SEEN_TS, T.TimestampType(), True),
    T.StructField(LAST_SEEN_TS, T.TimestampType(), True),
    T.StructField(BATCH_ID, T.StringType(), False),
])

SILVER_SCHEMAS = {"events": SILVER_EVENTS, "customers": SILVER_CUSTOMERS, "items": SILVER_ITEMS}
SILVER_KEYS = {"events": EVENT_ID, "customers": USER_ID, "items": ITEM_ID}

# --- reject reasons (quarantine._reject_reason) -----------------------------------------
MALFORMED_RECORD = "malformed_record"
MISSING_USER_ID = "missing_user_id"
MISSING_ITEM_ID = "missing_item_id"
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
