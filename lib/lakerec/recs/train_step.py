"""Step ``train``: silver events -> a tuned ALS model, measured against popularity, registered
as ``lakerec-als`` and promoted to ``champion`` only on evidence.

1. Confidences per (customer, item) and the stable id maps (``gold.user_index``,
   ``gold.item_index``, extended at the end of the step).
2. Hold out evaluation data (``recommend.split``), carve a validation split the same way from
   the training part, and grid-search rank, regParam and alpha on it by NDCG@10.
3. Fit the chosen point on the training part; measure it, the popularity baseline and the
   current champion on the same held-out data; log everything to MLflow; register; alias
   ``champion`` or ``challenger`` (:func:`lakerec.recs.promotion.promotion_decision`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core import registry
from lakerec.core.errors import InputError
from lakerec.core.schemas import (
    EVENT_TS,
    ITEM_ID,
    ITEM_IDX,
    ITEM_INDEX,
    RANK,
    SCORE,
    USER_ID,
    USER_IDX,
    USER_INDEX,
)
from lakerec.core.step import StepContext, StepResult
from lakerec.recs.als import AlsParams, fit_als, prepare_ratings, search_grid, top_k, tune
from lakerec.recs.baselines import popularity_top_k
from lakerec.recs.interactions import new_index_rows, with_indices
from lakerec.recs.metrics import ranking_metrics
from lakerec.recs.promotion import (
    PRIMARY_METRIC,
    ConfidenceSpec,
    Evidence,
    Holdout,
    item_categories,
    item_popularity,
    make_holdout,
    measure,
    metric_key,
    midnight,
    plot_metrics_vs_k,
    promotion_decision,
    validation_holdout,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger("lakerec.train")

SILVER, GOLD = "silver", "gold"
HINT = "run `lakerec conform` first"
EXPERIMENT = "recommendations"


@dataclass
class Inputs:
    """What train and evaluate read, with the versions read."""

    events: DataFrame           # silver events before the run date
    items: DataFrame | None
    user_index: DataFrame       # existing ids plus new ones (written by train)
    item_index: DataFrame
    new_users: DataFrame
    new_items: DataFrame
    versions: dict[str, int]


def read_inputs(ctx: StepContext) -> Inputs:
    lake = ctx.lake
    version = lake.version(SILVER, "events")
    if version is None:
        raise InputError(f"table {SILVER}.events does not exist at "
                         f"{lake.path(SILVER, 'events')}; {HINT}")
    versions = {f"{SILVER}.events": version}
    events = (lake.read(SILVER, "events", version=version)
              .where(F.col(EVENT_TS) < F.lit(midnight(ctx.run_date))))
    items = lake.read_if_exists(SILVER, "items")
    if items is not None:
        versions[f"{SILVER}.items"] = lake.version(SILVER, "items") or 0
    user_old = lake.read_if_exists(GOLD, USER_INDEX)
    item_old = lake.read_if_exists(GOLD, ITEM_INDEX)
    item_keys = events.select(ITEM_ID)
    if items is not None:
        item_keys = item_keys.unionByName(items.select(ITEM_ID))
    new_users = new_index_rows(user_old, events, key_col=USER_ID, index_col=USER_IDX).cache()
    new_items = new_index_rows(item_old, item_keys, key_col=ITEM_ID, index_col=ITEM_IDX).cache()
    user_index = new_users if user_old is None else user_old.unionByName(new_users)
    item_index = new_items if item_old is None else item_old.unionByName(new_items)
    return Inputs(events, items, user_index.cache(), item_index.cache(), new_users, new_items,
                  versions)


def write_indices(ctx: StepContext, inputs: Inputs) -> dict[str, int]:
    """Append the new ids (MERGE insert-only: a rerun adds nothing)."""
    return {f"{GOLD}.{USER_INDEX}": ctx.lake.insert_new(inputs.new_users, GOLD, USER_INDEX,
                                                        [USER_ID]),
            f"{GOLD}.{ITEM_INDEX}": ctx.lake.insert_new(inputs.new_items, GOLD, ITEM_INDEX,
                                                        [ITEM_ID])}


def confidence_spec(ctx: StepContext) -> ConfidenceSpec:
    cfg = ctx.config.recommend
    weights = {str(name): value for name, value in cfg.event_weights.items()}
    return ConfidenceSpec(weights, cfg.half_life_days, cfg.explicit_ratings)


def evaluation_holdout(ctx: StepContext, events: DataFrame) -> Holdout:
    cfg = ctx.config.recommend
    holdout = make_holdout(events, confidence_spec(ctx), protocol=cfg.split.protocol,
                           test_days=cfg.split.test_days, ratio=cfg.split.ratio,
                           seed=cfg.split.seed, run_date=ctx.run_date,
                           relevant_event_types=cfg.relevant_event_types)
    holdout.train = holdout.train.cache()
    holdout.relevant = holdout.relevant.cache()
    if holdout.relevant.limit(1).count() == 0:
        raise InputError(
            f"the {cfg.split.protocol} split holds out no relevant "
            f"{'/'.join(cfg.relevant_event_types)} events of known customers before "
            f"{ctx.run_date}: nothing to evaluate a model on (check --run-date, "
            "recommend.split.test_days or recommend.relevant_event_types)")
    return holdout


def model_top_k(model: ALSModel, holdout: Holdout, inputs: Inputs, k: int,
                users_per_block: int) -> DataFrame:
    """``(user_id, item_id, score, rank)`` of the model for the held-out customers, never
    recommending their training pairs."""
    users = holdout.relevant.select(USER_ID).distinct().join(inputs.user_index, USER_ID)
    seen = with_indices(holdout.train, inputs.user_index, inputs.item_index, columns=())
    scored = top_k(model, k, users=users, exclude_pairs=seen, users_per_block=users_per_block)
    return (scored.join(inputs.user_index, USER_IDX).join(inputs.item_index, ITEM_IDX)
            .select(USER_ID, ITEM_ID, SCORE, RANK))


def measure_model(name: str, model: ALSModel, holdout: Holdout, inputs: Inputs,
                  ctx: StepContext) -> Evidence:
    cfg = ctx.config.recommend
    recs = model_top_k(model, holdout, inputs, max(cfg.metrics_ks), cfg.users_per_block)
    return measure_recs(name, recs, holdout, inputs, ks=cfg.metrics_ks)


def measure_popularity(holdout: Holdout, inputs: Inputs, ctx: StepContext) -> Evidence:
    users = holdout.relevant.select(USER_ID).distinct()
    recs = popularity_top_k(holdout.train, users, max(ctx.config.recommend.metrics_ks))
    return measure_recs("popularity", recs, holdout, inputs, ks=ctx.config.recommend.metrics_ks)


def measure_recs(name: str, recs: DataFrame, holdout: Holdout, inputs: Inputs, *,
                 ks: tuple[int, ...]) -> Evidence:
    categories = (item_categories(inputs.items) if inputs.items is not None
                  else inputs.item_index.select(ITEM_ID, F.lit(None).cast("string")
                                                .alias("category")))
    return measure(name, recs.cache(), holdout.relevant, ks=ks,
                   catalog_size=max(inputs.item_index.count(), 1),
                   item_popularity=item_popularity(holdout.train), item_categories=categories)


def load_version(ctx: StepContext, version: int) -> ALSModel:
    """The ALS model of registered version ``version`` of ``lakerec-als``."""
    import mlflow.spark

    registry.tracking(ctx.config.mlflow)
    pipeline = mlflow.spark.load_model(f"models:/{registry.ALS_MODEL}/{version}")
    return pipeline.stages[0]


@dataclass(frozen=True)
class TrainedOn:
    """What a registered version was trained on, from its MLflow run."""

    params: AlsParams
    trained_until: datetime | None    # None for versions logged before it was recorded
    split: dict[str, str]             # the split definition it was evaluated on
    events_version: str | None        # Delta version of silver.events

    def fair_on(self, holdout: Holdout, events_version: int) -> bool:
        """True when this version cannot have seen ``holdout``'s held-out events: its
        training data ended before them, or it was trained on this very split (same
        definition, same Delta version of the events)."""
        same_split = (self.split == holdout.definition
                      and self.events_version == str(events_version))
        return same_split or holdout.unseen_by(self.trained_until)


def trained_on(client: MlflowClient, version: int) -> TrainedOn:
    """Hyperparameters and training data of registered version ``version``."""
    run_id = client.get_model_version(registry.ALS_MODEL, str(version)).run_id
    if run_id is None:
        raise InputError(f"{registry.ALS_MODEL} v{version} is not linked to an MLflow run")
    data = client.get_run(run_id).data
    params = data.params
    until = params.get("trained_until")
    return TrainedOn(
        params=AlsParams(rank=int(params["rank"]), reg_param=float(params["reg_param"]),
                         alpha=float(params["alpha"])),
        trained_until=datetime.fromisoformat(until) if until else None,
        split={k.removeprefix("split."): v for k, v in params.items() if k.startswith("split.")},
        events_version=data.tags.get(f"delta.{SILVER}.events.version"))


def measure_champion(ctx: StepContext, client: MlflowClient, version: int, holdout: Holdout,
                     inputs: Inputs, ratings: DataFrame, fit_args: dict[str, Any]) -> Evidence:
    """The champion on this holdout, fairly.

    The registered model is measured as it is when its training data ended before the
    held-out events start, or when it was trained on this very split. Otherwise (the random
    protocol on other data, or a champion trained on data reaching into this test window) it
    has seen held-out pairs and would score too high:
    its hyperparameters are refitted on this split's training part and that model is
    measured instead, under the name ``champion vN (refit)``.
    """
    champion = trained_on(client, version)
    if champion.fair_on(holdout, inputs.versions[f"{SILVER}.events"]):
        return measure_model(f"champion v{version}", load_version(ctx, version), holdout,
                             inputs, ctx)
    log.info("champion v%d was trained on data up to %s, which overlaps the held-out events: "
             "refitting its hyperparameters %s on this split", version,
             champion.trained_until or "an unrecorded date", champion.params)
    return measure_model(f"champion v{version} (refit)",
                         fit_als(ratings, champion.params, **fit_args), holdout, inputs, ctx)


def run(ctx: StepContext) -> StepResult:
    cfg = ctx.config.recommend
    if not cfg.enabled:
        return StepResult(status="skipped", summary=["recommendations disabled"])
    spark, ks = ctx.spark, cfg.metrics_ks
    blocks = spark.sparkContext.defaultParallelism
    inputs = read_inputs(ctx)
    spec = confidence_spec(ctx)
    holdout = evaluation_holdout(ctx, inputs.events)
    fit_args: dict[str, Any] = {"max_iter": cfg.als.max_iter, "num_blocks": blocks,
                "checkpoint_interval": cfg.als.checkpoint_interval, "seed": cfg.als.seed,
                "implicit": not cfg.explicit_ratings}

    grid = search_grid(cfg.search.ranks, cfg.search.reg_params, cfg.search.alphas,
                       max_trials=cfg.search.max_trials, seed=cfg.als.seed)
    trials: list[tuple[AlsParams, float]] = []
    best = grid[0]
    if len(grid) > 1:
        validation = validation_holdout(
            holdout, spec, test_days=cfg.split.test_days, ratio=cfg.split.ratio,
            seed=cfg.split.seed, run_date=ctx.run_date,
            relevant_event_types=cfg.relevant_event_types)
        validation.relevant = validation.relevant.cache()
        if validation.relevant.limit(1).count() == 0:
            log.warning("validation split holds no relevant events: keeping default %s", best)
        else:
            val_ratings = prepare_ratings(
                with_indices(validation.train, inputs.user_index, inputs.item_index), blocks)

            def validation_ndcg(model: ALSModel) -> float:
                recs = model_top_k(model, validation, inputs, 10, cfg.users_per_block)
                return ranking_metrics(recs, validation.relevant, ks=(10,))[PRIMARY_METRIC]

            best, trials = tune(val_ratings, grid, validation_ndcg, **fit_args)
            val_ratings.unpersist()

    ratings = prepare_ratings(with_indices(holdout.train, inputs.user_index, inputs.item_index),
                              blocks)
    model = fit_als(ratings, best, **fit_args)
    new = measure_model("als", model, holdout, inputs, ctx)
    popularity = measure_popularity(holdout, inputs, ctx)

    client = registry.tracking(ctx.config.mlflow)
    champion_version = registry.alias_version(client, registry.ALS_MODEL, registry.CHAMPION)
    champion = None
    if champion_version is not None:
        champion = measure_champion(ctx, client, champion_version, holdout, inputs, ratings,
                                    fit_args)
    promote, why = promotion_decision(new, popularity, champion, margin=cfg.promotion_margin)

    version, run_id = log_and_register(ctx, client, model, best, trials, holdout, new,
                                       popularity, champion, promote, why, inputs.versions)
    alias = registry.CHAMPION if promote else registry.CHALLENGER
    registry.set_alias(client, registry.ALS_MODEL, alias, version)
    written = write_indices(ctx, inputs)
    ratings.unpersist()

    def line(ev: Evidence) -> str:
        return f"{ev.name:>14}: " + ", ".join(f"{m}@{k}={ev.metrics[f'{m}@{k}']:.4f}"
                                             for m in ("ndcg", "precision", "recall", "map")
                                             for k in (10,) if k in ks)
    summary = [f"trained on {SILVER}.events v{inputs.versions[f'{SILVER}.events']}, "
               f"split {json.dumps(holdout.definition)}",
               f"chose rank={best.rank} regParam={best.reg_param} alpha={best.alpha} "
               f"from {len(grid)} grid point(s)"
               + (f" (validation ndcg@10 {max(v for _, v in trials):.4f})" if trials else ""),
               line(new), line(popularity)]
    if champion is not None:
        summary.append(line(champion))
    summary.append(f"{registry.ALS_MODEL} v{version} -> {alias}: {why} (MLflow run {run_id})")
    return StepResult(rows_in=None, versions_read=inputs.versions, versions_written=written,
                      summary=summary)


def log_and_register(ctx: StepContext, client: MlflowClient, model: ALSModel, best: AlsParams,
                     trials: list[tuple[AlsParams, float]], holdout: Holdout, new: Evidence,
                     popularity: Evidence, champion: Evidence | None, promote: bool, why: str,
                     versions: dict[str, int]) -> tuple[int, str]:
    """One MLflow run: params, metrics at every k, plot, split, trials, model; registered."""
    import mlflow
    import mlflow.spark
    import pyspark

    cfg = ctx.config.recommend
    experiment = registry.ensure_experiment(ctx.config.mlflow, EXPERIMENT)
    artifacts = Path(ctx.config.paths.artifacts) / "train" / ctx.run_id
    with mlflow.start_run(experiment_id=experiment,
                          run_name=f"train {ctx.run_date.isoformat()}") as run:
        mlflow.log_params({**best.as_dict(), "max_iter": cfg.als.max_iter,
                           "implicit_prefs": not cfg.explicit_ratings,
                           "event_weights": json.dumps(dict(cfg.event_weights)),
                           "half_life_days": cfg.half_life_days,
                           "num_blocks": ctx.spark.sparkContext.defaultParallelism,
                           "grid_points": len(trials) or 1, "run_date": ctx.run_date.isoformat(),
                           "trained_until": holdout.trained_until.isoformat(),
                           **{f"split.{k}": v for k, v in holdout.definition.items()}})
        metrics = {metric_key(prefix, name): value
                   for prefix, ev in (("model", new), ("popularity", popularity),
                                      ("champion", champion)) if ev is not None
                   for name, value in ev.metrics.items() if value == value}  # drop NaN
        mlflow.log_metrics(metrics)
        mlflow.set_tags({**{f"delta.{name}.version": str(v) for name, v in versions.items()},
                         "promotion": "champion" if promote else "challenger",
                         "promotion_reason": why})
        mlflow.log_dict(holdout.definition, "evaluation/split.json")
        mlflow.log_dict({"trials": [{**p.as_dict(), "validation_ndcg@10": v}
                                    for p, v in trials]}, "evaluation/search.json")
        evidence = [ev for ev in (new, popularity, champion) if ev is not None]
        plot = plot_metrics_vs_k(evidence, cfg.metrics_ks, artifacts / "metrics_vs_k.png")
        mlflow.log_artifact(str(plot), "evaluation")
        info = mlflow.spark.log_model(model, artifact_path="model",
                                      pip_requirements=[f"pyspark=={pyspark.__version__}"])
        run_id = run.info.run_id
    version = registry.register(client, info.model_uri, registry.ALS_MODEL, run_id=run_id,
                                tags={"run_date": ctx.run_date.isoformat(),
                                      "ndcg_at_10": f"{new.primary:.6f}"})
    return version, run_id
