"""Hybrid recommendations: a weighted blend of the top-k lists of several recommenders.

Each component (``als``, ``item_item``, ``popular``: the :class:`~lakerec.core.schemas.Source`
it serves as) proposes its top ``depth`` items per customer.
Scores of different families are not comparable (a dot product, a sum of similarities, a
share of customers), so each list is turned into rank points first: rank ``r`` of ``depth``
earns ``(depth + 1 - r) / depth`` (1 for the first, ``1 / depth`` for the last, 0 when the
item is not on the list). The blend scores an item by the weighted sum of its points and
keeps the best ``k``. The weights are chosen on a validation split by
:func:`choose_weights`, over the grid of :func:`weight_grid`; its corners are the single
families, so choosing the weights is also choosing the family. It takes the simplest
weighting that validation cannot tell from the best (the one-standard-error rule), since a
gain smaller than its noise on validation does not carry over to new data
(bench/ranking.md, "Blend choice").
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from functools import reduce

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.schemas import ITEM_ID, RANK, SCORE, USER_ID, Source
from lakerec.recs.metrics import require_columns

log = logging.getLogger(__name__)

BLEND = Source.BLEND  # family name of a mix of two or more components


@dataclass(frozen=True)
class BlendWeights:
    """Weight of each component's rank points (non-negative, summing to 1)."""

    als: float = 1.0
    item_item: float = 0.0
    popular: float = 0.0

    def __post_init__(self) -> None:
        values = self.as_dict().values()
        if any(w < 0 for w in values) or abs(sum(values) - 1.0) > 1e-9:
            raise ValueError(f"blend weights must be non-negative and sum to 1, got {self}")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @property
    def family(self) -> str:
        """The one component with weight, or ``blend``."""
        used = [name for name, w in self.as_dict().items() if w > 0]
        return used[0] if len(used) == 1 else BLEND

    def __str__(self) -> str:
        return " + ".join(f"{w:g} {name}" for name, w in self.as_dict().items() if w > 0)

    @classmethod
    def from_logged(cls, params: Mapping[str, str]) -> BlendWeights:
        """From an MLflow run's ``blend.<component>`` params; ALS alone when absent (versions
        logged before blends)."""
        if not any(f"blend.{f.name}" in params for f in fields(cls)):
            return cls()
        return cls(**{f.name: float(params.get(f"blend.{f.name}", 0.0)) for f in fields(cls)})

    def logged(self) -> dict[str, float]:
        return {f"blend.{name}": w for name, w in self.as_dict().items()}


COMPONENTS = tuple(f.name for f in fields(BlendWeights))
assert set(COMPONENTS) <= set(Source), "each component is a recommendation source"


def weight_grid(step: float, components: Sequence[str] = COMPONENTS) -> list[BlendWeights]:
    """Every weighting of ``components`` (the others weigh 0) whose weights are multiples of
    ``step`` summing to 1, single components first (the grid's corners).

    Raises
    ------
    ValueError
        When ``1 / step`` is not a whole number, or a component is unknown or none is given.
    """
    unknown = set(components) - set(COMPONENTS)
    if unknown or not components:
        raise ValueError(f"blend components must be some of {COMPONENTS}, got {components}")
    parts = round(1 / step)
    if parts < 1 or abs(parts * step - 1) > 1e-9:
        raise ValueError(f"the weight step must divide 1, got {step}")
    grid = [BlendWeights(*(n / parts for n in combo))
            for combo in itertools.product(range(parts + 1), repeat=len(COMPONENTS))
            if sum(combo) == parts
            and all(n == 0 or name in components for n, name in zip(combo, COMPONENTS,
                                                                    strict=True))]
    return sorted(grid, key=lambda w: (w.family == BLEND, [-v for v in w.as_dict().values()]))


def rank_points(candidates: DataFrame, depth: int) -> DataFrame:
    """``(user_id, item_id, points)``: rank ``r <= depth`` earns ``(depth + 1 - r) / depth``."""
    require_columns(candidates, "candidates", USER_ID, ITEM_ID, RANK)
    return (candidates.where(F.col(RANK) <= depth)
            .select(USER_ID, ITEM_ID, ((depth + 1 - F.col(RANK)) / depth).alias("_points")))


def blend(candidates: Mapping[str, DataFrame], weights: BlendWeights, *, depth: int,
          k: int) -> DataFrame:
    """Top ``k`` ``(user_id, item_id, score, rank)`` of the weighted rank points.

    ``candidates`` maps component names (:data:`COMPONENTS`) to ``(user_id, item_id, rank)``
    lists; components with weight 0 are not read and may be missing. Ties break by item id.
    """
    used = {name: w for name, w in weights.as_dict().items() if w > 0}
    missing = sorted(set(used) - set(candidates))
    if missing:
        raise ValueError(f"blend weights {weights} need candidates of {missing}")
    parts = [rank_points(candidates[name], depth).select(
        USER_ID, ITEM_ID, (F.col("_points") * w).alias("_points")) for name, w in used.items()]
    union = reduce(DataFrame.unionByName, parts)
    order = Window.partitionBy(USER_ID).orderBy(F.col(SCORE).desc(), F.col(ITEM_ID))
    return (union.groupBy(USER_ID, ITEM_ID).agg(F.sum("_points").alias(SCORE))
            .withColumn(RANK, F.row_number().over(order)).where(F.col(RANK) <= k)
            .select(USER_ID, ITEM_ID, SCORE, RANK))


