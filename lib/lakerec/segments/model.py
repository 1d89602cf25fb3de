"""KMeans segmentation of customers with purchases, and rules for those without.

The model is one Spark ML ``PipelineModel``: a ``SQLTransformer`` (nulls to 0, signed
``log1p`` of skewed money and count features), ``VectorAssembler``, ``StandardScaler``
(mean 0, unit variance) and ``KMeans``. The number of segments ``k`` is chosen over a range:
each candidate is fitted once per seed and keeps its lowest-cost fit. A candidate is *stable*
when the seeds that reach that cost (within ``cost_tolerance``) agree: the mean adjusted Rand
index (ARI) between their assignments reaches ``min_stability``. Seeds that stop at a clearly
higher cost are KMeans local optima, not another reading of the data, and are left out of the
comparison (they are what the best-of-seeds choice discards anyway). Among stable candidates
the one with the highest silhouette wins (the highest silhouette overall when none is
stable).

Customers without purchases are not clustered: ``new`` when their first activity lies
within ``new_customer_days`` of the run date, ``browsers`` otherwise. Rule segments have
negative ids and no distance to a centroid.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import comb
from typing import cast

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.clustering import KMeans, KMeansModel
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import SQLTransformer, StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.errors import ConfigError
from lakerec.core.schemas import DISTANCE_TO_CENTROID, HAS_PURCHASE, SEGMENT_ID, TENURE_DAYS

log = logging.getLogger(__name__)

SCALED_FEATURES = "scaled_features"
NEW_SEGMENT_ID = -1
BROWSERS_SEGMENT_ID = -2
RULE_LABELS = {NEW_SEGMENT_ID: "new", BROWSERS_SEGMENT_ID: "browsers"}

_ASSEMBLED = "_assembled"
_INPUT_PREFIX = "_in_"


def preprocessing_stages(model_features: Sequence[str], log_features: Sequence[str]) -> list:
    """SQLTransformer, VectorAssembler and StandardScaler producing ``scaled_features``."""
    unknown = sorted(set(log_features) - set(model_features))
    if unknown:
        raise ConfigError(f"segment.log_features {unknown} are not in segment.model_features")
    expressions = []
    for name in model_features:
        value = f"CAST(COALESCE(`{name}`, 0) AS DOUBLE)"
        if name in log_features:  # signed log: monetary can be negative after returns
            value = f"SIGN({value}) * LN(1 + ABS({value}))"
        expressions.append(f"{value} AS `{_INPUT_PREFIX}{name}`")
    return [
        SQLTransformer(statement=f"SELECT *, {', '.join(expressions)} FROM __THIS__"),
        VectorAssembler(inputCols=[_INPUT_PREFIX + n for n in model_features],
                        outputCol=_ASSEMBLED),
        StandardScaler(inputCol=_ASSEMBLED, outputCol=SCALED_FEATURES, withMean=True,
                       withStd=True),
    ]


def kmeans(k: int, *, seed: int, max_iter: int) -> KMeans:
    return KMeans(k=k, seed=seed, maxIter=max_iter, featuresCol=SCALED_FEATURES,
                  predictionCol=SEGMENT_ID)


def adjusted_rand_index(contingency: Iterable[tuple[object, object, int]]) -> float:
    """ARI of two labelings from their contingency table ``(label_a, label_b, count)``.

    1 for identical partitions (up to renaming), about 0 for independent ones.
    """
    cells = [(a, b, int(n)) for a, b, n in contingency]
    rows: Counter[object] = Counter()
    cols: Counter[object] = Counter()
    for a, b, n in cells:
        rows[a] += n
        cols[b] += n
    total = sum(rows.values())
    index = sum(comb(n, 2) for _, _, n in cells)
    row_pairs = sum(comb(n, 2) for n in rows.values())
    col_pairs = sum(comb(n, 2) for n in cols.values())
    expected = row_pairs * col_pairs / comb(total, 2) if total > 1 else 0.0
    maximum = (row_pairs + col_pairs) / 2
    if maximum == expected:  # both partitions trivial (one cluster, or all singletons)
        return 1.0
    return (index - expected) / (maximum - expected)


@dataclass(frozen=True)
class Candidate:
    """One candidate k: silhouette of its best seed, stability across its near-best seeds.

    ``stability`` is None when no other seed came within the cost tolerance of the best.
    """

    k: int
    silhouette: float
    stability: float | None
    training_cost: float
    near_best_seeds: int = 1


@dataclass
class Selection:
    candidates: list[Candidate]
    k: int
    stable: bool
    model: KMeansModel


def _seed_stability(predictions: DataFrame, columns: Sequence[str]) -> float | None:
    """Mean pairwise ARI between assignment columns, from one joint count in Spark."""
    if len(columns) < 2:
        return None
    joint = predictions.groupBy(*columns).count().collect()
    scores = []
    for i, j in itertools.combinations(range(len(columns)), 2):
        pair: Counter[tuple[int, int]] = Counter()
        for row in joint:
            pair[(row[i], row[j])] += int(row["count"])
        scores.append(adjusted_rand_index((a, b, n) for (a, b), n in pair.items()))
    return sum(scores) / len(scores)


def near_best(models: Sequence[KMeansModel], cost_tolerance: float) -> list[KMeansModel]:
    """The fits whose training cost is within ``cost_tolerance`` (relative) of the lowest,
    lowest cost first."""
    ranked = sorted(models, key=lambda m: m.summary.trainingCost)
    limit = ranked[0].summary.trainingCost * (1 + cost_tolerance)
    return [m for m in ranked if m.summary.trainingCost <= limit]


def select_k(prepared: DataFrame, *, k_values: Sequence[int], seeds: Sequence[int],
             max_iter: int, min_stability: float, cost_tolerance: float) -> Selection:
    """Fit KMeans for every k and seed on ``prepared`` (holding ``scaled_features``).

    ``prepared`` should be cached: it is read once per fit.
    """
    evaluator = ClusteringEvaluator(featuresCol=SCALED_FEATURES, predictionCol=SEGMENT_ID)
    candidates: list[Candidate] = []
    best_models: dict[int, KMeansModel] = {}
    for k in k_values:
        models = [kmeans(k, seed=seed, max_iter=max_iter).fit(prepared) for seed in seeds]
        agreeing = near_best(models, cost_tolerance)
        best = agreeing[0]
        best_models[k] = best
        # ClusteringEvaluator refuses a single cluster (all customers alike, or one customer):
        # such a fit scores the worst silhouette, -1, and never passes the champion checks.
        silhouette = (evaluator.evaluate(best.transform(prepared))
                      if clusters_found(best) > 1 else -1.0)
        columns = [f"_seed_{i}" for i in range(len(agreeing))]
        joint = prepared
        for model, column in zip(agreeing, columns, strict=True):
            joint = model.copy({model.predictionCol: column}).transform(joint)
        stability = _seed_stability(joint.select(*columns), columns)
        candidate = Candidate(k, float(silhouette), stability, float(best.summary.trainingCost),
                              near_best_seeds=len(agreeing))
        log.info("k=%d: silhouette %.3f, stability %s over %d of %d seeds", k, silhouette,
                 "-" if stability is None else f"{stability:.3f}", len(agreeing), len(models))
        candidates.append(candidate)
    stable = [c for c in candidates if c.stability is None or c.stability >= min_stability]
    pool = stable or candidates
    chosen = max(pool, key=lambda c: (c.silhouette, -c.k))
    return Selection(candidates=candidates, k=chosen.k, stable=bool(stable),
                     model=best_models[chosen.k])


def clusters_found(model: KMeansModel) -> int:
    """Clusters of a fitted KMeans model that hold customers (fewer than k when the data has
    fewer distinct points)."""
    return sum(1 for size in model.summary.clusterSizes if size > 0)


def silhouette_of(model: PipelineModel, buyers: DataFrame, space: PipelineModel) -> float:
    """Silhouette of ``model``'s clusters of ``buyers``, measured in the feature space that
    ``space`` (a fitted preprocessing pipeline) maps them to: two models compared with the
    same ``space`` on the same customers are compared on the same evaluation. -1 for a
    single cluster."""
    predicted = cluster_assignments(model, buyers).select(*buyers.columns, SEGMENT_ID)
    prepared = space.transform(predicted).select(SCALED_FEATURES, SEGMENT_ID).cache()
    try:
        if prepared.select(SEGMENT_ID).distinct().limit(2).count() < 2:
            return -1.0
        return float(ClusteringEvaluator(featuresCol=SCALED_FEATURES, predictionCol=SEGMENT_ID)
                     .evaluate(prepared))
    finally:
        prepared.unpersist()


def with_distance_to_centroid(df: DataFrame, centers: Sequence[Sequence[float]], *,
                              features_col: str = SCALED_FEATURES,
                              segment_col: str = SEGMENT_ID) -> DataFrame:
    """Euclidean distance (in the scaled feature space) from each row to its segment's center."""
    center_table = F.array(*[F.array(*[F.lit(float(v)) for v in c]) for c in centers])
    center = F.element_at(center_table, F.col(segment_col).cast("int") + 1)
    squares = F.zip_with(vector_to_array(F.col(features_col)), center,
                         lambda x, c: (x - c) * (x - c))
    return df.withColumn(DISTANCE_TO_CENTROID,
                         F.sqrt(F.aggregate(squares, F.lit(0.0), lambda acc, v: acc + v)))


