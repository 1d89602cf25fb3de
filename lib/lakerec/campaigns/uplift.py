"""Uplift models: who a campaign moves, learned from past campaigns' treatment and control.

**Model (T-learner).** Two Spark ML gradient-boosted tree classifiers on the customers'
features as of each campaign's send date (``gold.user_features`` columns, computed from
silver): one fitted on treated customers, one on controls. The predicted uplift of a
customer is the first's probability of converting minus the second's. Both live in one
``PipelineModel`` (assembler, treated model, control model), registered as
``lakerec-uplift``.

**Evaluation (Qini).** On customers held out of the fit (a hash of the customer), ranked by
predicted uplift: the Qini curve at the top ``k`` is the treated converters there minus the
control converters scaled to the treated count, ``Q(k) = Y_t(k) - Y_c(k) N_t(k) / N_c(k)``.
The Qini coefficient is the area between the curve and the line of random targeting (which
reaches the same ``Q`` at 100%), divided by the number of customers; AUUC is the area under
the curve itself, on the same scale. Both are compared with random targeting (coefficient
about 0) and with segment-level targeting: customers ranked by the lift measured in their
segment (``gold.campaign_results``, measured on all the audience, so this baseline even has
seen the held-out customers), in random order within a segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pyspark.ml import PipelineModel
from pyspark.ml.classification import GBTClassifier
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakerec.campaigns.audience import GROUP, TREATMENT, hash_draw
from lakerec.core.schemas import (
    ACTIVITY_TREND,
    AVG_BASKET_VALUE,
    DAYS_SINCE_LAST_EVENT,
    EVENTS_BASELINE,
    EVENTS_RECENT,
    EVENTS_TOTAL,
    FREQUENCY,
    MONETARY,
    RECENCY_DAYS,
    RETURN_RATE,
    TENURE_DAYS,
    USER_ID,
)

UPLIFT_MODEL = "lakerec-uplift"
EXPERIMENT = "uplift"
FEATURES = (RECENCY_DAYS, DAYS_SINCE_LAST_EVENT, TENURE_DAYS, FREQUENCY, MONETARY,
            AVG_BASKET_VALUE, RETURN_RATE, EVENTS_TOTAL, EVENTS_RECENT, EVENTS_BASELINE,
            ACTIVITY_TREND)
LABEL = "converted"
UPLIFT = "uplift"
_VECTOR, _P_TREATED, _P_CONTROL = "_uplift_features", "_p_treated", "_p_control"
MISSING = -1.0  # a feature the customer has none of (no purchase: no recency)


def feature_columns(features: DataFrame) -> DataFrame:
    """``user_id`` and :data:`FEATURES` as doubles, missing values as :data:`MISSING`."""
    return features.select(USER_ID, *[F.coalesce(F.col(c).cast("double"), F.lit(MISSING))
                                      .alias(c) for c in FEATURES])


def is_holdout(share: float, salt: str) -> Column:
    """Customers kept out of the fit to evaluate it: a hash draw below ``share``."""
    return hash_draw(F.col(USER_ID), salt, "uplift-evaluation") < share


def fit_t_learner(train: DataFrame, *, max_iter: int, max_depth: int, seed: int
                  ) -> PipelineModel:
    """Fit the treated and the control model on ``train`` (:func:`feature_columns`, plus
    ``group`` and ``converted`` 0/1); one ``PipelineModel`` scoring both."""
    assembler = VectorAssembler(inputCols=list(FEATURES), outputCol=_VECTOR)
    assembled = assembler.transform(train).cache()

    def fit(group: str, probability: str) -> object:
        rows = assembled.where((F.col(GROUP) == TREATMENT) == (group == TREATMENT))
        gbt = (GBTClassifier(featuresCol=_VECTOR, labelCol=LABEL, maxIter=max_iter,
                             maxDepth=max_depth, seed=seed,
                             predictionCol=f"{probability}_prediction")
               .setProbabilityCol(probability).setRawPredictionCol(f"{probability}_raw"))
        return gbt.fit(rows.withColumn(LABEL, F.col(LABEL).cast("double")))

    try:
        treated, control = fit(TREATMENT, _P_TREATED), fit("control", _P_CONTROL)
    finally:
        assembled.unpersist()
    return PipelineModel(stages=[assembler, treated, control])  # type: ignore[list-item]


def predict_uplift(model: PipelineModel, customers: DataFrame) -> DataFrame:
    """``customers`` (:func:`feature_columns`) with ``uplift``: P(convert | treated) minus
    P(convert | control)."""
    scored = model.transform(customers)
    uplift = (vector_to_array(F.col(_P_TREATED))[1] - vector_to_array(F.col(_P_CONTROL))[1])
    return scored.withColumn(UPLIFT, uplift).drop(
        _VECTOR, *[f"{p}{suffix}" for p in (_P_TREATED, _P_CONTROL)
                   for suffix in ("", "_raw", "_prediction")])


def single_class(train: DataFrame) -> str | None:
    """Why a T-learner cannot be fitted on ``train``, or None: each group needs converters
    and non-converters."""
    counts = {(r[GROUP] == TREATMENT, r[LABEL]): r["count"]
              for r in train.groupBy(GROUP, LABEL).count().collect()}
    for treated, name in ((True, "treated"), (False, "control")):
        if not counts.get((treated, 1)) or not counts.get((treated, 0)):
            return (f"the {name} customers of past campaigns are all converters or all "
                    "non-converters: nothing to learn")
    return None


@dataclass(frozen=True)
class Qini:
    """A ranking's Qini coefficient and AUUC (both per customer), and the curve's end."""

    coefficient: float
    auuc: float
    total_uplift: float   # Q(n): incremental converters of treating everybody


def qini(score: Sequence[float], treated: Sequence[bool], converted: Sequence[int]) -> Qini:
    """Qini of ranking customers by ``score`` (highest first; ties in the given order).

    ``Q(k) = Y_t(k) - Y_c(k) * N_t(k) / N_c(k)`` over the top ``k``; the coefficient is
    ``sum_k (Q(k) - k/n Q(n)) / n``, AUUC ``sum_k Q(k) / n`` (Radcliffe 2007).
    """
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    t = np.asarray(treated, dtype=bool)[order]
    y = np.asarray(converted, dtype=float)[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    scale = np.divide(n_t, n_c, out=np.zeros(len(t)), where=n_c > 0)
    curve = y_t - y_c * scale
    n = len(curve)
    if n == 0:
        return Qini(0.0, 0.0, 0.0)
    random_line = np.arange(1, n + 1) / n * curve[-1]
    return Qini(float(np.sum(curve - random_line) / n), float(np.sum(curve) / n),
                float(curve[-1]))
