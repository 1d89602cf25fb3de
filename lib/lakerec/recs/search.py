"""Hyperparameter search of the recommender with Optuna: seeded TPE, budgets of trials and time.

The configured default point is always the first trial, so the search never chooses
something worse on validation than the default. Then come the configured start points (a
portfolio of settings that won on different data, as far as the budget allows), so a small
budget does not depend on TPE drawing a good region by chance; TPE learns from them. Rank,
regParam and alpha are searched on a log scale; the confidence transform and the half-life
(``None``: no decay) are categorical.

Optionally (``grow_rank``), after those start-up trials the best one's rank is doubled, up to
the top of the range, for as long as that scores as well (within ``grow_tolerance_se`` standard
errors), before TPE takes over. Past the top of the range (up to ``grow_rank_to``) it doubles
on only on a real gain, by more than ``grow_tolerance_se`` standard errors, and only while the
time budget will likely hold the next fit (:data:`DOUBLING_COST`). This is the last step of the
iALS tuning protocol of Rendle et al. ("Revisiting the Performance of iALS on Item
Recommendation Benchmarks", RecSys 2022): settle the other settings at a modest dimension, then
grow it. A random or TPE draw of a high rank mostly comes with a regularisation that does not
suit it (rank and regParam interact), so the search seldom finds high ranks without it
(``bench/ranking.md``, Findings). Within the range a tie goes to the larger rank: the
validation split's customers keep fewer of their items than the evaluation's, which favours
small ranks (``bench/ranking.md``, Findings).

Notes
-----
The result is reproducible from the seed when the trial budget, not the time budget, ends the
search (the TPE sampler is seeded; ALS fits are seeded and get deterministic input).

Pruning is optional (``early_score``): Spark's ALS has no warm start, so a trial cannot report
the score of its own first iterations; instead it is first scored after a short fit, and
Optuna's :class:`~optuna.pruners.MedianPruner` stops it there when that score is below the
median of earlier trials' short-fit scores. Surviving trials pay for both fits.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from lakerec.recs.interactions import CONFIDENCE_TRANSFORMS

log = logging.getLogger(__name__)

DOUBLING_COST = 4.0
"""How many times longer a trial at twice the rank is expected to take: on 2 cores a doubling from
rank 64 to 128 cost 2.1-3.8x on Online Retail and MovieLens, and from 128 to 256 4.5x on Online
Retail's random split (38 and 170 s; ``bench/ranking.md``); ALS's cost grows with the cube of
the rank once solving the rank x rank systems dominates. A doubling is started only when this
multiple of its parent's time is left of the search's time budget."""


@dataclass(frozen=True)
class AlsParams:
    """The searched settings: ALS hyperparameters and how events become confidences."""

    rank: int
    reg_param: float
    alpha: float
    transform: str = "linear"
    half_life_days: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_logged(cls, params: dict[str, str]) -> AlsParams:
        """From an MLflow run's params (runs logged before transform and half-life were
        searched used linear confidences with the configured half-life, recorded as
        ``half_life_days``)."""
        half_life = params.get("half_life_days", "None")
        return cls(rank=int(params["rank"]), reg_param=float(params["reg_param"]),
                   alpha=float(params["alpha"]), transform=params.get("transform", "linear"),
                   half_life_days=None if half_life in ("None", "") else float(half_life))


def _half_life(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SearchSpace:
    """Ranges (low, high) searched on a log scale, and the categorical choices."""

    rank: tuple[int, int]
    reg_param: tuple[float, float]
    alpha: tuple[float, float]
    transforms: Sequence[str]
    half_lives: Sequence[float | None]

    def __post_init__(self) -> None:
        for name in ("rank", "reg_param", "alpha"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"search range of {name} must be 0 < low <= high, "
                                 f"got [{low}, {high}]")
        unknown = set(self.transforms) - set(CONFIDENCE_TRANSFORMS)
        if unknown or not self.transforms:
            raise ValueError(f"search transforms must be some of {CONFIDENCE_TRANSFORMS}, "
                             f"got {list(self.transforms)}")
        if not self.half_lives:
            raise ValueError("search half_lives needs at least one choice (null: no decay)")


def space_around(points: Sequence[AlsParams], space: SearchSpace) -> SearchSpace:
    """``space`` widened, where needed, to hold ``points`` (the enqueued first trials), but
    for the top of the rank range: it bounds what TPE's draws cost (ALS's time grows with up
    to the cube of the rank), so a point past it is tried as given and widens nothing (a
    champion whose rank grew past the range, say)."""

    def widened(name: str) -> tuple[Any, Any]:
        low, high = getattr(space, name)
        values = [getattr(point, name) for point in points]
        return min(low, *values), max(high, *values)

    return SearchSpace(
        rank=(widened("rank")[0], space.rank[1]), reg_param=widened("reg_param"),
        alpha=widened("alpha"),
        transforms=list(dict.fromkeys([*(p.transform for p in points), *space.transforms])),
        half_lives=list(dict.fromkeys([*(p.half_life_days for p in points),
                                       *space.half_lives])))


@dataclass(frozen=True)
class Trial:
    """One evaluated point: its settings, its validation score and how long it took."""

    number: int
    """1 for the first trial (Optuna counts from 0), as in the log, the MLflow child runs'
    names and the closing report."""
    params: AlsParams
    value: float
    seconds: float
    pruned: bool = False
    """Stopped after the short fit; ``value`` is then that fit's score."""
    grown_from: int | None = None
    """The number of the trial whose rank this one doubled and replaces, when it scored
    better or within the growth tolerance (see :func:`successor`)."""
    shortfall_se: float | None = None
    """The standard error of this trial's mean shortfall to the best trial, paired customer by
    customer (:func:`shortfall_se`; 0 for the best): the evidence of ``tolerance_se``'s
    rule (:func:`earliest_within`), filled in at the end of the search when per-customer
    scores are given; ``None`` for a pruned trial or fewer than two customers."""


