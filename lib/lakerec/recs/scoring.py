"""Top-k scoring of every user against every item, in blocks on the executors.

``ALSModel.recommendForAllUsers`` is slow: it cross-joins blocks of factors and ranks
through generic Spark machinery. Here the item factor matrix (items are few) is collected
once and broadcast; each executor task stacks blocks of user vectors into a matrix, takes
one BLAS matrix product with the items, masks excluded items and keeps the top k with a
partial sort. See ``bench/scoring.md`` for the measured speed-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import partial

import numpy as np
import pyarrow as pa
from pyspark.broadcast import Broadcast
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakerec.core.schemas import FACTOR_FEATURES, FACTOR_ID, RANK, SCORE, SCORED_ITEM, SCORED_USER
from lakerec.recs.metrics import require_columns

log = logging.getLogger(__name__)

TOP_K_SCHEMA = T.StructType([
    T.StructField(SCORED_USER, T.IntegerType(), False),
    T.StructField(SCORED_ITEM, T.IntegerType(), False),
    T.StructField(SCORE, T.FloatType(), False),
    T.StructField(RANK, T.IntegerType(), False),
])
_ARROW_SCHEMA = pa.schema([
    pa.field(SCORED_USER, pa.int32(), nullable=False),
    pa.field(SCORED_ITEM, pa.int32(), nullable=False),
    pa.field(SCORE, pa.float32(), nullable=False),
    pa.field(RANK, pa.int32(), nullable=False),
])
_USER, _FEATURES, _EXCLUDE = "_user", "_features", "_exclude"


def collect_item_factors(item_factors: DataFrame, exclude_items: Sequence[int] = ()
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Item ids (int32, ascending) and their factor matrix (float32, one row per id).

    Items of ``exclude_items`` are left out, so they can never be recommended.
    """
    require_columns(item_factors, "item factors", FACTOR_ID, FACTOR_FEATURES)
    table = item_factors.select(F.col(FACTOR_ID).cast("int"),
                                F.col(FACTOR_FEATURES).cast("array<float>")).toArrow()
    ids = table.column(0).to_numpy().astype(np.int32)
    features = table.column(1).combine_chunks()
    values = features.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    if len(ids) == 0:
        return ids, np.zeros((0, 0), dtype=np.float32)
    if values.size % len(ids):
        raise ValueError("item factors have feature vectors of different lengths")
    matrix = values.reshape(len(ids), -1)
    keep = ~np.isin(ids, np.asarray(exclude_items, dtype=np.int64))
    order = np.argsort(ids[keep], kind="stable")
    return ids[keep][order], np.ascontiguousarray(matrix[keep][order])


