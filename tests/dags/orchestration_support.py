"""Helpers of the orchestration tests (test_orchestration.py): the packaged library,
a Python that has lakerec's dependencies but not lakerec, tiny generated inputs, a config file
for jobs run by spark-submit, and the row counts of every Delta table of a lake."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
from datetime import date
from pathlib import Path

import yaml
from pyspark.sql import SparkSession

from lakerec.cli.runner import run_step
from lakerec.core.config import Config, load_config
from lakerec.core.lake import Lake
from lakerec.core.tables import Layer, Table
from tests.conftest import REPO, SHORT_JVM, make_config

RUN_DATE = date(2026, 11, 20)
DAGS = REPO / "airflow_dags"
DAILY = ["ingest", "quality_bronze", "conform", "quality_silver", "features", "segment",
         "recommend", "quality_gold", "dp_report"]
# The tasks the daily test marks done instead of running: the three gates submit one job,
# jobs/quality.py, that test_dag_failures.py runs under spark-submit from the same DAG (and
# the standalone-cluster test on the packaged library, for every layer); each spark-submit
# costs CI most of a minute of JVM start and imports.
MARKED_DONE = ("quality_bronze", "quality_silver", "quality_gold")
# A generous bound for one dag.test() run (about 5 minutes on an idle 2-core machine).
DAG_RUN_TIMEOUT_S = 3600
VENV_BIN = Path(sys.executable).parent
# 200 customers, 50 items, ~5,000 events: enough for every step, small enough for CI.
TINY = {"customers": 200, "items": 50, "events": 5000, "files": 2}
# Model selection cut to one candidate each: these tests are about running the jobs, not
# about choosing k or ALS hyperparameters (test_segmentation.py and test_als.py cover that).
FAST_MODELS = {
    "segment": {"k_min": 2, "k_max": 4, "seeds": [7]},
    "recommend": {"als": {"max_iter": 5, "rank": 16, "reg_param": 0.01, "alpha": 20.0},
                  "confidence_transform": "linear", "half_life_days": 90.0,
                  "search": {"trials": 1}},
}
# Small and quiet Spark for the jobs that spark-submit starts (the session fixture's sizes).
JOB_SPARK = {
    "log_level": "ERROR",
    "conf": {"spark.sql.shuffle.partitions": 2, "spark.default.parallelism": 2,
             "spark.ui.enabled": False,
             "spark.databricks.delta.snapshotPartitions": 2},
}


def build_dist(out: Path) -> Path:
    """``make dist DIST=out`` (once per folder); the path of ``lakerec.zip``."""
    zip_path = out / "lakerec.zip"
    # `make dist` clears the checkout's build/ folder: two test workers must not run it at once
    with (Path(tempfile.gettempdir()) / "lakerec-make-dist.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not zip_path.exists():
            done = subprocess.run(["make", "--no-print-directory", "dist", f"DIST={out}"],
                                  cwd=REPO, capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"make dist failed:\n{done.stdout}\n{done.stderr}"
    return zip_path


def python_without_lakerec(folder: Path) -> Path:
    """A virtualenv that sees this venv's packages but not lakerec.

    lakerec is installed in editable mode through a ``.pth`` file of this venv's
    site-packages; the new venv lists that folder in a ``.pth`` of its own, and Python does
    not run the ``.pth`` files of a folder listed that way, so ``import lakerec`` fails there
    unless the library comes from ``--py-files``.
    """
    python = folder / "bin" / "python"
    if not python.exists():
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        base = Path(sys.base_prefix) / "bin" / f"python{version}"
        subprocess.run([str(base), "-m", "venv", "--without-pip", str(folder)], check=True)
        site = Path(subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True).stdout.strip())
        (site / "lakerec_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def lakerec_importable(python: Path) -> bool:
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util, sys; "
                            "sys.exit(0 if importlib.util.find_spec('lakerec') else 1)"],
        env=clean_env(), cwd="/", check=False)
    return probe.returncode == 0


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without lakerec/Airflow/Python path settings, plus ``extra``,
    with this venv's ``bin`` (spark-submit, spark-class) first on PATH and JVMs tuned for
    short jobs (:data:`tests.conftest.SHORT_JVM`)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LAKEREC_", "AIRFLOW", "PYSPARK_", "SPARK_"))
           and k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(SHORT_JVM)
    env.update(extra)
    return env


def as_overrides(tree: dict, prefix: str = "") -> list[str]:
    """``{"a": {"b": 1}}`` as ``["a.b=1"]``, the form of ``--set`` and make_config."""
    out = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out += as_overrides(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}={yaml.safe_dump(value, default_flow_style=True).strip()}"
                       .removesuffix("\n..."))
    return out


def tiny_config(root: Path) -> Config:
    """The in-process twin of :func:`job_config`: tiny data, one model candidate each."""
    return make_config(root, *as_overrides({"generate": TINY, **FAST_MODELS}))


def generate_tiny(spark: SparkSession, root: Path) -> Path:
    """Generate the tiny data set in this process (no JVM start); its landing folder."""
    config = tiny_config(root)
    run_step("generate", config, RUN_DATE, spark=spark, out=lambda _line: None)
    return Path(config.paths.landing)


def job_config(root: Path) -> Path:
    """A config file for jobs under spark-submit, every path absolute under ``root``."""
    config = {
        "paths": {"root": str(root / "lake"), "landing": str(root / "landing"),
                  "ground_truth": str(root / "ground_truth"),
                  "checkpoint": str(root / "checkpoints"),
                  "data_docs": str(root / "data_docs"), "artifacts": str(root / "artifacts")},
        "mlflow": {"tracking_uri": f"sqlite:///{root}/mlflow.db",
                   "artifact_location": str(root / "mlruns")},
        "spark": JOB_SPARK,
        "generate": TINY,
        **FAST_MODELS,
    }
    path = root / "job.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def in_process_config(root: Path) -> Config:
    """:func:`job_config`'s config of ``root`` for a step run in the test's own process (its
    Spark session's master, not spark-submit's)."""
    return load_config(job_config(root), ["spark.master=local[2]"], environ={})


def table_counts(spark: SparkSession, lake_root: Path, *, skip_layers: tuple[str, ...] = ()
                 ) -> dict[str, int]:
    """Rows of every Delta table under ``lake_root``, as ``{"layer.name": rows}``."""
    lake = Lake(spark, str(lake_root))
    counts = {}
    for log_dir in sorted(lake_root.glob("*/*/_delta_log")):
        layer, name = log_dir.parent.parent.name, log_dir.parent.name
        if layer not in skip_layers:
            counts[f"{layer}.{name}"] = lake.read(Table(Layer(layer), name)).count()
    return counts


def run_logged(command: list[str], env: dict[str, str], log: Path, *, cwd: Path,
               timeout: float) -> int:
    """Run ``command`` in a process group of its own, output to ``log``; its exit code.

    On timeout the whole group (spark-submit, its JVM and Python driver) is killed, so a
    hung run leaves nothing behind, and the test fails with the log's last lines.
    """
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError(f"{command[0]} ran over {timeout:.0f} s and was killed; "
                                 f"its output ends with:\n{tail(log)}") from None


def tail(path: Path, lines: int = 60) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


# One dag.test() run; prints the run's and every task's final state.
RUN_DAG = r"""
import json, sys
from datetime import datetime, timezone
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag

