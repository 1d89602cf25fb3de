"""What the lakerec DAGs share: their params, retry policy, and the operator that submits a job.

Airflow puts the DAG folder on ``sys.path``, so the DAG files import this module by name;
``.airflowignore`` keeps the DAG processor from parsing it as a DAG file of its own.
Nothing here does IO or imports Spark or lakerec at import time: paths and jar lists are
resolved when a task renders its templates, on the worker.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import Param, dag

# The checkout (or unpacked release) holding jobs/, conf/, dist/ and .jars/: by default the
# folder above this DAG folder; set LAKEREC_HOME where the DAG files are deployed elsewhere.
PROJECT_DIR = os.environ.get("LAKEREC_HOME", str(Path(__file__).resolve().parents[1]))

# Spark jobs fail for passing reasons (a lost executor, a busy cluster): retry with back-off.
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "lakerec",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
}


def lakerec_params() -> dict[str, Param]:
    """DAG params: where the project, config, library and Delta jars are, and which cluster."""
    return {
        "project_dir": Param(PROJECT_DIR, type="string",
                             description="folder holding jobs/, conf/, dist/ (and .jars/)"),
        # A production profile: pseudonymisation needs $LAKEREC_PII_KEY on the workers, and
        # the first task fails, in one line, without it (the development key is local-only).
        "conf_file": Param("conf/prod.example.yaml", type="string",
                           description="lakerec config file, absolute or relative to project_dir;"
                                       " its relative paths resolve against the worker's cwd"),
        "overrides": Param([], type="array", items={"type": "string"},
                           description="config overrides passed as --set key=value"),
        "spark_conn_id": Param("lakerec_spark", type="string",
                               description="Airflow connection of the Spark master"),
        "py_files": Param("dist/lakerec.zip", type="string",
                          description="the library for --py-files (make dist); '' if installed"),
        "delta_jars_dir": Param(".jars/delta", type="string",
                                description="folder of Delta's jars for --jars; '' for none"),
        "delta_package": Param("", type="string",
                               description="Maven coordinates for --packages, for example "
                                           "io.delta:delta-spark_4.2_2.13:4.4.0"),
        "driver_memory": Param("2g", type="string"),
        "executor_memory": Param("1g", type="string"),
    }


def project_path(project_dir: str, path: str) -> str:
    """``path`` as given when absolute or empty, otherwise under ``project_dir``."""
    return os.path.join(project_dir, path) if path else ""


def jars_in(folder: str) -> str:
    """The ``.jar`` files of ``folder``, comma-separated for ``--jars`` ('' when none)."""
    if not folder or not os.path.isdir(folder):
        return ""
    return ",".join(sorted(str(p) for p in Path(folder).glob("*.jar")))


# Jinja macros of both DAGs (user_defined_macros).
MACROS = {"project_path": project_path, "jars_in": jars_in}


def lakerec_dag(dag_id: str, *, schedule: str | None, start_date: datetime, doc_md: str,
                extra_params: dict[str, Param] | None = None,
                tags: Sequence[str] = ("lakerec",)) -> Any:
    """The ``@dag`` decorator of every lakerec DAG: no catch-up, one run at a time, the
    shared retries, params and macros; ``doc_md`` is the DAG file's docstring."""
    return dag(dag_id=dag_id, schedule=schedule, start_date=start_date, catchup=False,
               max_active_runs=1, default_args=DEFAULT_ARGS,
               params={**lakerec_params(), **(extra_params or {})},
               user_defined_macros=MACROS, doc_md=doc_md, tags=list(tags))


class LakerecJobOperator(SparkSubmitOperator):
    """``spark-submit jobs/<step>.py`` with the lakerec arguments, all from DAG params.

    The Spark connection id is a template too (``{{ params.spark_conn_id }}``), and the
    ``overrides`` param is appended to the job's arguments as ``--set`` pairs at run time.
    """

    template_fields: Sequence[str] = (*SparkSubmitOperator.template_fields, "_conn_id")

    def execute(self, context: Any) -> None:
        overrides = context["params"].get("overrides") or []
        self.application_args = [*(self.application_args or []),
                                 *(arg for item in overrides for arg in ("--set", item))]
        super().execute(context)


def lakerec_job(step: str, *job_args: str, task_id: str | None = None,
                **operator_kwargs: Any) -> LakerecJobOperator:
    """A task submitting ``jobs/<step>.py`` for the run's logical date (``{{ ds }}``).

    The session takes its master from spark-submit (``spark.master=null``) and Delta's jars
    from ``--jars``/``--packages``, so the job does not try to fetch them again.
    """
    return LakerecJobOperator(
        task_id=task_id or step,
        conn_id="{{ params.spark_conn_id }}",
        application=f"{{{{ project_path(params.project_dir, 'jobs/{step}.py') }}}}",
        py_files="{{ project_path(params.project_dir, params.py_files) }}",
        jars="{{ jars_in(project_path(params.project_dir, params.delta_jars_dir)) }}",
        packages="{{ params.delta_package }}",
        conf={"spark.driver.memory": "{{ params.driver_memory }}",
              "spark.executor.memory": "{{ params.executor_memory }}"},
        name=f"lakerec-{task_id or step}-{{{{ ds }}}}",
        application_args=[
            "--conf", "{{ project_path(params.project_dir, params.conf_file) }}",
            "--run-date", "{{ ds }}",
            "--set", "spark.master=null",
            "--set", "spark.delta_jars_dir=",
            "--set", "spark.delta_package=",
            *job_args,
        ],
        **operator_kwargs,
    )


def quality_gate(layer: str) -> LakerecJobOperator:
    """``jobs/quality.py --layer <layer>``; fails the run at once, since retrying bad data
    gives the same answer."""
    return lakerec_job("quality", "--layer", layer, task_id=f"quality_{layer}", retries=0)
