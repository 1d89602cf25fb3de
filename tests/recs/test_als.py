"""ALS training, promotion and batch recommendations.

The end-to-end tests share one small generated lake with planted taste clusters
(module-scoped: generating, conforming and training take most of this file's time).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakerec.cli.runner import run_step
from lakerec.core import registry
from lakerec.core.config import Config, with_overrides
from lakerec.core.errors import InputError
from lakerec.core.lake import Lake
from lakerec.core.schemas import (
    GT_TASTE_CLUSTER,
    ITEM_ID,
    MODEL_SOURCES,
    RANK,
    SOURCE,
    USER_ID,
)
from lakerec.core.step import StepContext
from lakerec.core.tables import (
    GOLD_RECOMMENDATION_GAPS,
    GOLD_RECOMMENDATIONS,
    GOLD_SIMILAR_ITEMS,
    SILVER_EVENTS,
    SILVER_ITEMS,
)
from lakerec.recs.blend import COMPONENTS, BlendWeights, simplicity, weight_grid
from lakerec.recs.holdout import Holdout
from lakerec.recs.interactions import event_confidence
from lakerec.recs.promotion import Evidence, promotion_decision
from lakerec.recs.search import AlsParams, Trial
from lakerec.recs.training import (
    Fitter,
    Inputs,
    default_params,
    evaluation_holdout,
    make_fitter,
    model_top_k,
    read_inputs,
    trained_on,
)
from lakerec.recs.tuning import (
    Searched,
    choose_blend,
    choose_settings,
    confirm_choice,
    start_points,
    validation_ndcg,
    validation_scores,
    validation_split,
)
from tests.conftest import make_config

RUN_DATE = date(2026, 11, 27)
GOOD_START = ("recommend.als.rank=16", "recommend.als.reg_param=0.01", "recommend.als.alpha=20.0",
              "recommend.confidence_transform=linear", "recommend.half_life_days=90")


@pytest.mark.parametrize(("new", "pop", "champ", "promote"), [
    (0.20, 0.10, None, True),
    (0.09, 0.10, None, False),        # loses to popularity
    (0.104, 0.10, None, False),       # beats popularity by less than the 5% required
    (0.20, 0.10, 0.199, False),       # within the 1% margin of the champion
    (0.21, 0.10, 0.20, True),
])
def test_promotion_decision(new: float, pop: float, champ: float | None, promote: bool) -> None:
    def ev(name: str, value: float) -> Evidence:
        return Evidence(name, {"ndcg@10": value})

    decided, why = promotion_decision(ev("als", new), ev("popularity", pop),
                                      None if champ is None else ev("champion", champ),
                                      margin=0.01, popularity_margin=0.05)
    assert decided is promote
    assert "ndcg@10" in why


def test_a_champion_is_measured_as_is_only_if_it_cannot_have_seen_the_held_out_events(
        spark: SparkSession) -> None:
    frame = spark.range(1)
    start = datetime(2026, 10, 28)
    time_split = Holdout(frame, frame, {}, trained_until=start, test_start=start, events=frame)
    assert time_split.unseen_by(start)                           # trained before the window
    assert not time_split.unseen_by(start + timedelta(days=7))   # last week's model saw 7 days
    assert not time_split.unseen_by(None)                        # end of training unrecorded
    random_split = Holdout(frame, frame, {}, trained_until=start, test_start=None,
                           events=frame)
    assert not random_split.unseen_by(start - timedelta(days=365))  # held out from all history


@pytest.fixture(scope="module")
def trained(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """Generated data (600 customers, 150 items, 5 taste clusters), conformed, trained with a
    two-trial search from a known-good start, then recommended."""
    root = tmp_path_factory.mktemp("als")
    config = make_config(root, "generate.customers=600", "generate.items=150",
                         "generate.events=30000", "generate.files=1",
                         *GOOD_START, "recommend.search.trials=2", "recommend.als.max_iter=10")
    for step in ("generate", "ingest", "conform", "train", "recommend"):
        result = run_step(step, config, RUN_DATE, spark=spark, out=lambda _: None)
    RECOMMEND_SUMMARY[config.paths.root] = result.summary
    return config


RECOMMEND_SUMMARY: dict[str, list[str]] = {}   # the trained fixture's recommend report


def mlflow_metrics(config: Config, version: int) -> dict[str, float]:
    client = registry.tracking(config.mlflow)
    run_id = client.get_model_version(registry.ALS_MODEL, str(version)).run_id
    return client.get_run(run_id).data.metrics


@pytest.mark.slow
def test_tuned_model_beats_popularity_and_follows_planted_tastes(
        spark: SparkSession, trained: Config) -> None:
    client = registry.tracking(trained.mlflow)
    champion = registry.alias_version(client, registry.ALS_MODEL, registry.CHAMPION)
    assert champion == 1
    metrics = mlflow_metrics(trained, champion)
    assert metrics["model.ndcg_at_10"] >= 1.5 * metrics["popularity.ndcg_at_10"]
    assert {"model.recall_at_20", "popularity.map_at_5", "model.coverage_at_20",
            "als.ndcg_at_10", "item_item.ndcg_at_10", "model.gini_at_20",
            "model.long_tail_at_20"} <= set(metrics)
    assert 0 <= metrics["model.gini_at_20"] <= 1
    assert metrics["popularity.gini_at_20"] > metrics["model.gini_at_20"]


@pytest.mark.slow
def test_train_chooses_a_family_on_validation_and_the_registry_records_it(
        spark: SparkSession, trained: Config) -> None:
    import mlflow

    client = registry.tracking(trained.mlflow)
    version = client.get_model_version(registry.ALS_MODEL, "1")
    run = client.get_run(version.run_id)
    logged = mlflow.artifacts.load_dict(f"runs:/{version.run_id}/evaluation/blend.json")
    tolerance = trained.recommend.blend.tolerance_se
    assert logged["tolerance_se"] == tolerance
    weightings = {BlendWeights(**{name: w[name] for name in COMPONENTS}): w
                  for w in logged["weightings"]}
    assert len(weightings) == len(weight_grid(trained.recommend.blend.weight_step,
                                              trained.recommend.blend.families))
    assert max(w["score"] for w in weightings.values()) == max(
        w["score"] for w in weightings.values() if w["shortfall"] == 0)
    chosen = BlendWeights.from_logged(run.data.params)
    assert chosen.family == weightings[chosen]["family"] == run.data.params["family"]
    assert version.tags["family"] == chosen.family

    def within(weights: BlendWeights) -> bool:
        shortfall, se = weightings[weights]["shortfall"], weightings[weights]["shortfall_se"]
        return shortfall <= 0 or (se is not None and shortfall <= tolerance * se)

    # the simplest weighting that validation cannot tell from the best
    simpler = [w for w in weightings if simplicity(w) < simplicity(chosen)]
    assert within(chosen)
    assert all(weightings[w]["shortfall_se"] is not None for w in simpler)
    assert not any(within(w) for w in simpler)
    assert weightings[chosen]["score"] == max(
        weightings[w]["score"] for w in weightings
        if within(w) and simplicity(w) == simplicity(chosen))
    metrics = run.data.metrics
    family = "popularity" if chosen.family == "popular" else chosen.family
    if family in ("als", "item_item", "popularity", "ease"):
        assert metrics["model.ndcg_at_10"] == metrics[f"{family}.ndcg_at_10"]
    # EASE's lambda: each configured one scored on validation, the best logged and measured
    ease = mlflow.artifacts.load_dict(f"runs:/{version.run_id}/evaluation/ease.json")
    scores = {row["lambda"]: row["score"] for row in ease["lambdas"]}
    assert sorted(scores) == sorted(trained.recommend.ease.lambdas)
    best_lambda = max(sorted(scores, reverse=True), key=lambda lamb: scores[lamb])
    assert ease["chosen"] == best_lambda == float(run.data.params["ease.lambda"])
    assert metrics["ease.ndcg_at_10"] > metrics["popularity.ndcg_at_10"]
    segments = [k for k in metrics if k.startswith("model.ndcg_at_10.segment_")]
    assert not segments  # this lake was never segmented (the pipeline test covers segments)
    # the two-trial search tried the default point, then the first configured start point
    trials = mlflow.artifacts.load_dict(
        f"runs:/{version.run_id}/evaluation/search.json")["trials"]
    ctx = StepContext(config=trained, spark=spark, lake=Lake(spark, trained.paths.root),
                      run_date=RUN_DATE, run_id="search-order")
    tried = [AlsParams(**{name: t[name] for name in default_params(ctx).as_dict()})
             for t in trials]
    assert tried == [default_params(ctx), start_points(ctx)[0]]

    lake = Lake(spark, trained.paths.root)
    truth = Path(trained.paths.ground_truth)
    users = spark.read.parquet(str(truth / "customers"))
    items = spark.read.parquet(str(truth / "items"))
    recs = lake.read(GOLD_RECOMMENDATIONS).where(F.col(SOURCE).isin(*MODEL_SOURCES))
    share = (recs.join(users.select(USER_ID, F.col(GT_TASTE_CLUSTER).alias("u_c")), USER_ID)
             .join(items.select(ITEM_ID, F.col(GT_TASTE_CLUSTER).alias("i_c")), ITEM_ID)
             .agg(F.avg((F.col("u_c") == F.col("i_c")).cast("double")).alias("s"))
             .first()["s"])
    assert share > 0.6   # 5 clusters: chance is 0.2


@pytest.mark.slow
def test_every_active_customer_gets_k_eligible_items_or_a_gap(
        spark: SparkSession, trained: Config) -> None:
    lake = Lake(spark, trained.paths.root)
    k = trained.recommend.k
    recs = lake.read(GOLD_RECOMMENDATIONS).where(F.col("run_date") == RUN_DATE)
    events = lake.read(SILVER_EVENTS)
    bought = events.where(F.col("event_type") == "purchase").select(USER_ID, ITEM_ID)
    assert recs.join(bought, [USER_ID, ITEM_ID]).count() == 0
    out_of_stock = lake.read(SILVER_ITEMS).where(~F.col("in_stock")).select(ITEM_ID)
    assert out_of_stock.count() > 0
    assert recs.join(out_of_stock, ITEM_ID).count() == 0
    assert recs.groupBy(USER_ID, ITEM_ID).count().where("count > 1").count() == 0
    sources = {r[SOURCE] for r in recs.select(SOURCE).distinct().collect()}
    assert sources <= {*MODEL_SOURCES, "segment_popular", "popular"}
    assert sources & set(MODEL_SOURCES)

    active = (events.where(F.col("event_ts") >= F.date_sub(F.lit(RUN_DATE), 365))
              .where(F.col("event_ts") < F.lit(RUN_DATE)).select(USER_ID).distinct())
    counts = recs.groupBy(USER_ID).agg(F.count("*").alias("n"), F.max(RANK).alias("top"))
    gaps = lake.read(GOLD_RECOMMENDATION_GAPS).where(F.col("run_date") == RUN_DATE)
    full = counts.where((F.col("n") == k) & (F.col("top") == k)).select(USER_ID)
    assert active.join(full.unionByName(gaps.select(USER_ID)), USER_ID, "left_anti").count() == 0
    # the report names whom it served: the active customers, out of all with events
    with_events = events.select(USER_ID).distinct().count()
    named = re.search(rf"for (\d+) of (\d+) customers active in the 365 days before {RUN_DATE} "
                      rf"\(of {with_events:,} with events; ",
                      " ".join(RECOMMEND_SUMMARY[trained.paths.root]))
    assert named is not None
    assert int(named[1]) == recs.select(USER_ID).distinct().count() <= int(named[2])
    assert int(named[2]) <= active.count() <= with_events
    explained = recs.where(F.col(SOURCE).isin(*MODEL_SOURCES))
    assert explained.where(F.col("reason_item_id").isNull()).count() < 0.05 * explained.count()
    similar = lake.read(GOLD_SIMILAR_ITEMS)
    assert similar.groupBy(ITEM_ID).count().agg(F.max("count")).first()[0] == 20


@pytest.mark.slow
def test_weak_model_does_not_replace_the_champion(spark: SparkSession, trained: Config,
                                                  tmp_path: Path) -> None:
    weak = trained.model_copy(update={"recommend": trained.recommend.model_copy(update={
        "search": trained.recommend.search.model_copy(update={"trials": 1}),
        "blend": trained.recommend.blend.model_copy(update={"families": ("als",)}),
        "als": trained.recommend.als.model_copy(update={"rank": 1, "max_iter": 1})})})
    result = run_step("train", weak, RUN_DATE, spark=spark, out=lambda _: None)
    client = registry.tracking(trained.mlflow)
    assert registry.alias_version(client, registry.ALS_MODEL, registry.CHAMPION) == 1
    assert registry.alias_version(client, registry.ALS_MODEL, registry.CHALLENGER) == 2
    assert any("challenger" in line for line in result.summary)


@pytest.mark.slow
def test_the_search_carries_on_from_the_champions_settings(spark: SparkSession,
                                                           trained: Config) -> None:
    """The champion's settings are tried right after the default point: with a bad default
    and no start points, a two-trial search chooses them again."""
    client = registry.tracking(trained.mlflow)
    version = registry.alias_version(client, registry.ALS_MODEL, registry.CHAMPION)
    assert version is not None
    champion = trained_on(client, version).params
    # a later week's model that stayed challenger: the newest version is not the champion's,
    # whatever ran before this test, so the seed rule (newest, not champion) is put to the test
    served = client.get_model_version(registry.ALS_MODEL, str(version))
    registry.register(client, served.source, registry.ALS_MODEL, run_id=served.run_id,
                      tags=served.tags)
    registered = registry.latest_version(client, registry.ALS_MODEL)
    assert registered is not None and registered > version
    bad = trained.model_copy(update={"recommend": trained.recommend.model_copy(update={
        "search": trained.recommend.search.model_copy(update={
            "trials": 2, "start_points": (), "grow_rank": False, "carry_champion": True}),
        "blend": trained.recommend.blend.model_copy(update={"families": ("als",)}),
        "als": trained.recommend.als.model_copy(update={
            "rank": 2, "reg_param": 1.0, "alpha": 0.01})})})
    result = run_step("train", bad, RUN_DATE, spark=spark, out=lambda _: None)
    params, record = latest_run(trained)
    tried = [AlsParams(**{name: t[name] for name in champion.as_dict()})
             for t in record["trials"]]
    assert len(tried) == 2 and (tried[0].rank, tried[1]) == (2, champion)
    assert record["trials"][1]["validation_ndcg@10"] > record["trials"][0]["validation_ndcg@10"]
    assert AlsParams.from_logged(params) == champion
    assert params["search_carried_from"] == str(version)
    # new draws: after version N (champion or challenger), seed + N
    assert params["search_seed"] == str(trained.recommend.search.seed + registered)
    assert any(f"champion v{version}'s settings chosen again" in line
               for line in result.summary), result.summary
    assert f"carrying on from champion v{version}'s settings" in result.highlights[0]


@pytest.mark.slow
def test_a_champion_from_another_lake_never_scores_this_one(
        spark: SparkSession, trained: Config, tmp_path: Path) -> None:
    # A second lake with customers and items named alike, sharing the first lake's registry.
    events = tmp_path / "landing" / "events"
    events.mkdir(parents=True)
    lines = ["user_id,item_id,event_type,event_ts"] + [
        f"U{u:06d},P{(u * 7 + i) % 30:05d},purchase,2026-11-{1 + (u + i) % 25:02d}T10:00:00"
        for u in range(40) for i in range(5)]
    (events / "purchases.csv").write_text("\n".join(lines) + "\n")
    shared = (f"mlflow.tracking_uri={trained.mlflow.tracking_uri}",
              f"mlflow.artifact_location={trained.mlflow.artifact_location}")
    other = make_config(tmp_path, *shared)
    for step in ("ingest", "conform"):
        run_step(step, other, RUN_DATE, spark=spark, out=lambda _: None)
    client = registry.tracking(trained.mlflow)
    champion = registry.alias_version(client, registry.ALS_MODEL, registry.CHAMPION)
    tags = client.get_model_version(registry.ALS_MODEL, str(champion)).tags
    assert tags["lake.root"] == Lake(spark, trained.paths.root).root

    with pytest.raises(InputError, match=r"cannot score this lake: it was trained on the lake at"):
        run_step("recommend", other, RUN_DATE, spark=spark, out=lambda _: None)
    assert not Lake(spark, other.paths.root).exists(GOLD_RECOMMENDATIONS)

    fallback = make_config(tmp_path, *shared, "recommend.foreign_champion=popularity")
    result = run_step("recommend", fallback, RUN_DATE, spark=spark, out=lambda _: None)
    assert any("cannot score this lake" in w for w in result.warnings), result.warnings
    recs = Lake(spark, other.paths.root).read(GOLD_RECOMMENDATIONS)
    assert recs.select(USER_ID).distinct().count() == 40
    assert {r[SOURCE] for r in recs.select(SOURCE).distinct().collect()} <= {
        "popular", "segment_popular"}
    assert registry.alias_version(client, registry.ALS_MODEL, registry.CHAMPION) == champion


def latest_run(config: Config) -> tuple[dict[str, str], dict]:
    """Params and search record of the newest registered version's MLflow run."""
    import mlflow

    client = registry.tracking(config.mlflow)
    newest = max(client.search_model_versions(f"name='{registry.ALS_MODEL}'"),
                 key=lambda v: int(v.version))
    params = client.get_run(newest.run_id).data.params
    return params, mlflow.artifacts.load_dict(f"runs:/{newest.run_id}/evaluation/search.json")


