"""What ``train``'s closing report says of the search (``train_step.describe_search``)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from lakerec.core.config import Config
from lakerec.recs.search import AlsParams, Trial
from lakerec.recs.train_step import describe_search
from lakerec.recs.tuning import Confirmation, Projection

DEFAULT = AlsParams(rank=32, reg_param=0.1, alpha=0.5, transform="binary")
START = AlsParams(rank=8, reg_param=0.7, alpha=4.0, transform="binary", half_life_days=30.0)
DOUBLED = replace(START, rank=16)


def trials(doubled_value: float) -> list[Trial]:
    """The default point, a start point and its doubled rank, which replaced it."""
    return [Trial(1, DEFAULT, 0.10, 1.0, shortfall_se=0.004),
            Trial(2, START, 0.15, 1.0, shortfall_se=0.002),
            Trial(3, DOUBLED, doubled_value, 1.0, grown_from=2, shortfall_se=0.002)]


def test_no_search(config: Config) -> None:
    assert describe_search([], DEFAULT, None, None, config.recommend.search) == (
        " (the default point; no search)")


def test_a_doubled_rank_scoring_above_its_parent(config: Config) -> None:
    text = describe_search(trials(0.151), DOUBLED, None, None, config.recommend.search)
    assert text == (" (validation ndcg@10 0.1510 over 3 trials; "
                    "trial 2's rank doubled, scoring above it)")


def test_a_doubled_rank_past_the_top_of_the_rank_range(config: Config) -> None:
    search = config.recommend.search.model_copy(update={"rank": (8, 8),
                                                        "grow_tolerance_se": 1.0})
    text = describe_search(trials(0.16), DOUBLED, None, None, search)
    assert text == (" (validation ndcg@10 0.1600 over 3 trials; trial 2's rank doubled to "
                    "16, past search.rank's top (8), scoring more than grow_tolerance_se=1 "
                    "above it)")


def test_a_doubled_rank_within_the_tolerance_below_its_parent(config: Config) -> None:
    search = config.recommend.search.model_copy(update={"grow_tolerance_se": 1.0,
                                                        "tolerance_se": 1.0})
    text = describe_search(trials(0.149), DOUBLED, None, None, search)
    assert text == (" (validation ndcg@10 0.1490 over 3 trials; "
                    "trial 2's rank doubled, within grow_tolerance_se=1 of its score; "
                    "kept over the best trial's 0.1500, 0.0010 below it: "
                    "within tolerance_se=1 standard errors of 0.0020)")


def test_the_champions_settings_and_pruned_trials(config: Config) -> None:
    done = [*trials(0.151), Trial(4, replace(START, alpha=40.0), 0.02, 0.5, pruned=True)]
    text = describe_search(done, DEFAULT, 7, DEFAULT, config.recommend.search)
    assert text.startswith(" (validation ndcg@10 0.1000 over 4 trials; 1 pruned; "
                           "champion v7's settings chosen again; kept over the best "
                           "trial's 0.1510, 0.0510 below it")
    other = describe_search(done, DOUBLED, 7, DEFAULT, config.recommend.search)
    assert "champion v7's settings tried, not chosen" in other


def test_a_choice_overturned_or_confirmed_on_further_validation_draws(config: Config) -> None:
    done = [Trial(1, DEFAULT, 0.10, 1.0, shortfall_se=0.004),
            Trial(2, START, 0.15, 1.0, shortfall_se=0.0)]
    overturned = Confirmation(START, DEFAULT, {START: [0.15, 0.08, 0.07],
                                               DEFAULT: [0.10, 0.09, 0.11]})
    text = describe_search(done, DEFAULT, None, None, config.recommend.search, overturned)
    assert text == (" (validation ndcg@10 0.1000 over 2 trials; the default point kept over "
                    "the search's choice, trial 2 (0.1500 on the search's draw), which does "
                    "not lead the default point over 3 validation draws: mean 0.1000 against "
                    "0.1000)")
    confirmed = replace(overturned, scores={START: [0.15, 0.12, 0.12],
                                            DEFAULT: [0.10, 0.09, 0.11]})
    text = describe_search(done, START, None, None, config.recommend.search, confirmed)
    assert text == (" (validation ndcg@10 0.1500 over 2 trials; it leads the default point "
                    "over 3 validation draws: mean 0.1300 against 0.1000)")


def test_a_lead_that_shrinks_with_more_training_pairs_is_extrapolated_away(
        config: Config) -> None:
    """With thinned fits (``projection_share``) the lead is extrapolated to the refit's size,
    linear in the log of the training pairs: a lead of 0.01 that was 0.03 on the thinned
    fits, two steps short of the refit's size, projects to 0.01 - 2 x 0.02 = -0.03, and the
    default point is kept; the same lead growing from 0.005 projects to 0.02."""
    done = [Trial(1, DEFAULT, 0.10, 1.0, shortfall_se=0.004),
            Trial(2, START, 0.11, 1.0, shortfall_se=0.0)]
    shrinking = Confirmation(START, DEFAULT, {START: [0.11], DEFAULT: [0.10]},
                             thinned={START: [0.09], DEFAULT: [0.06]},
                             projection=Projection(share=0.5, reach=2.0))
    assert shrinking.lead() == pytest.approx(0.01)
    assert shrinking.projected_lead() == pytest.approx(-0.03)
    assert shrinking.kept == DEFAULT
    text = describe_search(done, DEFAULT, None, None, config.recommend.search, shrinking)
    assert text == (" (validation ndcg@10 0.1000 over 2 trials; the default point kept over "
                    "the search's choice, trial 2 (0.1100 on the search's draw), which does "
                    "not lead the default point over 1 validation draw: mean 0.1100 against "
                    "0.1000; lead +0.0100 on validation, -0.0300 projected to the final "
                    "model's size)")
    growing = replace(shrinking, thinned={START: [0.065], DEFAULT: [0.06]})
    assert growing.projected_lead() == pytest.approx(0.02)
    assert growing.kept == START
    # without thinned fits the lead over the draws decides, as before
    assert replace(shrinking, thinned={}).projected_lead() == pytest.approx(0.01)


def test_the_projected_leads_standard_error_pairs_customers() -> None:
    """Each customer's lead is carried on as the means are: a's lead 0.1 (0 on the thinned
    fits) projects to 0.1 + 2 x 0.1 = 0.3; b's 0 (-0.1 thinned) and c's 0 (-0.1 thinned,
    missing from the choice's thinned scores: 0) to 0.2. Their standard error is
    stdev(0.3, 0.2, 0.2) / sqrt(3) = 0.0333."""
    measured = {START: {"a": 0.3, "b": 0.2, "c": 0.1}, DEFAULT: {"a": 0.2, "b": 0.2, "c": 0.1}}
    thinned = {START: {"a": 0.2, "b": 0.1}, DEFAULT: {"a": 0.2, "b": 0.2, "c": 0.1}}
    projection = Projection(share=0.5, reach=2.0)
    assert projection.lead_se(measured, thinned, START, DEFAULT) == pytest.approx(
        0.1 / math.sqrt(3) / math.sqrt(3))
    assert math.isnan(projection.lead_se({START: {"a": 0.3}, DEFAULT: {}},
                                         thinned, START, DEFAULT))


def test_a_tie_the_projection_judges(config: Config) -> None:
    """When the tie rule kept the default point over the best trial, the best trial is
    served only if its projected lead is more than ``tolerance_se`` standard errors of it:
    0.02 against 1 x 0.01, yes; against 1 x 0.03, no. Without a standard error, no."""
    done = [Trial(1, DEFAULT, 0.10, 1.0, shortfall_se=0.004),
            Trial(2, START, 0.105, 1.0, shortfall_se=0.0)]
    tie = Confirmation(START, DEFAULT, {START: [0.105], DEFAULT: [0.10]},
                       thinned={START: [0.0575], DEFAULT: [0.06]},
                       projection=Projection(share=0.5, reach=2.0), tolerance_se=1.0,
                       lead_se=0.01)
    assert tie.projected_lead() == pytest.approx(0.005 + 2 * 0.0075)
    assert tie.margin() == pytest.approx(0.01) and tie.kept == START
    text = describe_search(done, START, None, None, config.recommend.search, tie)
    assert text == (" (validation ndcg@10 0.1050 over 2 trials; served over the default point "
                    "the tie rule kept: it leads the default point over 1 validation draw: "
                    "mean 0.1050 against 0.1000; lead +0.0050 on validation, +0.0200 "
                    "projected to the final model's size, against 0.0100 needed "
                    "(tolerance_se=1 standard errors of 0.0100))")
    wide = replace(tie, lead_se=0.03)
    assert wide.kept == DEFAULT
    text = describe_search(done, DEFAULT, None, None, config.recommend.search, wide)
    assert text.startswith(" (validation ndcg@10 0.1000 over 2 trials; the default point "
                           "kept over the best trial, trial 2 (0.1050 on the search's draw), "
                           "which does not lead the default point")
    assert tie.logged()["tie"] is True and tie.logged()["margin"] == pytest.approx(0.01)
    unknown = replace(tie, lead_se=math.nan)
    assert unknown.kept == DEFAULT and unknown.logged()["margin"] is None
    assert replace(tie, tolerance_se=0.0).margin() == 0.0
