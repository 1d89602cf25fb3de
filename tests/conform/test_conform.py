"""Transforms of bronze -> silver on tiny inline frames."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakerec.conform import entities as E
from lakerec.conform import rules as C
from lakerec.core import schemas as S
from lakerec.core.pii import PiiKey
from lakerec.ingest.personal import pseudonymised

INGEST_TS = datetime(2026, 1, 10, 12, 0, 0)
EVENT_COLS = ["event_id", "user_id", "item_id", "event_type", "event_ts", "quantity", "price",
              "rating", "order_id"]
GOOD = ("E1", "U1", "I1", "purchase", "2026-01-01 10:00:00", "2", "3.5", None, "O1")


def bronze_events(spark: SparkSession, rows: list[tuple], corrupt: list[str | None] | None = None):
    corrupt = corrupt or [None] * len(rows)
    data = [(*r, c, INGEST_TS, "file:/landing/a.csv", "b1") for r, c in zip(rows, corrupt,
                                                                               strict=True)]
    schema = ", ".join(f"{c} string" for c in EVENT_COLS)
    return spark.createDataFrame(
        data, f"{schema}, _corrupt_record string, _ingest_ts timestamp, _source_file string, "
              "_batch_id string")


def classify(df, **overrides):
    params = dict(ingest_tolerance_hours=24, min_event_ts=date(2000, 1, 1), max_quantity=10_000,
                  max_price=100_000.0, non_product_items=("POST",))
    params.update(overrides)
    return df.transform(C.classify_events(**params))


def reasons(df) -> list[str | None]:
    return [r[0] for r in df.orderBy("event_id", "_corrupt_record").select(S.REJECT_REASON)
            .collect()]


def with_field(index: int, value: str | None, event_id: str = "E2") -> tuple:
    row = list(GOOD)
    row[0] = event_id
    row[index] = value
    return tuple(row)


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("user_id", None, S.MISSING_USER_ID),
    ("user_id", "   ", S.MISSING_USER_ID),
    ("item_id", "", S.MISSING_ITEM_ID),
    ("user_id", '{"id": "U000028"}', S.NON_SCALAR_ID),
    ("item_id", '["I1", "I2"]', S.NON_SCALAR_ID),
    ("user_id", "U" * 10_000, S.ID_TOO_LONG),
    ("user_id", "🙂 émilie", None),  # any scalar text is an id
    ("event_type", "click", S.UNKNOWN_EVENT_TYPE),
    ("event_type", None, S.MISSING_EVENT_TYPE),
    ("event_ts", None, S.MISSING_TIMESTAMP),
    ("event_ts", "31/02/2025 25:61", S.UNPARSEABLE_TIMESTAMP),
    ("event_ts", "2026-01-12 12:00:01", S.FUTURE_TIMESTAMP),
    ("event_ts", "1999-12-31 23:59:59", S.TIMESTAMP_BEFORE_START),
    ("quantity", "-3", S.INVALID_QUANTITY),
    ("quantity", "0", S.INVALID_QUANTITY),
    ("quantity", "1.5", S.INVALID_QUANTITY),
    ("quantity", "two", S.INVALID_QUANTITY),
    ("quantity", "10001", S.INVALID_QUANTITY),
    ("price", "-1", S.INVALID_PRICE),
    ("price", "0", S.INVALID_PRICE),
    ("price", "abc", S.INVALID_PRICE),
    ("item_id", "POST", S.NON_PRODUCT_ITEM),
])
def test_each_rule_gives_its_reason(spark, field, value, reason):
    bad = with_field(EVENT_COLS.index(field), value)
    out = classify(bronze_events(spark, [GOOD, bad]))
    assert reasons(out) == [None, reason]


def test_rating_events_need_a_rating_from_one_to_five(spark):
    rating = ("E2", "U1", "I1", "rating", "2026-01-01 10:00:00", None, None, "4", None)
    no_rating = ("E3", "U1", "I1", "rating", "2026-01-01 10:00:00", None, None, None, None)
    too_high = ("E4", "U1", "I1", "rating", "2026-01-01 10:00:00", None, None, "6", None)
    out = classify(bronze_events(spark, [rating, no_rating, too_high]))
    assert reasons(out) == [None, S.INVALID_RATING, S.INVALID_RATING]


def test_the_first_failing_rule_wins(spark):
    bad = ("E2", None, None, "click", "garbage", "-1", None, None, None)
    assert reasons(classify(bronze_events(spark, [bad]))) == [S.MISSING_USER_ID]


def test_malformed_records_are_rejected_first(spark):
    out = classify(bronze_events(spark, [GOOD, (*GOOD[:0], "E2", *GOOD[1:])],
                                 corrupt=[None, "E2,U1,x,y"]))
    assert reasons(out) == [None, S.MALFORMED_RECORD]


def test_duplicates_are_told_apart(spark):
    same_content_new_id = ("E9", *GOOD[1:])
    out = classify(bronze_events(spark, [GOOD, GOOD, same_content_new_id]))
    got = sorted((r[0], r[1] or "") for r in out.select("event_id", S.REJECT_REASON).collect())
    assert got == [("E1", ""), ("E1", S.DUPLICATE_ROW), ("E9", S.DUPLICATE_EVENT)]


def test_an_event_id_reused_for_other_content_is_accepted_once(spark):
    other = ("E1", "U1", "I7", "view", "2026-01-01 10:00:00", None, None, None, None)
    out = classify(bronze_events(spark, [GOOD, other]))
    assert sorted(r[0] or "" for r in out.select(S.REJECT_REASON).collect()) == [
        "", S.DUPLICATE_EVENT_ID]


def test_rows_without_event_id_get_one_from_their_content(spark):
    no_id = (None, *GOOD[1:])
    out = C.silver_events(classify(bronze_events(spark, [no_id])))
    (row,) = out.collect()
    assert row[S.EVENT_ID].startswith("ek-") and row[S.EVENT_ID][3:] == row[S.EVENT_KEY][:32]


def test_events_silver_already_holds_are_rejected(spark):
    accepted = C.silver_events(classify(bronze_events(spark, [GOOD])))
    known = accepted.select(S.EVENT_ID, S.EVENT_KEY)
    redelivered = classify(bronze_events(spark, [GOOD])).transform(C.flag_known_events(known))
    new_id = classify(bronze_events(spark, [("E9", *GOOD[1:])])).transform(
        C.flag_known_events(known))
    reused_id = classify(bronze_events(spark, [
        ("E1", "U2", "I2", "view", "2026-01-01 10:00:00", None, None, None, None)
    ])).transform(C.flag_known_events(known))
    fresh = classify(bronze_events(spark, [("E5", "U5", "I5", "view", "2026-01-01 10:00:00",
                                            None, None, None, None)])
                     ).transform(C.flag_known_events(known))
    assert reasons(redelivered) == [S.DUPLICATE_ROW]
    assert reasons(new_id) == [S.DUPLICATE_EVENT]
    assert reasons(reused_id) == [S.DUPLICATE_EVENT_ID]
    assert reasons(fresh) == [None]


def test_silver_events_are_typed(spark):
    view = ("E2", " U1 ", "I2", "VIEW", "2026-01-02T10:00:00", None, None, None, None)
    out = C.silver_events(classify(bronze_events(spark, [GOOD, view]))).drop(S.EVENT_KEY)
    expected = spark.createDataFrame([
        ("E1", "U1", "I1", "purchase", datetime(2026, 1, 1, 10), 2, 3.5, None, "O1", None, None,
         "b1"),
        ("E2", "U1", "I2", "view", datetime(2026, 1, 2, 10), None, None, None, None, None, None,
         "b1"),
    ], "event_id string, user_id string, item_id string, event_type string, event_ts timestamp, "
       "quantity int, price double, rating double, order_id string, item_title string, "
       "country string, _batch_id string")
    assert_df_equality(out, expected.select(*out.columns), ignore_nullable=True,
                       ignore_row_order=True, ignore_column_order=False)


def test_quarantine_keeps_the_landed_row_and_its_reason(spark):
    bad = with_field(EVENT_COLS.index("quantity"), "-3")
    out = C.quarantined(classify(bronze_events(spark, [GOOD, bad])), run_id="r1")
    assert [c for c in out.columns if c.startswith("__")] == []
    (row,) = out.collect()
    assert (row["event_id"], row["quantity"], row[S.REJECT_REASON], row["_run_id"]) == (
        "E2", "-3", S.INVALID_QUANTITY, "r1")


KEY = PiiKey(b"k")


def bronze_customers(spark, rows, key=KEY):
    """Customer landing rows as ingest stores them: pseudonymised, with lineage."""
    landed = spark.createDataFrame(
        [(*r, datetime(2026, 1, 1), f"file:/c{i}.json", "b1") for i, r in enumerate(rows)],
        "user_id string, email string, name string, phone string, signup_ts string, "
        "_ingest_ts timestamp, _source_file string, _batch_id string")
    return landed.transform(pseudonymised(S.CUSTOMERS, key))


def test_customers_bad_emails_and_latest_version(spark):
    rows = [
        ("U1", "ann@example.com", "Ann", "+44 1", "2025-01-01"),
        ("U2", "no-at-sign.example.com", "Bob", None, None),
        ("U3", "x@@y.com", None, None, None),
        ("U4", "  ", None, None, None),
        ("U5", None, "No Email", None, "not a date"),
        ("U1", "ann.new@example.com", "Ann", "+44 1", "2025-01-01"),
    ]
    out = E.classify_customers(bronze_customers(spark, rows))
    got = sorted((r[0], r[1] or "", r[2] or "") for r in out.select(
        "user_id", "email", S.REJECT_REASON).collect())
    p = KEY.pseudonym_of
    assert got == sorted([
        ("U1", p("ann.new@example.com"), ""), ("U1", p("ann@example.com"), S.DUPLICATE_KEY),
        ("U2", p("no-at-sign.example.com"), S.INVALID_EMAIL),
        ("U3", p("x@@y.com"), S.INVALID_EMAIL), ("U4", p(""), S.INVALID_EMAIL),
        ("U5", "", S.INVALID_SIGNUP_TS),
    ])


def test_customers_are_pseudonymised_at_ingest_and_conform_keeps_the_pseudonyms(spark):
    rows = [("U1", " Ann@Example.com ", "Ann  Lee", "+44 (0) 123", None)]
    out = E.silver_customers(E.classify_customers(bronze_customers(spark, rows))).collect()[0]
    same_person = [("U1", "ann@example.com", "ann lee", "44 0 123", None)]
    again = E.silver_customers(E.classify_customers(
        bronze_customers(spark, same_person))).collect()[0]
    assert out[S.EMAIL] == hmac.new(b"k", b"ann@example.com", hashlib.sha256).hexdigest()
    assert (out[S.EMAIL], out[S.NAME], out[S.PHONE]) == (again[S.EMAIL], again[S.NAME],
                                                         again[S.PHONE])
    other_key = E.silver_customers(E.classify_customers(
        bronze_customers(spark, rows, PiiKey(b"other")))).collect()[0]
    assert other_key[S.EMAIL] != out[S.EMAIL]


def test_customer_consent_flags(spark):
    landed = spark.createDataFrame(
        [("U1", "yes"), ("U2", "No"), ("U3", None), ("U4", "maybe")],
        "user_id string, marketing_consent string").withColumns({
            "_ingest_ts": F.lit(datetime(2026, 1, 1)), "_source_file": F.lit("file:/c.csv"),
            "_batch_id": F.lit("b1")})
    classified = E.classify_customers(landed)
    reasons = {r[0]: r[1] for r in classified.select("__user_id", S.REJECT_REASON).collect()}
    assert reasons == {"U1": None, "U2": None, "U3": None, "U4": S.INVALID_CONSENT_FLAG}
    consent = {r[0]: r[1] for r in E.silver_customers(classified).select(
        S.USER_ID, S.MARKETING_CONSENT).collect()}
    assert consent == {"U1": True, "U2": False, "U3": None}


def test_items_stock_flags_and_prices(spark):
    df = spark.createDataFrame([
        ("I1", "Mug", "C1", "3.5", "yes"), ("I2", "Cup", "C1", "-1", "true"),
        ("I3", "Pot", "C2", "4", "maybe"), ("I4", None, None, None, None),
    ], "item_id string, title string, category string, price string, in_stock string").select(
        "*", F.lit(datetime(2026, 1, 1)).alias("_ingest_ts"), F.lit("f").alias("_source_file"),
        F.lit("b1").alias("_batch_id"))
    out = df.transform(E.classify_items(max_price=100.0))
    got = sorted((r[0], r[1] or "") for r in out.select("item_id", S.REJECT_REASON).collect())
    assert got == [("I1", ""), ("I2", S.INVALID_PRICE), ("I3", S.INVALID_STOCK_FLAG), ("I4", "")]
    silver = {r[S.ITEM_ID]: r for r in E.silver_items(out).collect()}
    assert silver["I1"][S.IN_STOCK] is True and silver["I4"][S.IN_STOCK] is True
    assert silver["I1"][S.PRICE] == 3.5


def test_a_write_that_loses_rows_fails_the_accounting_and_marks_nothing_conformed(
        spark: SparkSession, tmp_path) -> None:
    from datetime import date as day

    from lakerec.cli.runner import run_step
    from lakerec.conform.conform_step import _conform_entity
    from lakerec.core.errors import LakerecError
    from lakerec.core.lake import Lake
    from lakerec.core.step import StepContext, StepResult
    from lakerec.core.tables import OPS_CONFORMED_BATCHES, SILVER_EVENTS
    from tests.conftest import make_config

    events = tmp_path / "landing" / "events"
    events.mkdir(parents=True)
    (events / "e.csv").write_text("user_id,item_id,event_type,event_ts\n" + "".join(
        f"u{i},p{i % 3},purchase,2026-11-0{1 + i % 9}T10:00:00\n" for i in range(20)))
    config = make_config(tmp_path)
    run_step("ingest", config, day(2026, 11, 20), spark=spark, out=lambda _: None)
    lake = Lake(spark, config.paths.root)
    ctx = StepContext(config=config, spark=spark, lake=lake, run_date=day(2026, 11, 20),
                      run_id="lossy")

    def lossy(df):  # a silver write that silently drops a row
        return lake.upsert(df.orderBy(S.EVENT_ID).limit(19), SILVER_EVENTS, [S.EVENT_ID],
                           update=False)

    with pytest.raises(LakerecError, match=r"20 pending rows in bronze.events but 19 committed"):
        _conform_entity(ctx, StepResult(), S.EVENTS, classify, C.silver_events, lossy)
    assert not lake.exists(OPS_CONFORMED_BATCHES)
    # the real step then conforms the batch in full
    run_step("conform", config, day(2026, 11, 20), spark=spark, out=lambda _: None)
    assert lake.read(SILVER_EVENTS).count() == 20
