"""One run at a time per lake: the lease in ops.lake_lease."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakerec.core.config import Config
from lakerec.core.errors import LakeBusyError
from lakerec.core.lake import Lake
from lakerec.core.lease import lake_lease
from lakerec.core.tables import OPS_LAKE_LEASE
from tests.conftest import REPO, TEST_SPARK, subprocess_env


def test_a_second_holder_is_refused_naming_the_first_and_gets_it_once_released(
        spark: SparkSession, config: Config) -> None:
    lake = Lake(spark, config.paths.root)
    with (lake_lease(lake, config.lease, "run-a"),
          pytest.raises(LakeBusyError, match=r"another run \(run-a on .*\) holds the lake"),
          lake_lease(lake, config.lease, "run-b")):
        pass
    with lake_lease(lake, config.lease, "run-b"):
        assert lake.read(OPS_LAKE_LEASE).first()["holder"] == "run-b"
    assert lake.read(OPS_LAKE_LEASE).first()["released"]


def race(spark: SparkSession, config: Config,
         attempt: int) -> tuple[list[str], list[str], list[BaseException]]:
    """Two runs, each in a session of its own, claim the lease at the same moment; the
    winner holds it until the other has tried. Who held it, who was refused, and what
    else either raised (which releases the other at once)."""
    holders: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    together = threading.Barrier(2, timeout=120)

    def run(name: str) -> None:
        lake = Lake(spark.newSession(), config.paths.root)
        try:
            together.wait()
            with lake_lease(lake, config.lease, f"{name}-{attempt}"):
                holders.append(name)
                together.wait()
        except LakeBusyError:
            refused.append(name)
            together.wait()
        except BaseException as error:  # surfaced by the test
            errors.append(error)
            together.abort()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return holders, refused, errors


def test_of_runs_claiming_at_the_same_moment_exactly_one_holds_the_lake(
        spark: SparkSession, config: Config) -> None:
    for attempt in range(3):  # the first round also races to create the table
        holders, refused, errors = race(spark, config, attempt)
        assert not errors, (attempt, errors)
        assert len(holders) == 1 and len(refused) == 1, (attempt, holders, refused)


def test_a_command_on_a_held_lake_exits_4_with_one_line(spark: SparkSession, config: Config,
                                                       tmp_path: Path) -> None:
    lake = Lake(spark, config.paths.root)
    args = [sys.executable, "-m", "lakerec.cli.main", "features", "--run-date", "2026-11-20",
            "--set", f"paths.root={config.paths.root}",
            "--set", f"spark.delta_jars_dir={REPO / '.jars' / 'delta'}",
            *[arg for setting in TEST_SPARK for arg in ("--set", setting)]]
    with lake_lease(lake, config.lease, "the-daily-run"):
        done = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                              env=subprocess_env())
    assert done.returncode == 4, done.stderr[-3000:]
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("lakerec features:")]
    assert len(lines) == 1 and "another run (the-daily-run on" in lines[0], done.stderr[-3000:]
