"""A daily DAG run that must fail: a corrupted landing file stops it at the bronze gate and
nothing downstream runs. A module of its own, so that the test runner can run it beside the
long orchestration module (tests/dags/conftest.py gives it its own fixtures)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.dags.orchestration_support import DAILY, run_daily, tail


@pytest.mark.slow
def test_a_corrupted_landing_file_fails_the_bronze_gate_and_nothing_downstream_runs(
        tmp_path: Path, airflow_home: Path,
        packaged: tuple[Path, Path], tiny_landing: Path) -> None:
    shutil.copytree(tiny_landing, tmp_path / "landing")
    # A file of events without users, of unknown types, at unreadable times: ingest keeps
    # raw rows as landed, the bronze suite must refuse them.
    header = "event_id,user_id,item_id,event_type,event_ts,quantity,price,rating,order_id\n"
    rows = "".join(f"bad-{i},,item_{i % 7},teleport,yesterday-ish,-3,,,\n" for i in range(3000))
    (tmp_path / "landing" / "events" / "corrupted.csv").write_text(header + rows)

    result = run_daily(tmp_path, airflow_home, packaged, log_name="corrupted.log")

    assert result["state"] == "failed"
    assert result["tasks"]["ingest"] == "success", tail(tmp_path / "corrupted.log")
    assert result["tasks"]["quality_bronze"] == "failed", tail(tmp_path / "corrupted.log")
    assert {result["tasks"][task] for task in DAILY[2:]} == {"upstream_failed"}
    assert not (tmp_path / "lake" / "silver").exists()
    assert not (tmp_path / "lake" / "gold").exists()
