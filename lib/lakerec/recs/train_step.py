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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.ml.recommendation import ALSModel

from lakerec.core import registry
from lakerec.core.schemas import Source
from lakerec.core.step import StepContext, StepResult
from lakerec.recs.als import AlsParams, fit_als, prepare_ratings, search_grid, tune
from lakerec.recs.holdout import Holdout, validation_holdout
from lakerec.recs.interactions import with_indices
from lakerec.recs.metrics import ranking_metrics
from lakerec.recs.plots import plot_metrics_vs_k
from lakerec.recs.promotion import PRIMARY_METRIC, Evidence, metric_key, promotion_decision
from lakerec.recs.training import (
    EVENTS_VERSION,
    EXPERIMENT,
    confidence_spec,
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
    new = measure_model(Source.ALS, model, holdout, inputs, ctx)
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
    summary = [f"trained on {EVENTS_VERSION} v{inputs.versions[EVENTS_VERSION]}, "
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
