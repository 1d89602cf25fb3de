"""Implicit-feedback ALS: fitting and top-k scoring through the blocked scorer.

Notes
-----
ALS needs deterministic input: it shuffles ratings into user and item blocks, and a retried
task that sees its rows in another order builds different blocks (Spark then fails the job
or, worse, silently mixes factors). :func:`prepare_ratings` therefore fixes the partitioning
and the order within partitions and caches the result, and every fit gets a fixed seed.
Checkpointing every few iterations keeps the lineage short (the session factory sets the
checkpoint directory).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.schemas import (
    CONFIDENCE,
    FACTOR_ID,
    ITEM_IDX,
    RANK,
    SCORE,
    SCORED_ITEM,
    SCORED_USER,
    USER_IDX,
)
from lakerec.recs.scoring import top_k_blocked
from lakerec.recs.search import AlsParams

log = logging.getLogger(__name__)

def prepare_ratings(ratings: DataFrame, num_partitions: int) -> DataFrame:
    """Deterministic, cached ALS input ``(user_idx, item_idx, confidence)`` (see Notes)."""
    return (ratings.select(USER_IDX, ITEM_IDX, F.col(CONFIDENCE).cast("float").alias(CONFIDENCE))
            .repartition(num_partitions, USER_IDX)
            .sortWithinPartitions(USER_IDX, ITEM_IDX)
            .cache())


def fit_als(ratings: DataFrame, params: AlsParams, *, max_iter: int, num_blocks: int,
            checkpoint_interval: int, seed: int, implicit: bool = True) -> ALSModel:
    """Fit ALS on prepared ratings (:func:`prepare_ratings`)."""
    als = ALS(rank=params.rank, regParam=params.reg_param, alpha=params.alpha,
              maxIter=max_iter, implicitPrefs=implicit, nonnegative=False,
              userCol=USER_IDX, itemCol=ITEM_IDX, ratingCol=CONFIDENCE,
              numUserBlocks=num_blocks, numItemBlocks=num_blocks,
              checkpointInterval=checkpoint_interval, coldStartStrategy="drop", seed=seed)
    return als.fit(ratings)


def top_k(model: ALSModel, k: int, *, users: DataFrame | None = None,
          exclude_pairs: DataFrame | None = None, exclude_items: Sequence[int] = (),
          users_per_block: int = 2048) -> DataFrame:
    """Top-k items ``(user_idx, item_idx, score, rank)`` of ``users`` (all when None).

    ``exclude_pairs`` holds ``(user_idx, item_idx)`` never to recommend (items bought).
    """
    user_factors = model.userFactors
    if users is not None:
        user_factors = user_factors.join(
            users.select(F.col(USER_IDX).alias(FACTOR_ID)).distinct(), FACTOR_ID)
    return score_factors(user_factors, model.itemFactors, k, exclude_pairs=exclude_pairs,
                         exclude_items=exclude_items, users_per_block=users_per_block)


def score_factors(user_factors: DataFrame, item_factors: DataFrame, k: int, *,
                  exclude_pairs: DataFrame | None = None, exclude_items: Sequence[int] = (),
                  users_per_block: int = 2048) -> DataFrame:
    """:func:`lakerec.recs.scoring.top_k_blocked` in this module's column names."""
    scored = top_k_blocked(user_factors, item_factors, k, exclude_pairs=exclude_pairs,
                           exclude_items=list(exclude_items), users_per_block=users_per_block,
                           pair_user_col=USER_IDX, pair_item_col=ITEM_IDX)
    return scored.select(F.col(SCORED_USER).alias(USER_IDX), F.col(SCORED_ITEM).alias(ITEM_IDX),
                         F.col(SCORE).cast("double").alias(SCORE), F.col(RANK))
