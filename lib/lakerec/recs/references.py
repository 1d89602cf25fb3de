"""A published recommender of another family, as a reference for ``lakerec bench ranking``.

EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019) is a
closed-form item-item model: with the binary customer x item matrix ``X`` of the training
pairs, ``B = I - P / diag(P)`` where ``P = (X'X + lambda I)^-1``, and a customer's scores are
their row of ``X`` times ``B``. On the public benchmarks it is level with the variational
autoencoders the issue names as the best published results, so it tells how far the
pipeline's ALS and item-item families are from a strong family they do not include.

It runs on the driver (Cornac's implementation, numpy): the item x item matrix is dense, so
it suits catalogues of up to about 10,000 items (MovieLens' 9,066: a 650 MB matrix, about
20 s per lambda to fit and score on 2 cores). It is a bench reference, not a family
``train`` can choose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from lakerec.core.errors import InputError
from lakerec.core.schemas import ITEM_ID, RANK, SCORE, USER_ID

log = logging.getLogger("lakerec.bench")

EASE_DEFAULT_LAMBDA = 500.0   # Cornac's, when there is no validation split to choose on
EASE_LAMBDAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)
RECS_SCHEMA = T.StructType([T.StructField(USER_ID, T.StringType()),
                            T.StructField(ITEM_ID, T.StringType()),
                            T.StructField(SCORE, T.DoubleType()),
                            T.StructField(RANK, T.IntegerType())])


class Ease:
    """EASE on the ``(user_id, item_id)`` pairs of ``train`` (distinct: EASE's matrix is 0/1;
    confidences are ignored), fitted for one ``lambda`` at a time (the L2 regularisation
    added to the diagonal of ``X'X``)."""

    def __init__(self, train: DataFrame) -> None:
        from cornac.data import Dataset

        pairs: pd.DataFrame = train.select(USER_ID, ITEM_ID).distinct().toPandas()
        if pairs.empty:
            raise InputError("EASE: the training part holds no pairs")
        self._dataset = Dataset.from_uir(
            zip(pairs[USER_ID], pairs[ITEM_ID], np.ones(len(pairs)), strict=True), seed=0)
        self._items = np.array(list(self._dataset.iid_map), dtype=object)
        self._lamb: float | None = None
        self._model: object = None

    def _fitted(self, lamb: float) -> object:
        from cornac.models import EASE

        if lamb != self._lamb:
            self._model = None  # one item x item matrix at a time
            # Steck's EASE keeps negative weights (Cornac's default drops them: posB)
            self._model = EASE(lamb=lamb, posB=False, verbose=False).fit(self._dataset)
            self._lamb = lamb
        return self._model

    def top_k(self, users: DataFrame, k: int, *, lamb: float, users_per_block: int
              ) -> DataFrame:
        """``(user_id, item_id, score, rank)``: the ``k`` best items of each customer of
        ``users`` (a ``user_id`` column) who has training pairs, never one of those, scored
        ``users_per_block`` customers at a time (``recommend.users_per_block``)."""
        model = self._fitted(lamb)
        wanted = [row[USER_ID] for row in users.select(USER_ID).distinct().collect()]
        known = [user for user in wanted if user in self._dataset.uid_map]
        blocks = [self._block(model, known[start:start + users_per_block], k)
                  for start in range(0, len(known), users_per_block)]
        frame = (pd.concat(blocks, ignore_index=True) if blocks
                 else pd.DataFrame(columns=[USER_ID, ITEM_ID, SCORE, RANK]))
        return users.sparkSession.createDataFrame(frame, RECS_SCHEMA)

    def _block(self, model: object, users: Sequence[str], k: int) -> pd.DataFrame:
        index = np.array([self._dataset.uid_map[user] for user in users])
        history = model.U[index]  # type: ignore[attr-defined]
        scores = np.asarray(history.dot(model.B))  # type: ignore[attr-defined]
        scores[history.nonzero()] = -np.inf       # never a training pair
        k = min(k, scores.shape[1])
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        best = np.take_along_axis(best, order, axis=1)
        picked = np.take_along_axis(scores, best, axis=1)
        keep = np.isfinite(picked).ravel()          # fewer unseen items than k
        return pd.DataFrame({
            USER_ID: np.repeat(np.array(users, dtype=object), k)[keep],
            ITEM_ID: self._items[best].ravel()[keep],
            SCORE: picked.ravel()[keep].astype(float),
            RANK: np.tile(np.arange(1, k + 1, dtype=np.int32), len(users))[keep]})


def choose_ease_lambda(ease: Ease, users: DataFrame, score: Callable[[DataFrame], float], *,
                       k: int, users_per_block: int,
                       lambdas: Sequence[float] = EASE_LAMBDAS) -> tuple[float, float]:
    """The ``lambda`` of ``lambdas`` whose top ``k`` for ``users`` scores best by ``score``
    (a validation NDCG@k; the larger ``lambda`` on a tie), and that score."""
    if not lambdas:
        raise InputError("EASE: no lambda to try")
    scored = []
    for lamb in lambdas:
        recs = ease.top_k(users, k, lamb=lamb, users_per_block=users_per_block).cache()
        value = score(recs)
        recs.unpersist()
        log.info("EASE lambda %g: validation score %.4f", lamb, value)
        scored.append((value, lamb))
    value, lamb = max(scored)
    return lamb, value
