"""``lakerec maintain``: constraints added to older tables, small files compacted, rows kept;
and the constraints refuse bad rows from then on."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from lakerec.cli.runner import run_step
from lakerec.core.config import Config
from lakerec.core.lake import Lake
from lakerec.core.schemas import SILVER_EVENTS_SCHEMA
from lakerec.core.tables import OPS_PIPELINE_RUNS, SILVER_EVENTS, Layer, Table

OLD_SILVER_EVENTS = Table(Layer.SILVER, SILVER_EVENTS.name)  # as an older lakerec declared it


def event(event_id: str, quantity: int | None) -> tuple:
    return (event_id, "u1", "i1", "purchase", datetime(2026, 11, 1, 10), quantity, 2.5, None,
            "o1", None, None, event_id, "b1")


def test_maintain_adds_missing_constraints_compacts_and_keeps_every_row(
        spark: SparkSession, config: Config) -> None:
    lake = Lake(spark, config.paths.root)
    for i in range(4):  # an older lake: no constraints, one small file per write
        lake.append(spark.createDataFrame([event(f"e{i}", 1)], SILVER_EVENTS_SCHEMA),
                    OLD_SILVER_EVENTS)
    assert lake.checks(SILVER_EVENTS) == {}
    before = lake.file_count(SILVER_EVENTS)

    result = run_step("maintain", config, date(2026, 11, 20), spark=spark, out=lambda _: None)

    assert set(lake.checks(SILVER_EVENTS)) == {name for name, _ in SILVER_EVENTS.checks}
    assert lake.file_count(SILVER_EVENTS) == 1 < before
    assert lake.read(SILVER_EVENTS).count() == 4
    # the step logged itself in ops.pipeline_runs, which maintain also compacts next time
    assert lake.read(OPS_PIPELINE_RUNS).where("step = 'maintain'").count() == 1
    assert any("constraints added" in line for line in result.summary), result.summary

    with pytest.raises((PySparkException, Py4JJavaError), match=r"(?i)check constraint"):
        lake.append(spark.createDataFrame([event("bad", -3)], SILVER_EVENTS_SCHEMA),
                    SILVER_EVENTS)
    assert lake.read(SILVER_EVENTS).count() == 4


def test_a_table_created_now_has_its_constraints_from_its_first_write(
        spark: SparkSession, config: Config) -> None:
    lake = Lake(spark, config.paths.root)
    version = lake.append(spark.createDataFrame([event("e1", 1)], SILVER_EVENTS_SCHEMA),
                          SILVER_EVENTS)
    assert version == 0 == lake.version(SILVER_EVENTS)  # rows and constraints: one commit
    assert set(lake.checks(SILVER_EVENTS)) == {name for name, _ in SILVER_EVENTS.checks}
