"""Tuning on a validation split carved from the evaluation holdout's training part: the ALS
settings (:mod:`lakerec.recs.search`), EASE's lambda (:mod:`lakerec.recs.ease`) and the blend
weights (:mod:`lakerec.recs.blend`). Shared by ``train`` and ``lakerec bench ranking``."""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame

from lakerec.core.schemas import USER_ID, Source
from lakerec.core.step import StepContext
from lakerec.recs.blend import BlendWeights, Weighing, choose_weights, weight_grid
from lakerec.recs.ease import EaseModel, choose_lambda, ease_top_k, item_gram
from lakerec.recs.holdout import ConfidenceSpec, Holdout, validation_holdout
from lakerec.recs.metrics import ndcg_per_user
from lakerec.recs.promotion import PRIMARY_K
from lakerec.recs.search import (
    AlsParams,
    SearchSpace,
    Trial,
    search,
    space_around,
    successor,
)
from lakerec.recs.search import chosen as best_trial
from lakerec.recs.training import (
    Fitter,
    Inputs,
    candidates_on,
    default_params,
    model_top_k,
)

log = logging.getLogger("lakerec.train")


def validation_split(ctx: StepContext, holdout: Holdout, spec: ConfidenceSpec, *,
                     draw: int = 0) -> Holdout | None:
    """The validation split carved from ``holdout``'s training part (cached), or ``None`` when
    nothing is tuned (one search trial, one blend weighting and at most one EASE lambda) or
    it holds no relevant event. ``draw`` n > 0 is a further draw of the random protocol
    (its seed n higher; the time protocol has one validation split only, as ``draw`` 0)."""
    cfg = ctx.config.recommend
    tunes_ease = Source.EASE in cfg.blend.families and len(cfg.ease.lambdas) > 1
    if cfg.search.trials <= 1 and len(configured_grid(ctx)) <= 1 and not tunes_ease:
        return None
    validation = validation_holdout(
        holdout, spec, test_days=cfg.split.test_days,
        ratio=cfg.split.validation_ratio or cfg.split.ratio, seed=cfg.split.seed + draw,
        run_date=ctx.run_date,
        relevant_event_types=cfg.relevant_event_types)
    # every trial reads the training pairs (the pairs it fits on, the items it never
    # recommends), as do EASE and the blend's candidates: computed from the events once
    validation.train = validation.train.cache()
    validation.relevant = validation.relevant.cache()
    if validation.relevant.limit(1).count() == 0:
        log.warning("the validation split holds no relevant events: keeping the default "
                    "settings, ALS alone")
        validation.unpersist()
        return None
    return validation


@dataclass(frozen=True)
class Projection:
    """``recommend.split.projection_share``: validation scores measured once more on
    ``share`` of the validation training pairs, and extrapolated through the two sizes,
    linear in the log of the pairs, ``reach`` steps on to the size of the model that follows
    (the served refit, or the model a benchmark measures)."""

    share: float
    reach: float
    """log(that model's pairs / validation's pairs) / log(validation's / thinned's)."""

    def project(self, measured: float, thinned: float) -> float:
        return measured + (measured - thinned) * self.reach

    def lead_se(self, measured: Mapping[AlsParams, Mapping[str, float]],
                thinned: Mapping[AlsParams, Mapping[str, float]], chosen: AlsParams,
                default: AlsParams) -> float:
        """The standard error of the projected lead of ``chosen`` over ``default``, paired
        customer by customer: each customer's lead carried on along the line through their
        lead on the thinned fits, as :meth:`project` carries the means (customers' scores by
        setting, ``measured`` on validation, ``thinned`` on the thinned pairs; a missing
        customer scores 0); NaN for fewer than two customers."""
        customers = set(measured[chosen]) | set(measured[default])

        def lead(scores: Mapping[AlsParams, Mapping[str, float]], user: str) -> float:
            return scores[chosen].get(user, 0.0) - scores[default].get(user, 0.0)

        leads = [self.project(lead(measured, user), lead(thinned, user)) for user in customers]
        return statistics.stdev(leads) / math.sqrt(len(leads)) if len(leads) > 1 else math.nan


