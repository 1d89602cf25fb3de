"""Fixtures of the orchestration tests, one instance per module that uses them: a migrated
Airflow metadata DB, the packaged library with a Python that lacks lakerec, and the tiny
generated landing files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.dags.orchestration_support import (
    build_dist,
    clean_env,
    generate_tiny,
    lakerec_importable,
    python_without_lakerec,
)


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AIRFLOW_HOME whose SQLite metadata DB is migrated, as ``dag.test()`` needs."""
    home = tmp_path_factory.mktemp("airflow")
    done = subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
                          env=clean_env(AIRFLOW_HOME=str(home)), capture_output=True,
                          text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return home


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``make dist``'s zip, and a Python without lakerec to run the jobs on."""
    base = tmp_path_factory.getbasetemp()
    zip_path = build_dist(base / "dist")
    python = python_without_lakerec(base / "python-without-lakerec")
    assert not lakerec_importable(python)
    return zip_path, python


@pytest.fixture(scope="module")
def tiny_landing(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_tiny(spark, tmp_path_factory.mktemp("generated"))