@pytest.mark.slow
def test_the_search_finds_better_settings_than_a_bad_start(spark: SparkSession,
                                                           trained: Config) -> None:
    """Without start points (the draws alone), with pruning on (a 2-iteration fit first) and
    6-iteration trials: a trial stopped after the short fit is never chosen."""
    bad = trained.model_copy(update={"recommend": trained.recommend.model_copy(update={
        "search": trained.recommend.search.model_copy(update={
            "trials": 5, "prune_after_iterations": 2, "trial_max_iter": 6,
            "start_points": (), "carry_champion": False}),   # TPE and random draws only
        "blend": trained.recommend.blend.model_copy(update={"families": ("als",)}),
        "als": trained.recommend.als.model_copy(update={
            "rank": 2, "reg_param": 1.0, "alpha": 0.01})})})
    run_step("train", bad, RUN_DATE, spark=spark, out=lambda _: None)
    params, record = latest_run(trained)
    trials = record["trials"]
    assert len(trials) == 5
    assert (trials[0]["rank"], trials[0]["reg_param"], trials[0]["alpha"]) == (2, 1.0, 0.01)
    assert not any(t["pruned"] for t in trials[:2])   # the start-up trials always finish
    best = max((t for t in trials if not t["pruned"]), key=lambda t: t["validation_ndcg@10"])
    assert best["validation_ndcg@10"] > 1.2 * trials[0]["validation_ndcg@10"]
    # the earliest trial within search.tolerance_se standard errors of the best (by the
    # logged evidence: each full trial's standard error of its paired shortfall, 0 for the
    # best), or the doubled rank that replaced it (within search.grow_tolerance_se)
    tolerance = bad.recommend.search.tolerance_se
    assert record["tolerance_se"] == tolerance and best["shortfall_se"] == 0.0
    assert all((t["shortfall_se"] is None) == t["pruned"] for t in trials)
    top = best["validation_ndcg@10"]
    chosen = next(t for t in trials if t is best or (
        not t["pruned"] and top - t["validation_ndcg@10"] <= tolerance * t["shortfall_se"]))
    replaced_by = {t["grown_from"]: t for t in trials if t["grown_from"] is not None}
    while chosen["trial"] in replaced_by:
        chosen = replaced_by[chosen["trial"]]
    assert [t for t in trials if t["chosen"]] == [chosen]
    assert int(params["rank"]) == chosen["rank"] != 2
    assert (params["search_trial_max_iter"], params["search_prune_after_iterations"],
            params["search_start_points"]) == ("6", "2", "0")
    # how far rank growth may go past search.rank, for comparing runs in the MLflow UI
    grow_rank_to = bad.recommend.search.grow_rank_to
    assert params["search_grow_rank_to"] == str(grow_rank_to) and grow_rank_to is not None
    assert record["grow_rank_to"] == grow_rank_to


