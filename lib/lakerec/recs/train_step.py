"""Step ``train``: silver events -> a tuned ALS model, measured against popularity, registered
as ``lakerec-als`` and promoted to ``champion`` only on evidence.

1. Confidences per (customer, item) and the stable id maps (``gold.user_index``,
   ``gold.item_index``, extended at the end of the step).
2. Hold out evaluation data (``recommend.split``), carve a validation split the same way from
   the training part, and search rank, regParam, alpha, the confidence transform and the
   half-life on it by NDCG@10 (:mod:`lakerec.recs.search`; one MLflow child run per trial).
3. Fit the chosen settings on the training part and measure that model, the popularity
   baseline and the current champion on the same held-out data: the evidence.
4. Refit the chosen settings on every event before the run date, held-out ones included: the
   model that is registered and served, with the evidence logged beside it; alias
   ``champion`` or ``challenger`` (:func:`lakerec.recs.promotion.promotion_decision`). When no
   model beats popularity by ``recommend.min_lift_over_popularity``, the champion alias is
   removed and ``recommend`` serves the popularity fallback.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.ml.recommendation import ALSModel

from lakerec.core import registry
from lakerec.core.dates import midnight
from lakerec.core.schemas import Source
from lakerec.core.step import StepContext, StepResult
from lakerec.recs.holdout import ConfidenceSpec, Holdout, validation_holdout
from lakerec.recs.metrics import ranking_metrics
from lakerec.recs.plots import plot_metrics_vs_k
from lakerec.recs.promotion import (
    PRIMARY_METRIC,
    Evidence,
    clears_popularity,
    metric_key,
    promotion_decision,
)
from lakerec.recs.search import AlsParams, SearchSpace, Trial, search, space_around
from lakerec.recs.training import (
    EVENTS_VERSION,
    EXPERIMENT,
    Fitter,
    Inputs,
    confidence_spec,
    default_params,
    evaluation_holdout,
    measure_champion,
    measure_model,
    measure_popularity,
    model_top_k,
    read_inputs,
    write_indices,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger("lakerec.train")


def run(ctx: StepContext) -> StepResult:
    cfg = ctx.config.recommend
    if not cfg.enabled:
        return StepResult(status="skipped", summary=["recommendations disabled"])
    spark, ks = ctx.spark, cfg.metrics_ks
    blocks = spark.sparkContext.defaultParallelism
    inputs = read_inputs(ctx)
    spec = confidence_spec(ctx)
    holdout = evaluation_holdout(ctx, inputs.events)
    fitter = Fitter(inputs, spec, {"max_iter": cfg.als.max_iter, "num_blocks": blocks,
                                   "checkpoint_interval": cfg.als.checkpoint_interval,
                                   "seed": cfg.als.seed, "implicit": not cfg.explicit_ratings},
                    blocks)
    best, trials = choose_settings(ctx, holdout, inputs, fitter, spec)

    new = measure_model(Source.ALS, fitter.on_holdout(holdout, best), holdout, inputs, ctx)
    popularity = measure_popularity(holdout, inputs, ctx)
    client = registry.tracking(ctx.config.mlflow)
    champion_version = registry.alias_version(client, registry.ALS_MODEL, registry.CHAMPION)
    champion = None
    if champion_version is not None:
        champion = measure_champion(ctx, client, champion_version, holdout, inputs, fitter)
    lift = cfg.min_lift_over_popularity
    promote, why = promotion_decision(new, popularity, champion, margin=cfg.promotion_margin,
                                      popularity_margin=lift)
    weak = not promote and (champion is None or not clears_popularity(champion, popularity,
                                                                      lift))

    until = midnight(ctx.run_date)
    served, pairs = fitter.on_everything(until, best)
    version, run_id = log_and_register(ctx, client, served, best, trials, holdout, new,
                                       popularity, champion, promote, why, inputs.versions,
                                       trained_until=until, training_pairs=pairs)
    alias = registry.CHAMPION if promote else registry.CHALLENGER
    registry.set_alias(client, registry.ALS_MODEL, alias, version)
    warnings = []
    if weak:
        served_now = f", champion {champion.primary:.4f}" if champion is not None else ""
        warnings.append(
            f"no recommender beats popularity's {PRIMARY_METRIC} {popularity.primary:.4f} by "
            f"{lift:.0%} (new model {new.primary:.4f}{served_now}): `recommend` serves the "
            "popularity fallback until one does")
        registry.remove_alias(client, registry.ALS_MODEL, registry.CHAMPION)
        client.set_tag(run_id, "warning", warnings[0])
    written = write_indices(ctx, inputs)

    def line(ev: Evidence) -> str:
        return f"{ev.name:>14}: " + ", ".join(f"{m}@{k}={ev.metrics[f'{m}@{k}']:.4f}"
                                             for m in ("ndcg", "precision", "recall", "map")
                                             for k in (10,) if k in ks)
    searched = (f" (validation ndcg@10 {max(t.value for t in trials):.4f} over "
                f"{len(trials)} trials)" if trials else " (the default point; no search)")
    summary = [f"trained on {EVENTS_VERSION} v{inputs.versions[EVENTS_VERSION]}, "
               f"split {json.dumps(holdout.definition)}",
               f"chose {describe(best)}{searched}",
               line(new), line(popularity)]
    if champion is not None:
        summary.append(line(champion))
    summary.append(f"{registry.ALS_MODEL} v{version} (refitted on {pairs:,} pairs up to "
                   f"{ctx.run_date}) -> {alias}: {why} (MLflow run {run_id})")
    return StepResult(rows_in=None, versions_read=inputs.versions, versions_written=written,
                      summary=summary, warnings=warnings)


def describe(params: AlsParams) -> str:
    half_life = ("no decay" if params.half_life_days is None
                 else f"half-life {params.half_life_days:g} d")
    return (f"rank={params.rank} regParam={params.reg_param:.4g} alpha={params.alpha:.4g} "
            f"{params.transform} confidence, {half_life}")


def choose_settings(ctx: StepContext, holdout: Holdout, inputs: Inputs, fitter: Fitter,
                    spec: ConfidenceSpec) -> tuple[AlsParams, list[Trial]]:
    """The searched settings (or the default point when the search is off or has no data)."""
    cfg = ctx.config.recommend
    default = default_params(ctx)
    if cfg.search.trials <= 1:
        return default, []
    validation = validation_holdout(
        holdout, spec, test_days=cfg.split.test_days, ratio=cfg.split.ratio,
        seed=cfg.split.seed, run_date=ctx.run_date,
        relevant_event_types=cfg.relevant_event_types)
    validation.relevant = validation.relevant.cache()
    if validation.relevant.limit(1).count() == 0:
        log.warning("validation split holds no relevant events: keeping the default %s",
                    describe(default))
        return default, []

    def validation_ndcg(params: AlsParams) -> float:
        model = fitter.on_holdout(validation, params)
        recs = model_top_k(model, validation, inputs, 10, cfg.users_per_block)
        return ranking_metrics(recs, validation.relevant, ks=(10,))[PRIMARY_METRIC]

    search_cfg = cfg.search
    space = space_around(default, SearchSpace(
        rank=search_cfg.rank, reg_param=search_cfg.reg_param, alpha=search_cfg.alpha,
        transforms=search_cfg.transforms, half_lives=search_cfg.half_lives))
    try:
        return search(validation_ndcg, default=default, space=space, trials=search_cfg.trials,
                      timeout_seconds=search_cfg.timeout_seconds, seed=search_cfg.seed)
    finally:
        validation.relevant.unpersist()


def log_and_register(ctx: StepContext, client: MlflowClient, model: ALSModel, best: AlsParams,
                     trials: list[Trial], holdout: Holdout, new: Evidence,
                     popularity: Evidence, champion: Evidence | None, promote: bool, why: str,
                     versions: dict[str, int], *, trained_until: datetime,
                     training_pairs: int) -> tuple[int, str]:
    """One MLflow run: params, the evidence at every k, plot, split, one child run per search
    trial, and the served model; registered."""
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
                           "confidence_epsilon": cfg.confidence_epsilon,
                           "num_blocks": ctx.spark.sparkContext.defaultParallelism,
                           "search_trials": len(trials) or 1,
                           "run_date": ctx.run_date.isoformat(),
                           "trained_until": trained_until.isoformat(),
                           "training_pairs": training_pairs,
                           "evidence_trained_until": holdout.trained_until.isoformat(),
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
        for trial in trials:
            with mlflow.start_run(experiment_id=experiment, nested=True,
                                  run_name=f"trial {trial.number}"):
                mlflow.log_params({**trial.params.as_dict(), "trial": trial.number})
                mlflow.log_metrics({"validation.ndcg_at_10": trial.value,
                                    "seconds": trial.seconds})
        mlflow.log_dict({"trials": [{**t.params.as_dict(), "validation_ndcg@10": t.value,
                                     "seconds": t.seconds} for t in trials]},
                        "evaluation/search.json")
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
