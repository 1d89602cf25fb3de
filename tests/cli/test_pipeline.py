"""End to end: generated data through ingest and conform, the CLI and spark-submit (the real
Online Retail log: test_online_retail.py)."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lakerec.cli.main import main
from lakerec.cli.runner import run_step
from lakerec.core.lake import Lake
from lakerec.core.schemas import ITEM_ID, MODEL_SOURCES, SOURCE, USER_ID
from lakerec.core.tables import (
    BRONZE,
    GOLD_RECOMMENDATIONS,
    OPS_PIPELINE_RUNS,
    QUARANTINE,
    SILVER,
    SILVER_CUSTOMERS,
    SILVER_EVENTS,
)
from tests.conftest import REPO, make_config, subprocess_env

pytestmark = pytest.mark.slow
RUN_DATE = date(2026, 11, 20)
SMALL = ("generate.customers=300", "generate.items=60", "generate.events=6000",
         "generate.files=2")


@pytest.fixture(scope="module")
def conformed(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    config = make_config(root, *SMALL)
    for step in ("generate", "ingest", "conform"):
        run_step(step, config, RUN_DATE, spark=spark)
    return config, Lake(spark, config.paths.root)


def test_every_planted_bad_row_is_quarantined_with_its_reason(spark, conformed):
    config, lake = conformed
    truth = spark.read.parquet(f"{config.paths.ground_truth}/bad_rows")
    for table, key in (("events", "event_id"), ("customers", "user_id")):
        planted = truth.where(F.col("table") == table)
        expected = {r[0]: r[1] for r in planted.groupBy("_reject_reason").count().collect()}
        got = {r[0]: r[1] for r in lake.read(QUARANTINE[table])
               .groupBy("_reject_reason").count().collect()}
        assert expected and got == expected, table
        # and they are the planted rows themselves, not just as many (for repeats, which
        # copy is kept depends on file order, so only their counts are compared above)
        rows = (lake.read(QUARANTINE[table]).select(F.col(key).alias("key"), "_reject_reason")
                .where(~F.col("_reject_reason").startswith("duplicate")))
        assert rows.join(planted.select("key", "_reject_reason"), ["key", "_reject_reason"],
                         "left_anti").count() == 0


def test_accepted_plus_quarantined_is_exactly_the_input(conformed):
    _, lake = conformed
    for table in ("events", "customers", "items", "contacts"):  # contacts: planted campaign
        bronze = lake.read(BRONZE[table]).count()
        silver = lake.read(SILVER[table]).count()
        quarantine = (lake.read(QUARANTINE[table]).count()
                      if lake.exists(QUARANTINE[table]) else 0)
        assert bronze == silver + quarantine, table


def test_a_step_runs_through_spark_submit(conformed, tmp_path):
    config, lake = conformed
    silver_before = lake.version(SILVER_EVENTS)
    jars = ",".join(str(p) for p in sorted((REPO / ".jars" / "delta").glob("*.jar")))
    env = subprocess_env(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    args = [str(Path(sys.executable).parent / "spark-submit"), "--master", "local[2]",
            "--driver-memory", "2g", "--jars", jars, str(REPO / "jobs" / "conform.py"),
            "--conf", str(REPO / "conf" / "local.yaml"), "--run-date", RUN_DATE.isoformat(),
            "--set", "spark.master=null", "--set", "spark.delta_jars_dir=",
            "--set", "spark.delta_package="]
    for key in ("root", "landing", "checkpoint", "ground_truth", "data_docs", "artifacts"):
        args += ["--set", f"paths.{key}={getattr(config.paths, key)}"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "events: nothing new in bronze.events" in done.stdout
    assert lake.version(SILVER_EVENTS) == silver_before
    last = lake.read(OPS_PIPELINE_RUNS).orderBy(F.col("started_at").desc()).first()
    assert (last["step"], last["status"]) == ("conform", "succeeded")


def test_lakerec_run_end_to_end_on_purchase_events_only(spark, tmp_path, capsys):
    """Only ``user_id,item_id,event_type,event_ts`` purchases (no items, no customers), with
    two planted tastes (even customers buy even items), so the models have something to
    learn."""
    rng = random.Random(7)
    lines = ["user_id,item_id,event_type,event_ts"]
    for user in range(120):  # purchases over the 180 days before the run date, as in a live shop
        for _ in range(8):
            item = rng.randrange(0, 40, 2) + user % 2
            day = RUN_DATE - timedelta(days=rng.randrange(1, 180))
            lines.append(f"C{user:03d},P{item:02d},purchase,{day}T10:00:00")
    events = tmp_path / "landing" / "events"
    events.mkdir(parents=True)
    (events / "purchases.csv").write_text("\n".join(lines) + "\n")
    args = ["run", "--conf", str(REPO / "conf" / "local.yaml"), "--run-date", "2026-11-20"]
    for key in ("root", "landing", "checkpoint", "ground_truth", "data_docs", "artifacts"):
        args += ["--set", f"paths.{key}={tmp_path}/{key}"]
    args += ["--set", f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
             "--set", f"mlflow.artifact_location={tmp_path}/mlruns"]
    # One model candidate each: k and ALS selection are tested elsewhere.
    for fast in ("segment.seeds=[7]", "segment.k_max=4", "recommend.search.trials=1",
                 "recommend.als.max_iter=5"):
        args += ["--set", fast]
    # campaigns and maintenance have tests of their own (tests/campaigns, tests/maintenance;
    # tests/cli/test_degenerate.py runs `campaign due` inside `lakerec run`): left out here,
    # they would add two minutes of CI
    code = main([*args, "--skip", "campaign", "--skip", "maintain"])
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    # The closing report: every step with its time, the gold tables written, where to look.
    report = out[out.index("What it produced:"):]
    for step in ("ingest", "quality layer=bronze", "conform", "segment", "train", "recommend",
                 "dp_report"):
        assert f"\n  {step} " in report, report
    assert "skipping campaign, maintain" in out
    assert "\n  dp_report: DP report: " in report, report  # its result line, under Results
    assert "gold.recommendations v0" in report and "silver.events v0" in report, report
    assert "customer_segments" in report and "recommendations" in report, report
    assert f"{tmp_path}/data_docs" in report and "make mlflow-ui" in report, report
    lake = Lake(spark, f"{tmp_path}/root")
    assert lake.read(SILVER_EVENTS).count() == len(set(lines[1:]))  # repeats are one event
    assert lake.read(SILVER_CUSTOMERS).count() == 120
    recs = lake.read(GOLD_RECOMMENDATIONS)
    assert recs.select(USER_ID).distinct().count() == 120
    same_taste = recs.where(F.col(SOURCE).isin(*MODEL_SOURCES)).select(
        (F.substring(USER_ID, 2, 3).cast("int") % 2 == F.substring(ITEM_ID, 2, 2).cast("int") % 2)
        .cast("double").alias("same"))
    assert same_taste.agg(F.avg("same")).first()[0] > 0.8
    assert not (tmp_path / "ground_truth").exists()  # landing had data: nothing generated
    steps = [r[0] for r in lake.read(OPS_PIPELINE_RUNS).select("step").collect()]
    assert "ingest" in steps and "conform" in steps