def _score(function: Callable[[AlsParams], float], params: AlsParams) -> float:
    value = float(function(params))
    return 0.0 if math.isnan(value) else value


def search(objective: Callable[[AlsParams], float], *, default: AlsParams, space: SearchSpace,
           trials: int, timeout_seconds: float, seed: int,
           starts: Sequence[AlsParams] = (),
           early_score: Callable[[AlsParams], float] | None = None,
           grow_rank: bool = False, grow_tolerance_se: float = 0.0,
           grow_rank_to: int | None = None,
           per_customer: Mapping[AlsParams, Mapping[str, float]] | None = None,
           tolerance_se: float = 0.0,
           ) -> tuple[AlsParams, list[Trial]]:
    """Maximise ``objective`` (validation NDCG@10 in ``train``) over ``space``.

    The first trial is ``default``, then ``starts`` in order (as many as the budget holds;
    ``space`` must hold them, see :func:`space_around`); the start-up trials (a third of the
    budget, at least 2, the enqueued ones included) are drawn at random when not enqueued,
    and the rest by TPE. With ``grow_rank``, the start-up trials are followed by the best
    one's settings at twice its rank (at most ``space.rank``'s top), again while each doubling
    scores better, or within ``grow_tolerance_se`` standard errors of the paired
    per-customer difference (``per_customer``: each trial's per-customer scores, filled in
    by ``objective``); a doubling that grows on replaces the trial it grew from
    (``grown_from``), so that a choice of that trial (:func:`earliest_within`) takes the
    larger rank whichever way the noise fell. Past ``space.rank``'s top, up to
    ``grow_rank_to`` (``None``: no further), the rank doubles on only while each doubling scores
    better by more than ``grow_tolerance_se`` standard errors (better, without
    ``per_customer``): a gain, not a tie, pays for the larger fits. No doubling starts unless
    :data:`DOUBLING_COST` times its parent's time is left of ``timeout_seconds``.
    Stops after ``trials`` trials or once ``timeout_seconds`` have passed, whichever comes
    first. Otherwise ties keep the earlier trial, so the default wins unless something is
    strictly better. Returns the chosen settings, the earliest trial within
    ``tolerance_se`` standard errors of the best (:func:`earliest_within`; 0: the best), and
    every trial (with its ``shortfall_se`` to the best one when ``per_customer`` is given).

    With ``early_score`` (the same score after a cheaper fit), every trial is scored by it
    first, and trials after the start-up ones stop there when it falls below the median of
    earlier trials' early scores; the best is chosen among trials that ran in full.
    """
    import optuna

    if trials < 1:
        raise ValueError(f"trials must be positive, got {trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    done: list[Trial] = []
    startup = max(2, trials // 3)

    def run(trial: optuna.Trial) -> float:
        params = AlsParams(
            rank=trial.suggest_int("rank", *space.rank, log=True),
            reg_param=trial.suggest_float("reg_param", *space.reg_param, log=True),
            alpha=trial.suggest_float("alpha", *space.alpha, log=True),
            transform=trial.suggest_categorical("transform", list(space.transforms)),
            half_life_days=_half_life(trial.suggest_categorical("half_life_days",
                                                                list(space.half_lives))))
        number = trial.number + 1
        started = time.perf_counter()
        if early_score is not None:
            early = _score(early_score, params)
            trial.report(early, step=0)
            if trial.should_prune():
                done.append(Trial(number, params, early, time.perf_counter() - started,
                                  pruned=True))
                log.info("trial %d/%d %s: pruned, early validation score %.4f (%.0f s)",
                         number, trials, params, early, done[-1].seconds)
                raise optuna.TrialPruned()
        value = _score(objective, params)
        done.append(Trial(number, params, value, time.perf_counter() - started))
        log.info("trial %d/%d %s: validation score %.4f (%.0f s)", number, trials,
                 params, value, done[-1].seconds)
        return value

    # Optuna's default of 10 random start-up trials would make a 10-trial budget a pure
    # random search: a third of the budget explores, the rest follows TPE's model.
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)
              if early_score is not None else optuna.pruners.NopPruner())
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    enqueued = list(dict.fromkeys([default, *starts]))
    for point in enqueued:
        study.enqueue_trial(point.as_dict(), skip_if_exists=False)
    deadline = time.monotonic() + timeout_seconds

    def optimize(n_trials: int) -> None:
        left = deadline - time.monotonic()
        if n_trials > 0 and left > 0:
            with warnings.catch_warnings():   # an enqueued rank past the range is on purpose
                warnings.filterwarnings("ignore", message="Fixed parameter rank with value")
                study.optimize(run, n_trials=n_trials, timeout=left)

    optimize(min(trials, max(startup, len(enqueued))))
    top = space.rank[1]
    while grow_rank and len(done) < trials and time.monotonic() < deadline:
        parent = chosen(done)
        rank = parent.params.rank
        limit = top if rank < top else max(grow_rank_to or top, top)
        grown = replace(parent.params, rank=min(2 * rank, limit))
        if grown in {t.params for t in done}:
            break
        if DOUBLING_COST * parent.seconds > deadline - time.monotonic():
            log.info("rank %d not tried: trial %d took %.0f s, and about %.0fx that is more "
                     "than the search's time budget has left", grown.rank, parent.number,
                     parent.seconds, DOUBLING_COST)
            break
        study.enqueue_trial(grown.as_dict(), skip_if_exists=False)
        optimize(1)
        trial = done[-1]
        if trial.params != grown:
            continue  # ran out of time
        better = not trial.pruned and trial.value > parent.value
        if grown.rank > top:   # past the range: a real gain only
            grows = better and (per_customer is None or _gains(
                parent, trial, per_customer, grow_tolerance_se))
            how = f"more than grow_tolerance_se={grow_tolerance_se:g} above"
        else:                  # inside it: better, or a tie within the tolerance
            grows = better or (not trial.pruned and grow_tolerance_se > 0
                               and per_customer is not None
                               and _within(parent, trial, per_customer, grow_tolerance_se))
            how = "above" if better else f"within grow_tolerance_se={grow_tolerance_se:g} of"
        if not grows:
            break
        done[-1] = replace(trial, grown_from=parent.number)
        log.info("trial %d: the doubled rank scores %s trial %d's score and replaces it",
                 trial.number, how, parent.number)
    optimize(trials - len(done))
    done = with_shortfall_se(done, per_customer)
    kept = earliest_within(done, tolerance_se)
    if kept is not chosen(done):
        log.info("search chose trial %d %s, the earliest within %g standard errors of the "
                 "best, trial %d", kept.number, kept.params, tolerance_se, _best(done).number)
    return kept.params, done


