"""Write, audit, publish for silver: a failed silver gate puts silver, quarantine and the
conformed-batch marks back as they were before the conform it checked."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakerec.cli.runner import run_step
from lakerec.core.config import Config
from lakerec.core.errors import QualityError
from lakerec.core.lake import Lake
from lakerec.core.tables import OPS_CONFORMED_BATCHES, QUARANTINE_EVENTS, SILVER_EVENTS

RUN_DATE = date(2026, 11, 20)
QUIET = {"out": lambda _: None}


def land(config: Config, name: str, first: int, count: int) -> None:
    folder = Path(config.paths.landing) / "events"
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"u{i},p{i % 4},purchase,2026-11-{1 + i % 18:02d}T10:00:00\n"
                   for i in range(first, first + count))
    (folder / name).write_text("user_id,item_id,event_type,event_ts\n" + rows
                               + "u1,p1,teleport,2026-11-02T10:00:00\n")  # one to quarantine


def test_a_failed_silver_gate_leaves_silver_as_it_was_and_the_batch_to_conform_again(
        spark: SparkSession, config: Config) -> None:
    lake = Lake(spark, config.paths.root)
    land(config, "day1.csv", 0, 20)
    for step in ("ingest", "conform"):
        run_step(step, config, RUN_DATE, spark=spark, **QUIET)
    versions = {t: lake.version(t) for t in (SILVER_EVENTS, QUARANTINE_EVENTS,
                                             OPS_CONFORMED_BATCHES)}
    rows = {t: lake.read(t).count() for t in versions}
    assert rows[SILVER_EVENTS] == 20

    land(config, "day2.csv", 100, 5)
    for step in ("ingest", "conform"):
        run_step(step, config, RUN_DATE, spark=spark, **QUIET)
    # a defect that conform's rules did not catch: an event id twice in silver
    lake.append(lake.read(SILVER_EVENTS).limit(1), SILVER_EVENTS)
    assert lake.read(SILVER_EVENTS).count() == 26

    with pytest.raises(QualityError, match=r"conform run \w+ undone: "):
        run_step("quality", config, RUN_DATE, spark=spark, options={"layer": "silver"},
                 **QUIET)
    for table, count in rows.items():
        assert lake.read(table).count() == count, table
        assert lake.read(table).exceptAll(lake.read(table, version=versions[table])).count() == 0

    # the second day's batch is conformed again by the next run
    run_step("conform", config, RUN_DATE, spark=spark, **QUIET)
    assert lake.read(SILVER_EVENTS).count() == 25
