"""Fault injection: odd landing files through ingest and conform, each with its outcome (the
exit code, the message, where its rows went) and rows in = silver + quarantine throughout.
docs/reliability.md tabulates the same cases."""

from __future__ import annotations

import random
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakerec.cli.runner import run_step
from lakerec.core import schemas as S
from lakerec.core.errors import InputError
from lakerec.core.lake import Lake
from lakerec.core.tables import (
    BRONZE_EVENTS,
    OPS_PIPELINE_RUNS,
    QUARANTINE_EVENTS,
    QUARANTINE_LANDING_FILES,
    SILVER_EVENTS,
)
from tests.conftest import make_config

pytestmark = pytest.mark.faults

RUN_DATE = date(2026, 1, 5)
HEADER = "event_id,user_id,item_id,event_type,event_ts,coupon\n"
LONG_ID = "u" * 10_000
GOOD_CSV = HEADER + (
    "E1,U1,I1,view,2026-01-01T10:00:00+01:00,X\n"   # ISO with an offset: 09:00 UTC
    "E2,U1,I2,view,2026/01/02 10:00,\n"             # slashes, no seconds
    "E3,U2,I1,view,1767261600,\n"                   # epoch seconds: 2026-01-01 10:00 UTC
    "E4,\U0001F600shopper,I1,view,2026-01-02 11:00:00,\n"   # emoji: a valid id
    f"E5,{LONG_ID},I1,view,2026-01-02 12:00:00,\n"  # 10,000 characters: quarantined
)
SEMICOLON_CSV = "event_id;user_id;item_id;event_type;event_ts\nE9;U1;I1;view;2026-01-01\n" \
                "E10;U1;I2;view;2026-01-01\n"
NESTED_JSONL = ('{"event_id": "J1", "user_id": {"id": "U7"}, "item_id": "I1", '
                '"event_type": "view", "event_ts": "2026-01-02 10:00:00"}\n'
                '{"event_id": "J2", "user_id": "U7", "item_id": ["I1", "I2"], '
                '"event_type": "view", "event_ts": "2026-01-02 10:00:00"}\n')


def garbage(lines: int = 5) -> bytes:
    """Binary noise in ``lines`` lines (no blank line), seeded."""
    rng = random.Random(7)
    noise = [bytes(rng.choice([b for b in range(256) if b not in (10, 13)])
                   for _ in range(40)) for _ in range(lines)]
    return b"\n".join(noise) + b"\n"


def land_every_fault(root: Path) -> Path:
    folder = root / "landing" / "events"
    folder.mkdir(parents=True)
    (folder / "good.csv").write_text(GOOD_CSV, encoding="utf-8")
    (folder / "good_copy_renamed.csv").write_text(GOOD_CSV, encoding="utf-8")
    (folder / "header_only.csv").write_text(HEADER)
    (folder / "zero_bytes.csv").write_bytes(b"")
    (folder / "garbage.csv").write_bytes(garbage())
    (folder / "semicolons.csv").write_text(SEMICOLON_CSV)
    (folder / "nested.jsonl").write_text(NESTED_JSONL)
    pd.DataFrame({  # typed Parquet: int64 ids, a timestamp with milliseconds
        "event_id": [101, 102], "user_id": [42, 43], "item_id": [7, 8],
        "event_type": ["view", "view"],
        "event_ts": pd.to_datetime(["2026-01-03 08:30:15.123", "2026-01-03 08:30:16.000"]),
    }).to_parquet(folder / "typed.parquet", coerce_timestamps="ms")
    return folder


REFUSED = {"zero_bytes.csv": 0, "garbage.csv": 4, "semicolons.csv": 2}  # data lines
LANDED = {"good.csv": 5, "header_only.csv": 0, "nested.jsonl": 2, "typed.parquet": 2}


