"""A daily DAG run that must fail: a corrupted landing file stops it at the bronze gate (the
gate's job under spark-submit, as the DAG submits it) and nothing downstream runs. A module of
its own, so that the test runner can run it beside the long orchestration module
(tests/dags/conftest.py gives it its own fixtures)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakerec.cli.runner import run_step
from lakerec.core.lake import Lake
from lakerec.core.tables import BRONZE_EVENTS
from tests.dags.orchestration_support import (
    DAILY,
    RUN_DATE,
    in_process_config,
    run_daily,
    tail,
)


@pytest.mark.slow
def test_a_corrupted_landing_file_fails_the_bronze_gate_and_nothing_downstream_runs(
        spark: SparkSession, tmp_path: Path, airflow_home: Path,
        packaged: tuple[Path, Path], tiny_landing: Path) -> None:
    shutil.copytree(tiny_landing, tmp_path / "landing")
    # A file of events without users, of unknown types, at unreadable times: ingest keeps
    # raw rows as landed, the bronze suite must refuse them.
    header = "event_id,user_id,item_id,event_type,event_ts,quantity,price,rating,order_id\n"
    rows = "".join(f"bad-{i},,item_{i % 7},teleport,yesterday-ish,-3,,,\n" for i in range(3000))
    (tmp_path / "landing" / "events" / "corrupted.csv").write_text(header + rows)

    # Ingest in this process (the daily test runs its job under spark-submit): the DAG's
    # run submits only the gate.
    config = in_process_config(tmp_path)
    run_step("ingest", config, RUN_DATE, spark=spark, out=lambda _: None)
    bronze = Lake(spark, config.paths.root).read(BRONZE_EVENTS)
    assert bronze.where(F.col("event_type") == "teleport").count() == 3000  # kept as landed

    result = run_daily(tmp_path, airflow_home, packaged, mark_success="ingest",
                       log_name="corrupted.log")

    assert result["state"] == "failed"
    assert result["tasks"]["quality_bronze"] == "failed", tail(tmp_path / "corrupted.log")
    assert {result["tasks"][task] for task in DAILY[2:]} == {"upstream_failed"}
    assert not (tmp_path / "lake" / "silver").exists()
    assert not (tmp_path / "lake" / "gold").exists()