def cluster_assignments(model: PipelineModel, buyers: DataFrame) -> DataFrame:
    """``buyers`` with ``segment_id`` and ``distance_to_centroid`` from a fitted model."""
    kmeans_model = cast(KMeansModel, model.stages[-1])
    centers = [list(map(float, c)) for c in kmeans_model.clusterCenters()]
    scored = model.transform(buyers).transform(
        lambda df: with_distance_to_centroid(df, centers))
    helper_columns = [c for c in scored.columns
                      if c.startswith(_INPUT_PREFIX) or c in (_ASSEMBLED, SCALED_FEATURES)]
    return scored.drop(*helper_columns).withColumn(SEGMENT_ID, F.col(SEGMENT_ID).cast("int"))


def rule_assignments(non_buyers: DataFrame, *, new_customer_days: int) -> DataFrame:
    """Customers without purchases: ``new`` when recently first seen, else ``browsers``."""
    segment = F.when(F.col(TENURE_DAYS) <= new_customer_days, F.lit(NEW_SEGMENT_ID)) \
        .otherwise(F.lit(BROWSERS_SEGMENT_ID))
    return (non_buyers.withColumn(SEGMENT_ID, segment.cast("int"))
            .withColumn(DISTANCE_TO_CENTROID, F.lit(None).cast("double")))