def test_by_default_a_rejected_file_stops_ingest_before_anything_is_written(
        spark: SparkSession, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    land_every_fault(tmp_path)
    lake = Lake(spark, config.paths.root)
    with pytest.raises(InputError) as caught:
        run_step("ingest", config, RUN_DATE, spark=spark, out=lambda _: None)
    message = str(caught.value)
    assert caught.value.exit_code == 2 and "\n" not in message
    assert message.startswith("3 landing file(s) rejected, nothing ingested: ")
    assert "ingest.allow_partial_loads: true" in message
    assert not lake.exists(BRONZE_EVENTS) and not lake.exists(QUARANTINE_LANDING_FILES)
    run = lake.read(OPS_PIPELINE_RUNS).collect()[-1]
    assert run["status"] == "failed"
    assert (run["rows_in"], run["rows_out"], run["rows_quarantined"]) == (6, 0, 6)
    assert "zero_bytes.csv is empty (0 bytes)" in run["message"]
    assert "header looks ';'-delimited: set ingest.csv_delimiter to ';'" in run["message"]
    assert "garbage.csv" in run["message"]


def test_a_partial_load_takes_every_readable_file_and_accounts_for_every_row(
        spark: SparkSession, tmp_path: Path) -> None:
    config = make_config(tmp_path, "ingest.allow_partial_loads=true")
    land_every_fault(tmp_path)
    lake = Lake(spark, config.paths.root)
    lines: list[str] = []
    ingest = run_step("ingest", config, RUN_DATE, spark=spark, out=lines.append)

    assert ingest.status == "partial"
    bronze = lake.read(BRONZE_EVENTS)
    per_file = {Path(r[0]).name: r[1] for r in bronze.groupBy(S.SOURCE_FILE).count().collect()}
    assert per_file == {name: rows for name, rows in LANDED.items() if rows}
    refused = {Path(r[S.SOURCE_FILE]).name: r for r in lake.read(QUARANTINE_LANDING_FILES)
               .collect()}
    assert {name: r["rows"] for name, r in refused.items()} == REFUSED
    assert all(r[S.SOURCE_CHECKSUM] and r[S.REJECT_REASON] for r in refused.values())
    assert ingest.rows_in == sum(LANDED.values()) + sum(REFUSED.values())
    assert (ingest.rows_out, ingest.rows_quarantined) == (sum(LANDED.values()),
                                                          sum(REFUSED.values()))
    assert any("good_copy_renamed.csv: same content as" in line for line in lines)
    assert "coupon" in bronze.columns  # bronze keeps what landed; silver keeps the contract

    conform = run_step("conform", config, RUN_DATE, spark=spark, out=lambda _: None)
    assert conform.rows_in == bronze.count() == (lake.read(SILVER_EVENTS).count()
                                                 + lake.read(QUARANTINE_EVENTS).count())
    assert "coupon" not in lake.read(SILVER_EVENTS).columns
    silver = {r[S.EVENT_ID]: r for r in lake.read(SILVER_EVENTS).collect()}
    assert silver["E1"][S.EVENT_TS] == datetime(2026, 1, 1, 9, 0)
    assert silver["E2"][S.EVENT_TS] == datetime(2026, 1, 2, 10, 0)
    assert silver["E3"][S.EVENT_TS] == datetime(2026, 1, 1, 10, 0)
    assert silver["E4"][S.USER_ID] == "\U0001F600shopper"
    assert silver["101"][S.USER_ID] == "42" and silver["101"][S.ITEM_ID] == "7"
    assert silver["101"][S.EVENT_TS] == datetime(2026, 1, 3, 8, 30, 15, 123000)
    reasons = {r[0]: r[1] for r in lake.read(QUARANTINE_EVENTS)
               .select(F.col(S.EVENT_ID), F.col(S.REJECT_REASON)).collect()}
    assert reasons == {"E5": S.ID_TOO_LONG, "J1": S.NON_SCALAR_ID, "J2": S.NON_SCALAR_ID}

    again = run_step("ingest", config, RUN_DATE, spark=spark, out=lines.append)
    assert (again.status, again.rows_in) == ("succeeded", 0)
    assert sum(f"refused before (see {QUARANTINE_LANDING_FILES})" in line
               for line in lines) == len(REFUSED)
    assert lake.read(BRONZE_EVENTS).count() == bronze.count()
