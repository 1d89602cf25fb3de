"""The statistics of a campaign with a control group: power at plan time, lift with its
confidence interval and p-value at measurement time, a correction across segments, the
sample-ratio-mismatch check and the verdict. Pure functions over counts and moments (Spark
aggregates them); the distributions come from SciPy.

Conventions: ``t`` is the treatment group, ``c`` the control group; rates are shares in
0..1; ``alpha`` is the two-sided significance level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy import stats

Verdict = Literal["won", "lost", "inconclusive"]


def minimum_detectable_effect(n_t: int, n_c: int, baseline_rate: float, *,
                              alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest absolute lift in conversion rate a two-sided two-proportion z-test
    detects with probability ``power``, for groups of ``n_t`` and ``n_c`` customers whose
    conversion rate without the campaign is ``baseline_rate``.

    ``(z[1 - alpha/2] + z[power]) * sqrt(p (1 - p) (1/n_t + 1/n_c))``, the normal
    approximation of the textbooks (e.g. Chow, Shao & Wang, *Sample Size Calculations in
    Clinical Research*, 4.2), evaluated at the baseline rate.
    """
    if n_t <= 0 or n_c <= 0:
        return math.inf
    if not 0 < baseline_rate < 1:
        raise ValueError(f"baseline rate must be in (0, 1), got {baseline_rate}")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z * math.sqrt(baseline_rate * (1 - baseline_rate) * (1 / n_t + 1 / n_c)))


@dataclass(frozen=True)
class Lift:
    """Treatment minus control, with its two-sided confidence interval and p-value."""

    treatment: float        # the treatment group's rate or mean
    control: float
    absolute: float         # treatment - control
    low: float              # confidence interval of ``absolute``
    high: float
    p_value: float
    relative: float         # absolute / control (nan when control is 0)

    def verdict(self, *, alpha: float, p_value: float | None = None) -> Verdict:
        """``won`` or ``lost`` when the (corrected, if given) p-value is below ``alpha``,
        by the sign of the lift; else ``inconclusive``."""
        p = self.p_value if p_value is None else p_value
        if p >= alpha or self.absolute == 0:
            return "inconclusive"
        return "won" if self.absolute > 0 else "lost"


def conversion_lift(converters_t: int, n_t: int, converters_c: int, n_c: int, *,
                    alpha: float = 0.05) -> Lift:
    """Lift in conversion rate: the two-proportion z-test (pooled standard error) for the
    p-value; Newcombe's hybrid score interval for the difference (Newcombe 1998, method 10:
    from the Wilson intervals of the two rates), which keeps its coverage with few or no
    converters, where the Wald interval collapses to a point."""
    if n_t <= 0 or n_c <= 0:
        raise ValueError("both groups need customers")
    p_t, p_c = converters_t / n_t, converters_c / n_c
    pooled = (converters_t + converters_c) / (n_t + n_c)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    diff = p_t - p_c
    p_value = 1.0 if se_pooled == 0 else float(2 * stats.norm.sf(abs(diff) / se_pooled))
    z = float(stats.norm.ppf(1 - alpha / 2))
    low_t, high_t = wilson_interval(converters_t, n_t, z)
    low_c, high_c = wilson_interval(converters_c, n_c, z)
    low = diff - math.sqrt((p_t - low_t) ** 2 + (high_c - p_c) ** 2)
    high = diff + math.sqrt((high_t - p_t) ** 2 + (p_c - low_c) ** 2)
    return Lift(p_t, p_c, diff, low, high, p_value, diff / p_c if p_c else math.nan)


def wilson_interval(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson's score interval of a proportion (``z``: the normal quantile)."""
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_lift(mean_t: float, var_t: float, n_t: int, mean_c: float, var_c: float, n_c: int,
              *, alpha: float = 0.05) -> Lift:
    """Lift in a mean (revenue per customer) by Welch's t-test, from each group's mean and
    sample variance: unequal variances, Welch-Satterthwaite degrees of freedom."""
    if n_t < 2 or n_c < 2:
        raise ValueError("Welch's test needs two customers per group")
    se_t, se_c = var_t / n_t, var_c / n_c
    se = math.sqrt(se_t + se_c)
    diff = mean_t - mean_c
    if se == 0:
        return Lift(mean_t, mean_c, diff, diff, diff, 1.0 if diff == 0 else 0.0,
                    diff / mean_c if mean_c else math.nan)
    df = (se_t + se_c) ** 2 / (se_t ** 2 / (n_t - 1) + se_c ** 2 / (n_c - 1))
    t_crit = float(stats.t.ppf(1 - alpha / 2, df))
    p_value = float(2 * stats.t.sf(abs(diff) / se, df))
    return Lift(mean_t, mean_c, diff, diff - t_crit * se, diff + t_crit * se, p_value,
                diff / mean_c if mean_c else math.nan)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error rate across the segments of one
    measurement), in the order given: compare each with ``alpha``."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def sample_ratio_p_value(n_t: int, n_c: int, treatment_share: float) -> float:
    """P-value of the chi-square goodness-of-fit test of the groups' sizes against the
    planned split: a tiny value means the assignment or the logging is broken."""
    total = n_t + n_c
    expected = [total * treatment_share, total * (1 - treatment_share)]
    return float(stats.chisquare([n_t, n_c], expected).pvalue)