@pytest.mark.slow
def test_the_served_model_is_refitted_on_the_held_out_events_too(
        spark: SparkSession, trained: Config) -> None:
    """The registered (served) model is fitted on every pair up to the run date, the pairs
    first seen in the held-out window (the last ``test_days``) included; the evidence model
    measured before it saw none of those."""
    params, _ = latest_run(trained)
    assert params["trained_until"] == f"{RUN_DATE.isoformat()}T00:00:00"
    window_start = datetime.combine(
        RUN_DATE - timedelta(days=trained.recommend.split.test_days), datetime.min.time())
    assert params["evidence_trained_until"] == window_start.isoformat()
    settings = AlsParams.from_logged(params)
    weights = {str(k): v for k, v in trained.recommend.event_weights.items()}
    events = Lake(spark, trained.paths.root).read(SILVER_EVENTS)

    def pairs(until: datetime) -> DataFrame:
        return event_confidence(events.where(F.col("event_ts") < F.lit(until)),
                                weights=weights, half_life_days=settings.half_life_days,
                                as_of=until, transform=settings.transform).select(USER_ID,
                                                                                  ITEM_ID)

    everything = pairs(datetime.combine(RUN_DATE, datetime.min.time()))
    new_in_window = everything.join(pairs(window_start), [USER_ID, ITEM_ID], "left_anti")
    assert new_in_window.count() > 0
    assert int(params["training_pairs"]) == everything.count()


