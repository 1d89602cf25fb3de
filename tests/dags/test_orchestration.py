"""Orchestration: the Airflow DAGs in airflow_dags/ load cleanly and have the pipeline's
order; ``lakerec_daily`` runs end to end under ``dag.test()`` through real spark-submit
subprocesses of the packaged jobs (its gates marked done: test_dag_failures.py runs their job,
where a corrupted landing file stops the DAG at the bronze gate), and its writing steps run
again for the same date without changing a count; and a real Spark
standalone cluster (master + two workers on 127.0.0.1, tools/cluster.sh) runs the same steps,
every gate included, to the same row counts as the DAG's local run, and is stopped
afterwards, also when a step fails.

The DAG's first run is a module fixture: the rerun and the cluster comparison reuse its lake
instead of running the pipeline again (the module is the longest of the suite, and
conftest.py schedules it first).

Airflow runs in subprocesses with an ``AIRFLOW_HOME`` of their own (SQLite metadata DB):
importing Airflow configures process-wide logging, which the rest of the suite must not see.
The jobs run on a Python where lakerec is not installed, from ``make dist``'s zip.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakerec.cli.runner import run_step
from lakerec.core.lake import Lake
from lakerec.core.tables import OPS_PIPELINE_RUNS
from tests.conftest import REPO
from tests.dags.orchestration_support import (
    DAG_RUN_TIMEOUT_S,
    DAGS,
    DAILY,
    MARKED_DONE,
    RUN_DATE,
    clean_env,
    in_process_config,
    job_config,
    run_daily,
    run_logged,
    run_script,
    table_counts,
    tail,
)

RETRAIN = ["quality_silver", "features", "segment", "train"]
GOLD = ["gold.user_features", "gold.customer_segments", "gold.recommendations"]
# Not the defaults (7077, 8080): a developer's own `make cluster-demo` may be running.
MASTER_PORT, WEBUI_PORT = 17077, 18080

# Loads the DAG folder the way the DAG processor does (the bundle on sys.path), with the
# network and connections made to fail: a DAG file that touches either at parse time errors.
LOAD_DAGS = r"""
import json, socket, sys
from pathlib import Path

def refuse(*args, **kwargs):
    raise RuntimeError("DAG file touched the network or a connection at parse time")

socket.socket.connect = refuse
socket.create_connection = refuse
from airflow.sdk.bases.hook import BaseHook
BaseHook.get_connection = classmethod(refuse)
from airflow.dag_processing.dagbag import BundleDagBag

