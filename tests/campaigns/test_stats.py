"""Campaign statistics against textbook figures and simulation."""

from __future__ import annotations

import math
import random

import pytest

from lakerec.campaigns.stats import (
    conversion_lift,
    holm,
    mean_lift,
    minimum_detectable_effect,
    sample_ratio_p_value,
)
from lakerec.campaigns.uplift import qini


def test_the_power_figure_matches_the_textbook_calculation() -> None:
    # 1,000 customers per group, 10% baseline, alpha 0.05 two-sided, power 0.8:
    # (1.959964 + 0.841621) * sqrt(0.1 * 0.9 * (1/1000 + 1/1000)) = 0.0375872
    assert minimum_detectable_effect(1000, 1000, 0.10) == pytest.approx(0.0375872, abs=1e-6)
    # quadrupling both groups halves it
    assert minimum_detectable_effect(4000, 4000, 0.10) == pytest.approx(0.0375872 / 2, abs=1e-6)
    assert minimum_detectable_effect(0, 100, 0.1) == math.inf


def test_conversion_lift_matches_a_worked_two_proportion_test() -> None:
    # 120 of 1,000 treated against 100 of 1,000 controls: z = 0.02 / sqrt(.11 * .89 * .002)
    lift = conversion_lift(120, 1000, 100, 1000)
    assert lift.absolute == pytest.approx(0.02)
    assert lift.relative == pytest.approx(0.2)
    assert lift.p_value == pytest.approx(0.1529, abs=1e-4)
    assert lift.verdict(alpha=0.05) == "inconclusive"
    assert conversion_lift(200, 1000, 100, 1000).verdict(alpha=0.05) == "won"
    assert conversion_lift(50, 1000, 100, 1000).verdict(alpha=0.05) == "lost"


def test_the_conversion_interval_is_newcombes_on_his_worked_examples() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10
    examples = {(56, 70, 48, 80): (0.0524, 0.3339), (9, 10, 3, 10): (0.1705, 0.8090),
                (5, 56, 0, 29): (-0.0381, 0.1926),
                (0, 10, 0, 20): (-0.1611, 0.2775)}
    for (a, m, b, n), interval in examples.items():
        lift = conversion_lift(a, m, b, n)
        assert (lift.low, lift.high) == pytest.approx(interval, abs=1e-4), (a, m, b, n)


def test_no_converters_in_either_group_still_gives_an_interval_around_zero() -> None:
    lift = conversion_lift(0, 40, 0, 40)
    assert lift.low < 0 < lift.high and lift.verdict(alpha=0.05) == "inconclusive"


def test_the_conversion_interval_covers_the_true_lift_95_times_in_100() -> None:
    rng = random.Random(3)
    true_t, true_c, n, trials = 0.14, 0.10, 2000, 400
    covered = 0
    for _ in range(trials):
        conv_t = sum(rng.random() < true_t for _ in range(n))
        conv_c = sum(rng.random() < true_c for _ in range(n))
        lift = conversion_lift(conv_t, n, conv_c, n)
        covered += lift.low <= true_t - true_c <= lift.high
    assert 0.92 <= covered / trials <= 0.98


def test_welch_matches_scipys_test_on_the_raw_values() -> None:
    from scipy import stats

    rng = random.Random(5)
    t = [rng.expovariate(1 / 30) for _ in range(300)]
    c = [rng.expovariate(1 / 25) for _ in range(200)]

    def moments(xs: list[float]) -> tuple[float, float, int]:
        mean = sum(xs) / len(xs)
        return mean, sum((x - mean) ** 2 for x in xs) / (len(xs) - 1), len(xs)

    lift = mean_lift(*moments(t), *moments(c))
    reference = stats.ttest_ind(t, c, equal_var=False)
    assert lift.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    interval = reference.confidence_interval(0.95)
    assert (lift.low, lift.high) == pytest.approx((interval.low, interval.high), rel=1e-9)


def test_holm_adjusts_as_the_textbook_example() -> None:
    # p = .01, .04, .03, .005 -> sorted .005 .01 .03 .04 times 4, 3, 2, 1 -> .02 .03 .06 .06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([]) == []


def test_the_sample_ratio_check_fires_on_a_skewed_assignment() -> None:
    assert sample_ratio_p_value(9_000, 1_000, 0.9) > 0.05     # as planned
    assert sample_ratio_p_value(9_050, 950, 0.9) > 0.001      # sampling noise
    assert sample_ratio_p_value(9_300, 700, 0.9) < 1e-6       # broken assignment


def test_qini_of_a_worked_example_and_of_its_reverse() -> None:
    # the one converter is treated: ranked first, Q(k) = 1 at every k; the random line
    # climbs to 1 by quarters, so the area between them is (.75 + .5 + .25 + 0) / 4
    treated, converted = [True, False, True, False], [1, 0, 0, 0]
    best = qini([4, 3, 2, 1], treated, converted)
    assert (best.coefficient, best.auuc, best.total_uplift) == pytest.approx((0.375, 1.0, 1.0))
    worst = qini([1, 2, 3, 4], treated, converted)
    assert (worst.coefficient, worst.auuc) == pytest.approx((-0.375, 0.25))
