"""A lake whose files cannot be written (a read-only mount, another owner): a step ends with
one line on stderr saying so, and that the run could not be recorded in ops.pipeline_runs,
exit 5, no Python or Java traceback, and the lake unchanged.

The lake is made read-only with ``chmod -R a-w``. Root ignores file modes (its capability
``CAP_DAC_OVERRIDE``), so when the tests run as root the command runs under ``setpriv`` without
that capability (and ``CAP_DAC_READ_SEARCH``): still root, owner of the files, but bound by
their modes. (Running it as ``nobody`` instead fails earlier: the interpreter lives under
``/root``.) The test is skipped only as root without ``setpriv``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakerec.cli.runner import run_step
from lakerec.core.lake import Lake
from lakerec.core.tables import BRONZE_EVENTS, OPS_PIPELINE_RUNS
from tests.conftest import REPO, TEST_SPARK, make_config, subprocess_env

pytestmark = [pytest.mark.faults, pytest.mark.slow]

RUN_DATE = date(2026, 1, 5)


def bound_by_file_modes() -> list[str]:
    """A prefix for the command that makes file modes apply to it."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("the tests run as root, whom chmod does not stop, and there is no setpriv "
                    "(util-linux) to drop CAP_DAC_OVERRIDE with")
    dropped = "-dac_override,-dac_read_search"
    return [setpriv, "--bounding-set", dropped, "--inh-caps", dropped]


def land(root: Path, name: str) -> None:
    events = root / "landing" / "events"
    events.mkdir(parents=True, exist_ok=True)
    (events / name).write_text("user_id,item_id,event_type,event_ts\n" + "".join(
        f"U{i},I{i % 3},purchase,2026-01-0{1 + i % 4} 10:00:00\n" for i in range(12)))


def test_a_step_on_a_read_only_lake_ends_with_one_line_and_exit_5(
        spark: SparkSession, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    lake = Lake(spark, config.paths.root)
    land(tmp_path, "first.csv")
    run_step("ingest", config, RUN_DATE, spark=spark, out=lambda _: None)
    before = {t: lake.version(t) for t in (BRONZE_EVENTS, OPS_PIPELINE_RUNS)}
    land(tmp_path, "second.csv")  # new data has landed; the lake cannot take it
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    subprocess.run(["chmod", "-R", "a-w", config.paths.root], check=True)

    args = [*bound_by_file_modes(), sys.executable, "-m", "lakerec.cli.main", "ingest",
            "--run-date", str(RUN_DATE),
            "--set", f"paths.root={config.paths.root}",
            "--set", f"paths.landing={config.paths.landing}",
            "--set", f"paths.checkpoint={scratch}/checkpoints",
            "--set", f"spark.delta_jars_dir={REPO / '.jars' / 'delta'}",
            *[arg for setting in TEST_SPARK for arg in ("--set", setting)]]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=scratch,
                              env=subprocess_env())
    finally:  # writable again, for pytest to remove
        subprocess.run(["chmod", "-R", "u+w", config.paths.root], check=True)

    assert done.returncode == 5, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("lakerec ingest:")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert f"the lake at {config.paths.root} cannot be written" in errors[0], errors
    assert "could not be recorded in ops.pipeline_runs" in errors[0], errors
    assert "Traceback" not in done.stderr and "\tat " not in done.stderr, done.stderr[-3000:]
    assert {t: lake.version(t) for t in before} == before