@pytest.mark.slow
def test_the_search_hands_over_the_chosen_trials_model(spark: SparkSession,
                                                      trained: Config) -> None:
    """The blend choice reuses the best trial's model instead of fitting it again: it is the
    model of the chosen settings, scoring on validation what that trial scored (and what a
    fresh fit scores: the fits are seeded). The best trial is chosen here (``tolerance_se``
    0); when the rule keeps an earlier one, its model is fitted again."""
    config = trained.model_copy(update={"recommend": trained.recommend.model_copy(update={
        "search": trained.recommend.search.model_copy(update={"trials": 3, "tolerance_se": 0.0}),
        "als": trained.recommend.als.model_copy(update={"max_iter": 5})})})
    ctx = StepContext(config=config, spark=spark, lake=Lake(spark, config.paths.root),
                      run_date=RUN_DATE, run_id="search-test")
    inputs = read_inputs(ctx)
    fitter = make_fitter(ctx, inputs)
    holdout = evaluation_holdout(ctx, inputs.events)
    validation = validation_split(ctx, holdout, fitter.spec)
    assert validation is not None
    settings = choose_settings(ctx, validation, inputs, fitter)
    assert len(settings.trials) == 3 and settings.model is not None
    chosen = max(settings.trials, key=lambda t: t.value)
    assert settings.params == chosen.params
    assert settings.model.rank == chosen.params.rank

    def score(model: ALSModel) -> float:
        return validation_ndcg(model_top_k(model, validation, inputs, 10,
                                           config.recommend.users_per_block), validation)

    assert score(settings.model) == pytest.approx(chosen.value)
    assert score(fitter.on_holdout(validation, settings.params)) == pytest.approx(chosen.value)
    validation.unpersist()
    holdout.unpersist()


