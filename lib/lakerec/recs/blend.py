"""Hybrid recommendations: a weighted blend of the top-k lists of several recommenders.

Each component (``als``, ``item_item``, ``popular``: the :class:`~lakerec.core.schemas.Source`
it serves as) proposes its top ``depth`` items per customer.
Scores of different families are not comparable (a dot product, a sum of similarities, a
share of customers), so each list is turned into rank points first: rank ``r`` of ``depth``
earns ``(depth + 1 - r) / depth`` (1 for the first, ``1 / depth`` for the last, 0 when the
item is not on the list). The blend scores an item by the weighted sum of its points and
keeps the best ``k``. The weights are chosen on a validation split by
:func:`choose_weights`, over the grid of :func:`weight_grid`; its corners are the single
families, so choosing the weights is also choosing the family.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields

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
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    order = Window.partitionBy(USER_ID).orderBy(F.col(SCORE).desc(), F.col(ITEM_ID))
    return (union.groupBy(USER_ID, ITEM_ID).agg(F.sum("_points").alias(SCORE))
            .withColumn(RANK, F.row_number().over(order)).where(F.col(RANK) <= k)
            .select(USER_ID, ITEM_ID, SCORE, RANK))


def choose_weights(candidates: Mapping[str, DataFrame], grid: list[BlendWeights],
                   objective: Callable[[DataFrame], float], *, depth: int,
                   k: int) -> tuple[BlendWeights, list[tuple[BlendWeights, float]]]:
    """The weights of ``grid`` whose blend scores best by ``objective`` (for example NDCG@10
    on validation), and every weighting's score. Ties go to the earlier weights (single
    families first: the simpler model)."""
    if not grid:
        raise ValueError("the weight grid is empty")
    results = []
    for weights in grid:
        score = objective(blend(candidates, weights, depth=depth, k=k))
        log.info("blend %s: %.4f", weights, score)
        results.append((weights, score))
    best = max(results, key=lambda r: r[1])  # max keeps the first of equal scores
    return best[0], results