folder, dag_id, day, conf, mark = sys.argv[1:6]
bag = BundleDagBag(dag_folder=Path(folder), bundle_path=Path(folder), bundle_name="lakerec")
run = bag.dags[dag_id].test(
    logical_date=datetime.fromisoformat(day).replace(tzinfo=timezone.utc),
    run_conf=json.loads(conf), mark_success_pattern=mark or None)
print("RESULT " + json.dumps({
    "state": str(run.state),
    "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}}))
"""


def run_script(script: str, args: list[str], env: dict[str, str], log: Path) -> dict:
    """Run ``script`` with this venv's Python; its RESULT line as a dict."""
    run_logged([sys.executable, "-c", script, *args], env, log, cwd=log.parent,
               timeout=DAG_RUN_TIMEOUT_S)
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.startswith("RESULT ")]
    assert lines, f"no result from the Airflow subprocess; its output ends with:\n{tail(log)}"
    return json.loads(lines[-1][len("RESULT "):])


def run_daily(root: Path, airflow_home: Path, packaged: tuple[Path, Path], *,
              mark_success: str = "", log_name: str = "daily.log") -> dict:
    """``lakerec_daily`` under dag.test() for RUN_DATE on the lake under ``root``."""
    zip_path, python = packaged
    env = clean_env(
        AIRFLOW_HOME=str(airflow_home), AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_LAKEREC_SPARK=json.dumps({"conn_type": "spark", "host": "local[2]"}),
        PYSPARK_PYTHON=str(python), PYSPARK_DRIVER_PYTHON=str(python))
    params = {"conf_file": str(job_config(root)), "py_files": str(zip_path)}
    return run_script(RUN_DAG, [str(DAGS), "lakerec_daily", RUN_DATE.isoformat(),
                                json.dumps(params), mark_success], env, root / log_name)
