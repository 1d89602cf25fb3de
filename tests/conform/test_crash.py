"""Crash safety: ``lakerec conform`` killed with SIGKILL at a seeded random moment. Every
table stays readable, the dead run's lease is taken over at once on this host, and a rerun
completes with the accounting intact and no duplicates.

The seeds come from ``$LAKEREC_CRASH_SEEDS`` (comma-separated; one seed in CI, to keep it
short: ``LAKEREC_CRASH_SEEDS=1,2,3,4,5 pytest -m faults tests/conform/test_crash.py`` runs
five).
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakerec.cli.runner import new_run_id, run_step
from lakerec.core import schemas as S
from lakerec.core.lake import Lake
from lakerec.core.lease import lake_lease
from lakerec.core.tables import BRONZE, QUARANTINE, SILVER
from tests.conftest import REPO, TEST_SPARK, make_config
from tests.kill import kill_during

pytestmark = [pytest.mark.faults, pytest.mark.slow]

RUN_DATE = date(2026, 1, 5)
SEEDS = [int(s) for s in os.environ.get("LAKEREC_CRASH_SEEDS", "11").split(",")]
KILL_WINDOW_S = 30.0  # after the step's header: conform of this landing takes about as long


def land(root: Path) -> None:
    events = root / "landing" / "events"
    events.mkdir(parents=True)
    lines = ["event_id,user_id,item_id,event_type,event_ts,quantity,price"]
    for i in range(400):  # 1 in 20 without a user: quarantined
        user = "" if i % 20 == 0 else f"U{i % 37}"
        lines.append(f"E{i},{user},I{i % 11},purchase,2026-01-0{1 + i % 4} 10:00:00,1,2.5")
    (events / "a.csv").write_text("\n".join(lines) + "\n")
    customers = root / "landing" / "customers"
    customers.mkdir(parents=True)
    (customers / "c.csv").write_text("user_id,email\n" + "".join(
        f"U{i},u{i}@example.com\n" for i in range(37)))


def conform_command(config_root: Path) -> list[str]:
    config = make_config(config_root)
    return [sys.executable, "-m", "lakerec.cli.main", "conform", "--run-date",
            RUN_DATE.isoformat(),
            "--set", f"paths.root={config.paths.root}",
            "--set", f"paths.landing={config.paths.landing}",
            "--set", f"paths.checkpoint={config.paths.checkpoint}",
            "--set", f"spark.delta_jars_dir={REPO / '.jars' / 'delta'}",
            *[arg for setting in TEST_SPARK for arg in ("--set", setting)]]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_conform_killed_at_a_random_moment_leaves_the_lake_readable_and_a_rerun_completes(
        spark: SparkSession, tmp_path: Path, seed: int) -> None:
    config = make_config(tmp_path)
    lake = Lake(spark, config.paths.root)
    land(tmp_path)
    run_step("ingest", config, RUN_DATE, spark=spark, out=lambda _: None)

    delay, printed = kill_during(conform_command(tmp_path), "conform", seed=seed,
                                 window_s=KILL_WINDOW_S, cwd=tmp_path)
    finished = any(line.strip().startswith("succeeded") for line in printed)
    for table in lake.tables():  # every table readable at its latest version
        lake.read(table).count()

    with lake_lease(lake, config.lease, new_run_id()):  # the dead run's lease: taken over
        run_step("conform", config, RUN_DATE, spark=spark, out=lambda _: None)

    for entity in (S.EVENTS, S.CUSTOMERS):
        bronze = lake.read(BRONZE[entity]).count()
        silver = lake.read(SILVER[entity])
        held = lake.read(QUARANTINE[entity]).count() if lake.exists(QUARANTINE[entity]) else 0
        assert bronze == silver.count() + held, (entity, delay, finished, printed)
    events = lake.read(SILVER[S.EVENTS])
    assert events.groupBy(S.EVENT_KEY).count().where(F.col("count") > 1).count() == 0
    assert lake.read(QUARANTINE[S.EVENTS]).count() == 20
