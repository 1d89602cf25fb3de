"""Step ``train``: silver events -> a tuned recommender (ALS, item-item, EASE, popularity, or
a blend of them), measured against popularity, registered as ``lakerec-als`` and promoted to
``champion`` only on evidence.

1. Confidences per (customer, item) and the stable id maps (``gold.user_index``,
   ``gold.item_index``, extended at the end of the step).
2. Hold out evaluation data (``recommend.split``), carve a validation split the same way from
   the training part, and on it: search ALS's rank, regParam, alpha, confidence transform
   and half-life by NDCG@10 (:mod:`lakerec.recs.search`; one MLflow child run per trial);
   then EASE's lambda (:mod:`lakerec.recs.ease`; left out above ``recommend.ease.max_items``
   items) and the blend weights of ALS, item-item, EASE and popularity
   (:mod:`lakerec.recs.blend`; a single family is a corner of the grid).
3. Measure every family and the chosen one (and the current champion, with its own
   weights) on the same held-out data: the evidence, with popularity bias (Gini, long-tail
   share) and NDCG per customer segment.
4. Refit ALS with the chosen settings on every event before the run date, held-out ones
   included: the model that is registered and served, with its family and weights logged
   beside the evidence (item-item, EASE at its logged lambda and popularity are recomputed
   from the data when serving); alias ``champion`` or ``challenger``
   (:func:`lakerec.recs.promotion.promotion_decision`). When no model beats popularity by
   ``recommend.min_lift_over_popularity``, the champion alias is removed and
   ``recommend`` serves the popularity fallback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.ml.recommendation import ALSModel

from lakerec.core import registry
from lakerec.core.dates import midnight
from lakerec.core.schemas import Source
from lakerec.core.settings import AlsSearchConfig
from lakerec.core.step import StepContext, StepResult
from lakerec.recs.blend import BLEND, BlendWeights, Weighing
from lakerec.recs.holdout import Holdout
from lakerec.recs.plots import plot_metrics_vs_k
from lakerec.recs.promotion import (
    PRIMARY_METRIC,
    Evidence,
    clears_popularity,
    metric_key,
    promotion_decision,
)
from lakerec.recs.search import AlsParams, Trial
from lakerec.recs.training import (
    EASE_DROPOUT_PARAM,
    EASE_LAMBDA_PARAM,
    EVENTS_VERSION,
    EXPERIMENT,
    NothingToEvaluateError,
    candidates_on,
    ease_gram,
    evaluation_holdout,
    foreign_to,
    lake_binding,
    make_fitter,
    measure_champion,
    measure_lists,
    read_inputs,
    trained_on,
    write_indices,
)
from lakerec.recs.tuning import (
    Blending,
    Confirmation,
    choose_blend,
    choose_settings,
    validation_split,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger("lakerec.train")


def run(ctx: StepContext) -> StepResult:
    cfg = ctx.config.recommend
    if not cfg.enabled:
        return StepResult(status="skipped", summary=["recommendations disabled"])
    ks = cfg.metrics_ks
    inputs = read_inputs(ctx)
    try:
        holdout = evaluation_holdout(ctx, inputs.events)
    except NothingToEvaluateError as exc:
        # tiny or degenerate data: no evidence for any model, so none is registered
        reason = (f"popularity only: {exc}; no model trained, `recommend` serves the champion "
                  "if there is one, else popularity")
        return StepResult(status="skipped", versions_read=inputs.versions, message=reason,
                          summary=[reason], warnings=[reason])
    fitter = make_fitter(ctx, inputs)
    client = registry.tracking(ctx.config.mlflow)
    champion_version = registry.alias_version(client, registry.ALS_MODEL, registry.CHAMPION)
    champion_on = trained_on(client, champion_version) if champion_version is not None else None
    foreign = foreign_to(champion_on.binding, ctx.lake) if champion_on is not None else None
    carried = (champion_on.params if champion_on is not None and not foreign
               and cfg.search.carry_champion else None)
    # Carrying on, the search after model version N draws with seed + N: the configured seed
    # alone would repeat the draws of every earlier search, also while a champion is kept and
    # its challengers are not promoted. Still reproducible: the same lake and registry give
    # the same search.
    newest = (registry.latest_version(client, registry.ALS_MODEL)
              if cfg.search.carry_champion else None)
    seed = cfg.search.seed + (newest or 0)
    gram, ease_left_out = ease_gram(holdout, ctx, needed=champion_on is not None
                                    and champion_on.weights.ease > 0)
    warnings = [ease_left_out] if ease_left_out else []
    validation = validation_split(ctx, holdout, fitter.spec)
    settings = choose_settings(ctx, validation, inputs, fitter, carried=carried, seed=seed,
                               holdout=holdout)
    best, trials = settings.params, settings.trials
    carried_from = champion_version if carried is not None and trials else None
    blending = choose_blend(ctx, validation, inputs, fitter, settings, ease=gram is not None)
    weights, weighings = blending.weights, blending.weighings
    if validation is not None:
        validation.unpersist()

    ease = (gram.model(blending.ease_lambda, cfg.ease.dropout)
            if gram is not None and blending.ease_lambda is not None else None)
    candidates = candidates_on(holdout, inputs, fitter.on_holdout(holdout, best),
                               fitter.spec_for(best), ctx, ease=ease, ease_gram=gram)
    # every family and the chosen blend, measured together; popularity under its own name
    named = {("popularity" if name == Source.POPULAR else str(name)): name
             for name in candidates.lists}
    lists = {evidence: candidates.lists[name] for evidence, name in named.items()}
    if weights.family == BLEND:
        lists[BLEND] = candidates.blended(weights, max(ks))
    measured = measure_lists(lists, holdout, inputs, ks=ks)
    families = {name: measured[evidence] for evidence, name in named.items()}
    popularity = families[Source.POPULAR]
    new = measured[BLEND] if weights.family == BLEND else families[weights.family]
    champion = None
    if foreign:
        warnings.append(f"{registry.ALS_MODEL} v{champion_version} (champion) is not compared "
                        f"and keeps its alias: {foreign}")
    elif champion_version is not None and champion_on is not None:
        champion = measure_champion(ctx, champion_version, champion_on, holdout, inputs, fitter,
                                    candidates)
    candidates.unpersist()
    holdout.unpersist()
    lift = cfg.min_lift_over_popularity
    promote, why = promotion_decision(new, popularity, champion, margin=cfg.promotion_margin,
                                      popularity_margin=lift)
    weak = not promote and (champion is None or not clears_popularity(champion, popularity,
                                                                      lift))

    until = midnight(ctx.run_date)
    served, pairs = fitter.on_everything(until, best)
    written = write_indices(ctx, inputs)  # before registering: the version is bound to them
    evidence = {"model": new, "popularity": popularity,
                **{str(name): ev for name, ev in families.items() if name != Source.POPULAR}}
    if champion is not None:
        evidence["champion"] = champion
    version, run_id = log_and_register(ctx, client, served, best, blending, trials,
                                       holdout, evidence, promote, why, inputs.versions,
                                       trained_until=until, training_pairs=pairs,
                                       carried_from=carried_from, search_seed=seed,
                                       confirmation=settings.confirmation)
    alias = registry.CHAMPION if promote else registry.CHALLENGER
    registry.set_alias(client, registry.ALS_MODEL, alias, version)
    if weak:
        served_now = f", champion {champion.primary:.4f}" if champion is not None else ""
        warnings.append(
            f"no recommender beats popularity's {PRIMARY_METRIC} {popularity.primary:.4f} by "
            f"{lift:.0%} (new model {new.primary:.4f}{served_now}): `recommend` serves the "
            "popularity fallback until one does")
        if not foreign:  # another lake's champion is that lake's to keep
            registry.remove_alias(client, registry.ALS_MODEL, registry.CHAMPION)
        client.set_tag(run_id, "warning", warnings[-1])

    def line(ev: Evidence) -> str:
        figures = [f"{m}@10={ev.metrics[f'{m}@10']:.4f}" for m in ("ndcg", "precision",
                                                                   "recall", "map")
                   if f"{m}@10" in ev.metrics]
        k = max(ks)
        figures += [f"{m}@{k}={ev.metrics[f'{m}@{k}']:.3f}" for m in ("coverage", "gini",
                                                                      "long_tail")]
        return f"{ev.name:>14}: " + ", ".join(figures)
    searched = describe_search(trials, best, carried_from, carried, cfg.search,
                               settings.confirmation)
    blended = f" ({describe_choice(weights, weighings)})" if weighings else ""
    summary = [f"trained on {EVENTS_VERSION} v{inputs.versions[EVENTS_VERSION]}, "
               f"split {json.dumps(holdout.definition)}",
               f"ALS settings: {describe(best)}{searched}",
               f"family: {weights.family} ({weights}){blended}",
               describe_ease(blending, cfg.blend.families, cfg.ease.dropout,
                             left_out=ease_left_out is not None),
               *(line(ev) for ev in families.values())]
    if weights.family == BLEND:
        summary.append(line(new))
    if champion is not None:
        summary.append(line(champion))
    summary.append(f"{registry.ALS_MODEL} v{version} ({weights.family}; ALS refitted on "
                   f"{pairs:,} pairs up to {ctx.run_date}) -> {alias}: {why} "
                   f"(MLflow run {run_id})")
    k = max(ks)
    highlight = (f"{weights.family} ({weights}) NDCG@10 {new.primary:.4f} vs popularity "
                 f"{popularity.primary:.4f} ({new.primary / popularity.primary - 1:+.0%})"
                 if popularity.primary else f"{weights.family} NDCG@10 {new.primary:.4f}")
    highlight += (f", exposure Gini {new.metrics[f'gini@{k}']:.2f}, long tail "
                  f"{new.metrics[f'long_tail@{k}']:.0%} of slots; {registry.ALS_MODEL} "
                  f"v{version} -> {alias}")
    if trials:
        highlight += (f"; {len(trials)} search trials" + (
            f", carrying on from champion v{carried_from}'s settings" if carried_from
            else ", no champion to carry on from"))
    return StepResult(rows_in=None, versions_read=inputs.versions, versions_written=written,
                      summary=summary, warnings=warnings, highlights=[highlight])


def describe(params: AlsParams) -> str:
    half_life = ("no decay" if params.half_life_days is None
                 else f"half-life {params.half_life_days:g} d")
    return (f"rank={params.rank} regParam={params.reg_param:.4g} alpha={params.alpha:.4g} "
            f"{params.transform} confidence, {half_life}")


def describe_search(trials: list[Trial], chosen: AlsParams, carried_from: int | None,
                    carried: AlsParams | None, cfg: AlsSearchConfig,
                    confirmation: Confirmation | None = None) -> str:
    """What the closing report says of the search: the chosen trial's validation score and
    how it was chosen (pruned trials, the champion's settings, a doubled rank standing for
    its parent, an earlier trial kept over the best within ``cfg.tolerance_se``, the
    choice confirmed or overturned on further validation draws)."""
    if not trials:
        return " (the default point; no search)"
    pruned = sum(t.pruned for t in trials)
    notes = [f"{pruned} pruned"] if pruned else []
    if carried_from is not None:
        notes.append(f"champion v{carried_from}'s settings "
                     + ("chosen again" if chosen == carried else "tried, not chosen"))
    top = max(t.value for t in trials if not t.pruned)
    kept = next(t for t in trials if t.params == chosen and not t.pruned)
    if kept.grown_from is not None:
        parent = next(t for t in trials if t.number == kept.grown_from)
        tolerance = f"grow_tolerance_se={cfg.grow_tolerance_se:g}"
        if kept.params.rank > cfg.rank[1]:   # past the range: grown on a real gain only
            how = (f" to {kept.params.rank}, past search.rank's top ({cfg.rank[1]}), "
                   f"scoring more than {tolerance} above it")
        elif kept.value > parent.value:
            how = ", scoring above it"
        else:
            how = f", within {tolerance} of its score"
        notes.append(f"trial {kept.grown_from}'s rank doubled{how}")
    overturned = confirmation is not None and not confirmation.confirmed
    if confirmation is not None and not overturned:
        notes.append(("served over the default point the tie rule kept: "
                      if confirmation.tie else "") + f"it {confirmation.outcome()}")
    elif confirmation is not None:
        searched = next(t for t in trials if t.params == confirmation.chosen and not t.pruned)
        notes.append(f"the default point kept over {confirmation.challenger()}, trial "
                     f"{searched.number} "
                     f"({searched.value:.4f} on the search's draw), which "
                     f"{confirmation.outcome()}")
    if kept.value < top and not overturned:
        se = f" of {kept.shortfall_se:.4f}" if kept.shortfall_se is not None else ""
        notes.append(f"kept over the best trial's {top:.4f}, {top - kept.value:.4f} below it: "
                     f"within tolerance_se={cfg.tolerance_se:g} standard errors{se}")
    return (f" (validation ndcg@10 {kept.value:.4f} over {len(trials)} trials"
            + "".join(f"; {n}" for n in notes) + ")")


def describe_ease(blending: Blending, families: Sequence[str], dropout: float, *,
                  left_out: bool) -> str:
    """What the closing report says of EASE: its lambda (and EDLAE ``dropout``, when not 0)
    and how it was chosen."""
    if Source.EASE not in families:
        return "EASE: not among recommend.blend.families"
    if left_out or blending.ease_lambda is None:
        return "EASE: left out (see the warnings)" if left_out else "EASE: not tried"
    chosen = f"EASE: lambda={blending.ease_lambda:g}" + (
        f", EDLAE dropout={dropout:g}" if dropout else "")
    if not blending.ease_scores:
        return f"{chosen} (no validation split to choose on)"
    tried = ", ".join(f"{lamb:g}: {score:.4f}"
                      for lamb, score in sorted(blending.ease_scores.items()))
    return f"{chosen} (validation {PRIMARY_METRIC} by lambda {tried})"


def describe_choice(weights: BlendWeights, weighings: list[Weighing]) -> str:
    """The chosen weighting's validation score, and the best one's when it was passed over
    for a simpler one within the tolerance."""
    chosen = next(w for w in weighings if w.weights == weights)
    best = max(weighings, key=lambda w: w.score)
    text = f"validation {PRIMARY_METRIC} {chosen.score:.4f} over {len(weighings)} weightings"
    if best.score > chosen.score:
        text += (f"; simpler than {best.weights} ({best.score:.4f}), which leads it by "
                 f"{chosen.shortfall:.4f} +/- {chosen.shortfall_se:.4f}")
    return text


def log_and_register(ctx: StepContext, client: MlflowClient, model: ALSModel, best: AlsParams,
                     blending: Blending, trials: list[Trial], holdout: Holdout,
                     evidence: dict[str, Evidence], promote: bool, why: str,
                     versions: dict[str, int], *, trained_until: datetime,
                     training_pairs: int, carried_from: int | None,
                     search_seed: int,
                     confirmation: Confirmation | None = None) -> tuple[int, str]:
    """One MLflow run: params (ALS settings, family and blend weights, EASE's lambda, and the
    champion version whose settings the search tried second), the evidence of every
    family at every k (prefix ``model.`` for the chosen one), plot, split, one child run per
    search trial, the blend weightings and EASE lambdas tried, and the served ALS model;
    registered with its family as a tag."""
    import mlflow

    cfg = ctx.config.recommend
    weights = blending.weights
    experiment = registry.ensure_experiment(ctx.config.mlflow, EXPERIMENT)
    artifacts = Path(ctx.config.paths.artifacts) / "train" / ctx.run_id
    with mlflow.start_run(experiment_id=experiment,
                          run_name=f"train {ctx.run_date.isoformat()}") as run:
        mlflow.log_params({**best.as_dict(), **weights.logged(), "family": weights.family,
                           "max_iter": cfg.als.max_iter,
                           "implicit_prefs": not cfg.explicit_ratings,
                           "event_weights": json.dumps(dict(cfg.event_weights)),
                           "confidence_epsilon": cfg.confidence_epsilon,
                           **{f"item_item.{k}": v for k, v in cfg.item_item.model_dump().items()},
                           EASE_LAMBDA_PARAM: blending.ease_lambda,
                           EASE_DROPOUT_PARAM: cfg.ease.dropout,
                           "ease.max_items": cfg.ease.max_items,
                           "num_blocks": ctx.spark.sparkContext.defaultParallelism,
                           "search_trials": len(trials) or 1,
                           "search_trial_max_iter": cfg.search.trial_max_iter or cfg.als.max_iter,
                           "search_tolerance_se": cfg.search.tolerance_se,
                           "search_confirm_draws": cfg.search.confirm_draws,
                           "split_projection_share": cfg.split.projection_share,
                           "search_prune_after_iterations": cfg.search.prune_after_iterations,
                           "search_start_points": len(cfg.search.start_points),
                           "search_grow_rank": cfg.search.grow_rank,
                           "search_grow_tolerance_se": cfg.search.grow_tolerance_se,
                           "search_grow_rank_to": cfg.search.grow_rank_to,
                           "search_carried_from": carried_from,
                           "search_seed": search_seed,
                           "run_date": ctx.run_date.isoformat(),
                           "trained_until": trained_until.isoformat(),
                           "training_pairs": training_pairs,
                           "evidence_trained_until": holdout.trained_until.isoformat(),
                           **{f"split.{k}": v for k, v in holdout.definition.items()}})
        metrics = {metric_key(prefix, name): value
                   for prefix, ev in evidence.items()
                   for name, value in ev.metrics.items() if value == value}  # drop NaN
        mlflow.log_metrics(metrics)
        mlflow.set_tags({**{f"delta.{name}.version": str(v) for name, v in versions.items()},
                         "family": weights.family,
                         "promotion": "champion" if promote else "challenger",
                         "promotion_reason": why})
        mlflow.log_dict(holdout.definition, "evaluation/split.json")
        for trial in trials:
            with mlflow.start_run(experiment_id=experiment, nested=True,
                                  run_name=f"trial {trial.number}"):
                mlflow.log_params({**trial.params.as_dict(), "trial": trial.number,
                                   "pruned": trial.pruned, "grown_from": trial.grown_from})
                mlflow.log_metrics({"validation.ndcg_at_10": trial.value,
                                    "seconds": trial.seconds,
                                    **({"validation.shortfall_se": trial.shortfall_se}
                                       if trial.shortfall_se is not None else {})})
        mlflow.log_dict({"tolerance_se": cfg.search.tolerance_se,
                         "grow_tolerance_se": cfg.search.grow_tolerance_se,
                         "grow_rank_to": cfg.search.grow_rank_to,
                         "confirm_draws": cfg.search.confirm_draws,
                         "projection_share": cfg.split.projection_share,
                         "confirmation": (confirmation.logged()
                                          if confirmation is not None else None),
                         "trials": [{"trial": t.number, **t.params.as_dict(),
                                     "validation_ndcg@10": t.value, "seconds": t.seconds,
                                     "pruned": t.pruned, "grown_from": t.grown_from,
                                     "shortfall_se": t.shortfall_se,
                                     "chosen": t.params == best and not t.pruned}
                                    for t in trials]},
                        "evaluation/search.json")
        mlflow.log_dict({"metric": f"validation {PRIMARY_METRIC}",
                         "tolerance_se": cfg.blend.tolerance_se,
                         "weightings": [w.logged() for w in blending.weighings]},
                        "evaluation/blend.json")
        mlflow.log_dict({"metric": f"validation {PRIMARY_METRIC}",
                         "chosen": blending.ease_lambda,
                         "lambdas": [{"lambda": lamb, "score": score}
                                     for lamb, score in sorted(blending.ease_scores.items())]},
                        "evaluation/ease.json")
        unique = list({ev.name: ev for ev in evidence.values()}.values())
        plot = plot_metrics_vs_k(unique, cfg.metrics_ks, artifacts / "metrics_vs_k.png")
        mlflow.log_artifact(str(plot), "evaluation")
        info = registry.log_spark_model(model)
        run_id = run.info.run_id
    version = registry.register(client, info.model_uri, registry.ALS_MODEL, run_id=run_id,
                                tags={**lake_binding(ctx.lake),
                                      "run_date": ctx.run_date.isoformat(),
                                      "family": weights.family,
                                      "ndcg_at_10": f"{evidence['model'].primary:.6f}"})
    return version, run_id