USELESS = AlsParams(rank=2, reg_param=50.0, alpha=0.01, transform="binary")
"""Near-useless ALS settings: whatever it ranks first is close to arbitrary."""


@dataclass(frozen=True)
class RandomSplits:
    """The trained lake under the random protocol: its evaluation and validation splits."""

    ctx: StepContext
    inputs: Inputs
    fitter: Fitter
    holdout: Holdout
    validation: Holdout

    def unpersist(self) -> None:
        self.validation.unpersist()
        self.holdout.unpersist()


def random_splits(spark: SparkSession, trained: Config, overrides: list[str],
                  run_id: str) -> RandomSplits:
    config = with_overrides(trained, ["recommend.split.protocol=random",
                                      "recommend.als.max_iter=5", *overrides])
    ctx = StepContext(config=config, spark=spark, lake=Lake(spark, config.paths.root),
                      run_date=RUN_DATE, run_id=run_id)
    inputs = read_inputs(ctx)
    fitter = make_fitter(ctx, inputs)
    holdout = evaluation_holdout(ctx, inputs.events)
    validation = validation_split(ctx, holdout, fitter.spec)
    assert validation is not None
    return RandomSplits(ctx, inputs, fitter, holdout, validation)


@pytest.mark.slow
def test_a_choice_that_does_not_lead_on_further_draws_gives_way_to_the_default(
        spark: SparkSession, trained: Config) -> None:
    """Under the random protocol the search's choice is scored again against the default
    point on ``confirm_draws`` further validation draws. A planted winner's curse (a
    near-useless point that led on the search's own draw) gives way to the default point;
    a choice that really is better than the default point is kept; the time protocol has
    no further draw."""
    splits = random_splits(spark, trained, ["recommend.search.confirm_draws=2",
                                            "recommend.split.projection_share=null"],
                           "confirm-test")
    ctx, inputs, fitter = splits.ctx, splits.inputs, splits.fitter
    holdout, validation = splits.holdout, splits.validation
    good, useless = default_params(ctx), USELESS

    def searched(default: AlsParams, chosen: AlsParams) -> Searched:
        return Searched(chosen, [Trial(1, default, 0.10, 1.0), Trial(2, chosen, 0.11, 1.0)])

    cursed = confirm_choice(ctx, holdout, validation, searched(good, useless), inputs, fitter)
    assert cursed.params == good and cursed.model is None
    assert cursed.confirmation is not None and cursed.confirmation.kept == good
    scores = cursed.confirmation.scores
    assert scores[useless][0] == 0.11 and len(scores[useless]) == len(scores[good]) == 3
    assert all(g > u for g, u in zip(scores[good][1:], scores[useless][1:], strict=True))

    confirmed = confirm_choice(ctx, holdout, validation, searched(useless, good), inputs,
                               fitter)
    assert confirmed.params == good and confirmed.confirmation is not None
    assert confirmed.confirmation.kept == good == confirmed.confirmation.chosen
    # the further draws are new: other seeds, so other scores than the search's own
    assert len(set(confirmed.confirmation.scores[good])) == 3

    time_ctx = replace(ctx, config=trained)
    time_holdout = evaluation_holdout(time_ctx, inputs.events)
    unconfirmed = searched(good, useless)
    assert confirm_choice(time_ctx, time_holdout, validation, unconfirmed, inputs,
                          fitter) is unconfirmed
    splits.unpersist()
    time_holdout.unpersist()


