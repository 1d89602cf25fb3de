"""A real Spark standalone cluster (master + two workers on 127.0.0.1, tools/cluster.sh) runs
the pipeline as a packaged application and gets the same row counts in every table as local
mode on the same inputs; the cluster is stopped afterwards, also when a step fails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakerec.pipeline import PIPELINE
from lakerec.runner import run_step
from tests.conftest import REPO
from tests.orchestration_support import (
    RUN_DATE,
    build_dist,
    clean_env,
    generate_tiny,
    job_config,
    lakerec_importable,
    python_without_lakerec,
    run_logged,
    table_counts,
    tiny_config,
)

# Not the defaults (7077, 8080): a developer's own `make cluster-demo` may be running.
MASTER_PORT, WEBUI_PORT = 17077, 18080


def port_open(port: int) -> bool:
    import socket

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
def test_standalone_cluster_matches_local_mode_and_is_always_stopped(
        spark: SparkSession, tmp_path: Path) -> None:
    landing = generate_tiny(spark, tmp_path / "generated")
    shutil.copytree(landing, tmp_path / "local" / "landing")
    shutil.copytree(landing, tmp_path / "cluster" / "landing")

    # Local mode: the pipeline in this process's Spark (local[2]).
    local = tiny_config(tmp_path / "local")
    for step, options in PIPELINE:
        run_step(step, local, RUN_DATE, spark=spark, options=options, out=lambda _line: None)

    # The cluster: the same pipeline as one packaged application (tools/pipeline_job.py) on a
    # Python without lakerec, then a step whose job does not exist, which must fail the demo
    # and still stop the cluster.
    zip_path = build_dist(tmp_path.parent / "dist")
    python = python_without_lakerec(tmp_path.parent / "python-without-lakerec")
    assert not lakerec_importable(python)
    processes = tmp_path / "cluster-processes"
    env = clean_env(
        CLUSTER_DIR=str(processes), DEMO_DIR=str(tmp_path / "cluster"),
        CONF=str(job_config(tmp_path / "cluster")), RUN_DATE=RUN_DATE.isoformat(),
        STEPS="run no_such_step", LAKEREC_ZIP=str(zip_path), PYSPARK_PYTHON=str(python),
        MASTER_PORT=str(MASTER_PORT), MASTER_WEBUI_PORT=str(WEBUI_PORT),
        WORKER_MEMORY="2g", EXECUTOR_MEMORY="1g", DRIVER_MEMORY="2g")
    log = tmp_path / "cluster.log"
    try:
        returncode = run_logged([str(REPO / "tools" / "cluster.sh"), "demo"], env, log,
                                cwd=tmp_path, timeout=3600)
        output = log.read_text(errors="replace")
        assert "with 2 workers" in output, output[-4000:]
        assert "lakerec run" in output and ": done." in output, output[-4000:]
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

    local_counts = table_counts(spark, tmp_path / "local" / "lake")
    cluster_counts = table_counts(spark, tmp_path / "cluster" / "lake")
    assert cluster_counts == local_counts
    assert {"silver.events", "gold.customer_segments", "gold.recommendations"} <= set(
        local_counts), local_counts
