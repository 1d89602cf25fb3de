"""lakerec generate: determinism, planted structure, bad rows and the landing layout."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakerec.cli.runner import run_step
from lakerec.core import schemas as S
from lakerec.core.config import Config
from lakerec.core.errors import ConfigError
from lakerec.synthetic import draws as D
from lakerec.synthetic import population as P
from lakerec.synthetic.generate_step import effective_config
from tests.conftest import make_config

RUN_DATE = date(2026, 11, 27)
SMALL = ("generate.customers=300", "generate.items=60", "generate.events=6000",
         "generate.bad_email_share=0.05")
LANDING_EVENTS = ["event_id", "user_id", "item_id", "event_type", "event_ts", "quantity",
                  "price", "rating", "order_id"]
BATCH = "generated_2026-11-27_seed42"


def _generate(spark: SparkSession, root: Path, *overrides: str,
              options: dict[str, Any] | None = None) -> Config:
    config = make_config(root, *SMALL, *overrides)
    run_step("generate", config, RUN_DATE, spark=spark, options=options, out=lambda _: None)
    return config


@pytest.fixture(scope="module")
def generated(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Config:
    return _generate(spark, tmp_path_factory.mktemp("gen"))


def _events(spark: SparkSession, config: Config) -> DataFrame:
    return spark.read.csv(f"{config.paths.landing}/events/{BATCH}", header=True)


def _truth(spark: SparkSession, config: Config, name: str) -> DataFrame:
    return spark.read.parquet(f"{config.paths.ground_truth}/{name}")


def _summary(config: Config) -> dict[str, Any]:
    return json.loads(Path(config.paths.ground_truth, "summary.json").read_text())


def _good_events(spark: SparkSession, config: Config) -> DataFrame:
    """Landing events minus the planted bad rows (duplicate_row copies share an event_id,
    so those are removed by dropping exact duplicates)."""
    bad_keys = _truth(spark, config, "bad_rows").where(
        (F.col(S.GT_TABLE) == "events") & (F.col(S.GT_BAD_KIND) != "duplicate_row"))
    return (_events(spark, config).dropDuplicates()
            .join(bad_keys, F.col(S.EVENT_ID) == F.col(S.GT_KEY), "left_anti"))


def _files(folder: Path) -> dict[str, Any]:
    """Every data file under ``folder``: its bytes, or for Parquet its table (parquet-mr
    lists a column's encodings in hash-set order, which can differ between JVMs)."""
    return {str(p.relative_to(folder)):
            pq.read_table(p) if p.suffix == ".parquet" else p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(".crc")}


# --- layout and step options --------------------------------------------------------------
def test_writes_the_landing_layout_and_ground_truth(spark: SparkSession,
                                                    generated: Config) -> None:
    landing = Path(generated.paths.landing)
    for table, ext in (("events", "csv"), ("customers", "json"), ("items", "parquet")):
        names = sorted(p.name for p in (landing / table / BATCH).glob("part-*"))
        assert names == [f"part-{i:05d}{'.snappy' if ext == 'parquet' else ''}.{ext}"
                         for i in range(4)], table
    header = (landing / "events" / BATCH / "part-00000.csv").read_text().splitlines()[0]
    assert header.split(",") == LANDING_EVENTS
    first_customer = json.loads(
        (landing / "customers" / BATCH / "part-00000.json").read_text().splitlines()[0])
    assert set(first_customer) == {"user_id", "email", "name", "phone", "country", "signup_ts",
                                   "marketing_consent"}
    items = spark.read.parquet(str(landing / "items" / BATCH))
    assert dict(items.dtypes) == {"item_id": "string", "title": "string", "category": "string",
                                  "price": "double", "in_stock": "boolean"}
    assert items.count() == 60
    truth = Path(generated.paths.ground_truth)
    assert {p.name for p in truth.iterdir()} >= {"customers", "items", "bad_rows",
                                                  "summary.json"}
    summary = _summary(generated)
    assert summary["counts"]["events"] == _events(spark, generated).count()
    assert summary["seed"] == 42 and summary["run_date"] == "2026-11-27"


def test_if_landing_empty_skips_when_events_exist(spark: SparkSession,
                                                  generated: Config) -> None:
    folder = Path(generated.paths.landing) / "events" / BATCH
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    result = run_step("generate", generated, RUN_DATE, spark=spark,
                      options={"if_landing_empty": True}, out=lambda _: None)
    assert result.status == "skipped"
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_config_combinations_are_checked(config: Config) -> None:
    with pytest.raises(ConfigError, match="active_days_ago"):
        effective_config(config.generate, {"days": 150})  # at_risk is active 200..365 days ago
    with pytest.raises(ConfigError, match="taste_clusters"):
        effective_config(config.generate, {"items": 3})
    with pytest.raises(ConfigError, match=r"generate\.customers"):
        effective_config(config.generate, {"customers": 0})
    assert effective_config(config.generate, {"events": 7, "seed": None}).events == 7


# --- determinism --------------------------------------------------------------------------
@pytest.mark.slow  # a second full generation
def test_same_seed_and_date_give_identical_data(spark: SparkSession, generated: Config,
                                                 tmp_path: Path) -> None:
    again = _generate(spark, tmp_path)
    for table in ("events", "customers", "items"):
        first = _files(Path(generated.paths.landing) / table)
        assert first and first == _files(Path(again.paths.landing) / table), table
    for table in ("customers", "items", "bad_rows"):
        assert (_files(Path(generated.paths.ground_truth) / table)
                == _files(Path(again.paths.ground_truth) / table)), table


def test_uniform_does_not_depend_on_partitioning(spark: SparkSession) -> None:
    def draws(partitions: int) -> list[float]:
        frame = spark.range(0, 500, numPartitions=partitions)
        return [r.u for r in frame.select(D.uniform(7, "x", F.col("id")).alias("u"))
                .orderBy("id").collect()]

    one, many = draws(1), draws(5)
    assert one == many
    assert 0.4 < sum(one) / len(one) < 0.6 and min(one) >= 0 and max(one) < 1


def test_another_seed_gives_other_data(spark: SparkSession, generated: Config) -> None:
    cfg = generated.generate
    def customers(seed: int) -> set[tuple[Any, ...]]:
        frame = P.build_customers(
            spark, seed=seed, customers=cfg.customers, events=cfg.events,
            segments=cfg.segments, taste_clusters=cfg.taste_clusters, days=cfg.days,
            run_date=RUN_DATE, bad_email_share=cfg.bad_email_share,
            opt_out_share=cfg.opt_out_share)
        return {tuple(r) for r in frame.select(S.USER_ID, S.EMAIL, S.GT_SEGMENT).collect()}

    same, other = customers(42), customers(7)
    assert len(same & other) < len(same) // 2
    truth = {tuple(r) for r in _truth(spark, generated, "customers")
             .join(spark.read.json(f"{generated.paths.landing}/customers/{BATCH}"), S.USER_ID)
             .select(S.USER_ID, S.EMAIL, S.GT_SEGMENT).collect()}
    assert truth == same


# --- planted structure --------------------------------------------------------------------
def test_taste_affinity_share_of_events_in_cluster(spark: SparkSession,
                                                   generated: Config) -> None:
    users = _truth(spark, generated, "customers").select(
        S.USER_ID, F.col(S.GT_TASTE_CLUSTER).alias("user_cluster"))
    items = _truth(spark, generated, "items").select(
        S.ITEM_ID, F.col(S.GT_TASTE_CLUSTER).alias("item_cluster"))
    views = (_good_events(spark, generated).where(F.col(S.EVENT_TYPE) != "return")
             .join(users, S.USER_ID).join(items, S.ITEM_ID))
    share = views.select(F.avg((F.col("user_cluster") == F.col("item_cluster"))
                               .cast("double"))).first()[0]
    assert share == pytest.approx(generated.generate.taste_affinity, abs=0.03)


def test_item_popularity_is_zipf_skewed(spark: SparkSession, generated: Config) -> None:
    counts = (_good_events(spark, generated).groupBy(S.ITEM_ID).count()
              .join(_truth(spark, generated, "items"), S.ITEM_ID, "right")
              .fillna(0, ["count"]))
    ordered = [r["count"] for r in counts.orderBy(F.desc("count")).collect()]
    top_share = sum(ordered[: len(ordered) // 10]) / sum(ordered)
    assert top_share > 0.3  # uniform popularity would give 0.1
    by_rank = {r[S.GT_CLUSTER_RANK]: r["mean"] for r in counts.groupBy(S.GT_CLUSTER_RANK)
               .agg(F.avg("count").alias("mean")).collect()}
    assert by_rank[1] > 3 * by_rank[10]


def test_segments_differ_as_planted(spark: SparkSession, generated: Config) -> None:
    users = _truth(spark, generated, "customers")
    events = _good_events(spark, generated).join(users, S.USER_ID).withColumn(
        "ts", F.to_timestamp(S.EVENT_TS))
    per_segment = {r[S.GT_SEGMENT]: r for r in events.groupBy(S.GT_SEGMENT).agg(
        (F.count("*") / F.countDistinct(S.USER_ID)).alias("events_per_user"),
        F.max("ts").alias("last"),
        F.sum((F.col(S.EVENT_TYPE) == "purchase").cast("int")).alias("purchases"),
        F.avg(F.when(F.col(S.EVENT_TYPE) == "purchase", F.col(S.QUANTITY).cast("int")))
        .alias("quantity")).collect()}
    midnight = datetime(RUN_DATE.year, RUN_DATE.month, RUN_DATE.day)
    assert per_segment["at_risk"]["last"] < midnight - timedelta(days=200)
    assert per_segment["browsers"]["purchases"] == 0
    assert per_segment["browsers"]["last"] >= midnight - timedelta(days=90)
    assert (per_segment["champions"]["events_per_user"]
            > 2 * per_segment["loyal"]["events_per_user"])
    assert per_segment["big_spenders"]["quantity"] > 4 * per_segment["loyal"]["quantity"]
    assert max(r["last"] for r in per_segment.values()) < midnight
    total = _summary(generated)["counts"]["good_events"]
    assert total == pytest.approx(6000, rel=0.15)


# --- bad rows -----------------------------------------------------------------------------
def _defect_columns(events: DataFrame) -> dict[str, F.Column]:
    """How each event bad-row kind shows in the landing CSV."""
    future = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    return {
        "null_user_id": F.col(S.USER_ID).isNull(),
        "blank_user_id": F.col(S.USER_ID) == P.BLANK,
        "null_item_id": F.col(S.ITEM_ID).isNull(),
        "blank_item_id": F.col(S.ITEM_ID) == P.BLANK,
        "unparseable_timestamp": F.col(S.EVENT_TS).isin(*P.UNPARSEABLE_TIMESTAMPS),
        "future_timestamp": F.try_to_timestamp(S.EVENT_TS) > F.lit(future),
        "unknown_event_type": ~F.col(S.EVENT_TYPE).isin(*S.EVENT_TYPES),
        "negative_quantity": F.col(S.QUANTITY).cast("int") < 0,
        "absurd_quantity": F.col(S.QUANTITY).cast("int") > 10_000,
    }


def test_every_bad_row_kind_is_planted_once_and_listed(spark: SparkSession,
                                                       generated: Config) -> None:
    events = _events(spark, generated).cache()
    truth = _truth(spark, generated, "bad_rows").cache()
    planted = {r[S.GT_BAD_KIND]: r["count"] for r in truth.groupBy(S.GT_BAD_KIND).count()
               .collect()}
    summary = _summary(generated)
    assert planted == {k: v for part in summary["bad_rows"].values()
                       for k, v in part.items() if v}
    assert set(planted) == set(P.EVENT_BAD_KINDS) | set(P.CUSTOMER_BAD_KINDS)
    reasons = {r[S.GT_BAD_KIND]: r[S.REJECT_REASON] for r in truth.collect()}
    assert reasons == {**P.EVENT_BAD_KINDS, **P.CUSTOMER_BAD_KINDS}
    assert (summary["bad_rows_per_reason"]
            == {r[S.REJECT_REASON]: r["count"]
                for r in truth.groupBy(S.REJECT_REASON).count().collect()})
    bad_share = sum(summary["bad_rows"]["events"].values()) / summary["counts"]["good_events"]
    assert bad_share == pytest.approx(generated.generate.bad_row_share, rel=0.35)

    for kind, defect in _defect_columns(events).items():
        found = {r[S.EVENT_ID] for r in events.where(defect).select(S.EVENT_ID).collect()}
        listed = {r[S.GT_KEY] for r in truth.where(F.col(S.GT_BAD_KIND) == kind).collect()}
        assert found == listed and len(found) == planted[kind], kind
    duplicates = events.count() - events.dropDuplicates().count()
    assert duplicates == planted["duplicate_row"]
    content = [c for c in LANDING_EVENTS if c != S.EVENT_ID]
    same_content = events.dropDuplicates().count() - events.dropDuplicates(content).count()
    assert same_content == planted["duplicate_event"]

    customers = spark.read.json(f"{generated.paths.landing}/customers/{BATCH}")
    valid = F.col(S.EMAIL).rlike(r"^[^@\s]+@[^@\s]+\.[a-z]+$")
    bad_emails = {r[S.USER_ID] for r in customers.where(~valid).collect()}
    assert bad_emails == {r[S.GT_KEY] for r in truth.where(F.col(S.GT_TABLE) == "customers")
                          .collect()}
    events.unpersist()
    truth.unpersist()
