"""The Optuna search on its own: the default and start points first, reproducibility, pruning.

The objective here is a plain function of the settings (no Spark), so that which trials
should be pruned can be worked out by hand; ``train`` passes validation NDCG@10 after a full
and after a short ALS fit (``tests/recs/test_als.py`` runs it on Spark).
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from dataclasses import replace

import pytest

from lakerec.recs.search import (
    DOUBLING_COST,
    AlsParams,
    SearchSpace,
    Trial,
    earliest_within,
    search,
    space_around,
    with_shortfall_se,
)

SPACE = SearchSpace(rank=(4, 64), reg_param=(1e-3, 1.0), alpha=(0.01, 10.0),
                    transforms=("binary", "linear"), half_lives=(None, 30.0))
DEFAULT = AlsParams(rank=4, reg_param=1.0, alpha=0.01, transform="linear")


def score(params: AlsParams) -> float:
    """Peaks at rank 16, regParam 0.01, alpha 1, binary; the default point scores low."""
    return (-abs(math.log(params.rank / 16)) - abs(math.log10(params.reg_param / 0.01))
            - abs(math.log10(params.alpha)) - (params.transform != "binary"))


def early(params: AlsParams) -> float:
    """A cheaper, noisier view of the same ordering (as a short ALS fit is)."""
    return score(params) / 2


def test_the_default_point_is_the_first_trial_and_the_search_beats_it() -> None:
    best, trials = search(score, default=DEFAULT, space=SPACE, trials=15,
                          timeout_seconds=600, seed=3)
    assert len(trials) == 15
    assert trials[0].params == DEFAULT
    assert score(best) == max(t.value for t in trials) > score(DEFAULT) + 2


def test_the_search_is_reproducible_from_its_seed() -> None:
    runs = [search(score, default=DEFAULT, space=SPACE, trials=8, timeout_seconds=600, seed=5)
            for _ in range(2)]
    assert [t.params for t in runs[0][1]] == [t.params for t in runs[1][1]]
    other = search(score, default=DEFAULT, space=SPACE, trials=8, timeout_seconds=600, seed=6)
    assert [t.params for t in other[1]] != [t.params for t in runs[0][1]]


def test_pruning_stops_trials_below_the_median_early_score_of_finished_ones() -> None:
    calls: list[AlsParams] = []

    def full(params: AlsParams) -> float:
        calls.append(params)
        return score(params)

    best, trials = search(full, default=DEFAULT, space=SPACE, trials=20, timeout_seconds=600,
                          seed=11, early_score=early)
    startup = 20 // 3
    pruned = [t for t in trials if t.pruned]
    assert pruned, "with 20 trials some fall below the median of earlier ones"
    assert not any(t.pruned for t in trials[:startup]), "start-up trials always finish"
    for trial in trials[startup:]:  # MedianPruner: the median over trials that finished
        finished = [early(t.params) for t in trials[:trial.number - 1] if not t.pruned]
        below = early(trial.params) < statistics.median(finished)
        assert trial.pruned == below
        assert trial.value == (early(trial.params) if trial.pruned else score(trial.params))
    # pruned trials never paid for the full fit, and the best is chosen among full ones
    assert calls == [t.params for t in trials if not t.pruned]
    assert best == max((t for t in trials if not t.pruned), key=lambda t: t.value).params
    assert score(best) > score(DEFAULT) + 2


def test_a_search_needs_at_least_one_trial() -> None:
    with pytest.raises(ValueError, match="trials must be positive"):
        search(score, default=DEFAULT, space=SPACE, trials=0, timeout_seconds=1, seed=0)


NEAR_PEAK = AlsParams(rank=16, reg_param=0.02, alpha=1.5, transform="binary")
ELSEWHERE = AlsParams(rank=128, reg_param=5.0, alpha=50.0, transform="log", half_life_days=7.0)


def test_start_points_run_in_order_after_the_default_and_a_small_budget_keeps_their_best(
) -> None:
    space = space_around([DEFAULT, ELSEWHERE, NEAR_PEAK], SPACE)
    best, trials = search(score, default=DEFAULT, space=space, trials=3, timeout_seconds=600,
                          seed=3, starts=[ELSEWHERE, DEFAULT, NEAR_PEAK])
    # the default is not run twice; ELSEWHERE lies outside SPACE and runs exactly as given
    assert [t.params for t in trials] == [DEFAULT, ELSEWHERE, NEAR_PEAK]
    assert best == NEAR_PEAK
    # without start points three trials (two random, one TPE) stay far from the peak
    _, alone = search(score, default=DEFAULT, space=space, trials=3, timeout_seconds=600,
                      seed=3)
    assert max(t.value for t in alone) < score(NEAR_PEAK)


def test_a_budget_smaller_than_the_start_points_runs_the_first_ones() -> None:
    _, trials = search(score, default=DEFAULT, space=space_around(
        [DEFAULT, ELSEWHERE, NEAR_PEAK], SPACE), trials=2, timeout_seconds=600, seed=3,
        starts=[ELSEWHERE, NEAR_PEAK])
    assert [t.params for t in trials] == [DEFAULT, ELSEWHERE]


def test_the_space_is_widened_to_hold_every_enqueued_point_but_a_higher_rank() -> None:
    space = space_around([DEFAULT, ELSEWHERE, replace(DEFAULT, rank=2)], SPACE)
    # a rank past the range is tried as given: TPE's draws stay as cheap as configured
    assert space.rank == (2, 64) and space.reg_param == (1e-3, 5.0)
    assert space.alpha == (0.01, 50.0)
    assert list(space.transforms) == ["linear", "log", "binary"]
    assert list(space.half_lives) == [None, 7.0, 30.0]


AT_RANK_4 = AlsParams(rank=4, reg_param=0.01, alpha=1.0, transform="binary")


def test_rank_growth_doubles_the_best_start_up_trials_rank_while_that_scores_better() -> None:
    # start-up: the default and AT_RANK_4 (the better); score peaks at rank 16
    best, trials = search(score, default=DEFAULT, space=SPACE, trials=6, timeout_seconds=600,
                          seed=3, starts=[AT_RANK_4], grow_rank=True)
    assert [t.params.rank for t in trials[:5]] == [4, 4, 8, 16, 32]
    assert [t.params for t in trials[2:5]] == [replace(AT_RANK_4, rank=rank)
                                               for rank in (8, 16, 32)]
    assert len(trials) == 6, "the growth counts against the budget; TPE has the rest"
    assert best == replace(AT_RANK_4, rank=16)
    # each better doubling replaces the trial it grew from; rank 32 scores worse and does not
    assert [t.grown_from for t in trials[2:5]] == [2, 3, None]
    # without it the same budget never gets there
    plain_best, plain = search(score, default=DEFAULT, space=SPACE, trials=6,
                               timeout_seconds=600, seed=3, starts=[AT_RANK_4])
    assert [t.params.rank for t in plain[2:5]] != [8, 16, 32]
    assert score(plain_best) < score(best)


def test_rank_growth_stops_at_the_top_of_the_rank_range() -> None:
    # the higher the rank the better; the default wins the tie of the start-up trials
    best, trials = search(lambda params: params.rank, default=DEFAULT, space=SPACE, trials=8,
                          timeout_seconds=600, seed=3, starts=[AT_RANK_4], grow_rank=True)
    assert [t.params for t in trials[2:6]] == [replace(DEFAULT, rank=rank)
                                               for rank in (8, 16, 32, 64)]
    assert replace(DEFAULT, rank=64) not in [t.params for t in trials[6:]]   # TPE's trials
    assert max(t.params.rank for t in trials) == 64 == best.rank


def growing_rank_4(table: dict[int, list[float]], grow_tolerance_se: float, *,
                   space: SearchSpace = SPACE, grow_rank_to: int | None = None,
                   tolerance_se: float = 0.0) -> tuple[AlsParams, list[Trial]]:
    """The search from the default and AT_RANK_4 with rank growth, where AT_RANK_4's settings
    at rank r score ``table[r]`` for four customers, and every other point 0."""
    per_customer: dict[AlsParams, dict[str, float]] = {}

    def customers(params: AlsParams) -> float:
        at_rank_4 = replace(params, rank=AT_RANK_4.rank) == AT_RANK_4
        scores = table.get(params.rank, [0.0] * 4) if at_rank_4 else [0.0] * 4
        per_customer[params] = {f"c{n}": value for n, value in enumerate(scores)}
        return statistics.fmean(scores)

    return search(customers, default=DEFAULT, space=space, trials=6, timeout_seconds=600,
                  seed=3, starts=[AT_RANK_4], grow_rank=True,
                  grow_tolerance_se=grow_tolerance_se, grow_rank_to=grow_rank_to,
                  per_customer=per_customer, tolerance_se=tolerance_se)


def test_a_doubled_rank_within_the_growth_tolerance_replaces_the_trial_it_grew_from() -> None:
    # AT_RANK_4 scores 0.5 for each of four customers. At rank 8: 0.6, 0.4, 0.5, 0.45 (mean
    # 0.4875); the gaps to rank 4 (-0.1, 0.1, 0, 0.05) have a standard deviation of 0.0854,
    # so the shortfall of 0.0125 is within one standard error (0.0427) and rank 8 replaces
    # rank 4. Rank 16 (0.3 each) falls 0.1875 short of rank 8, beyond it: growth stops.
    table = {4: [0.5, 0.5, 0.5, 0.5], 8: [0.6, 0.4, 0.5, 0.45], 16: [0.3, 0.3, 0.3, 0.3]}
    best, trials = growing_rank_4(table, grow_tolerance_se=1.0)
    assert [t.params for t in trials[1:4]] == [replace(AT_RANK_4, rank=rank)
                                               for rank in (4, 8, 16)]
    assert [t.number for t in trials[:4]] == [1, 2, 3, 4], "counted from 1, as in the log"
    assert [t.grown_from for t in trials[:4]] == [None, None, 2, None]
    assert best == replace(AT_RANK_4, rank=8)
    # the evidence of the choice: each trial's standard error of its shortfall to the best
    # (rank 4); rank 16's gaps are all 0.2, with no spread
    assert trials[1].shortfall_se == 0.0
    assert trials[2].shortfall_se == pytest.approx(0.0427, abs=1e-4)
    assert trials[3].shortfall_se == pytest.approx(0.0, abs=1e-12)
    assert earliest_within(trials, 0.0) is trials[2], "it stands for rank 4"
    # without a tolerance a tie or a shortfall keeps the smaller rank, and growth stops
    strict_best, strict = growing_rank_4(table, grow_tolerance_se=0.0)
    assert strict_best == AT_RANK_4
    assert replace(AT_RANK_4, rank=16) not in [t.params for t in strict]
    assert all(t.grown_from is None for t in strict)


def test_a_doubled_rank_scoring_above_its_parent_within_the_noise_stands_for_it() -> None:
    # rank 8 scores 0.6, 0.4, 0.55, 0.5 (mean 0.5125), just above rank 4's 0.5 each: rank 4
    # falls 0.0125 short, within one standard error (0.0427, as in the test above). The
    # one-standard-error rule then prefers the earlier trial, rank 4, which the doubling
    # replaced, so the larger rank is chosen, as when the doubling scores just below.
    table = {4: [0.5, 0.5, 0.5, 0.5], 8: [0.6, 0.4, 0.55, 0.5], 16: [0.3, 0.3, 0.3, 0.3]}
    best, trials = growing_rank_4(table, grow_tolerance_se=1.0)
    assert [t.params for t in trials[1:4]] == [replace(AT_RANK_4, rank=rank)
                                               for rank in (4, 8, 16)]
    assert [t.grown_from for t in trials[:4]] == [None, None, 2, None]
    assert best == replace(AT_RANK_4, rank=8)
    assert trials[1].shortfall_se == pytest.approx(0.0427, abs=1e-4)
    assert trials[2].value - trials[1].value < trials[1].shortfall_se
    assert earliest_within(trials, 1.0) is trials[2], "rank 4 is within; rank 8 stands for it"
    assert earliest_within(trials, 0.0) is trials[2]


def test_past_the_rank_range_growth_goes_on_only_on_a_gain_beyond_the_tolerance() -> None:
    # the range ends at rank 8; growth may go on to 32. Rank 8 ties rank 4 (as in the test
    # above: in the range a tie grows). Rank 16 gains 0.0375 over rank 8, customer by customer
    # 0, 0.05, 0.05, 0.05: standard error 0.0125, three of them, so it replaces rank 8. Rank
    # 32 gains 0.0125 more, customer by customer 0.1, -0.05, 0, 0 (standard error 0.0323):
    # within one standard error, a tie, so it replaces nothing and growth stops.
    table = {4: [0.5, 0.5, 0.5, 0.5], 8: [0.6, 0.4, 0.5, 0.45], 16: [0.6, 0.45, 0.55, 0.5],
             32: [0.7, 0.4, 0.55, 0.5]}
    space = replace(SPACE, rank=(4, 8))
    best, trials = growing_rank_4(table, grow_tolerance_se=1.0, space=space, grow_rank_to=32,
                                  tolerance_se=1.0)
    assert [t.params for t in trials[1:5]] == [replace(AT_RANK_4, rank=rank)
                                               for rank in (4, 8, 16, 32)]
    assert [t.grown_from for t in trials[:5]] == [None, None, 2, 3, None]
    # rank 32 scores best, but rank 4 is within one standard error of it, and rank 4 grew
    # (by a tie, then by a gain) into rank 16
    assert trials[4].value == max(t.value for t in trials)
    assert best == replace(AT_RANK_4, rank=16)
    # without grow_rank_to growth stops at the top of the range
    capped_best, capped = growing_rank_4(table, grow_tolerance_se=1.0, space=space,
                                         tolerance_se=1.0)
    assert capped_best == replace(AT_RANK_4, rank=8)
    assert max(t.params.rank for t in capped) == 8


def test_past_the_rank_range_without_per_customer_scores_a_better_score_grows() -> None:
    best, trials = search(lambda params: params.rank, default=DEFAULT, space=SPACE, trials=8,
                          timeout_seconds=600, seed=3, starts=[AT_RANK_4], grow_rank=True,
                          grow_rank_to=256)
    assert [t.params for t in trials[2:8]] == [replace(DEFAULT, rank=rank)
                                               for rank in (8, 16, 32, 64, 128, 256)]
    assert max(t.params.rank for t in trials) == 256 == best.rank


def test_no_doubling_starts_when_the_time_budget_would_likely_not_hold_it(
        caplog: pytest.LogCaptureFixture) -> None:
    seconds = 0.3   # each trial; a doubling is expected to take DOUBLING_COST times that

    def slow(params: AlsParams) -> float:
        time.sleep(seconds)
        return score(params)

    # after the two start-up trials less than DOUBLING_COST x 0.3 s is left of 1.2 s
    assert 2 * seconds + DOUBLING_COST * seconds > 1.2
    with caplog.at_level(logging.INFO, logger="lakerec.recs.search"):
        _, trials = search(slow, default=DEFAULT, space=SPACE, trials=4, timeout_seconds=1.2,
                           seed=3, starts=[AT_RANK_4], grow_rank=True)
    assert replace(AT_RANK_4, rank=8) not in [t.params for t in trials]
    assert "rank 8 not tried: trial 2 took 0 s" in caplog.text
    # with time for it, the same search doubles
    _, roomy = search(slow, default=DEFAULT, space=SPACE, trials=3, timeout_seconds=60,
                      seed=3, starts=[AT_RANK_4], grow_rank=True)
    assert roomy[2].params == replace(AT_RANK_4, rank=8)


def trials_scoring(*per_customer: dict[str, float]) -> list[Trial]:
    """Trials in order, each with its customers' scores (the value is their mean) and the
    standard error of its shortfall to the best, as :func:`search` returns them."""
    trials = [Trial(n, replace(DEFAULT, rank=4 + n), statistics.fmean(scores.values()), 1.0)
              for n, scores in enumerate(per_customer, start=1)]
    return with_shortfall_se(trials, {t.params: scores for t, scores
                                      in zip(trials, per_customer, strict=True)})


def test_the_earliest_trial_within_one_standard_error_of_the_best_is_chosen() -> None:
    # trial 3 is best (mean 0.5). Trial 2 falls short by 0.1 on average, customer by
    # customer 0.1, 0.0, 0.2, 0.1: the gaps' standard deviation is sqrt(0.02 / 3) = 0.0816,
    # their standard error 0.0408, so 0.1 is 2.45 standard errors. Trial 1 falls short by
    # 0.3 with every gap 0.3: no spread, outside any tolerance.
    trials = trials_scoring({"a": 0.2, "b": 0.3, "c": 0.1, "d": 0.2},
                                          {"a": 0.4, "b": 0.6, "c": 0.2, "d": 0.4},
                                          {"a": 0.5, "b": 0.6, "c": 0.4, "d": 0.5})
    assert earliest_within(trials, 0.0) is trials[2]
    assert earliest_within(trials, 2.0) is trials[2]
    assert earliest_within(trials, 2.5) is trials[1]
    assert earliest_within(trials, 100.0) is trials[1]


def test_a_later_trial_within_the_tolerance_is_not_chosen_over_the_best() -> None:
    # the best is trial 1; a later, worse trial is never preferred, however close
    trials = trials_scoring({"a": 0.5, "b": 0.7}, {"a": 0.4, "b": 0.7})
    assert earliest_within(trials, 100.0) is trials[0]


def test_pruned_trials_are_never_chosen() -> None:
    trials = trials_scoring({"a": 0.45, "b": 0.55}, {"a": 0.5, "b": 0.6})
    trials[0] = replace(trials[0], pruned=True)
    assert earliest_within(trials, 100.0) is trials[1]
    with pytest.raises(ValueError, match="at least 0 standard errors"):
        earliest_within(trials, -1.0)