def projection(ctx: StepContext, holdout: Holdout, target: float = 1.0) -> Projection | None:
    """The configured :class:`Projection` for validation splits carved from ``holdout`` (the
    evaluation split, or the validation split itself), to a model trained on ``target`` of
    all pairs (1: the served refit's; ``lakerec bench ranking`` measures the model trained
    on the evaluation split's training part, ``split.ratio``); or ``None``: not configured,
    or the time protocol (whose validation split is a time window, not a share of the
    pairs)."""
    split = ctx.config.recommend.split
    if split.projection_share is None or holdout.definition["protocol"] != "random":
        return None
    validation_share = split.ratio * (split.validation_ratio or split.ratio)
    return Projection(split.projection_share, math.log(validation_share / target)
                      / math.log(split.projection_share))


def validation_scores(recs: DataFrame, validation: Holdout) -> dict[str, float]:
    """Each validation customer's NDCG@10 (0 when none of their items is recommended)."""
    rows = ndcg_per_user(recs, validation.relevant, PRIMARY_K).collect()
    return {row[USER_ID]: float(row["ndcg"]) for row in rows}


def mean_score(scores: dict[str, float]) -> float:
    """The validation NDCG@10: the mean of the customers' scores (NaN for none)."""
    return math.fsum(scores.values()) / len(scores) if scores else math.nan


def validation_ndcg(recs: DataFrame, validation: Holdout) -> float:
    return mean_score(validation_scores(recs, validation))


def configured_grid(ctx: StepContext, *, ease: bool = True) -> list[BlendWeights]:
    """The blend weightings ``recommend.blend`` allows (without EASE when ``ease`` is
    false: its catalogue is too large)."""
    blend_cfg = ctx.config.recommend.blend
    families = [name for name in blend_cfg.families if ease or name != Source.EASE]
    return weight_grid(blend_cfg.weight_step, families or [Source.ALS])


