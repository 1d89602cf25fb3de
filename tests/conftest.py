"""Shared fixtures: one Spark session for the whole run, a fresh lake per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakerec.core.config import Config, load_config
from lakerec.core.lake import Lake
from lakerec.core.session import build_spark

REPO = Path(__file__).resolve().parents[1]
ONLINE_RETAIL = REPO.parent / "shared" / "data" / "online_retail.parquet"

# Small, fast and quiet: two cores, few partitions, no UI.
TEST_SPARK = [
    "spark.master=local[2]",
    "spark.conf.spark.sql.shuffle.partitions=2",
    "spark.conf.spark.default.parallelism=2",
    "spark.conf.spark.ui.enabled=false",
    "spark.conf.spark.databricks.delta.snapshotPartitions=2",
    "spark.conf.spark.driver.memory=3g",
    "spark.log_level=ERROR",
]

# Every JVM a test starts in a process of its own (a lakerec command, spark-submit, cluster
# daemons and executors) runs seconds of work on tiny data: the C1 compiler alone and the
# serial collector halve their wall time on 2 cores (ingest 72 -> 32 s, bronze checks
# 139 -> 66 s, measured side by side). Not for the session's own JVM, which runs for the
# whole suite: a `lakerec run` takes 182 s in it with these options, 150 s without.
SHORT_JVM = {"JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}


def subprocess_env(**extra: str) -> dict[str, str]:
    """This process's environment for a subprocess that starts a JVM, plus ``extra``."""
    return {**os.environ, **SHORT_JVM, **extra}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest modules first: those with whole-pipeline orchestration runs, then those with
    other slow tests, then the rest, each module's tests in their own order.

    ``make test`` hands whole modules to two workers in this order (``--dist loadfile
    --no-loadscope-reorder``): the longest module starting first keeps it from becoming the
    tail of the run while the other worker idles.
    """
    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    def modules_with(marker: str) -> set[str]:
        return {module(item) for item in items if item.get_closest_marker(marker)}

    orchestration, slow = modules_with("orchestration"), modules_with("slow")
    items.sort(key=lambda item: (module(item) not in orchestration, module(item) not in slow))


def make_config(root: Path, *overrides: str) -> Config:
    """A config whose every path lies under ``root``."""
    return load_config(REPO / "conf" / "local.yaml", [
        f"paths.root={root}/lake",
        f"paths.landing={root}/landing",
        f"paths.ground_truth={root}/ground_truth",
        f"paths.checkpoint={root}/checkpoints",
        f"paths.data_docs={root}/data_docs",
        f"paths.artifacts={root}/artifacts",
        f"mlflow.tracking_uri=sqlite:///{root}/mlflow.db",
        f"mlflow.artifact_location={root}/mlruns",
        f"spark.delta_jars_dir={REPO / '.jars' / 'delta'}",
        *TEST_SPARK,
        *overrides,
    ], environ={})


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    root = tmp_path_factory.mktemp("spark")
    config = make_config(root)
    session = build_spark(config.spark, str(root / "checkpoints"))
    yield session
    session.stop()


@pytest.fixture(autouse=True, scope="module")
def _uncache_after_module() -> Iterator[None]:
    """Drop whatever a module left cached, so that one worker's session, shared by dozens of
    modules, does not fill its driver's heap (a broadcast once failed for lack of memory)."""
    yield
    session = SparkSession.getActiveSession()
    if session is not None:
        session.catalog.clearCache()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def lake(spark: SparkSession, config: Config) -> Lake:
    return Lake(spark, config.paths.root)


@pytest.fixture(scope="session")
def online_retail_path() -> Path:
    if not ONLINE_RETAIL.exists():
        pytest.skip(f"{ONLINE_RETAIL} is absent (it ships only with the shared data)")
    return ONLINE_RETAIL
