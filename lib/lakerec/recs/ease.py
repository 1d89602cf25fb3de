"""EASE, a closed-form item model: a family ``train`` can choose (a blend component).

Steck, "Embarrassingly Shallow Autoencoders for Sparse Data" (WWW 2019). With the binary
customer x item matrix ``X`` of the training pairs and its Gram matrix ``G = X'X`` (the
item co-occurrence counts), ``P = (G + lambda I)^-1`` and ``B[i, j] = -P[i, j] / P[j, j]``
with a zero diagonal: each item regressed on all the others, with an L2 penalty
``lambda``. A customer's score of item ``j`` is the sum of ``B[i, j]`` over the items ``i``
they have. Unlike item-item's similarities, the weights are learned jointly and may be
negative. On the public benchmarks it is level with the variational autoencoders the
recommendation issue names as the best published results (bench/ranking.md).

With a ``dropout`` share ``p`` > 0 the penalty is EDLAE's (Steck, "Autoencoders that don't
overfit towards the identity", NeurIPS 2020): item ``j``'s is ``lambda + p / (1 - p) G[j, j]``,
the closed form of training on histories with a share ``p`` of their items dropped. It
penalises the popular items' weights more; ``p = 0`` is EASE.

Costs, for ``n`` items: ``B`` is dense and fitted on the driver, ``8 n^2`` bytes and an
``n^3`` inversion (2,000 items: 32 MB, well under a second; 10,000: 800 MB, about 20 s on
2 cores), so the family is left out above ``recommend.ease.max_items``. ``G`` is built on
the driver from the distinct (customer, item) pairs. Scoring runs on the executors with
``B`` broadcast (as float32), ``users_per_block`` customers per matrix product.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pyarrow as pa
from pyspark.broadcast import Broadcast
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from scipy import sparse

from lakerec.core.errors import InputError
from lakerec.core.schemas import ITEM_ID, RANK, SCORE, USER_ID
from lakerec.recs.metrics import require_columns
from lakerec.recs.scoring import top_k_indices

log = logging.getLogger(__name__)

EASE_TOP_K_SCHEMA = T.StructType([T.StructField(USER_ID, T.StringType(), False),
                                  T.StructField(ITEM_ID, T.StringType(), False),
                                  T.StructField(SCORE, T.DoubleType(), False),
                                  T.StructField(RANK, T.IntegerType(), False)])
_ARROW_SCHEMA = pa.schema([pa.field(USER_ID, pa.string(), nullable=False),
                           pa.field(ITEM_ID, pa.string(), nullable=False),
                           pa.field(SCORE, pa.float64(), nullable=False),
                           pa.field(RANK, pa.int32(), nullable=False)])
_POSITION, _HISTORY = "_position", "_history"


class TooManyItemsError(InputError):
    """The catalogue is larger than EASE's dense item x item matrix is allowed to be."""


@dataclass(frozen=True)
class Gram:
    """``G = X'X`` of the binary customer x item matrix: ``matrix[p, q]`` customers have both
    ``items[p]`` and ``items[q]`` (the diagonal: each item's own count)."""

    items: np.ndarray    # item ids (object array), position p is row and column p
    matrix: np.ndarray   # float64, n x n

    def model(self, lamb: float, dropout: float = 0.0) -> EaseModel:
        """EASE's weights for the L2 strength ``lamb`` (> 0) and EDLAE's ``dropout``."""
        return EaseModel(self.items, ease_weights(self.matrix, lamb, dropout), lamb, dropout)


@dataclass(frozen=True)
class EaseModel:
    items: np.ndarray    # as Gram.items
    weights: np.ndarray  # B, float32, n x n, zero diagonal
    lamb: float
    dropout: float = 0.0


def ease_weights(gram: np.ndarray, lamb: float, dropout: float = 0.0) -> np.ndarray:
    """``B = I - P / diag(P)`` column by column, ``P = (gram + Lambda)^-1`` (float32), with
    ``Lambda`` diagonal: ``lamb + dropout / (1 - dropout) diag(gram)``."""
    if lamb <= 0:
        raise ValueError(f"EASE's lambda must be positive, got {lamb}")
    if not 0 <= dropout < 1:
        raise ValueError(f"EDLAE's dropout must be in [0, 1), got {dropout}")
    penalty = lamb + dropout / (1 - dropout) * np.diag(gram)
    inverse = np.linalg.inv(gram + np.diag(penalty))
    weights = inverse / -np.diag(inverse)   # column j divided by -P[j, j]
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def item_gram(interactions: DataFrame, *, max_items: int) -> Gram:
    """:class:`Gram` of the distinct ``(user_id, item_id)`` pairs of ``interactions``
    (confidences are ignored: EASE's matrix is 0/1).

    Raises
    ------
    TooManyItemsError
        When the pairs hold more than ``max_items`` items (checked before anything is
        collected to the driver).
    InputError
        When there are no pairs.
    """
    require_columns(interactions, "interactions", USER_ID, ITEM_ID)
    pairs = interactions.select(USER_ID, ITEM_ID).distinct().cache()
    try:
        n_items = pairs.select(ITEM_ID).distinct().count()
        if n_items > max_items:
            raise TooManyItemsError(
                f"EASE: {n_items:,} items, more than recommend.ease.max_items={max_items:,} "
                f"(its dense item x item matrix would take {8 * n_items ** 2 / 2 ** 30:.1f} "
                "GiB on the driver)")
        if n_items == 0:
            raise InputError("EASE: the training part holds no (customer, item) pairs")
        table = pairs.toArrow()
    finally:
        pairs.unpersist()
    _, user_positions = np.unique(table.column(USER_ID).to_numpy(zero_copy_only=False),
                                  return_inverse=True)
    items, item_positions = np.unique(table.column(ITEM_ID).to_numpy(zero_copy_only=False),
                                      return_inverse=True)
    matrix = sparse.csr_matrix((np.ones(len(user_positions)), (user_positions, item_positions)),
                               shape=(user_positions.max() + 1, len(items)))
    return Gram(items.astype(object), (matrix.T @ matrix).toarray())


