"""Hybrid recommendations: a weighted blend of the top-k lists of several recommenders.

Each component (``als``, ``item_item``, ``popular``, ``ease``: the
:class:`~lakerec.core.schemas.Source` it serves as) proposes its top ``depth`` items per
customer. Scores of different families are not comparable (a dot product, a sum of
similarities, a share of customers, a sum of learned weights), so each list is turned into
rank points first: rank ``r`` of ``depth`` earns ``(depth + 1 - r) / depth`` (1 for the
first, ``1 / depth`` for the last, 0 when the item is not on the list). The blend scores an
item by the weighted sum of its points and keeps the best ``k``. The weights are chosen on a
validation split by :func:`choose_weights`, over the grid of :func:`weight_grid`; its
corners are the single families, so choosing the weights is also choosing the family. It
takes the simplest weighting that validation cannot tell from the best (the
one-standard-error rule), since a gain smaller than its noise on validation does not carry
over to new data (bench/ranking.md, "Blend choice").
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from functools import reduce

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.schemas import ITEM_ID, RANK, SCORE, USER_ID, Source
from lakerec.recs.metrics import ndcg_per_user, require_columns

log = logging.getLogger(__name__)

BLEND = Source.BLEND  # family name of a mix of two or more components
WEIGHTING = "_weighting"  # index of a weighting in the grid of :func:`blend_grid`


@dataclass(frozen=True)
class BlendWeights:
    """Weight of each component's rank points (non-negative, summing to 1)."""

    als: float = 1.0
    item_item: float = 0.0
    popular: float = 0.0
    ease: float = 0.0     # last: versions logged before EASE have no weight for it

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
    return blend_grid(candidates, [weights], depth=depth, k=k).drop(WEIGHTING)


def blend_grid(candidates: Mapping[str, DataFrame], grid: Sequence[BlendWeights], *,
               depth: int, k: int) -> DataFrame:
    """:func:`blend` of every weighting of ``grid`` at once: ``(_weighting, user_id, item_id,
    score, rank)``, where ``_weighting`` is the weighting's index in ``grid``.

    One Spark job for the whole grid: each component's rank points are joined to the
    (broadcast) weights of the weightings that use it.
    """
    if not grid:
        raise ValueError("the weight grid is empty")
    used = {name for weights in grid for name, w in weights.as_dict().items() if w > 0}
    missing = sorted(used - set(candidates))
    if missing:
        raise ValueError(f"blend weights {', '.join(map(str, grid))} need candidates of "
                         f"{missing}")
    points = reduce(DataFrame.unionByName, [
        rank_points(candidates[name], depth).withColumn("_component", F.lit(name))
        for name in sorted(used)])
    weights = points.sparkSession.createDataFrame(
        [(n, name, w) for n, weights in enumerate(grid)
         for name, w in weights.as_dict().items() if w > 0],
        f"{WEIGHTING} int, _component string, _weight double")
    weighted = points.join(F.broadcast(weights), "_component").select(
        WEIGHTING, USER_ID, ITEM_ID, (F.col("_points") * F.col("_weight")).alias("_points"))
    order = Window.partitionBy(WEIGHTING, USER_ID).orderBy(F.col(SCORE).desc(), F.col(ITEM_ID))
    return (weighted.groupBy(WEIGHTING, USER_ID, ITEM_ID).agg(F.sum("_points").alias(SCORE))
            .withColumn(RANK, F.row_number().over(order)).where(F.col(RANK) <= k)
            .select(WEIGHTING, USER_ID, ITEM_ID, SCORE, RANK))


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


def paired_errors(values: DataFrame, best: int, others: Sequence[int]) -> dict[int, float]:
    """Standard error of the mean per-customer difference between weighting ``best`` and
    each of ``others``, from ``(_weighting, user_id, _value)`` over the same customers."""
    reference = values.where(F.col(WEIGHTING) == best).select(
        USER_ID, F.col("_value").alias("_best"))
    gap = F.col("_best") - F.col("_value")
    rows = (values.where(F.col(WEIGHTING).isin(list(others))).join(reference, USER_ID)
            .groupBy(WEIGHTING)
            .agg((F.coalesce(F.stddev_samp(gap), F.lit(0.0)) / F.sqrt(F.count("*")))
                 .alias("se"))
            .collect())
    return {row[WEIGHTING]: float(row["se"]) for row in rows}