@pytest.mark.slow
def test_thinned_fits_extrapolate_the_choices_lead_to_the_refits_size(
        spark: SparkSession, trained: Config) -> None:
    """With ``projection_share`` both settings are also fitted on that share of each draw's
    training pairs (per customer, the held-out pairs unchanged), and the lead is
    extrapolated from there to the refit's size: log(0.75 x 0.75) / log(0.5) = 0.83 steps
    on. The search's own draw is scored as the search scored it; a near-useless choice
    trails on every fit and gives way to the default point."""
    splits = random_splits(spark, trained, ["recommend.search.confirm_draws=1",
                                            "recommend.split.projection_share=0.5"],
                           "thinned-test")
    ctx, inputs, fitter = splits.ctx, splits.inputs, splits.fitter
    holdout, validation, config = splits.holdout, splits.validation, splits.ctx.config
    good, useless = default_params(ctx), USELESS

    def score(split: Holdout, model: ALSModel) -> float:
        return validation_ndcg(model_top_k(model, split, inputs, 10,
                                           config.recommend.users_per_block), split)

    models = {params: fitter.on_holdout(validation, params) for params in (good, useless)}
    values = {params: score(validation, model) for params, model in models.items()}
    searched = Searched(useless, [Trial(1, good, values[good], 1.0),
                                  Trial(2, useless, values[useless], 1.0)])
    kept = replace(confirm_choice(ctx, holdout, validation, searched, inputs, fitter),
                   model=models[good])
    confirmation = kept.confirmation
    assert confirmation is not None and kept.params == good == confirmation.kept
    assert kept.thinned_model is not None  # draw 0's thinned fit, handed to the blend
    assert confirmation.projection is not None
    assert confirmation.projection.reach == pytest.approx(math.log(0.5625) / math.log(0.5))
    assert all(len(values) == 2 for values in [*confirmation.scores.values(),
                                                *confirmation.thinned.values()])
    # the thinned draw of the search's own split: half of each customer's training pairs
    fewer = validation.thinned(0.5, seed=config.recommend.split.seed)
    pairs = (validation.train.groupBy(USER_ID).count()
             .join(fewer.train.groupBy(USER_ID).count().withColumnRenamed("count", "kept"),
                   USER_ID, "left").collect())
    assert all(row["kept"] == round(row["count"] * 0.5) for row in pairs if row["count"] > 2)
    assert fewer.relevant is validation.relevant
    thinned_score = score(fewer, fitter.on_holdout(fewer, good))
    assert confirmation.thinned[good][0] == pytest.approx(thinned_score)
    assert confirmation.projected_lead() < confirmation.lead() < 0
    # the blend's weightings are chosen on projected scores too: ALS alone's is its score
    # on validation carried on along the line through its score on the same thinned pairs
    blending = choose_blend(ctx, validation, inputs, fitter, kept)
    als_alone = next(w for w in blending.weighings if w.weights == BlendWeights())
    assert als_alone.score == pytest.approx(confirmation.projection.project(
        values[good], thinned_score))
    measured = choose_blend(replace(ctx, config=with_overrides(
        config, ["recommend.split.projection_share=null"])), validation, inputs, fitter, kept)
    assert [w.weights for w in measured.weighings] == [w.weights for w in blending.weighings]
    assert next(w for w in measured.weighings
                if w.weights == BlendWeights()).score == pytest.approx(values[good])
    # a tie the search's rule settled for the default point (here a near-useless one) over
    # a better trial: the projection judges it, and serves the better one, whose projected
    # lead is more than tolerance_se standard errors of it
    per_customer = {params: validation_scores(model_top_k(
        model, validation, inputs, 10, config.recommend.users_per_block), validation)
        for params, model in models.items()}
    tie = Searched(useless, [Trial(1, useless, values[useless], 1.0),
                             Trial(2, good, values[good], 1.0)], models[useless],
                   per_customer=per_customer, best_model=models[good])
    one_draw = replace(ctx, config=with_overrides(config, ["recommend.search.confirm_draws=0"]))
    served = confirm_choice(one_draw, holdout, validation, tie, inputs, fitter)
    assert served.params == good and served.model is models[good]
    judged = served.confirmation
    assert judged is not None and judged.chosen == good and judged.default == useless
    assert judged.tolerance_se == config.recommend.search.tolerance_se > 0
    assert 0 < judged.margin() < judged.projected_lead()
    assert served.thinned_model is not None
    # without the customers' scores there is no standard error to judge the tie by
    unjudged = replace(tie, per_customer={})
    assert confirm_choice(one_draw, holdout, validation, unjudged, inputs, fitter) is unjudged
    fewer.train.unpersist()
    splits.unpersist()