def assign_segments(model: PipelineModel, features: DataFrame, *,
                    new_customer_days: int) -> DataFrame:
    """Every customer of ``features`` with exactly one ``segment_id`` (and its features)."""
    buyers = features.where(F.col(HAS_PURCHASE))
    others = features.where(~F.col(HAS_PURCHASE))
    return cluster_assignments(model, buyers).unionByName(
        rule_assignments(others, new_customer_days=new_customer_days))


def fit_segmentation(buyers: DataFrame, *, model_features: Sequence[str],
                     log_features: Sequence[str], k_values: Sequence[int],
                     seeds: Sequence[int], max_iter: int, min_stability: float,
                     cost_tolerance: float) -> tuple[PipelineModel, Selection]:
    """Fit preprocessing once, choose k with :func:`select_k`, return the whole model.

    Returns
    -------
    PipelineModel
        SQLTransformer, VectorAssembler, StandardScaler and the chosen KMeans model: it
        turns a ``gold.user_features`` frame into ``segment_id`` predictions.
    Selection
        Every candidate's silhouette and stability, and the chosen k.
    """
    if not k_values:
        raise ConfigError("segment: no candidate k (check segment.k_min <= segment.k_max)")
    preprocessing = Pipeline(stages=preprocessing_stages(model_features, log_features))
    fitted = preprocessing.fit(buyers)
    prepared = fitted.transform(buyers).select(SCALED_FEATURES).cache()
    try:
        selection = select_k(prepared, k_values=k_values, seeds=seeds, max_iter=max_iter,
                             min_stability=min_stability, cost_tolerance=cost_tolerance)
    finally:
        prepared.unpersist()
    return PipelineModel(stages=[*fitted.stages, selection.model]), selection
