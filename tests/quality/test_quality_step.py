"""The quality step on real Delta tables: results as data, history, errors, Data Docs."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakerec.cli.runner import run_step
from lakerec.core.config import Config
from lakerec.core.errors import QualityError
from lakerec.core.lake import Lake
from lakerec.core.schemas import SILVER_CUSTOMERS_SCHEMA, SILVER_EVENTS_SCHEMA, SILVER_ITEMS_SCHEMA
from lakerec.core.tables import (
    BRONZE_EVENTS,
    OPS_DQ_RESULTS,
    SILVER_CUSTOMERS,
    SILVER_EVENTS,
    SILVER_ITEMS,
)
from tests.browser import chromium, dump_dom, visible_text
from tests.conftest import make_config

RUN_DATE = date(2026, 11, 27)
BRONZE = ["event_id", "user_id", "item_id", "event_type", "event_ts", "quantity", "price",
          "rating", "order_id"]


def write_silver(spark: SparkSession, lake: Lake, price_factor: float) -> int:
    """Write the three silver tables; the version of silver.events written."""
    events = [(f"e{i}", f"u{i % 5}", f"i{i % 4}", "purchase", datetime(2026, 11, 1 + i % 25),
               1 + i % 3, (5.0 + i % 7) * price_factor, None, f"o{i // 3}", None, "NL",
               f"k{i}", "b1") for i in range(60)]
    customers = [(f"u{i}", None, None, None, "NL", None, None, None, None, "b1")
                 for i in range(5)]
    items = [(f"i{i}", f"t{i}", "c", 5.0, True, None, None, "b1") for i in range(4)]
    version = lake.overwrite(spark.createDataFrame(events, SILVER_EVENTS_SCHEMA), SILVER_EVENTS)
    lake.overwrite(spark.createDataFrame(customers, SILVER_CUSTOMERS_SCHEMA), SILVER_CUSTOMERS)
    lake.overwrite(spark.createDataFrame(items, SILVER_ITEMS_SCHEMA), SILVER_ITEMS)
    return version


def test_two_runs_write_two_result_sets_and_drift_compares_with_the_earlier_run(
        spark: SparkSession, config: Config, lake: Lake) -> None:
    first_version = write_silver(spark, lake, price_factor=1.0)
    first = run_step("quality", config, RUN_DATE, spark=spark, options={"layer": "silver"},
                     out=lambda _: None)
    # prices triple: drift warns, run goes on
    second_version = write_silver(spark, lake, price_factor=3.0)
    lines: list[str] = []
    second = run_step("quality", config, RUN_DATE, spark=spark, options={"layer": "silver"},
                      out=lines.append)

    results = lake.read(OPS_DQ_RESULTS)
    per_run = {r["run_id"]: r["count"] for r in results.groupBy("run_id").count().collect()}
    assert len(per_run) == 2 and len(set(per_run.values())) == 1
    mean = {r["run_id"]: r for r in results.where(
        "expectation = 'expect_column_mean_to_be_between(price)'").collect()}
    runs = sorted(mean.values(), key=lambda r: r["checked_at"])
    assert [r["success"] for r in runs] == [True, False]
    assert float(runs[1]["observed_value"]) == pytest.approx(3 * float(runs[0]["observed_value"]))
    assert runs[1]["severity"] == "warn" and runs[1]["delta_version"] == second_version
    assert first.versions_read["silver.events"] == first_version == lake.version(
        SILVER_EVENTS) - 1
    assert any("WARNING [warn] silver.events: expect_column_mean_to_be_between(price)" in line
               for line in second.summary)
    docs = [line for line in lines if "Data Docs:" in line]
    assert docs and Path(docs[0].split("Data Docs: ")[1]).is_file()


def test_missing_gold_tables_are_skipped_with_a_note(spark: SparkSession, config: Config) -> None:
    result = run_step("quality", config, RUN_DATE, spark=spark, options={"layer": "gold"},
                      out=lambda _: None)
    assert "note: gold.customer_segments does not exist yet: skipped" in result.summary


@pytest.fixture(scope="module")
def failed_bronze(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[QualityError, Lake, Path]:
    """A bronze load with 30% null user ids, checked once for the tests below."""
    root = tmp_path_factory.mktemp("bad_bronze")
    config = make_config(root)
    lake = Lake(spark, config.paths.root)
    rows = [(f"e{i}", None if i % 10 < 3 else f"u{i}", "i1", "view", "2026-11-20 10:00:00",
             None, None, None, None) for i in range(50)]
    frame = (spark.createDataFrame(rows, T.StructType([T.StructField(c, T.StringType())
                                                        for c in BRONZE]))
             .withColumn("_ingest_ts", F.current_timestamp())
             .withColumn("_source_file", F.lit("bad.csv"))
             .withColumn("_batch_id", F.lit("b-bad")))
    lake.append(frame, BRONZE_EVENTS)
    with pytest.raises(QualityError) as caught:
        run_step("quality", config, RUN_DATE, spark=spark, options={"layer": "bronze"},
                 out=lambda _: None)
    return caught.value, lake, Path(config.paths.data_docs)


def test_an_error_level_failure_stops_with_table_check_and_observed_value(
        failed_bronze: tuple[QualityError, Lake, Path]) -> None:
    error, lake, _ = failed_bronze
    message = str(error)
    assert "\n" not in message and error.exit_code == 3
    assert message.startswith("bronze.events: check "
                              "expect_column_values_to_not_be_null(user_id__parsed) failed, "
                              "observed 15 of 50 rows unexpected (30.00%)")
    failed = lake.read(OPS_DQ_RESULTS).where("not success").collect()
    assert [(r["table"], r["severity"], r["unexpected_count"]) for r in failed] == [
        ("bronze.events", "error", 15)]


def test_data_docs_render_suites_and_the_failed_expectation_in_chromium(
        failed_bronze: tuple[QualityError, Lake, Path], tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium binary (make browser installs the Debian package)")
    _, _, docs_root = failed_bronze
    index = next(docs_root.glob("*/bronze-*/index.html"))
    # the index table is filled by scripts from a CDN (unreachable offline): its data is in the DOM
    assert "_expectation_suite_name_sort': 'bronze.events'" in dump_dom(
        browser, index, tmp_path / "profile").replace('"', "'")
    page = next((index.parent / "validations" / "bronze" / "events").rglob("*.html"))
    text = visible_text(dump_dom(browser, page, tmp_path / "profile"))
    assert "Expectation Suite: bronze.events" in text and "Status: Failed" in text
    assert "user_id__parsed" in text
    assert "values must not be null, at least 95 % of the time" in text
    assert "15 unexpected values found. 30% of 50 total rows." in text