T = TypeVar("T")


def counted(calls: Counter[str], name: str, real: Callable[..., T], *args: object,
            **kwargs: object) -> T:
    calls[name] += 1
    return real(*args, **kwargs)


@pytest.mark.slow
def test_the_ranking_bench_measures_every_system_on_the_train_split(
        spark: SparkSession, trained: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    from lakerec.recs import ranking_bench, tuning
    from lakerec.recs.ranking_bench import SYSTEMS, compare_systems

    # the real choices, counted: the systems that share one (searched ALS and the pipeline;
    # EASE and the pipeline) must make it once
    calls: Counter[str] = Counter()
    for module, name in ((ranking_bench, "choose_settings"), (ranking_bench, "choose_ease_lambda"),
                         (tuning, "choose_ease_lambda")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, functools.partial(counted, calls, name, real))
    # one trial each for the search and the exhaustive one: what they choose is tested above
    config = with_overrides(trained, ["recommend.search.trials=1"])
    ctx = StepContext(config=config, spark=spark, lake=Lake(spark, trained.paths.root),
                      run_date=RUN_DATE, run_id="bench-test")
    results = {r.system: r for r in compare_systems(ctx, exhaustive_trials=1)}
    assert set(results) == set(SYSTEMS)
    assert calls == {"choose_settings": 1, "choose_ease_lambda": 1}
    ndcg = {name: r.metrics["ndcg@10"] for name, r in results.items()}
    # the same holdout as train's first run: popularity scores exactly as logged there
    assert ndcg["popularity"] == pytest.approx(mlflow_metrics(trained, 1)["popularity.ndcg_at_10"])
    # the ceiling tries the default ALS, the configured item-item and every lambda of EASE
    # on the test data itself
    assert ndcg["exhaustive"] >= max(ndcg["als_default"], ndcg["item_item"],
                                     ndcg["ease"]) - 1e-9
    assert ndcg["pipeline"] > ndcg["popularity"]
    # EASE alone learns the planted tastes too, its lambda chosen on validation
    assert ndcg["ease"] > ndcg["popularity"]
    assert "EASE lambda" in results["ease"].detail and "validation" in results["ease"].detail
    assert all(r.seconds > 0 and 0 <= r.metrics["gini@20"] <= 1 for r in results.values())


@pytest.mark.slow
def test_an_ease_champion_is_served_and_evaluated_at_its_own_lambda(
        spark: SparkSession, trained: Config) -> None:
    """``train`` with EASE the only family (one ALS trial: ALS is still fitted and
    registered, for similar items and new items' content), made champion; ``recommend``
    serves EASE's picks at the lambda and EDLAE dropout logged, and ``evaluate`` measures
    them."""
    only_ease = trained.model_copy(update={"recommend": trained.recommend.model_copy(update={
        "search": trained.recommend.search.model_copy(update={"trials": 1}),
        "ease": trained.recommend.ease.model_copy(update={"lambdas": (30.0, 300.0),
                                                          "dropout": 0.25}),
        "blend": trained.recommend.blend.model_copy(update={"families": ("ease",)})})})
    client = registry.tracking(trained.mlflow)
    before = registry.alias_version(client, registry.ALS_MODEL, registry.CHAMPION)
    result = run_step("train", only_ease, RUN_DATE, spark=spark, out=lambda _: None)
    params, _ = latest_run(trained)
    version = registry.latest_version(client, registry.ALS_MODEL)
    assert version is not None and params["family"] == "ease"
    lamb = float(params["ease.lambda"])
    assert lamb in (30.0, 300.0)   # chosen on validation, though nothing else is tuned
    # what recommend and evaluate read back: the version's own lambda and dropout
    assert trained_on(client, int(version)).ease_dropout == float(params["ease.dropout"]) == 0.25
    assert any(line.startswith(f"EASE: lambda={lamb:g}, EDLAE dropout=0.25 (validation "
                               "ndcg@10 by lambda")
               for line in result.summary), result.summary
    registry.set_alias(client, registry.ALS_MODEL, registry.CHAMPION, version)
    try:
        served = run_step("recommend", only_ease, RUN_DATE, spark=spark, out=lambda _: None)
        assert any("champion: ease" in line for line in served.summary), served.summary
        lake = Lake(spark, trained.paths.root)
        recs = lake.read(GOLD_RECOMMENDATIONS).where(F.col("run_date") == RUN_DATE)
        picks = recs.where(F.col(SOURCE) == "ease")
        assert picks.count() > 0.5 * recs.count()
        bought = (lake.read(SILVER_EVENTS).where(F.col("event_type") == "purchase")
                  .select(USER_ID, ITEM_ID))
        assert recs.join(bought, [USER_ID, ITEM_ID]).count() == 0
        assert picks.where(F.col("reason_item_id").isNull()).count() < 0.05 * picks.count()
        evaluated = run_step("evaluate", only_ease, RUN_DATE, spark=spark,
                             options={"version": version}, out=lambda _: None)
        model_line = next(line for line in evaluated.summary
                          if line.startswith(f"{registry.ALS_MODEL} v{version}"))
        assert "ndcg@10=" in model_line and "ease" in model_line

        # The catalogue grown past recommend.ease.max_items: EASE proposes nothing, the run
        # says so, and the popularity fallback serves the customers EASE served.
        customers = recs.select(USER_ID).distinct().count()
        capped = only_ease.model_copy(update={"recommend": only_ease.recommend.model_copy(
            update={"ease": only_ease.recommend.ease.model_copy(update={"max_items": 2})})})
        without = run_step("recommend", capped, RUN_DATE, spark=spark, out=lambda _: None)
        assert any("more than recommend.ease.max_items=2" in line
                   and "EASE proposes nothing" in line for line in without.warnings)
        recs = lake.read(GOLD_RECOMMENDATIONS).where(F.col("run_date") == RUN_DATE)
        assert recs.where(F.col(SOURCE) == "ease").count() == 0
        assert recs.select(USER_ID).distinct().count() == customers
    finally:
        registry.set_alias(client, registry.ALS_MODEL, registry.CHAMPION, before)
