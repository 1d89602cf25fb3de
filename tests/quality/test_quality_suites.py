"""Each check: one good input that passes, one crafted bad input that fails it, with the
right severity and observed value. One GX validation covers many checks at once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lakerec.core.config import Config
from lakerec.core.schemas import EVENTS_REQUIRED, SILVER_EVENTS_SCHEMA
from lakerec.quality import derive, suites
from lakerec.quality.history import History
from lakerec.quality.validate import CheckResult, Target, validate

RUN_DATE = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 6, 0)
MIN_TS = datetime(2000, 1, 1)
MAX_TS = NOW + timedelta(hours=24)

BRONZE_COLUMNS = ["event_id", "user_id", "item_id", "event_type", "event_ts", "quantity",
                  "price", "rating", "order_id"]


def run_checks(targets: list[Target], tmp_path: Path) -> dict[tuple[str, str], CheckResult]:
    results = validate(targets, docs_base=tmp_path / "docs", partial_unexpected_count=3)
    return {(r.suite, r.expectation): r for r in results}


def bronze_rows(n: int) -> list[tuple]:
    return [(f"e{i}", f"u{i % 4}", f"i{i % 3}", "purchase", f"2026-11-{10 + i % 9} 10:00:00",
             "2", "9.5", None, f"o{i // 2}") for i in range(n)]


def bronze_frame(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    schema = T.StructType([T.StructField(c, T.StringType()) for c in BRONZE_COLUMNS])
    return spark.createDataFrame(rows, schema)


def bronze_target(name: str, frame: DataFrame, config: Config) -> Target:
    q = config.quality
    parse = derive.with_parsed_values(keys=("user_id", "item_id"),
                                      numbers=("quantity", "price", "rating"),
                                      timestamps=("event_ts",), lowercase=("event_type",))
    expectations = suites.bronze_events(
        q.bronze.columns, q.bronze.keys_not_null, q.bronze.event_types, q.bronze.timestamps,
        q.bronze.values, q.ranges, required=EVENTS_REQUIRED, min_ts=MIN_TS, max_ts=MAX_TS)
    return Target("bronze.events", 0, suites.suite(name, expectations), frame.transform(parse))


def test_bronze_checks_tolerate_few_bad_rows_and_stop_a_bad_load(
        spark: SparkSession, config: Config, tmp_path: Path) -> None:
    good_rows = bronze_rows(100)
    good_rows[0] = ("e0", None, "i0", "purchase", "2026-11-10 10:00:00", "2", "9.5", None, "o0")
    bad = bronze_rows(20)
    for i in range(6):                                  # 30% null or blank user ids
        bad[i] = (f"e{i}", None if i % 2 else "  ", *bad[i][2:])
    bad[6] = (*bad[6][:3], "bogus", *bad[6][4:])        # 5% unknown event types
    bad[7] = (*bad[7][:3], "Bogus", *bad[7][4:])
    bad[8] = (*bad[8][:4], "2027-06-01 00:00:00", *bad[8][5:])   # future
    bad[9] = (*bad[9][:4], "1999-01-01 00:00:00", *bad[9][5:])   # before start
    bad[10] = (*bad[10][:5], "-3", *bad[10][6:])        # quantity out of range
    results = run_checks([bronze_target("good", bronze_frame(spark, good_rows), config),
                          bronze_target("bad", bronze_frame(spark, bad), config)], tmp_path)

    assert all(r.success for (suite, _), r in results.items() if suite == "good"), [
        r.describe() for (s, _), r in results.items() if s == "good" and not r.success]
    nulls = results["bad", "expect_column_values_to_not_be_null(user_id__parsed)"]
    assert (nulls.success, nulls.severity, nulls.unexpected_count) == (False, "error", 6)
    assert nulls.observed_value == "6 of 20 rows unexpected (30.00%)"
    types = results["bad", "expect_column_values_to_be_in_set(event_type__parsed)"]
    # 2 of 20 (10%) unknown, above the 5% bronze tolerance ("Bogus" is lower-cased first)
    assert (types.success, types.severity, types.unexpected_count) == (False, "error", 2)
    times = results["bad", "expect_column_values_to_be_between(event_ts__parsed)"]
    assert (times.success, times.unexpected_count) == (False, 2)
    quantity = results["bad", "expect_column_values_to_be_between(quantity__parsed)"]
    assert (quantity.success, quantity.unexpected_count) == (False, 1)
    price = results["bad", "expect_column_values_to_be_between(price__parsed)"]
    assert price.success


def test_bronze_columns_must_exist_as_strings(spark: SparkSession, config: Config,
                                              tmp_path: Path) -> None:
    frame = bronze_frame(spark, bronze_rows(5))
    bad = frame.drop("item_id").withColumn("event_ts", frame["event_ts"].cast("timestamp"))
    results = run_checks([bronze_target("good", frame, config),
                          bronze_target("bad", bad, config)], tmp_path)
    for column in ("item_id", "event_ts"):
        assert results["good", f"expect_column_to_exist({column})"].success
        assert results["good", f"expect_column_values_to_be_of_type({column})"].success
    missing = results["bad", "expect_column_to_exist(item_id)"]
    assert (missing.success, missing.severity) == (False, "error")
    typed = results["bad", "expect_column_values_to_be_of_type(event_ts)"]
    assert (typed.success, typed.observed_value) == (False, '"TimestampType"')


def silver_events(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    nullable = T.StructType([T.StructField(f.name, f.dataType, True)
                             for f in SILVER_EVENTS_SCHEMA.fields])
    return spark.createDataFrame(rows, nullable)


def silver_row(i: int, **changes: object) -> tuple:
    row = {"event_id": f"e{i}", "user_id": f"u{i % 4}", "item_id": f"i{i % 3}",
           "event_type": "purchase", "event_ts": datetime(2026, 11, 20 + i % 6, 10),
           "quantity": 1 + i % 3, "price": 10.0 + i, "rating": None, "order_id": f"o{i // 2}",
           "item_title": None, "country": "NL", "event_key": f"k{i}", "_batch_id": "b1"}
    row.update(changes)
    return tuple(row[f.name] for f in SILVER_EVENTS_SCHEMA.fields)


def silver_target(name: str, events: DataFrame, items: DataFrame, config: Config,
                  history: History, run_date: date = RUN_DATE) -> Target:
    c = config.quality.silver
    expectations = [
        *suites.silver_events(SILVER_EVENTS_SCHEMA, c.columns, c.keys_not_null, c.keys_unique,
                              c.event_types, c.timestamps, c.values, config.quality.ranges,
                              min_ts=MIN_TS, max_ts=MAX_TS),
        *suites.references(c.referential, with_customers=False),
        *suites.volume("silver.events", c.volume, history),
        *suites.freshness("event_ts", run_date, c.freshness),
        *suites.drift("silver.events", "price", c.drift, history),
    ]
    return Target("silver.events", 3, suites.suite(name, expectations),
                  events.transform(derive.with_known_references(items, None)))


def test_silver_checks_are_strict(spark: SparkSession, config: Config, tmp_path: Path) -> None:
    items = spark.createDataFrame([("i0",), ("i1",), ("i2",)], "item_id string")
    good = silver_events(spark, [silver_row(i) for i in range(12)])
    old = datetime(2026, 1, 5, 10)
    bad = silver_events(spark, [
        silver_row(0), silver_row(1, event_id="e0"),                 # duplicate event_id
        silver_row(2, user_id=None), silver_row(3, event_type="click"),
        silver_row(4, event_ts=datetime(1999, 5, 1)), silver_row(5, price=-1.0),
        silver_row(6, rating=7.0), silver_row(7, item_id="unknown"),
        *[silver_row(i, event_ts=old, price=1000.0) for i in range(8, 12)]])
    earlier = History({("silver.events", "expect_table_row_count_to_be_between"): ["100"],
                       ("silver.events", "expect_column_mean_to_be_between(price)"): ["15.5"],
                       ("silver.events", "expect_column_quantiles_to_be_between(price)"): [
                           '{"quantiles": [0.5, 0.9], "values": [15.0, 20.0]}']})
    results = run_checks([silver_target("good", good, items, config, History()),
                          silver_target("bad", bad, items, config, earlier,
                                        run_date=date(2026, 12, 27))], tmp_path)

    assert all(r.success for (suite, _), r in results.items() if suite == "good"), [
        r.describe() for (s, _), r in results.items() if s == "good" and not r.success]
    expected_failures = {
        "expect_column_values_to_be_unique(event_id)": ("error", 2),
        "expect_column_values_to_not_be_null(user_id)": ("error", 1),
        "expect_column_values_to_be_in_set(event_type)": ("error", 1),
        "expect_column_values_to_be_between(event_ts)": ("error", 1),
        "expect_column_values_to_be_between(price)": ("error", 1),
        "expect_column_values_to_be_between(rating)": ("error", 1),
        "expect_column_values_to_be_in_set(item_known)": ("warn", 1),
    }
    for expectation, (severity, count) in expected_failures.items():
        r = results["bad", expectation]
        assert (r.success, r.severity, r.unexpected_count) == (False, severity, count), r
    referential = results["bad", "expect_column_values_to_be_in_set(item_known)"]
    assert referential.observed_value == "1 of 12 rows unexpected (8.33%)"
    volume = results["bad", "expect_table_row_count_to_be_between"]
    assert (volume.success, volume.severity, volume.observed_value) == (False, "warn", "12")
    fresh = results["bad", "expect_column_max_to_be_between(event_ts)"]
    assert (fresh.success, fresh.severity) == (False, "warn")
    assert fresh.observed_value == '"2026-11-25 10:00:00"'
    mean = results["bad", "expect_column_mean_to_be_between(price)"]
    assert (mean.success, mean.severity) == (False, "warn")
    assert float(mean.observed_value) > 300
    quantiles = results["bad", "expect_column_quantiles_to_be_between(price)"]
    assert not quantiles.success and '"quantiles": [0.5, 0.9]' in quantiles.observed_value
    # without history, volume and drift record the observed value and pass
    assert results["good", "expect_table_row_count_to_be_between"].observed_value == "12"
    assert results["good", "expect_column_mean_to_be_between(price)"].observed_value == "15.5"


def test_gold_checks(spark: SparkSession, config: Config, tmp_path: Path) -> None:
    c = config.quality.gold
    k = 2
    features = spark.createDataFrame([("u1",), ("u2",), ("u3",)], "user_id string")
    segments = spark.createDataFrame([("u1", 0), ("u2", 1), ("u3", 1)],
                                     "user_id string, segment_id int")
    purchases = spark.createDataFrame([("u1", "i9")], "user_id string, item_id string")
    active = features
    good_recs = spark.createDataFrame(
        [("u1", 1, "i1"), ("u1", 2, "i2"), ("u2", 1, "i1"), ("u2", 2, "i3"), ("u3", 1, "i1")],
        "user_id string, rank int, item_id string")
    gaps = spark.createDataFrame([("u3", "only 1 of 2 eligible items")],
                                 "user_id string, reason string")
    bad_recs = spark.createDataFrame(
        [("u1", 1, "i9"), ("u1", 2, "i9"), ("u2", 1, "i1"), ("u2", 1, "i3"), ("u3", 1, "i1")],
        "user_id string, rank int, item_id string")

    def targets(name: str, segs: DataFrame, recs: DataFrame,
                recorded_gaps: DataFrame | None) -> list[Target]:
        return [
            Target("gold.customer_segments", 1, suites.suite(
                f"{name}.coverage", suites.segment_coverage(c.segment_coverage)),
                features.transform(derive.with_segment_flag(segs))),
            Target("gold.recommendations", 1, suites.suite(
                f"{name}.recs", suites.recommendations(c.keys, c.recommendation_duplicates,
                                                       c.already_purchased)),
                recs.transform(derive.with_already_purchased(purchases))),
            Target("gold.recommendations", 1, suites.suite(
                f"{name}.per_user", suites.recommendation_count(c.recommendation_count)),
                derive.recommendation_counts(recs, recorded_gaps, active, k=k)),
        ]

    results = run_checks([*targets("good", segments, good_recs, gaps),
                          *targets("bad", segments.where("user_id != 'u3'"), bad_recs, None)],
                         tmp_path)
    assert all(r.success for (suite, _), r in results.items() if suite.startswith("good")), [
        r.describe() for (s, _), r in results.items() if s.startswith("good") and not r.success]
    expected_failures = {
        ("bad.coverage", "expect_column_values_to_be_in_set(has_segment)"): 1,
        ("bad.recs", "expect_compound_columns_to_be_unique(user_id,item_id)"): 2,
        ("bad.recs", "expect_compound_columns_to_be_unique(user_id,rank)"): 2,
        ("bad.recs", "expect_column_values_to_be_in_set(already_purchased)"): 2,
        ("bad.per_user", "expect_column_values_to_be_in_set(count_ok)"): 1,  # u3: 1 of 2
    }
    for key, count in expected_failures.items():
        r = results[key]
        assert (r.success, r.severity, r.unexpected_count) == (False, "error", count), r