def gram_within(interactions: DataFrame, *, max_items: int) -> tuple[Gram | None, str | None]:
    """:func:`item_gram`, or ``None`` and the reason (logged as a warning) when the pairs
    hold more than ``max_items`` items: the family then proposes nothing
    (:func:`no_recommendations`)."""
    try:
        return item_gram(interactions, max_items=max_items), None
    except TooManyItemsError as exc:
        log.warning("%s", exc)
        return None, str(exc)


def no_recommendations(spark: SparkSession) -> DataFrame:
    """An empty :func:`ease_top_k` list: what EASE proposes without a Gram matrix."""
    return spark.createDataFrame([], EASE_TOP_K_SCHEMA)


def ease_top_k(model: EaseModel, interactions: DataFrame, k: int, *,
               users: DataFrame | None = None, users_per_block: int = 2048) -> DataFrame:
    """``(user_id, item_id, score, rank)``: the ``k`` best items of each customer of
    ``interactions`` (of ``users`` only, when given) by their history's EASE scores, never
    an item of that history; equal scores in item order. Fewer than ``k`` when fewer items
    are left; customers whose items the model does not know get none."""
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    require_columns(interactions, "interactions", USER_ID, ITEM_ID)
    spark = interactions.sparkSession
    positions = spark.createDataFrame(
        [(str(item), position) for position, item in enumerate(model.items)],
        T.StructType([T.StructField(ITEM_ID, T.StringType()),
                      T.StructField(_POSITION, T.IntegerType())]))
    pairs = interactions.select(USER_ID, ITEM_ID).distinct()
    if users is not None:
        pairs = pairs.join(users.select(USER_ID).distinct(), USER_ID, "left_semi")
    histories = (pairs.join(F.broadcast(positions), ITEM_ID)
                 .groupBy(USER_ID).agg(F.collect_list(_POSITION).alias(_HISTORY)))
    weights = spark.sparkContext.broadcast(model.weights)
    score = partial(_score_partition, weights=weights, items=model.items, k=k,
                    users_per_block=users_per_block)
    return histories.mapInArrow(score, EASE_TOP_K_SCHEMA)


def _score_partition(batches: Iterator[pa.RecordBatch], *, weights: Broadcast,
                     items: np.ndarray, k: int, users_per_block: int
                     ) -> Iterator[pa.RecordBatch]:
    matrix = weights.value
    for batch in batches:
        for start in range(0, batch.num_rows, users_per_block):
            block = batch.slice(start, users_per_block)
            if block.num_rows:
                yield score_histories(block, matrix, items, k)


def score_histories(block: pa.RecordBatch, weights: np.ndarray, items: np.ndarray,
                    k: int) -> pa.RecordBatch:
    """Top ``k`` of one block: ``user_id`` string, ``_history`` list<int> (item positions)."""
    users = block.column(USER_ID).to_numpy(zero_copy_only=False)
    history = block.column(_HISTORY)
    lengths = history.value_lengths().to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(len(users)), lengths)
    cols = history.flatten().to_numpy(zero_copy_only=False)
    had = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                            shape=(len(users), weights.shape[0]))
    scores = np.asarray(had @ weights)
    scores[rows, cols] = -np.inf          # never an item the customer has
    top = top_k_indices(scores, k)
    top_scores = np.take_along_axis(scores, top, axis=1)
    valid = np.isfinite(top_scores).ravel()
    kept = top.shape[1]
    return pa.RecordBatch.from_arrays([
        pa.array(np.repeat(users, kept)[valid], pa.string()),
        pa.array(items[top.ravel()[valid]], pa.string()),
        pa.array(top_scores.ravel()[valid].astype(np.float64)),
        pa.array(np.tile(np.arange(1, kept + 1, dtype=np.int32), len(users))[valid]),
    ], schema=_ARROW_SCHEMA)


def choose_lambda(gram: Gram, score: Callable[[EaseModel], float], lambdas: Sequence[float],
                  dropout: float = 0.0) -> tuple[EaseModel, dict[float, float]]:
    """The model of the ``lambdas`` value that ``score`` (a validation NDCG@k) rates best,
    the larger ``lambda`` on a tie (the stronger penalty), and every value's score (each
    with EDLAE's ``dropout``)."""
    if not lambdas:
        raise ValueError("EASE: no lambda to try")
    scored: dict[float, float] = {}
    best: EaseModel | None = None
    for lamb in sorted(lambdas, reverse=True):   # a tie keeps the larger
        model = gram.model(lamb, dropout)
        scored[lamb] = score(model)
        log.info("EASE lambda %g: validation score %.4f", lamb, scored[lamb])
        if best is None or scored[lamb] > scored[best.lamb]:
            best = model
    assert best is not None, "lambdas is not empty"
    return best, scored
