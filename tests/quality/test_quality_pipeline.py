"""A bad load stops ``lakerec run`` at the bronze checks: silver and gold stay untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakerec.cli.main import main
from lakerec.core.lake import Lake
from lakerec.core.tables import (
    GOLD_CUSTOMER_SEGMENTS,
    GOLD_RECOMMENDATIONS,
    GOLD_USER_FEATURES,
    OPS_PIPELINE_RUNS,
    SILVER_CUSTOMERS,
    SILVER_EVENTS,
    SILVER_ITEMS,
)
from tests.conftest import REPO, TEST_SPARK

HEADER = "event_id,user_id,item_id,event_type,event_ts,quantity,price,order_id\n"


def events_csv(path: Path, prefix: str, rows: int, null_user_every: int = 0) -> None:
    lines = [HEADER]
    for i in range(rows):
        user = "" if null_user_every and i % 10 < null_user_every else f"u{i % 7}"
        lines.append(f"{prefix}{i},{user},i{i % 5},purchase,2026-11-{10 + i % 15} 10:00:00,"
                     f"{1 + i % 3},{4.5 + i % 4},{prefix}o{i // 2}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.slow
def test_a_load_with_30_percent_null_user_ids_stops_the_run_before_silver(
        spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--conf", str(REPO / "conf" / "local.yaml"), "--run-date", "2026-11-27"]
    for override in (f"paths.root={tmp_path}/lake", f"paths.landing={tmp_path}/landing",
                     f"paths.ground_truth={tmp_path}/gt", f"paths.checkpoint={tmp_path}/ck",
                     f"paths.data_docs={tmp_path}/docs", f"paths.artifacts={tmp_path}/art",
                     f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
                     f"mlflow.artifact_location={tmp_path}/mlruns",
                     f"spark.delta_jars_dir={REPO / '.jars' / 'delta'}", *TEST_SPARK):
        args += ["--set", override]
    events_csv(tmp_path / "landing" / "events" / "good.csv", "g", 60)
    assert main(["ingest", *args]) == 0
    assert main(["quality", "--layer", "bronze", *args]) == 0
    assert main(["conform", *args]) == 0
    lake = Lake(spark, str(tmp_path / "lake"))
    tables = [SILVER_EVENTS, SILVER_CUSTOMERS, SILVER_ITEMS, GOLD_USER_FEATURES,
              GOLD_CUSTOMER_SEGMENTS, GOLD_RECOMMENDATIONS]
    before = {t: lake.version(t) for t in tables}
    assert before[SILVER_EVENTS] is not None

    events_csv(tmp_path / "landing" / "events" / "bad.csv", "b", 60, null_user_every=3)
    capsys.readouterr()
    assert main(["run", *args]) == 3
    err = capsys.readouterr().err
    assert ("lakerec run: error: bronze.events: check "
            "expect_column_values_to_not_be_null(user_id__parsed) failed, observed 18 of 60 "
            "rows unexpected (30.00%)") in err
    assert {t: lake.version(t) for t in tables} == before
    steps = [r["step"] for r in lake.read(OPS_PIPELINE_RUNS).orderBy("started_at")
             .collect()]
    assert steps[-1] == "quality layer=bronze" and "conform" not in steps[-3:]