def with_shortfall_se(done: Sequence[Trial],
                      per_customer: Mapping[AlsParams, Mapping[str, float]] | None) -> list[Trial]:
    """``done`` with each full trial's ``shortfall_se`` to the best trial filled in (as it is
    without per-customer scores)."""
    reference = per_customer.get(_best(done).params) if done and per_customer else None
    if reference is None or per_customer is None:
        return list(done)
    filled = []
    for trial in done:
        se = math.nan if trial.pruned else shortfall_se(reference, per_customer[trial.params])
        filled.append(trial if math.isnan(se) else replace(trial, shortfall_se=se))
    return filled


def shortfall_se(reference: Mapping[str, float], scores: Mapping[str, float]) -> float:
    """The standard error of ``scores``' mean shortfall to ``reference``, paired customer by
    customer (a customer missing from ``scores`` scores 0); NaN for fewer than two."""
    gaps = [reference[user] - scores.get(user, 0.0) for user in reference]
    return statistics.stdev(gaps) / math.sqrt(len(gaps)) if len(gaps) > 1 else math.nan


def _within(best: Trial, trial: Trial, per_customer: Mapping[AlsParams, Mapping[str, float]],
            tolerance_se: float) -> bool:
    """Whether ``trial``'s mean shortfall to ``best``, paired customer by customer, is at
    most ``tolerance_se`` times the standard error of that shortfall."""
    se = shortfall_se(per_customer[best.params], per_customer[trial.params])
    return not math.isnan(se) and best.value - trial.value <= tolerance_se * se


