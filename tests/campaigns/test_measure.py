"""``lakerec campaign measure``: planted effects recovered within their intervals, last-touch
attribution, a rerun giving the same table, and the sample-ratio-mismatch check."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakerec.campaigns.audience import CONTROL, GROUP, TREATMENT, assign_groups
from lakerec.cli.runner import run_step
from lakerec.core import registry
from lakerec.core import schemas as S
from lakerec.core.campaigns import load_campaign
from lakerec.core.config import Config
from lakerec.core.errors import InputError, QualityError
from lakerec.core.lake import Lake
from lakerec.core.tables import GOLD_CAMPAIGN_AUDIENCES, GOLD_CAMPAIGN_RESULTS, SILVER_EVENTS
from tests.browser import chromium, dump_dom, visible_text
from tests.conftest import REPO, make_config

SEND = date(2026, 10, 1)
MEASURE = SEND + timedelta(days=20)
PLANTED = {"at risk": (0.10, 0.08), "champions": (0.30, 0.0)}  # control rate, lift
PER_SEGMENT = 3000


def define(folder: Path, name: str, send: date) -> Path:
    data = yaml.safe_load((REPO / "conf" / "campaigns" / "winback.yaml").read_text())
    data.update(name=name, send_date=send.isoformat(), holdout_share=0.5, salt=f"{name}-salt",
                objective={"kind": "any_purchase", "window_days": 14})
    data["decision"]["min_lift"] = 0.0
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)


@pytest.fixture(scope="module")
def measured(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Config, Lake, list[str]]:
    root = tmp_path_factory.mktemp("measure")
    folder = root / "campaigns"
    folder.mkdir()
    trial = load_campaign(define(folder, "trial", SEND))
    define(folder, "later", SEND + timedelta(days=7))
    config = make_config(root, f"paths.campaigns={folder}")
    lake = Lake(spark, config.paths.root)

    people = [(f"U{s[0]}{i}", s) for s in PLANTED for i in range(PER_SEGMENT)]
    audience = assign_groups(spark.createDataFrame(
        [(user, segment) for user, segment in people],
        f"{S.USER_ID} string, {S.SEGMENT_LABEL} string"), trial)
    groups = {r[S.USER_ID]: r[GROUP] for r in audience.collect()}
    rng = random.Random(5)
    events = []
    for user, segment in people:
        base, lift = PLANTED[segment]
        rate = base + (lift if groups[user] == TREATMENT else 0.0)
        if rng.random() < rate:  # converts inside the window
            events.append((user, at(SEND + timedelta(days=rng.randint(1, 6)))))
        if rng.random() < 0.5:   # noise outside it: before the send, after the window
            events.append((user, at(SEND - timedelta(days=1))))
            events.append((user, at(SEND + timedelta(days=15))))
    rows = [(f"E{n}", user, "I1", "purchase", ts, 1, 10.0, None, f"O{n}", None, "NL",
             f"k{n}", "b1") for n, (user, ts) in enumerate(events)]
    lake.overwrite(spark.createDataFrame(rows, S.SILVER_EVENTS_SCHEMA), SILVER_EVENTS)
    planned = (audience.withColumn(S.CAMPAIGN_ID, F.lit("trial"))
               .withColumn(S.OFFERED_ITEMS, F.array(F.lit("I1")))
               .withColumn("model_versions", F.create_map().cast("map<string,bigint>"))
               .withColumn(S.SEND_DATE, F.lit(SEND))
               .withColumn("planned_at", F.current_timestamp())
               .select(*S.CAMPAIGN_AUDIENCES_SCHEMA.fieldNames()))
    lake.overwrite(planned, GOLD_CAMPAIGN_AUDIENCES)
    lines: list[str] = []
    run_step("campaign", config, MEASURE, spark=spark,
             options={"action": "measure", "name": "trial"}, out=lines.append)
    return config, lake, lines


def results(lake: Lake) -> dict[str, dict]:
    return {r[S.SEGMENT_LABEL]: r.asDict() for r in lake.read(GOLD_CAMPAIGN_RESULTS).collect()}


def test_each_planted_lift_lies_within_its_interval_and_a_rerun_gives_the_same_table(
        spark: SparkSession, measured: tuple[Config, Lake, list[str]]) -> None:
    config, lake, lines = measured
    found = results(lake)
    assert set(found) == {*PLANTED, "(all)"}
    for segment, (_, lift) in PLANTED.items():
        row = found[segment]
        assert row["conversion_lift_low"] <= lift <= row["conversion_lift_high"], row
        assert row["treatment_customers"] + row["control_customers"] == PER_SEGMENT
    assert found["at risk"]["verdict"] == "won"
    assert found["champions"]["verdict"] == "inconclusive"
    assert found["at risk"]["p_value_adjusted"] >= found["at risk"]["conversion_p_value"]
    assert found["at risk"]["incremental_conversions"] == pytest.approx(
        found["at risk"]["conversion_lift"] * found["at risk"]["treatment_customers"])
    assert any("Holm across segments" in line for line in lines)

    run_step("campaign", config, MEASURE, spark=spark,
             options={"action": "measure", "name": "trial"}, out=lambda _: None)
    assert results(lake) == found


def test_the_report_opens_in_chromium_with_every_segments_interval_and_is_in_mlflow(
        measured: tuple[Config, Lake, list[str]], tmp_path: Path) -> None:
    config, lake, lines = measured
    folder = Path(config.paths.artifacts) / "campaigns" / "trial" / f"measured-{MEASURE}"
    assert any(f"report: {folder / 'report.html'}" in line for line in lines)
    assert (folder / "lift.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    client = registry.tracking(config.mlflow)
    experiment = client.get_experiment_by_name(f"{config.mlflow.experiment_prefix}-campaigns")
    assert experiment is not None
    run = client.search_runs([experiment.experiment_id])[0]
    assert run.data.tags["verdict"] == "won" and "overall.conversion_lift" in run.data.metrics
    assert {a.path for a in client.list_artifacts(run.info.run_id, "report")} == {
        "report/report.html", "report/lift.png"}
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium binary (make browser installs the Debian package)")
    text = visible_text(dump_dom(browser, folder / "report.html", tmp_path / "profile"))
    assert "Campaign trial: won" in text and "Holm" in text
    for segment, row in results(lake).items():
        low, high = (f"{100 * row[k]:+.1f}" for k in ("conversion_lift_low",
                                                      "conversion_lift_high"))
        assert f"{segment} " in text and f"[{low}, {high}]" in text, (segment, text)


def test_last_touch_gives_a_purchase_to_the_campaign_sent_last(
        spark: SparkSession, measured: tuple[Config, Lake, list[str]]) -> None:
    config, lake, _ = measured
    before = results(lake)["(all)"]
    # 'later' (sent a week after 'trial') takes every trial customer: their purchases from
    # its send on go to it; the trial's conversions happened in days 1-6, before it
    later = (lake.read(GOLD_CAMPAIGN_AUDIENCES).where(F.col(S.CAMPAIGN_ID) == "trial")
             .withColumn(S.CAMPAIGN_ID, F.lit("later"))
             .withColumn(S.SEND_DATE, F.lit(SEND + timedelta(days=7))))
    lake.append(later, GOLD_CAMPAIGN_AUDIENCES)
    run_step("campaign", config, MEASURE, spark=spark,
             options={"action": "measure", "name": "trial"}, out=lambda _: None)
    assert results(lake)["(all)"]["treatment_converters"] == before["treatment_converters"]
    # move the purchases of day 3 to day 9, inside both windows: last touch gives them to
    # 'later', so the trial loses those converters (with no rule, it would keep them)
    events = lake.read(SILVER_EVENTS)
    day3 = F.to_date(S.EVENT_TS) == F.lit(SEND + timedelta(days=3))
    audience = lake.read(GOLD_CAMPAIGN_AUDIENCES).where(F.col(S.CAMPAIGN_ID) == "trial")
    lost = (events.where(day3).join(audience.where(F.col(GROUP) == TREATMENT), S.USER_ID)
            .select(S.USER_ID).distinct().count())
    assert lost > 0
    lake.overwrite(events.withColumn(S.EVENT_TS, F.when(day3, F.lit(at(SEND + timedelta(days=9))))
                                     .otherwise(F.col(S.EVENT_TS))).localCheckpoint(),
                   SILVER_EVENTS)
    run_step("campaign", config, MEASURE, spark=spark,
             options={"action": "measure", "name": "trial"}, out=lambda _: None)
    assert results(lake)["(all)"]["treatment_converters"] == (
        before["treatment_converters"] - lost)
    with pytest.raises(InputError, match="attribution window closes on"):
        run_step("campaign", config, SEND + timedelta(days=3), spark=spark,
                 options={"action": "measure", "name": "trial"}, out=lambda _: None)


def test_a_skewed_assignment_fails_the_sample_ratio_check(
        spark: SparkSession, tmp_path: Path) -> None:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    trial = load_campaign(define(folder, "trial", SEND))
    config = make_config(tmp_path, f"paths.campaigns={folder}")
    lake = Lake(spark, config.paths.root)
    audience = assign_groups(spark.createDataFrame(
        [(f"U{i}", "at risk") for i in range(2000)],
        f"{S.USER_ID} string, {S.SEGMENT_LABEL} string"), trial)
    skewed = audience.where((F.col(GROUP) == TREATMENT) | (F.rand(seed=3) < 0.8))
    lake.overwrite(skewed.withColumn(S.CAMPAIGN_ID, F.lit("trial"))
                   .withColumn(S.OFFERED_ITEMS, F.array(F.lit("I1")))
                   .withColumn("model_versions", F.create_map().cast("map<string,bigint>"))
                   .withColumn(S.SEND_DATE, F.lit(SEND))
                   .withColumn("planned_at", F.current_timestamp())
                   .select(*S.CAMPAIGN_AUDIENCES_SCHEMA.fieldNames()), GOLD_CAMPAIGN_AUDIENCES)
    lake.overwrite(spark.createDataFrame(
        [("E1", "U1", "I1", "purchase", at(SEND + timedelta(days=2)), 1, 10.0, None, "O1",
          None, "NL", "k1", "b1")], S.SILVER_EVENTS_SCHEMA), SILVER_EVENTS)
    with pytest.raises(QualityError, match="sample ratio mismatch") as caught:
        run_step("campaign", config, MEASURE, spark=spark,
                 options={"action": "measure", "name": "trial"}, out=lambda _: None)
    assert caught.value.exit_code == 3 and not lake.exists(GOLD_CAMPAIGN_RESULTS)
    assert CONTROL in str(caught.value) or "control" in str(caught.value)
