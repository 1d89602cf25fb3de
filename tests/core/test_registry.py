"""MLflow registry flow of the segment step: versions, aliases, idempotent gold table."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakerec.cli.runner import run_step
from lakerec.core.lake import Lake
from lakerec.core.registry import (
    CHALLENGER,
    CHAMPION,
    SEGMENTATION_MODEL,
    alias_version,
    champion_uri,
    ensure_experiment,
    latest_version,
    tracking,
)
from lakerec.core.schemas import (
    MODEL_VERSION,
    SILVER_CUSTOMERS_SCHEMA,
    SILVER_EVENTS_SCHEMA,
    SILVER_ITEMS_SCHEMA,
    USER_ID,
)
from lakerec.core.tables import GOLD_CUSTOMER_SEGMENTS, GOLD_USER_FEATURES
from lakerec.segments.features import user_features
from tests.conftest import make_config

RUN_DATE = date(2026, 11, 27)
QUIET = {"out": lambda _: None}


def small_history(spark: SparkSession, customers: int = 120) -> DataFrame:
    """Three kinds of buyers (frequent, rare, lapsed) and some viewers, seeded."""
    rng = random.Random(11)
    rows = []
    for u in range(customers):
        kind = u % 4
        orders = {0: 12, 1: 2, 2: 3, 3: 0}[kind]
        first_day, last_day = (200, 330) if kind == 2 else (0, 120)
        for o in range(orders):
            day = rng.randint(first_day, last_day) if kind != 0 else rng.randint(0, 60)
            ts = RUN_DATE - timedelta(days=day)
            rows.append((f"e{u}-{o}", f"u{u:03d}", f"i{o % 5}", "purchase", ts,
                         rng.randint(1, 3), 10.0 + 5 * kind, f"o{u}-{o}"))
        rows.append((f"e{u}-v", f"u{u:03d}", "i1", "view", RUN_DATE - timedelta(days=5),
                     None, None, None))
    data = [(eid, user, item, kind, datetime.combine(day, time(12)), qty, price, None, order,
             None, None, eid, "b") for eid, user, item, kind, day, qty, price, order in rows]
    return spark.createDataFrame(data, SILVER_EVENTS_SCHEMA)


@pytest.fixture
def features_lake(spark: SparkSession, tmp_path: Path):
    config = make_config(tmp_path, "segment.k=3", "segment.seeds=[5]")
    lake = Lake(spark, config.paths.root)
    features = user_features(
        small_history(spark), spark.createDataFrame([], SILVER_CUSTOMERS_SCHEMA),
        spark.createDataFrame([], SILVER_ITEMS_SCHEMA), as_of=RUN_DATE, top_categories_n=3,
        recent_days=30, baseline_days=90)
    lake.replace_where(features, GOLD_USER_FEATURES, f"run_date = '{RUN_DATE}'")
    return config, lake


def test_experiment_name_and_artifact_location(config) -> None:
    tracking(config.mlflow)
    experiment_id = ensure_experiment(config.mlflow, "segmentation")
    assert ensure_experiment(config.mlflow, "segmentation") == experiment_id
    import mlflow

    experiment = mlflow.get_experiment(experiment_id)
    assert experiment.name == "lakerec-segmentation"
    assert experiment.artifact_location.endswith("/mlruns/lakerec-segmentation")
    assert experiment.artifact_location.startswith(
        Path(config.mlflow.artifact_location).resolve().as_uri())


def test_first_run_is_champion_second_registers_version_two(
        spark: SparkSession, features_lake) -> None:
    config, lake = features_lake
    run_step("segment", config, RUN_DATE, spark=spark, **QUIET)
    client = tracking(config.mlflow)
    assert alias_version(client, SEGMENTATION_MODEL, CHAMPION) == 1
    first = lake.read(GOLD_CUSTOMER_SEGMENTS)
    assert first.count() == 120
    assert {r[MODEL_VERSION] for r in first.select(MODEL_VERSION).distinct().collect()} == {1}

    result = run_step("segment", config, RUN_DATE, spark=spark, **QUIET)
    versions = client.search_model_versions(f"name = '{SEGMENTATION_MODEL}'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    champion = alias_version(client, SEGMENTATION_MODEL, CHAMPION)
    assert champion in (1, 2)
    import mlflow

    model = mlflow.spark.load_model(champion_uri(SEGMENTATION_MODEL))
    assert model.stages[-1].getK() == 3
    again = lake.read(GOLD_CUSTOMER_SEGMENTS)
    assert again.count() == 120 == again.select(USER_ID).distinct().count()
    assert any("0 changed segment" in line for line in result.summary), result.summary


def test_failing_checks_make_a_challenger_and_the_champion_keeps_scoring(
        spark: SparkSession, features_lake) -> None:
    config, lake = features_lake
    assert latest_version(tracking(config.mlflow), SEGMENTATION_MODEL) is None
    run_step("segment", config, RUN_DATE, spark=spark, **QUIET)
    strict = config.model_copy(update={"segment": config.segment.model_copy(
        update={"min_silhouette": 0.999})})
    run_step("segment", strict, RUN_DATE, spark=spark, **QUIET)
    client = tracking(config.mlflow)
    assert alias_version(client, SEGMENTATION_MODEL, CHAMPION) == 1
    assert alias_version(client, SEGMENTATION_MODEL, CHALLENGER) == 2
    assert latest_version(client, SEGMENTATION_MODEL) == 2   # the challenger, not the champion
    gold = lake.read(GOLD_CUSTOMER_SEGMENTS)
    assert gold.where(F.col(MODEL_VERSION) != 1).count() == 0
