"""Step ``evaluate``: measure a registered ``lakerec-als`` version (the champion, or
``--version N``; with its blend weights when it is a blend) and the popularity baseline on
the current evaluation split.

The split is the one ``train`` would use for this run date (``recommend.split``). Metrics are
printed and logged to an MLflow run of the ``recommendations`` experiment tagged
``evaluate``; nothing is promoted. When the version's training data reaches into the held-out
events (the random protocol, or a later run date's window), the summary says its figures are
optimistic.
"""

from __future__ import annotations

import argparse
import json

from lakerec.core import registry
from lakerec.core.errors import InputError
from lakerec.core.schemas import Source
from lakerec.core.step import StepContext, StepResult
from lakerec.recs.ease import item_gram
from lakerec.recs.promotion import Evidence, metric_key
from lakerec.recs.training import (
    EXPERIMENT,
    candidates_on,
    confidence_spec,
    evaluation_holdout,
    load_version,
    measure_popularity,
    measure_version,
    read_inputs,
    trained_on,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", type=int, help="registered version to evaluate "
                        "(default: the champion)")


def run(ctx: StepContext) -> StepResult:
    import mlflow

    client = registry.tracking(ctx.config.mlflow)
    version = ctx.options.get("version") or registry.alias_version(
        client, registry.ALS_MODEL, registry.CHAMPION)
    if version is None:
        raise InputError(f"{registry.ALS_MODEL} has no champion; pass --version N "
                         "or run `lakerec train` first")
    inputs = read_inputs(ctx)
    holdout = evaluation_holdout(ctx, inputs.events)
    trained = trained_on(client, int(version))
    als = load_version(ctx.config.mlflow, int(version))
    spec = confidence_spec(ctx).with_settings(transform=trained.params.transform,
                                              half_life_days=trained.params.half_life_days)
    # EASE is scored at the version's own lambda, from this split's Gram matrix
    gram = (item_gram(holdout.train, max_items=ctx.config.recommend.ease.max_items)
            if trained.weights.ease > 0 else None)
    candidates = (None if trained.weights.family == Source.ALS
                  else candidates_on(holdout, inputs, als, spec, ctx, ease_gram=gram))
    model = measure_version(f"{registry.ALS_MODEL} v{version} ({trained.weights})", als,
                            trained, holdout, inputs, ctx, candidates)
    popularity = measure_popularity(holdout, inputs, ctx)
    if candidates is not None:
        candidates.unpersist()
    caveat = [] if trained.fair_on(holdout) else [
        f"caveat: v{version} was trained on data up to "
        f"{trained.trained_until or 'an unrecorded date'}, "
        "which overlaps the held-out events: its metrics here are optimistic (`train` refits "
        "its hyperparameters on the split before comparing)"]
    experiment = registry.ensure_experiment(ctx.config.mlflow, EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment,
                          run_name=f"evaluate v{version} {ctx.run_date.isoformat()}") as run:
        mlflow.set_tags({"step": "evaluate", "model_version": str(version),
                         **{f"delta.{n}.version": str(v) for n, v in inputs.versions.items()}})
        mlflow.log_dict(holdout.definition, "evaluation/split.json")
        mlflow.log_metrics({metric_key(prefix, name): value
                            for prefix, ev in (("model", model), ("popularity", popularity))
                            for name, value in ev.metrics.items() if value == value})

    def line(ev: Evidence) -> str:
        return f"{ev.name}: " + ", ".join(f"{n}={v:.4f}" for n, v in sorted(ev.metrics.items()))

    return StepResult(versions_read=inputs.versions, summary=[
        f"split {json.dumps(holdout.definition)}", line(model), line(popularity), *caveat,
        f"logged to MLflow run {run.info.run_id}"])