folder = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name="lakerec")
print("RESULT " + json.dumps({
    "import_errors": bag.import_errors,
    "dags": {dag_id: {
        "downstream": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
        "retries": {t.task_id: t.retries for t in dag.tasks},
        "backoff": sorted({t.retry_exponential_backoff for t in dag.tasks}),
        "conn_ids": sorted({t._conn_id for t in dag.tasks if hasattr(t, "_conn_id")}),
        "applications": {t.task_id: getattr(t, "application", None) for t in dag.tasks},
        "args": {t.task_id: getattr(t, "application_args", None) for t in dag.tasks},
        "targets": {t.task_id: str(t.target_time) for t in dag.tasks
                    if hasattr(t, "target_time")},
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "start_tz": str(dag.start_date.tzinfo),
        "doc_md": dag.doc_md or "",
        "params": sorted(dag.params.keys()),
    } for dag_id, dag in bag.dags.items()},
}))
"""



def without_dp(counts: dict[str, int]) -> dict[str, int]:
    """Row counts but those of the differentially private reports (``gold.*_dp``): their
    groups are chosen at random on every run, by design, so their number may differ."""
    return {table: rows for table, rows in counts.items() if not table.endswith("_dp")}


def test_dag_files_load_without_errors_and_have_the_pipeline_order(tmp_path: Path) -> None:
    # A fresh AIRFLOW_HOME with no metadata DB and no connections: parsing needs neither.
    env = clean_env(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    result = run_script(LOAD_DAGS, [str(DAGS)], env, tmp_path / "load.log")

    assert result["import_errors"] == {}
    dags = result["dags"]
    assert set(dags) == {"lakerec_daily", "lakerec_retrain", "lakerec_forget",
                         "lakerec_maintenance", "lakerec_campaigns", "lakerec_campaigns_due"}
    due = dags["lakerec_campaigns_due"]
    assert due["downstream"] == {"due": ["uplift"], "uplift": []}
    assert due["args"]["due"][-1] == "due" and due["max_active_runs"] == 1
    campaigns = dags["lakerec_campaigns"]
    assert campaigns["downstream"] == {"plan": ["wait_for_window"],
                                       "wait_for_window": ["measure"], "measure": ["uplift"],
                                       "uplift": []}
    assert campaigns["applications"]["plan"].endswith("'jobs/campaign.py') }}")
    assert campaigns["args"]["plan"][-2:] == ["plan", "{{ params.campaign }}"]
    assert campaigns["args"]["measure"][-2:] == ["measure", "{{ params.campaign }}"]
    assert campaigns["args"]["uplift"][-1] == "uplift"
    assert "params.window_days + 1" in campaigns["targets"]["wait_for_window"]
    assert {"campaign", "window_days"} <= set(campaigns["params"])
    maintenance = dags["lakerec_maintenance"]
    assert maintenance["downstream"] == {"maintain": []}
    assert maintenance["applications"]["maintain"].endswith("'jobs/maintain.py') }}")
    forget = dags["lakerec_forget"]
    assert forget["downstream"] == {"forget": []} and forget["retries"] == {"forget": 0}
    assert forget["args"]["forget"][-2:] == ["--users-file", "{{ params.users_file }}"]
    assert "users_file" in forget["params"] and "ops.erasures" in forget["doc_md"]
    for dag_id, order in (("lakerec_daily", DAILY), ("lakerec_retrain", RETRAIN)):
        dag = dags[dag_id]
        expected = {task: [after] for task, after in itertools.pairwise(order)}
        assert dag["downstream"] == {**expected, order[-1]: []}, dag_id
        assert dag["max_active_runs"] == 1 and dag["catchup"] is False
        assert dag["start_tz"] == "UTC"
        assert dag["conn_ids"] == ["{{ params.spark_conn_id }}"]
        assert {"conf_file", "overrides", "spark_conn_id", "py_files"} <= set(dag["params"])
        for task, retries in dag["retries"].items():
            # quality gates fail at once (bad data stays bad); jobs retry with back-off
            assert retries == 0 if task.startswith("quality_") else retries >= 1, task
        assert dag["backoff"] == [2.0]
        for task, args in dag["args"].items():
            assert args[args.index("--run-date") + 1] == "{{ ds }}", task
            step = "quality" if task.startswith("quality_") else task
            assert dag["applications"][task].endswith(f"'jobs/{step}.py') }}}}")
            if step == "quality":
                assert args[-2:] == ["--layer", task.split("_")[1]]
    # segment models are fitted weekly; the daily DAG only scores with the champion
    assert dags["lakerec_daily"]["args"]["segment"][-1] == "--score-only"
    assert "--score-only" not in dags["lakerec_retrain"]["args"]["segment"]
    assert "gold" in dags["lakerec_daily"]["doc_md"]
    assert "champion" in dags["lakerec_retrain"]["doc_md"]


@dataclass(frozen=True)
class DailyRun:
    root: Path              # job.yaml, landing/, lake/, logs of the run
    result: dict            # the run's and each task's final state
    counts: dict[str, int]  # rows of every Delta table afterwards


@pytest.fixture(scope="module")
def daily_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory,
              airflow_home: Path, packaged: tuple[Path, Path], tiny_landing: Path) -> DailyRun:
    """``lakerec_daily``'s first run for RUN_DATE on a fresh lake of the tiny inputs, the
    gates marked done (:data:`MARKED_DONE`)."""
    root = tmp_path_factory.mktemp("daily")
    shutil.copytree(tiny_landing, root / "landing")
    result = run_daily(root, airflow_home, packaged, mark_success="|".join(MARKED_DONE),
                       log_name="first.log")
    counts = table_counts(spark, root / "lake") if result["state"] == "success" else {}
    return DailyRun(root, result, counts)


@pytest.mark.slow
@pytest.mark.orchestration
def test_daily_dag_runs_end_to_end_through_spark_submit(daily_run: DailyRun) -> None:
    assert daily_run.result["state"] == "success", tail(daily_run.root / "first.log")
    assert daily_run.result["tasks"] == dict.fromkeys(DAILY, "success")
    counts = daily_run.counts
    assert set(GOLD) <= set(counts), counts
    assert all(counts[table] > 0 for table in [*GOLD, "silver.events", "bronze.events"]), counts
    # one row per task run, each its own run
    assert counts["ops.pipeline_runs"] == len(DAILY) - len(MARKED_DONE)


@pytest.mark.slow
@pytest.mark.orchestration
def test_a_rerun_of_the_daily_steps_for_the_same_date_changes_no_counts(
        spark: SparkSession, daily_run: DailyRun) -> None:
    """Every writing task of the daily DAG again, on the DAG run's lake and registry, as a
    retry or a backfill reruns them. In this process (a spark-submit per step costs a minute
    of JVM and imports each, and idempotency is the steps', not Airflow's, to keep)."""
    assert daily_run.result["state"] == "success", "the first run failed"
    config = in_process_config(daily_run.root)
    for step, options in (("ingest", {}), ("conform", {}), ("features", {}),
                          ("segment", {"score_only": True}), ("recommend", {}),
                          ("dp_report", {})):
        run_step(step, config, RUN_DATE, spark=spark, options=options, out=lambda _: None)

    after = without_dp(table_counts(spark, daily_run.root / "lake", skip_layers=("ops",)))
    before = without_dp({table: rows for table, rows in daily_run.counts.items()
                         if not table.startswith("ops.")})
    assert after == before
    # The six writing steps ran again (each logged a run).
    reruns = (Lake(spark, str(daily_run.root / "lake")).read(OPS_PIPELINE_RUNS)
              .groupBy("step").count().collect())
    assert {row["step"]: row["count"] for row in reruns} == {
        "ingest": 2, "conform": 2, "features": 2, "segment score_only=True": 2, "recommend": 2,
        "dp_report": 2}


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text`` (workers name their dir)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found


@pytest.mark.slow
@pytest.mark.orchestration
def test_standalone_cluster_matches_the_local_dag_run_and_is_always_stopped(
        spark: SparkSession, tmp_path: Path, daily_run: DailyRun, tiny_landing: Path,
        packaged: tuple[Path, Path]) -> None:
    assert daily_run.result["state"] == "success", "the local run to compare with failed"
    shutil.copytree(tiny_landing, tmp_path / "cluster" / "landing")
    # The daily DAG's steps (no generate, no train) as one packaged application on a Python
    # without lakerec, then a step whose job does not exist: it must fail the demo and the
    # cluster must still be stopped.
    zip_path, python = packaged
    processes = tmp_path / "cluster-processes"
    env = clean_env(
        CLUSTER_DIR=str(processes), DEMO_DIR=str(tmp_path / "cluster"),
        CONF=str(job_config(tmp_path / "cluster")), RUN_DATE=RUN_DATE.isoformat(),
        STEPS="run no_such_step",
        RUN_ARGS="--skip generate --skip train --skip maintain --skip campaign",
        LAKEREC_ZIP=str(zip_path), PYSPARK_PYTHON=str(python),
        MASTER_PORT=str(MASTER_PORT), MASTER_WEBUI_PORT=str(WEBUI_PORT),
        WORKER_MEMORY="2g", EXECUTOR_MEMORY="1g", DRIVER_MEMORY="2g")
    log = tmp_path / "cluster.log"
    try:
        returncode = run_logged([str(REPO / "tools" / "cluster.sh"), "demo"], env, log,
                                cwd=tmp_path, timeout=DAG_RUN_TIMEOUT_S)
        output = log.read_text(errors="replace")
        assert "with 2 workers" in output, output[-4000:]
        assert "skipping campaign, generate, maintain, train" in output, output[-4000:]
        assert "What it produced:" in output, output[-4000:]  # the run got to its end
        assert returncode != 0 and "no job jobs/no_such_step.py" in output
        # Both workers ran executors of the application.
        for worker in (1, 2):
            assert "Asked to launch executor" in (processes / "logs" / f"worker-{worker}.log"
                                                  ).read_text(), f"worker-{worker}"
        # The demo's trap stopped every daemon it started: no worker (their command lines
        # name the cluster dir) and no master (its ports are closed).
        assert processes_mentioning(str(processes / "work")) == []
        assert not port_open(MASTER_PORT) and not port_open(WEBUI_PORT)
    finally:
        subprocess.run([str(REPO / "tools" / "cluster.sh"), "stop"], env=env, check=False,
                       capture_output=True, timeout=120)

    # Every table but the DP reports, ops included, has the row count of the DAG's local run
    # on the same inputs; the cluster also ran the gates that run marked done (a run-log row
    # and check results each).
    cluster = without_dp(table_counts(spark, tmp_path / "cluster" / "lake"))
    local = without_dp(daily_run.counts)
    assert cluster.pop("ops.pipeline_runs") == local.pop("ops.pipeline_runs") + len(MARKED_DONE)
    assert cluster.pop("ops.dq_results") > 0 and "ops.dq_results" not in local
    assert cluster == local