def kth_best_lower_bound(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row, a value no greater than the row's k-th best score (1 <= k <= columns).

    The k-th best of the maxima of column groups: k groups hold a score at least that
    high. Reducing groups of 64 first makes the partial sort 64 times smaller, and the
    bound is tight: only about k scores per row reach it. Group j holds the columns
    j, j + groups, j + 2 groups, ..., so the reduction runs over contiguous vectors.
    """
    n_rows, n_cols = scores.shape
    width = min(64, n_cols // (4 * k))
    if width < 2:
        return np.partition(scores, n_cols - k, axis=1)[:, n_cols - k]
    groups = n_cols // width
    maxima = scores[:, :groups * width].reshape(n_rows, width, groups).max(axis=1)
    return np.partition(maxima, groups - k, axis=1)[:, groups - k]


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k highest scores, best first, ties by lower index.

    Only the candidates reaching :func:`kth_best_lower_bound` (about k per row) are sorted,
    by (row, score descending, column), so equal scores come out in column order.
    """
    n_rows, n_cols = scores.shape
    kept = min(k, n_cols)
    if kept == 0:
        return np.zeros((n_rows, 0), dtype=np.int64)
    bound = kth_best_lower_bound(scores, kept)
    rows, cols = np.divmod(np.flatnonzero(scores >= bound[:, None]), n_cols)
    order = np.lexsort((cols, -scores[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    first = np.searchsorted(rows, np.arange(n_rows))
    return cols[first[:, None] + np.arange(kept)]


def score_block(block: pa.RecordBatch, item_ids: np.ndarray, items_t: np.ndarray,
                k: int) -> pa.RecordBatch:
    """Top k of one block of users: ``_user`` int, ``_features`` list<float>, ``_exclude``
    list<int> (nullable) against the transposed item matrix ``items_t`` (rank x items)."""
    users = block.column(_USER).to_numpy(zero_copy_only=False)
    n_users = len(users)
    values = block.column(_FEATURES).flatten().to_numpy(zero_copy_only=False)
    user_matrix = values.astype(np.float32, copy=False).reshape(n_users, -1)
    if user_matrix.shape[1] != items_t.shape[0]:
        raise ValueError(f"user factors have rank {user_matrix.shape[1]}, "
                         f"item factors rank {items_t.shape[0]}")
    scores = user_matrix @ items_t
    excluded = block.column(_EXCLUDE)
    lengths = excluded.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    if lengths.sum():
        excluded_ids = excluded.flatten().to_numpy(zero_copy_only=False)
        rows = np.repeat(np.arange(n_users), lengths)
        cols = np.minimum(np.searchsorted(item_ids, excluded_ids), len(item_ids) - 1)
        known = item_ids[cols] == excluded_ids
        scores[rows[known], cols[known]] = -np.inf
    top = top_k_indices(scores, k)
    top_scores = np.take_along_axis(scores, top, axis=1)
    valid = np.isfinite(top_scores).ravel()
    kept = top.shape[1]
    return pa.RecordBatch.from_arrays([
        pa.array(np.repeat(users, kept)[valid].astype(np.int32)),
        pa.array(item_ids[top.ravel()[valid]]),
        pa.array(top_scores.ravel()[valid].astype(np.float32)),
        pa.array(np.tile(np.arange(1, kept + 1, dtype=np.int32), n_users)[valid]),
    ], schema=_ARROW_SCHEMA)


def _score_partition(batches: Iterator[pa.RecordBatch], *, items: Broadcast, k: int,
                     users_per_block: int) -> Iterator[pa.RecordBatch]:
    item_ids, item_matrix = items.value
    items_t = np.ascontiguousarray(item_matrix.T)
    for batch in batches:
        for start in range(0, batch.num_rows, users_per_block):
            scored = score_block(batch.slice(start, users_per_block), item_ids, items_t, k)
            if scored.num_rows:
                yield scored


def top_k_blocked(user_factors: DataFrame, item_factors: DataFrame, k: int, *,
                  exclude_pairs: DataFrame | None = None,
                  exclude_items: Sequence[int] = (),
                  users_per_block: int = 2048,
                  pair_user_col: str = SCORED_USER,
                  pair_item_col: str = SCORED_ITEM) -> DataFrame:
    """The k best items of every user by dot product of ALS factors.

    Parameters
    ----------
    user_factors, item_factors
        Shaped like ``ALSModel.userFactors`` / ``.itemFactors``: ``id`` int,
        ``features`` array<float>.
    k
        Items per user.
    exclude_pairs
        Per-user masks (e.g. purchased items): integer ids in columns ``pair_user_col``
        (default ``user``) and ``pair_item_col`` (default ``item``).
    exclude_items
        Item ids never to recommend (e.g. out of stock).
    users_per_block
        Users scored per matrix product; memory per task ~ ``users_per_block x items x 4``
        bytes (2048 x 20,000 items: 160 MB).

    Returns
    -------
    DataFrame
        ``user`` int, ``item`` int, ``score`` float, ``rank`` int (1..k, best first; equal
        scores ordered by item id). Exactly k rows per user when at least k items remain
        after the masks, otherwise all that remain.

    Notes
    -----
    Collects ``item_factors`` to the driver (one action) and broadcasts it: meant for
    catalogues up to a few hundred thousand items. The user side stays distributed and
    is scored with ``mapInArrow``. The broadcast lives as long as the session.
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    if users_per_block < 1:
        raise ValueError(f"users_per_block must be positive, got {users_per_block}")
    require_columns(user_factors, "user factors", FACTOR_ID, FACTOR_FEATURES)
    item_ids, item_matrix = collect_item_factors(item_factors, exclude_items)
    log.info("scoring users against %d items (rank %d), top %d, %d users per block",
             len(item_ids), item_matrix.shape[1], k, users_per_block)
    users = user_factors.select(F.col(FACTOR_ID).cast("int").alias(_USER),
                                F.col(FACTOR_FEATURES).cast("array<float>").alias(_FEATURES))
    if exclude_pairs is None:
        users = users.withColumn(_EXCLUDE, F.lit(None).cast("array<int>"))
    else:
        require_columns(exclude_pairs, "excluded pairs", pair_user_col, pair_item_col)
        masks = (exclude_pairs.where(F.col(pair_item_col).isNotNull())
                 .groupBy(F.col(pair_user_col).cast("int").alias(_USER))
                 .agg(F.collect_list(F.col(pair_item_col).cast("int")).alias(_EXCLUDE)))
        users = users.join(masks, _USER, "left")
    if len(item_ids) == 0:
        return users.sparkSession.createDataFrame([], TOP_K_SCHEMA)
    items = users.sparkSession.sparkContext.broadcast((item_ids, item_matrix))
    score = partial(_score_partition, items=items, k=k, users_per_block=users_per_block)
    return users.select(_USER, _FEATURES, _EXCLUDE).mapInArrow(score, TOP_K_SCHEMA)