def ndcg_per_weighting(recs: DataFrame, relevant: DataFrame, k: int,
                       n_weightings: int) -> DataFrame:
    """``(_weighting, user_id, _value)``: each customer's NDCG@``k`` under each of the
    ``n_weightings`` weightings of :func:`blend_grid`'s ``recs``, one row per weighting and
    customer with a relevant item (0 when none is recommended)."""
    key = "_key"
    weightings = recs.sparkSession.range(n_weightings).select(
        F.col("id").cast("int").alias(WEIGHTING))
    keyed_relevant = (relevant.select(USER_ID, ITEM_ID).crossJoin(F.broadcast(weightings))
                      .select(F.struct(WEIGHTING, USER_ID).alias(key), ITEM_ID))
    keyed_recs = recs.select(F.struct(WEIGHTING, USER_ID).alias(key), ITEM_ID, RANK)
    return (ndcg_per_user(keyed_recs, keyed_relevant, k, user_col=key)
            .select(f"{key}.{WEIGHTING}", f"{key}.{USER_ID}", F.col("ndcg").alias("_value")))


def choose_weights(candidates: Mapping[str, DataFrame], grid: list[BlendWeights],
                   relevant: DataFrame, *, depth: int, k: int, tolerance_se: float = 0.0,
                   thinned: Mapping[str, DataFrame] | None = None,
                   reach: float = 0.0) -> tuple[BlendWeights, list[Weighing]]:
    """The simplest weighting of ``grid`` (:func:`simplicity`) that scores as well as the
    best one, within ``tolerance_se`` standard errors, and every weighting's evidence.

    Each weighting's top ``k`` is scored per customer by NDCG@``k`` against ``relevant``
    (``(user_id, item_id)``, for example a validation split's), the whole grid in one Spark
    job (:func:`blend_grid`). A weighting is as good as the best when its mean shortfall
    to the best, paired customer by customer, is at most ``tolerance_se`` times the standard
    error of that shortfall: the one-standard-error rule (Hastie, Tibshirani and Friedman,
    *The Elements of Statistical Learning*, 7.10) with the paired error of two models scored
    on the same customers. ``0`` takes the best; ties go to the simpler weighting either way.
    Among equally simple weightings within the tolerance the higher score wins. Standard
    errors are computed only for the weightings simpler than the best (the others could not
    be chosen instead of it).

    With ``thinned`` (the same components trained on fewer of the training pairs, for the
    same customers), each customer's score is projected along the learning curve through
    the two sizes: ``score + (score - thinned score) x reach``, and the rule runs on the
    projected scores.
    """
    if not grid:
        raise ValueError("the weight grid is empty")
    if tolerance_se < 0:
        raise ValueError(f"the tolerance must be at least 0 standard errors, got {tolerance_se}")
    values = ndcg_per_weighting(blend_grid(candidates, grid, depth=depth, k=k), relevant,
                                k, len(grid))
    if thinned is not None:
        fewer = ndcg_per_weighting(blend_grid(thinned, grid, depth=depth, k=k), relevant, k,
                                   len(grid)).withColumnRenamed("_value", "_thinned")
        projected = F.col("_value") + (F.col("_value") - F.col("_thinned")) * F.lit(reach)
        values = values.join(fewer, [WEIGHTING, USER_ID]).select(
            WEIGHTING, USER_ID, projected.alias("_value"))
    values = values.cache()
    try:
        rows = values.groupBy(WEIGHTING).agg(F.avg("_value").alias("_mean")).collect()
        mean_of = {row[WEIGHTING]: float(row["_mean"]) for row in rows}
        if not mean_of:
            raise ValueError("no customer of the blend's candidates has a relevant item")
        means = [mean_of[n] for n in range(len(grid))]
        for weights, mean in zip(grid, means, strict=True):
            log.info("blend %s: %.4f%s", weights, mean,
                     "" if thinned is None else " (projected)")
        best = max(range(len(grid)),
                   key=lambda n: (means[n], tuple(-v for v in simplicity(grid[n]))))
        # the paired errors of the weightings the rule could choose instead: the simpler ones
        contenders = [n for n, weights in enumerate(grid)
                      if simplicity(weights) < simplicity(grid[best])]
        se_of = paired_errors(values, best, contenders) if contenders else {}
    finally:
        values.unpersist()
    se_of[best] = 0.0
    weighings = [Weighing(weights, means[n], means[best] - means[n], se_of.get(n))
                 for n, weights in enumerate(grid)]
    chosen = min((w for w in weighings if w.within(tolerance_se)),
                 key=lambda w: (simplicity(w.weights), -w.score))
    log.info("blend chosen: %s (validation %.4f; best %s %.4f)", chosen.weights, chosen.score,
             grid[best], means[best])
    return chosen.weights, weighings