def ease_fallback_lambda(ctx: StepContext) -> float:
    """EASE's lambda when there is no validation split to choose it on: the middle one of
    ``recommend.ease.lambdas``."""
    lambdas = sorted(ctx.config.recommend.ease.lambdas)
    return lambdas[len(lambdas) // 2]


def choose_ease_lambda(ctx: StepContext, validation: Holdout
                       ) -> tuple[EaseModel, dict[float, float]]:
    """EASE fitted on ``validation``'s training part with the ``recommend.ease.lambdas``
    value that scores best on it by NDCG@10 (the larger on a tie), and every value's score.

    Raises
    ------
    TooManyItemsError
        Above ``recommend.ease.max_items`` items.
    """
    cfg = ctx.config.recommend
    gram = item_gram(validation.train, max_items=cfg.ease.max_items)
    users = validation.relevant.select(USER_ID).distinct()

    def score(model: EaseModel) -> float:
        return validation_ndcg(ease_top_k(model, validation.train, PRIMARY_K, users=users,
                                          users_per_block=cfg.users_per_block), validation)

    return choose_lambda(gram, score, cfg.ease.lambdas, cfg.ease.dropout)


def start_points(ctx: StepContext) -> list[AlsParams]:
    """``recommend.search.start_points``: tried right after the default point."""
    return [AlsParams(**point.model_dump()) for point in ctx.config.recommend.search.start_points]


def configured_space(ctx: StepContext, starts: Sequence[AlsParams] | None = None) -> SearchSpace:
    """``recommend.search``'s ranges, widened to hold the default point and ``starts`` (the
    configured start points when ``None``), but for the top of the rank range
    (:func:`~lakerec.recs.search.space_around`)."""
    search_cfg = ctx.config.recommend.search
    starts = start_points(ctx) if starts is None else starts
    return space_around([default_params(ctx), *starts], SearchSpace(
        rank=search_cfg.rank, reg_param=search_cfg.reg_param, alpha=search_cfg.alpha,
        transforms=search_cfg.transforms, half_lives=search_cfg.half_lives))


def challenger_name(*, tie: bool) -> str:
    """What :func:`confirm_choice` compares with the default point, in words: the best trial
    when it judges the search's tie rule, else the search's choice."""
    return "the best trial" if tie else "the search's choice"


@dataclass(frozen=True)
class Confirmation:
    """The search's choice and the default point scored on further validation draws
    (``recommend.search.confirm_draws``) and on a share of each draw's training pairs
    (``recommend.split.projection_share``)."""

    chosen: AlsParams
    """The search's choice on its own draw, or the best trial that its tie rule passed over
    for the default point (:attr:`tolerance_se`)."""
    default: AlsParams
    """The default point, or the doubled rank that stands for it."""
    scores: dict[AlsParams, list[float]]
    """Both settings' validation NDCG@10 per draw, the search's own draw first."""
    thinned: dict[AlsParams, list[float]] = field(default_factory=dict)
    """The same, fitted on a share of each draw's training pairs (empty: not)."""
    projection: Projection | None = None
    """How the lead is extrapolated from the thinned and the validation size."""
    tolerance_se: float = 0.0
    """How many standard errors of the projected lead (:attr:`lead_se`) the choice must lead
    by: ``recommend.search.tolerance_se`` when the search's tie rule kept the default point
    over the best trial and the projection judges that tie again; 0 (any lead) when the
    search chose other settings than the default point's."""
    lead_se: float = math.nan
    """The standard error of the projected lead on the search's draw, paired customer by
    customer (:meth:`Projection.lead_se`), when :attr:`tolerance_se` is above 0."""

    @property
    def tie(self) -> bool:
        """Whether this judges the search's tie rule again: :attr:`chosen` is the best trial,
        which the rule passed over for the default point."""
        return self.tolerance_se > 0

    def challenger(self) -> str:
        """What :attr:`chosen` is, in words."""
        return challenger_name(tie=self.tie)

    def means(self) -> dict[AlsParams, float]:
        return {params: statistics.fmean(values) for params, values in self.scores.items()}

    def lead(self) -> float:
        """The choice's mean lead over the default point at the validation size."""
        means = self.means()
        return means[self.chosen] - means[self.default]

    def projected_lead(self) -> float:
        """The lead extrapolated to the final model's size (:class:`Projection`), linear in
        the log of the training pairs through the thinned and the validation size (the lead
        itself without thinned fits)."""
        if not self.thinned or self.projection is None:
            return self.lead()
        thinned_lead = (statistics.fmean(self.thinned[self.chosen])
                        - statistics.fmean(self.thinned[self.default]))
        return self.projection.project(self.lead(), thinned_lead)

    def margin(self) -> float:
        """The projected lead the choice must exceed (NaN, never exceeded: a tie with no
        standard error to judge it by)."""
        return self.tolerance_se * self.lead_se if self.tolerance_se > 0 else 0.0

    @property
    def confirmed(self) -> bool:
        """Whether the choice leads the default point, over all draws and, with thinned fits,
        extrapolated to the final model's size, by more than :meth:`margin`."""
        return self.projected_lead() > self.margin()

    @property
    def kept(self) -> AlsParams:
        return self.chosen if self.confirmed else self.default

    def outcome(self) -> str:
        """Whether the search's choice leads the default point over the draws, and by what."""
        means = self.means()
        verdict = "leads" if self.confirmed else "does not lead"
        draws = len(self.scores[self.chosen])
        text = (f"{verdict} the default point over {draws} validation "
                f"draw{'s' if draws > 1 else ''}: mean {means[self.chosen]:.4f} against "
                f"{means[self.default]:.4f}")
        if self.thinned and self.projection is not None:
            text += (f"; lead {self.lead():+.4f} on validation, {self.projected_lead():+.4f} "
                     "projected to the final model's size")
        if self.tie:
            text += (f", against {self.margin():.4f} needed (tolerance_se={self.tolerance_se:g}"
                     f" standard errors of {self.lead_se:.4f})")
        return text

    def logged(self) -> dict[str, object]:
        return {"chosen": self.chosen.as_dict(), "default": self.default.as_dict(),
                "chosen_scores": self.scores[self.chosen],
                "default_scores": self.scores[self.default],
                "chosen_thinned_scores": self.thinned.get(self.chosen, []),
                "default_thinned_scores": self.thinned.get(self.default, []),
                "projection": (None if self.projection is None
                               else {"share": self.projection.share,
                                     "reach": self.projection.reach}),
                "projected_lead": self.projected_lead(),
                "tie": self.tie, "tolerance_se": self.tolerance_se,
                "lead_se": None if math.isnan(self.lead_se) else self.lead_se,
                "margin": None if math.isnan(self.margin()) else self.margin(),
                "kept": "chosen" if self.confirmed else "default"}


@dataclass(frozen=True)
class Searched:
    """The chosen ALS settings, every trial, and the chosen settings' model fitted on the
    validation split's training part when its trial ran in full (``None``: fit it again)."""

    params: AlsParams
    trials: list[Trial]
    model: ALSModel | None = None
    confirmation: Confirmation | None = None
    """The choice scored again against the default point, when it was."""
    thinned_model: ALSModel | None = None
    """The chosen settings' model fitted on the projection's share of the validation
    training pairs (:meth:`Holdout.thinned` with ``recommend.split.seed``), when
    :func:`confirm_choice` fitted it in full (``None``: fit it again)."""
    per_customer: Mapping[AlsParams, Mapping[str, float]] = field(default_factory=dict)
    """Each full-length trial's validation NDCG@10 per customer (empty: not kept)."""
    best_model: ALSModel | None = None
    """The best trial's model (:func:`~lakerec.recs.search.chosen`) as :attr:`model` is the
    chosen one's, for when :func:`confirm_choice` serves it over the default point."""


def choose_settings(ctx: StepContext, validation: Holdout | None, inputs: Inputs,
                    fitter: Fitter, carried: AlsParams | None = None,
                    seed: int | None = None, holdout: Holdout | None = None,
                    target: float = 1.0) -> Searched:
    """The searched ALS settings (or the default point when the search is off or there is no
    validation split). ``carried`` (the champion's settings) is tried right after the
    default point, before the configured start points; ``seed`` replaces
    ``recommend.search.seed``. The best trial's model is kept, so that the blend choice does
    not fit it again. With ``holdout`` (the evaluation split ``validation`` was carved
    from), the choice is confirmed on further draws and projected to a model trained on
    ``target`` of the pairs (:func:`confirm_choice`)."""
    cfg = ctx.config.recommend
    default = default_params(ctx)
    if cfg.search.trials <= 1 or validation is None:
        return Searched(default, [])
    kept: list[tuple[float, AlsParams, ALSModel]] = []   # the best full-length trial so far
    per_customer: dict[AlsParams, dict[str, float]] = {}  # every trial's, not the probes'

    def score(params: AlsParams, max_iter: int | None = None, *, probe: bool = False) -> float:
        model = fitter.on_holdout(validation, params, max_iter=max_iter)
        scores = validation_scores(model_top_k(model, validation, inputs, PRIMARY_K,
                                               cfg.users_per_block), validation)
        value = mean_score(scores)
        if not probe:
            per_customer[params] = scores
        full = max_iter in (None, cfg.als.max_iter)
        if full and not math.isnan(value) and (not kept or value > kept[0][0]):
            kept[:] = [(value, params, model)]
        return value

    probe = cfg.search.prune_after_iterations
    starts = [*([carried] if carried is not None else []), *start_points(ctx)]
    chosen, trials = search(partial(score, max_iter=cfg.search.trial_max_iter), default=default,
                            space=configured_space(ctx, starts),
                            trials=cfg.search.trials, timeout_seconds=cfg.search.timeout_seconds,
                            seed=cfg.search.seed if seed is None else seed, starts=starts,
                            grow_rank=cfg.search.grow_rank,
                            grow_tolerance_se=cfg.search.grow_tolerance_se,
                            grow_rank_to=cfg.search.grow_rank_to,
                            per_customer=per_customer, tolerance_se=cfg.search.tolerance_se,
                            early_score=None if probe is None
                            else partial(score, max_iter=probe, probe=True))
    best = best_trial(trials).params

    def kept_model(params: AlsParams) -> ALSModel | None:
        return kept[0][2] if kept and kept[0][1] == params else None

    searched = Searched(chosen, trials, kept_model(chosen), per_customer=per_customer,
                        best_model=kept_model(best))
    return (searched if holdout is None
            else confirm_choice(ctx, holdout, validation, searched, inputs, fitter, target))


def confirm_choice(ctx: StepContext, holdout: Holdout, validation: Holdout, searched: Searched,
                   inputs: Inputs, fitter: Fitter, target: float = 1.0) -> Searched:
    """``searched``, or the default point when the search's choice does not also lead it on
    ``recommend.search.confirm_draws`` further validation draws and, with a
    :func:`projection`, extrapolated to the size of a model trained on ``target`` of the
    pairs, the served refit's by default (random protocol only); or, when the search's tie
    rule kept the default point over a better trial, that trial if its projected lead over
    the default point is more than ``recommend.search.tolerance_se`` standard errors.

    The search's choice is the best of many trials on one draw, so its lead there is partly
    that draw's luck (the winner's curse), and it was measured on models trained on fewer
    pairs than the refit (``validation``, the search's draw, is carved from ``holdout``'s
    training part, which the refit then extends to all pairs). When it is not the default
    point (nor the doubled rank standing for it), both are fitted and scored on each further
    draw (the same share of ``holdout``'s training part, the next seeds) as the search scored
    them, and on the projection's share of each draw's training pairs; the choice is kept
    only when its mean lead (:meth:`Confirmation.projected_lead`) is positive.

    The tie rule (:func:`~lakerec.recs.search.earliest_within`) weighs a lead measured at
    the validation size, where small ranks are favoured; a lead that grows with the pairs
    (a larger rank's, typically) can be within one standard error there and well past it at
    the refit's size. So when the tie rule kept the default point, the best trial is
    compared with it in the same way, and served when its projected lead is more than
    ``tolerance_se`` standard errors of that projected lead, paired customer by customer
    on the search's draw (:meth:`Projection.lead_se`).
    """
    cfg = ctx.config.recommend
    draws, projected = cfg.search.confirm_draws, projection(ctx, holdout, target)
    if ((not draws and projected is None) or not searched.trials
            or holdout.definition["protocol"] != "random"):
        return searched
    first = next(trial for trial in searched.trials if trial.number == 1)
    default = successor(searched.trials, first)
    best = best_trial(searched.trials)
    tie = (searched.params == default.params != best.params and projected is not None
           and cfg.search.tolerance_se > 0
           and {best.params, default.params} <= set(searched.per_customer))
    if searched.params == default.params and not tie:
        return searched
    chosen = (best if tie else
              next(t for t in searched.trials if t.params == searched.params and not t.pruned))
    challenger = challenger_name(tie=tie)
    scores = {chosen.params: [chosen.value], default.params: [default.value]}
    thinned: dict[AlsParams, list[float]] = {chosen.params: [], default.params: []}
    # draw 0's thinned fits: the models, handed to choose_blend when fitted with
    # als.max_iter, and the customers' scores, for the tie's standard error
    kept: dict[AlsParams, ALSModel] = {}
    thinned_scores: dict[AlsParams, dict[str, float]] = {}

    def measure(split: Holdout, into: dict[AlsParams, list[float]],
                keep: dict[AlsParams, ALSModel] | None = None,
                per_customer: dict[AlsParams, dict[str, float]] | None = None) -> None:
        for params, values in into.items():
            model = fitter.on_holdout(split, params, max_iter=cfg.search.trial_max_iter)
            customers = validation_scores(model_top_k(model, split, inputs, PRIMARY_K,
                                                      cfg.users_per_block), split)
            values.append(mean_score(customers))
            if keep is not None and cfg.search.trial_max_iter is None:
                keep[params] = model
            if per_customer is not None:
                per_customer[params] = customers

    def measure_thinned(split: Holdout, draw: int) -> None:
        if projected is None:
            return
        fewer = split.thinned(projected.share, seed=cfg.split.seed + draw)
        try:
            first_draw = draw == 0
            measure(fewer, thinned, kept if first_draw else None,
                    thinned_scores if first_draw else None)
        finally:
            fewer.train.unpersist()
        log.info("validation draw %d on %.0f%% of its training pairs: %s %.4f, the default "
                 "point %.4f", draw + 1, 100 * projected.share, challenger,
                 thinned[chosen.params][-1], thinned[default.params][-1])

    measure_thinned(validation, 0)
    for draw in range(1, draws + 1):
        split = validation_split(ctx, holdout, fitter.spec, draw=draw)
        if split is None:
            break
        try:
            measure(split, scores)
            measure_thinned(split, draw)
        finally:
            split.unpersist()
        log.info("validation draw %d of %d: %s %s %.4f, the default point %.4f", draw + 1,
                 draws + 1, challenger, chosen.params, scores[chosen.params][-1],
                 scores[default.params][-1])
    confirmation = Confirmation(chosen.params, default.params, scores,
                                thinned if projected is not None else {}, projected)
    if tie and projected is not None:
        confirmation = replace(confirmation, tolerance_se=cfg.search.tolerance_se,
                               lead_se=projected.lead_se(searched.per_customer, thinned_scores,
                                                         chosen.params, default.params))
    if confirmation.confirmed:
        log.info("%s %s is served: it %s", confirmation.challenger(), chosen.params,
                 confirmation.outcome())
        return replace(searched, params=chosen.params, confirmation=confirmation,
                       model=searched.best_model if tie else searched.model,
                       thinned_model=kept.get(chosen.params))
    log.info("the default point is kept: %s %s %s", confirmation.challenger(), chosen.params,
             confirmation.outcome())
    return Searched(default.params, searched.trials, searched.model if tie else None,
                    confirmation, kept.get(default.params), searched.per_customer)


@dataclass(frozen=True)
class Blending:
    """The chosen weighting, every weighting's validation evidence, and EASE's lambda."""

    weights: BlendWeights
    weighings: list[Weighing]
    # chosen on validation (or the fallback without one); None when EASE is left out
    ease_lambda: float | None = None
    ease_scores: dict[float, float] = field(default_factory=dict)  # validation, per lambda


def choose_blend(ctx: StepContext, validation: Holdout | None, inputs: Inputs, fitter: Fitter,
                 searched: Searched, *, ease: bool = True,
                 ease_choice: tuple[EaseModel, dict[float, float]] | None = None,
                 target: float = 1.0) -> Blending:
    """The family (or blend of families) best on validation, ALS with the searched settings
    and EASE with the lambda best on validation among them, by
    :func:`~lakerec.recs.blend.choose_weights` with ``recommend.blend.tolerance_se``.
    Without a validation split: the one configured family, or ALS alone. ``ease`` false
    leaves EASE out (its catalogue is too large); ``ease_choice`` is
    :func:`choose_ease_lambda`'s result on this ``validation``, when already made. With a
    :func:`projection`, ALS and EASE (their settings and lambda as chosen) and item-item
    are trained once more on its share of the validation training pairs, and the weightings
    are chosen on their scores projected to the size of a model trained on ``target`` of
    the pairs (the served refit's by default)."""
    grid = configured_grid(ctx, ease=ease)
    with_ease = any(weights.ease > 0 for weights in grid)
    if validation is None:
        weights = grid[0] if len(grid) == 1 else BlendWeights()
        return Blending(weights, [], ease_fallback_lambda(ctx) if with_ease else None)
    ease_model, ease_scores = ((ease_choice or choose_ease_lambda(ctx, validation))
                               if with_ease else (None, {}))
    lamb = ease_model.lamb if ease_model is not None else None
    if len(grid) == 1:
        return Blending(grid[0], [], lamb, ease_scores)
    best = searched.params
    model = searched.model or fitter.on_holdout(validation, best)
    candidates = candidates_on(validation, inputs, model, fitter.spec_for(best), ctx,
                               ease=ease_model)
    projected = projection(ctx, validation, target)
    fewer = (None if projected is None
             else validation.thinned(projected.share, seed=ctx.config.recommend.split.seed))
    thinned = (None if fewer is None else candidates_on(
        fewer, inputs, searched.thinned_model or fitter.on_holdout(fewer, best),
        fitter.spec_for(best), ctx,
        ease=None if ease_model is None else item_gram(
            fewer.train, max_items=ctx.config.recommend.ease.max_items).model(ease_model.lamb,
                                                              ease_model.dropout)))
    try:
        weights, weighings = choose_weights(
            candidates.lists, grid, validation.relevant, depth=candidates.depth, k=PRIMARY_K,
            tolerance_se=ctx.config.recommend.blend.tolerance_se,
            thinned=None if thinned is None else thinned.lists,
            reach=0.0 if projected is None else projected.reach)
    finally:
        candidates.unpersist()
        if thinned is not None and fewer is not None:
            thinned.unpersist()
            fewer.train.unpersist()
    return Blending(weights, weighings, lamb, ease_scores)
