"""How good are the pipeline's recommendations, next to the alternatives and to what the data
allows? The systems of ``lakerec bench ranking``, measured on one lake and one protocol.

Every system is trained on the evaluation holdout's training part (``recommend.split``) and
measured on its held-out events, as ``train`` measures:

* ``popularity``: the most popular unseen items;
* ``als_default``: ALS at the configured default point, no search;
* ``als_searched``: ALS with the settings the default search finds on validation;
* ``item_item``: SAR-style item-item collaborative filtering (``recommend.item_item``);
* ``ease``: EASE (:mod:`lakerec.recs.ease`) alone, its ``lambda`` chosen on the same
  validation split as the search's;
* ``pipeline``: what ``train`` serves: the searched ALS blended with item-item, EASE and
  popularity by the weights chosen on validation (it may pick one family alone);
* ``exhaustive``: the ceiling, "how good can this data get": a larger Optuna search over
  ALS scored on the held-out events themselves (an oracle no deployed system has), every
  item-item similarity metric, EASE's lambda, and the blend grid at the best ALS and
  lambda, again on the held-out events. Its figure is the best of all of these.

Seconds are wall time of training and scoring the system (the search, EASE's lambda choice
and the blend choice included), not of measuring it. The search and the lambda choice run
once and are charged to every system that uses them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from pyspark.sql import DataFrame

from lakerec.core.errors import InputError
from lakerec.core.schemas import USER_ID
from lakerec.core.step import StepContext
from lakerec.recs.baselines import popularity_top_k
from lakerec.recs.blend import choose_weights, weight_grid
from lakerec.recs.ease import EaseModel, Gram, choose_lambda, ease_top_k
from lakerec.recs.holdout import Holdout
from lakerec.recs.item_similarity import SIMILARITY_METRICS, item_item_top_k
from lakerec.recs.metrics import ranking_metrics
from lakerec.recs.promotion import PRIMARY_K, PRIMARY_METRIC
from lakerec.recs.search import AlsParams, search
from lakerec.recs.training import (
    candidates_on,
    default_params,
    ease_gram,
    evaluation_holdout,
    make_fitter,
    measure_recs,
    model_top_k,
    read_inputs,
)
from lakerec.recs.tuning import (
    Searched,
    choose_blend,
    choose_ease_lambda,
    choose_settings,
    configured_space,
    ease_fallback_lambda,
    start_points,
    validation_split,
)

log = logging.getLogger("lakerec.bench")

# EASE's lambdas the exhaustive search tries on the held-out events (Cornac's grid)
EXHAUSTIVE_EASE_LAMBDAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)
SYSTEMS = ("popularity", "als_default", "als_searched", "item_item", "ease", "pipeline",
           "exhaustive")


@dataclass
class SystemResult:
    system: str
    metrics: dict[str, float]
    seconds: float
    detail: str = ""     # chosen settings or family


def compare_systems(ctx: StepContext, *, exhaustive_trials: int,
                    systems: tuple[str, ...] = SYSTEMS) -> list[SystemResult]:
    """Each of ``systems`` on the lake and ``recommend.split`` of ``ctx`` (see the module
    docstring)."""
    cfg = ctx.config.recommend
    ks = cfg.metrics_ks
    inputs = read_inputs(ctx)
    holdout = evaluation_holdout(ctx, inputs.events)
    fitter = make_fitter(ctx, inputs)
    users = holdout.relevant.select(USER_ID).distinct().cache()
    k = max(ks)
    results: list[SystemResult] = []

    tuned: dict[str, object] = {}   # the validation split and the search, shared by systems
    # the systems are measured as trained on the evaluation split's training part, not on all
    # pairs as train's served refit: validation scores are projected to that size
    measured_share = cfg.split.ratio

    dropout_label = f", EDLAE dropout {cfg.ease.dropout:g}" if cfg.ease.dropout else ""

    def validation() -> Holdout | None:
        if "validation" not in tuned:
            tuned["validation"] = validation_split(ctx, holdout, fitter.spec)
        return tuned["validation"]  # type: ignore[return-value]

    def tuning() -> tuple[Holdout | None, Searched, float]:
        """Validation split and searched settings; the seconds they took unless already
        counted by an earlier system (then 0, and the caller adds them)."""
        if "searched" not in tuned:
            start = time.perf_counter()
            tuned.update(searched=choose_settings(ctx, validation(), inputs, fitter,
                                                   holdout=holdout, target=measured_share),
                         seconds=time.perf_counter() - start)
        return (validation(), tuned["searched"],  # type: ignore[return-value]
                tuned["seconds"])

    def ease_choice() -> tuple[EaseModel, dict[float, float]] | None:
        """EASE's lambda chosen on the validation split (None without one), once for the
        ``ease`` and ``pipeline`` systems; the seconds it took in ``tuned``."""
        if "ease" not in tuned:
            split = validation()
            start = time.perf_counter()
            tuned.update(ease=None if split is None else choose_ease_lambda(ctx, split),
                         ease_seconds=time.perf_counter() - start)
        return tuned["ease"]  # type: ignore[return-value]

    def timed(system: str, build: Callable[[], tuple[DataFrame, str]], *,
              uses_search: bool = False, uses_ease: bool = False) -> None:
        """``build`` the system's list, time it and measure it; a system that ``uses_search``
        (``uses_ease``) is charged the seconds of the search (of EASE's lambda choice) when
        an earlier system ran it."""
        if system not in systems:
            return
        log.info("bench: %s", system)
        searched_before, ease_before = "searched" in tuned, "ease" in tuned
        start = time.perf_counter()
        recs, detail = build()
        recs = recs.cache()
        recs.count()
        seconds = time.perf_counter() - start
        if uses_search and searched_before:
            seconds += float(tuned["seconds"])  # type: ignore[arg-type]
        if uses_ease and ease_before:
            seconds += float(tuned["ease_seconds"])  # type: ignore[arg-type]
        evidence = measure_recs(system, recs, holdout, inputs, ks=ks)
        recs.unpersist()
        results.append(SystemResult(system, evidence.metrics, seconds, detail))
        log.info("bench: %s %s=%.4f in %.0f s (%s)", system, PRIMARY_METRIC,
                 evidence.primary, seconds, detail)

    def als(params: AlsParams) -> DataFrame:
        return model_top_k(fitter.on_holdout(holdout, params), holdout, inputs, k,
                           cfg.users_per_block)

    def item_item(metric: str) -> DataFrame:
        item_cfg = cfg.item_item
        return item_item_top_k(holdout.train_with(fitter.spec), k, users=users, metric=metric,
                               min_cooccurrence=item_cfg.min_cooccurrence,
                               max_items_per_user=item_cfg.max_items_per_user,
                               neighbours=item_cfg.neighbours)

    def searched() -> tuple[DataFrame, str]:
        best = tuning()[1].params
        return als(best), str(best.as_dict())

    def test_gram() -> Gram:
        if gram is None:
            raise InputError("bench: no EASE: "
                             + (ease_left_out or "it is not in recommend.blend.families"))
        return gram

    def ease_list(model: EaseModel, depth: int) -> DataFrame:
        return ease_top_k(model, holdout.train, depth, users=users,
                          users_per_block=cfg.users_per_block)

    def pipeline() -> tuple[DataFrame, str]:
        split, searched, _ = tuning()
        best = searched.params
        blending = choose_blend(ctx, split, inputs, fitter, searched, ease=gram is not None,
                                ease_choice=ease_choice() if gram is not None else None,
                                target=measured_share)
        weights = blending.weights
        ease = (test_gram().model(blending.ease_lambda, cfg.ease.dropout)
                if blending.ease_lambda is not None else None)
        candidates = candidates_on(holdout, inputs, fitter.on_holdout(holdout, best),
                                   fitter.spec_for(best), ctx, ease=ease)
        recs = candidates.blended(weights, k).cache()
        recs.count()
        candidates.unpersist()
        lamb = f"; EASE lambda {blending.ease_lambda:g}" if weights.ease > 0 else ""
        confirmation = searched.confirmation
        confirmed = ("" if confirmation is None else
                     f"; {confirmation.challenger()} {confirmation.chosen.as_dict()} "
                     f"{confirmation.outcome()}")
        return recs, f"{weights.family}: {weights}{lamb}{confirmed}"

    def holdout_ndcg(recs: DataFrame, on: Holdout = holdout) -> float:
        return ranking_metrics(recs, on.relevant, ks=(PRIMARY_K,))[PRIMARY_METRIC]

    def ease() -> tuple[DataFrame, str]:
        fitted = test_gram()
        choice = ease_choice()
        if choice is None:
            lamb, chosen = ease_fallback_lambda(ctx), "no validation split"
        else:
            model, scores = choice
            lamb = model.lamb
            chosen = (f"validation {PRIMARY_METRIC} {scores[lamb]:.4f}, best of "
                      + ", ".join(f"{value:g}" for value in sorted(scores)))
        return (ease_list(fitted.model(lamb, cfg.ease.dropout), k),
                f"EASE lambda {lamb:g}{dropout_label} ({chosen})")

    def exhaustive() -> tuple[DataFrame, str]:
        best, _ = search(lambda params: holdout_ndcg(als(params)), default=default,
                         space=configured_space(ctx), trials=exhaustive_trials,
                         timeout_seconds=24 * 3600.0, seed=cfg.search.seed,
                         starts=start_points(ctx), grow_rank=cfg.search.grow_rank,
                         grow_rank_to=cfg.search.grow_rank_to)
        options: list[tuple[Callable[[], DataFrame], str]] = [
            (lambda: als(best), f"ALS {best.as_dict()}")]
        options += [(partial(item_item, metric), f"item-item {metric}")
                    for metric in SIMILARITY_METRICS]
        ease = None
        if gram is not None:
            ease, _ = choose_lambda(gram, lambda model: holdout_ndcg(ease_list(model, k)),
                                    EXHAUSTIVE_EASE_LAMBDAS, cfg.ease.dropout)
            options.append((partial(ease_list, ease, k),
                            f"EASE lambda {ease.lamb:g}{dropout_label}"))
        candidates = candidates_on(holdout, inputs, fitter.on_holdout(holdout, best),
                                   fitter.spec_for(best), ctx, ease=ease)
        weights, _ = choose_weights(candidates.lists,
                                    weight_grid(cfg.blend.weight_step, list(candidates.lists)),
                                    holdout.relevant, depth=candidates.depth, k=PRIMARY_K)
        options.append((lambda: candidates.blended(weights, k),
                        f"blend {weights} at that ALS and lambda"))
        best_recs, best_detail, best_score = None, "", -1.0
        for make, detail in options:
            recs = make().cache()
            score = holdout_ndcg(recs)
            log.info("exhaustive: %s %s=%.4f", detail, PRIMARY_METRIC, score)
            if score > best_score:
                if best_recs is not None:
                    best_recs.unpersist()
                best_recs, best_detail, best_score = recs, detail, score
            else:
                recs.unpersist()
        candidates.unpersist()
        assert best_recs is not None, "there is always an option"
        return best_recs, best_detail

    gram, ease_left_out = (ease_gram(holdout, ctx) if {"ease", "pipeline", "exhaustive"}
                           & set(systems) else (None, None))
    default = default_params(ctx)
    timed("popularity", lambda: (popularity_top_k(holdout.train, users, k), ""))
    timed("als_default", lambda: (als(default), str(default.as_dict())))
    timed("als_searched", searched, uses_search=True)
    timed("item_item", lambda: (item_item(cfg.item_item.similarity),
                                f"{cfg.item_item.similarity}, "
                                f"{cfg.item_item.neighbours or 'all'} neighbours"))
    timed("ease", ease)
    timed("pipeline", pipeline, uses_search=True, uses_ease=gram is not None)
    timed("exhaustive", exhaustive)
    users.unpersist()
    holdout.unpersist()
    split = tuned.get("validation")
    if isinstance(split, Holdout):
        split.unpersist()
    return results