@dataclass(frozen=True)
class Weighing:
    """One weighting's validation evidence: its mean per-customer score, and how far the
    customers score below the best weighting, paired customer by customer."""

    weights: BlendWeights
    score: float
    shortfall: float      # mean per-customer score of the best weighting minus this one's
    # standard error of that mean: 0 for the best; None when not needed, for weightings
    # no simpler than the best (the rule could not choose them instead)
    shortfall_se: float | None

    def within(self, tolerance_se: float) -> bool:
        if self.shortfall <= 0:
            return True
        return self.shortfall_se is not None and self.shortfall <= tolerance_se * self.shortfall_se

    def logged(self) -> dict[str, object]:
        return {**self.weights.as_dict(), "family": self.weights.family, "score": self.score,
                "shortfall": self.shortfall, "shortfall_se": self.shortfall_se}


def simplicity(weights: BlendWeights) -> tuple[int, float]:
    """Sort key, simplest first: fewer families, then nearer a single family (a larger
    largest weight)."""
    values = [w for w in weights.as_dict().values() if w > 0]
    return len(values), -max(values)


def paired_errors(others: Mapping[int, DataFrame], best: DataFrame) -> dict[int, float]:
    """Standard error of the mean per-customer difference between ``best`` and each of
    ``others``: ``(user_id, _value, _weighting)`` frames over the same customers, keyed by
    their ``_weighting``."""
    reference = best.select(USER_ID, F.col("_value").alias("_best"))
    union = reduce(DataFrame.unionByName, others.values())
    gap = F.col("_best") - F.col("_value")
    rows = (union.join(reference, USER_ID).groupBy("_weighting")
            .agg((F.coalesce(F.stddev_samp(gap), F.lit(0.0)) / F.sqrt(F.count("*")))
                 .alias("se"))
            .collect())
    return {row["_weighting"]: float(row["se"]) for row in rows}


def choose_weights(candidates: Mapping[str, DataFrame], grid: list[BlendWeights],
                   per_user: Callable[[DataFrame], DataFrame], *, depth: int, k: int,
                   tolerance_se: float = 0.0) -> tuple[BlendWeights, list[Weighing]]:
    """The simplest weighting of ``grid`` (:func:`simplicity`) that scores as well as the
    best one, within ``tolerance_se`` standard errors, and every weighting's evidence.

    ``per_user`` scores a blend's top ``k`` per customer (for example NDCG@10 on validation,
    :func:`~lakerec.recs.metrics.ndcg_per_user`): ``(user_id, value)`` for the same customers
    whatever the recommendations. A weighting is as good as the best when its mean shortfall
    to the best, paired customer by customer, is at most ``tolerance_se`` times the standard
    error of that shortfall: the one-standard-error rule (Hastie, Tibshirani and Friedman,
    *The Elements of Statistical Learning*, 7.10) with the paired error of two models scored
    on the same customers. ``0`` takes the best; ties go to the simpler weighting either way.
    Among equally simple weightings within the tolerance the higher score wins. Standard
    errors are computed only for the weightings simpler than the best (the others could not
    be chosen instead of it).
    """
    if not grid:
        raise ValueError("the weight grid is empty")
    if tolerance_se < 0:
        raise ValueError(f"the tolerance must be at least 0 standard errors, got {tolerance_se}")
    scored: list[DataFrame] = []
    means: list[float] = []
    for n, weights in enumerate(grid):
        values = (per_user(blend(candidates, weights, depth=depth, k=k))
                  .toDF(USER_ID, "_value").withColumn("_weighting", F.lit(n)).cache())
        mean = values.agg(F.avg("_value")).first()[0]  # type: ignore[index]
        if mean is None:
            raise ValueError("the blend's per-customer scores hold no customer")
        log.info("blend %s: %.4f", weights, mean)
        scored.append(values)
        means.append(float(mean))
    best = max(range(len(grid)),
               key=lambda n: (means[n], tuple(-v for v in simplicity(grid[n]))))
    # the paired errors of the weightings the rule could choose instead: the simpler ones
    contenders = [n for n, weights in enumerate(grid)
                  if simplicity(weights) < simplicity(grid[best])]
    se_of = paired_errors({n: scored[n] for n in contenders}, scored[best]) if contenders else {}
    se_of[best] = 0.0
    for part in scored:
        part.unpersist()
    weighings = [Weighing(weights, means[n], means[best] - means[n], se_of.get(n))
                 for n, weights in enumerate(grid)]
    chosen = min((w for w in weighings if w.within(tolerance_se)),
                 key=lambda w: (simplicity(w.weights), -w.score))
    log.info("blend chosen: %s (validation %.4f; best %s %.4f)", chosen.weights, chosen.score,
             grid[best], means[best])
    return chosen.weights, weighings
