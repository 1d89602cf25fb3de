"""A past campaign planted by the generator, measured from its channel's contact log: the
contact log's path through ingest and conform, every planted segment's lift inside its
measured 95% interval, and an uplift model learned from it that beats random targeting.

The segments are the planted ones here (written as the segmentation of the day before the
send), so that each measured row has one planted lift; ``lakerec run`` measures the same
campaign on its own KMeans segments (tests/cli/test_pipeline.py runs it).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakerec.campaigns.uplift import UPLIFT_MODEL
from lakerec.cli.runner import run_step
from lakerec.core import registry
from lakerec.core import schemas as S
from lakerec.core.config import Config
from lakerec.core.errors import ConfigError
from lakerec.core.lake import Lake
from lakerec.core.tables import (
    BRONZE,
    GOLD_CAMPAIGN_AUDIENCES,
    GOLD_CAMPAIGN_RESULTS,
    GOLD_CUSTOMER_SEGMENTS,
    QUARANTINE,
    SILVER,
)
from tests.conftest import REPO, make_config

pytestmark = pytest.mark.slow
RUN_DATE = date(2026, 11, 27)
SIZE = ("generate.customers=4000", "generate.items=200", "generate.events=16000",
        "generate.files=1", "generate.bad_row_share=0.0")


@pytest.fixture(scope="module")
def measured(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Config, Lake, dict, list[str]]:
    config = make_config(tmp_path_factory.mktemp("planted"), *SIZE)
    for step in ("generate", "ingest", "conform"):
        run_step(step, config, RUN_DATE, spark=spark, out=lambda _: None)
    summary = json.loads(Path(config.paths.ground_truth, "summary.json").read_text())
    lake = Lake(spark, config.paths.root)
    send = RUN_DATE - timedelta(days=config.generate.campaigns["reactivation"].send_days_ago)
    planted_segments = (spark.read.parquet(f"{config.paths.ground_truth}/customers")
                        .select(S.USER_ID, F.lit(0).alias(S.SEGMENT_ID),
                                F.col(S.GT_SEGMENT).alias(S.SEGMENT_LABEL),
                                F.lit(None).cast("double").alias(S.DISTANCE_TO_CENTROID),
                                F.lit(None).cast("int").alias(S.MODEL_VERSION),
                                F.lit(send - timedelta(days=1)).alias(S.RUN_DATE)))
    lake.overwrite(planted_segments, GOLD_CUSTOMER_SEGMENTS)
    lines: list[str] = []
    run_step("campaign", config, RUN_DATE, spark=spark,
             options={"action": "measure", "name": "reactivation"}, out=lines.append)
    return config, lake, summary, lines


def test_the_contact_log_lands_in_silver_with_one_group_per_customer(
        measured: tuple[Config, Lake, dict, list[str]]) -> None:
    _, lake, summary, _ = measured
    planted = summary["campaigns"]["reactivation"]
    bronze = lake.read(BRONZE[S.CONTACTS]).count()
    silver = lake.read(SILVER[S.CONTACTS])
    quarantined = (lake.read(QUARANTINE[S.CONTACTS]).count()
                   if lake.exists(QUARANTINE[S.CONTACTS]) else 0)
    assert (silver.count(), quarantined) == (bronze, 0)  # the generator plants no bad contact
    audience = lake.read(GOLD_CAMPAIGN_AUDIENCES).where(F.col(S.CAMPAIGN_ID) == "reactivation")
    groups = {r[0]: r[1] for r in audience.groupBy(S.CAMPAIGN_GROUP).count().collect()}
    assert groups == {"treatment": sum(v["treatment"] for v in planted.values()),
                      "control": sum(v["control"] for v in planted.values())}
    held_out = silver.where(F.col(S.CONTACT_TYPE) == "held_out").count()
    assert held_out == groups["control"]
    assert silver.where(F.col(S.CONTACT_TYPE) == "sent").count() == groups["treatment"]


def test_every_planted_segments_lift_lies_within_its_measured_interval(
        measured: tuple[Config, Lake, dict, list[str]]) -> None:
    _, lake, summary, lines = measured
    planted = summary["campaigns"]["reactivation"]
    results = {r[S.SEGMENT_LABEL]: r.asDict() for r in lake.read(GOLD_CAMPAIGN_RESULTS)
               .where(F.col(S.CAMPAIGN_ID) == "reactivation").collect()}
    assert set(results) == {*planted, "(all)"}
    for segment, truth in planted.items():
        row = results[segment]
        assert row["treatment_customers"] == truth["treatment"]
        assert row["conversion_lift_low"] <= truth["planted_lift"] <= row[
            "conversion_lift_high"], (segment, truth, row)
    # nobody at risk buys in the window unprompted: the planted +4 points are found
    assert planted["at_risk"]["organic_rate"] == 0.0
    assert results["at_risk"]["verdict"] == "won"
    assert results["at_risk"]["conversion_lift_low"] > 0
    assert sum("planted" in line and "inside the 95% interval" in line for line in lines) == 6


@pytest.fixture(scope="module")
def uplift(spark: SparkSession, measured: tuple[Config, Lake, dict, list[str]]
           ) -> tuple[list[str], dict[str, float]]:
    config = measured[0]
    lines: list[str] = []
    run_step("campaign", config, RUN_DATE, spark=spark, options={"action": "uplift"},
             out=lines.append)
    client = registry.tracking(config.mlflow)
    experiment = client.get_experiment_by_name(f"{config.mlflow.experiment_prefix}-uplift")
    assert experiment is not None
    return lines, client.search_runs([experiment.experiment_id])[0].data.metrics


def test_the_uplift_model_beats_random_targeting_on_qini(
        uplift: tuple[list[str], dict[str, float]]) -> None:
    lines, metrics = uplift
    assert metrics["qini.model"] > metrics["qini.random"] + 0.002, metrics
    assert any(line.strip().startswith("model: Qini coefficient") for line in lines), lines


def test_plan_caps_the_audience_by_predicted_uplift_and_still_holds_out_at_random(
        spark: SparkSession, measured: tuple[Config, Lake, dict, list[str]],
        uplift: tuple[list[str], dict[str, float]], tmp_path: Path) -> None:
    config, lake, _, _ = measured
    client = registry.tracking(config.mlflow)
    champion = registry.alias_version(client, UPLIFT_MODEL, registry.CHAMPION)
    if champion is None:  # the model did not beat the segment-level baseline: no champion
        with pytest.raises(ConfigError, match="needs a lakerec-uplift champion"):
            run_step("campaign", make_config(tmp_path, f"paths.campaigns={_targeted(tmp_path)}",
                                             f"paths.root={config.paths.root}",
                                             f"mlflow.tracking_uri={config.mlflow.tracking_uri}"),
                     RUN_DATE, spark=spark, options={"action": "plan", "name": "targeted"},
                     out=lambda _: None)
        pytest.skip("no uplift champion to plan with: " + uplift[0][-1])
    plan_config = make_config(tmp_path, f"paths.campaigns={_targeted(tmp_path)}",
                              f"paths.root={config.paths.root}",
                              f"mlflow.tracking_uri={config.mlflow.tracking_uri}",
                              f"mlflow.artifact_location={config.mlflow.artifact_location}")
    lines: list[str] = []
    run_step("campaign", plan_config, RUN_DATE, spark=spark,
             options={"action": "plan", "name": "targeted"}, out=lines.append)
    planned = lake.read(GOLD_CAMPAIGN_AUDIENCES).where(F.col(S.CAMPAIGN_ID) == "targeted")
    assert planned.count() == 300
    assert {r[0] for r in planned.select(F.col("model_versions")["uplift"]).collect()} == {
        champion}
    control = planned.where(F.col(S.CAMPAIGN_GROUP) == "control").count()
    assert 0.3 * 300 - 3 * (300 * 0.09) ** 0.5 < control < 0.3 * 300 + 3 * (300 * 0.09) ** 0.5
    assert any("by the uplift predicted by lakerec-uplift champion" in line for line in lines)


def _targeted(folder: Path) -> Path:
    """A campaign capped at 300 customers chosen by predicted uplift, 30% held out."""
    campaigns = folder / "campaigns"
    campaigns.mkdir(exist_ok=True)
    data = yaml.safe_load((REPO / "conf" / "campaigns" / "winback.yaml").read_text())
    data.update(name="targeted", salt="targeted", holdout_share=0.3, max_audience=300,
                selection="uplift", offer={"kind": "items", "items": ["ANY"]},
                audience={"segments": [], "consent_required": True})
    (campaigns / "targeted.yaml").write_text(yaml.safe_dump(data))
    return campaigns