def _gains(parent: Trial, trial: Trial, per_customer: Mapping[AlsParams, Mapping[str, float]],
           tolerance_se: float) -> bool:
    """Whether ``trial`` scores above ``parent`` by more than ``tolerance_se`` times the
    standard error of the difference, paired customer by customer."""
    se = shortfall_se(per_customer[trial.params], per_customer[parent.params])
    return not math.isnan(se) and trial.value - parent.value > tolerance_se * se


def successor(done: Sequence[Trial], trial: Trial) -> Trial:
    """``trial``, or the doubled rank that replaced it (and so on, as the rank grew)."""
    for other in done:
        if other.grown_from == trial.number:
            return successor(done, other)
    return trial


def chosen(done: Sequence[Trial]) -> Trial:
    """The best trial that ran in full, or the larger rank that replaced it."""
    return successor(done, _best(done))


def earliest_within(done: Sequence[Trial], tolerance_se: float) -> Trial:
    """The earliest trial that ran in full and scores as well as the best one, within
    ``tolerance_se`` standard errors: the one-standard-error rule (Hastie, Tibshirani and
    Friedman, *The Elements of Statistical Learning*, 7.10) with the trials' order as the
    preference, since the first ones are the prior knowledge (the default point, the
    champion's settings, the start points) and the later ones draws.

    A trial is as good as the best when its mean shortfall to the best is at most
    ``tolerance_se`` times its ``shortfall_se`` (as :func:`search` returns the trials, by
    :func:`with_shortfall_se`); a trial without one (fewer than two customers) is not.
    ``0`` takes the best, the earliest of equal scores. A trial whose doubled rank replaced
    it (``grown_from``) stands for that one.
    """
    if tolerance_se < 0:
        raise ValueError(f"the tolerance must be at least 0 standard errors, got {tolerance_se}")
    best = _best(done)
    earliest = next(trial for trial in sorted(done, key=lambda t: t.number)
                    if trial is best or (not trial.pruned and trial.shortfall_se is not None
                                         and best.value - trial.value
                                         <= tolerance_se * trial.shortfall_se))
    return successor(done, earliest)


def _best(done: Sequence[Trial]) -> Trial:
    """The best trial that ran in full; ``max`` keeps the first of equal scores, and the
    default point (start-up) always runs in full."""
    return max((t for t in done if not t.pruned), key=lambda t: t.value)
