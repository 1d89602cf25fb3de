"""ingest and conform as steps, on real landing files and real Delta tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from lakerec.cli.runner import run_step
from lakerec.core.errors import InputError
from lakerec.core.lake import Lake
from lakerec.core.tables import (
    BRONZE_CUSTOMERS,
    BRONZE_EVENTS,
    BRONZE_ITEMS,
    OPS_PIPELINE_RUNS,
    QUARANTINE_CUSTOMERS,
    QUARANTINE_EVENTS,
    SILVER,
    SILVER_CUSTOMERS,
    SILVER_EVENTS,
    SILVER_ITEMS,
    Table,
)
from tests.conftest import make_config

RUN_DATE = date(2026, 1, 5)
EVENTS_CSV = """event_id,user_id,item_id,event_type,event_ts,quantity,price,rating,order_id
E1,U1,I1,purchase,2026-01-01 10:00:00,2,3.5,,O1
E2,U1,I2,view,2026-01-02 10:00:00,,,,
E2,U1,I2,view,2026-01-02 10:00:00,,,,
E3,,I2,view,2026-01-02 10:00:00,,,,
E4,U2,I3,add_to_cart,2026-01-03 09:00:00,1,,,
E5,U2,I3,view,2026-01-03 09:00:00,,,,,one-field-too-many
"""


def land(root: Path, entity: str, name: str, text: str) -> Path:
    folder = root / "landing" / entity
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def counts(lake: Lake, table: Table) -> int:
    return lake.read(table).count() if lake.exists(table) else 0


def test_ingest_reads_every_format_and_skips_known_files(spark, config, lake, tmp_path):
    land(tmp_path, "events", "a.csv", EVENTS_CSV)
    land(tmp_path, "events", "b.jsonl",
         '{"user_id": "U3", "item_id": "I1", "event_type": "view", "event_ts": '
         '"2026-01-04 08:00:00", "event_id": "E6"}\n')
    (tmp_path / "landing" / "items").mkdir(parents=True)
    pd.DataFrame({"item_id": ["I1", "I2"], "price": [3.5, 2.0], "in_stock": [True, False]}
                 ).to_parquet(tmp_path / "landing" / "items" / "items.parquet")
    first = run_step("ingest", config, RUN_DATE, spark=spark)
    assert first.rows_in == 9 and first.status == "succeeded"
    bronze = lake.read(BRONZE_EVENTS)
    assert {"_ingest_ts", "_source_file", "_batch_id", "_corrupt_record"} <= set(bronze.columns)
    assert bronze.where("_corrupt_record IS NOT NULL").count() == 1
    items = {r["item_id"]: r for r in lake.read(BRONZE_ITEMS).collect()}
    assert items["I1"]["price"] == "3.5" and items["I2"]["in_stock"] == "false"

    again = run_step("ingest", config, RUN_DATE, spark=spark)
    assert again.rows_in == 0
    assert lake.read(BRONZE_EVENTS).count() == 7


def test_a_partial_load_reports_the_corrupt_files_and_ingests_the_others(spark, lake, tmp_path):
    land(tmp_path, "events", "a.csv", EVENTS_CSV)
    land(tmp_path, "events", "broken.parquet", "this is no parquet")
    land(tmp_path, "events", "no_user.csv", "item_id,event_type,event_ts\nI1,view,2026-01-01\n")
    config = make_config(tmp_path, "ingest.allow_partial_loads=true")
    result = run_step("ingest", config, RUN_DATE, spark=spark, out=lambda _: None)
    assert result.status == "partial"
    assert "broken.parquet cannot be read as parquet" in result.message
    assert "no_user.csv has no column 'user_id'" in result.message
    assert counts(lake, BRONZE_EVENTS) == 6


def test_missing_and_empty_landing_folders_stop_with_a_clear_error(spark, config, tmp_path):
    with pytest.raises(InputError, match=r"landing folder .*landing/events does not exist"):
        run_step("ingest", config, RUN_DATE, spark=spark, out=lambda _: None)
    (tmp_path / "landing" / "events").mkdir(parents=True)
    (tmp_path / "landing" / "events" / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="holds no CSV, JSON lines or Parquet files"):
        run_step("ingest", config, RUN_DATE, spark=spark, out=lambda _: None)


def test_conform_accounts_for_every_row_and_is_idempotent(spark, config, lake, tmp_path):
    land(tmp_path, "events", "a.csv", EVENTS_CSV)
    land(tmp_path, "customers", "c.jsonl",
         '{"user_id": "U1", "email": "ann@example.com", "name": "Ann"}\n'
         '{"user_id": "U2", "email": "not-an-email", "name": "Bob"}\n')
    run_step("ingest", config, RUN_DATE, spark=spark)
    result = run_step("conform", config, RUN_DATE, spark=spark)
    bronze_rows = counts(lake, BRONZE_EVENTS) + counts(lake, BRONZE_CUSTOMERS)
    silver_rows = counts(lake, SILVER_EVENTS) + counts(lake, SILVER_CUSTOMERS)
    quarantined = counts(lake, QUARANTINE_EVENTS) + counts(lake, QUARANTINE_CUSTOMERS)
    assert result.rows_in == bronze_rows == silver_rows + quarantined == 8
    assert (result.rows_out, result.rows_quarantined) == (silver_rows, quarantined) == (4, 4)
    reasons = sorted(r[0] for r in lake.read(QUARANTINE_EVENTS)
                     .select("_reject_reason").collect())
    assert reasons == ["duplicate_row", "malformed_record", "missing_user_id"]
    customer = lake.read(SILVER_CUSTOMERS).collect()[0]
    assert customer["user_id"] == "U1" and "@" not in customer["email"]
    assert customer["first_seen_ts"] is not None
    assert sorted(r[0] for r in lake.read(SILVER_ITEMS).select("item_id").collect()) == [
        "I1", "I2", "I3"]
    runs = lake.read(OPS_PIPELINE_RUNS).where("step = 'conform'").collect()
    assert runs[-1]["rows_in"] == runs[-1]["rows_out"] + runs[-1]["rows_quarantined"]
    assert runs[-1]["versions_written"]["silver.events"] == lake.version(SILVER_EVENTS)

    before = {t: lake.read(SILVER[t]).orderBy(*lake.read(SILVER[t]).columns).collect()
              for t in ("events", "customers", "items")}
    versions = {t: lake.version(SILVER[t]) for t in before}
    run_step("ingest", config, RUN_DATE, spark=spark)
    rerun = run_step("conform", config, RUN_DATE, spark=spark)
    assert rerun.rows_in == 0
    for table, rows in before.items():
        assert lake.read(SILVER[table]).orderBy(*lake.read(SILVER[table]).columns
                                                  ).collect() == rows
        assert lake.version(SILVER[table]) == versions[table]


def test_a_later_load_with_known_events_quarantines_them(spark, config, lake, tmp_path):
    land(tmp_path, "events", "a.csv", EVENTS_CSV)
    run_step("ingest", config, RUN_DATE, spark=spark)
    run_step("conform", config, RUN_DATE, spark=spark)
    land(tmp_path, "events", "late.csv",
         "event_id,user_id,item_id,event_type,event_ts\n"
         "E2,U1,I2,view,2026-01-02 10:00:00\nE9,U1,I2,view,2026-01-02 10:00:00\n"
         "E10,U4,I4,view,2026-01-04 10:00:00\n")
    run_step("ingest", config, RUN_DATE, spark=spark)
    result = run_step("conform", config, RUN_DATE, spark=spark)
    assert (result.rows_in, result.rows_out, result.rows_quarantined) == (3, 1, 2)
    assert lake.read(SILVER_EVENTS).where("user_id = 'U4'").count() == 1
    assert lake.read(SILVER_CUSTOMERS).where("user_id = 'U4'").count() == 1
