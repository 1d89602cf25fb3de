"""The learning curve behind ``recommend.split.projection_share``: two ALS settings fitted on
growing shares of the training part of ``bench/movielens_benchmark.py``'s split, scored on
the same held-out pairs, and on the test part at the full size::

    .venv/bin/python bench/diag_learning_curve.py \\
        workspace/artifacts/bench/movielens_e2e/by_item '[16, 0.7, 4.0]'

Per seed (43, 44, 45), each customer's training pairs (``train.parquet``) are split 75/25;
the 25% is held out, and both settings are fitted on the first 60%, 80% and 100% of the 75%
(45%, 60% and 75% of the pairs ``lakerec run`` is given; its validation fits on 56%). The
first setting is the default point (rank 32, regParam 0.1, alpha 0.5); the second is given
as ``[rank, regParam, alpha]``. Binary confidences, 12 iterations, seed 42, plain Spark ALS.
Prints each mean NDCG@10 and the paired difference with its standard error.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
from pyspark.ml.recommendation import ALS
from pyspark.sql import SparkSession

K = 10
DEFAULT_POINT = (32, 0.1, 0.5)
SEEDS = (43, 44, 45)
FRACTIONS = (0.6, 0.8, 1.0)   # of the 75% kept for training


def main() -> None:
    folder, other = sys.argv[1], tuple(json.loads(sys.argv[2]))
    pairs = pd.read_parquet(f"{folder}/train.parquet")[["userId", "movieId"]]
    test = pd.read_parquet(f"{folder}/test.parquet")
    spark = (SparkSession.builder.master("local[2]")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setCheckpointDir(f"{folder}/reference_checkpoints")
    users = {user: n for n, user in enumerate(sorted(pairs.userId.unique()))}
    items = {item: n for n, item in enumerate(sorted(pairs.movieId.unique()))}
    discount = 1 / np.log2(np.arange(2, K + 2))

    def ndcg_per_user(train: pd.DataFrame, held: pd.DataFrame, params: tuple) -> np.ndarray:
        rank, reg, alpha = params
        ratings = spark.createDataFrame(pd.DataFrame({
            "u": train.userId.map(users), "i": train.movieId.map(items), "r": 1.0}))
        model = ALS(rank=int(rank), regParam=reg, alpha=alpha, maxIter=12, implicitPrefs=True,
                    userCol="u", itemCol="i", ratingCol="r", seed=42).fit(ratings)
        user_factors = np.zeros((len(users), int(rank)))
        item_factors = np.zeros((len(items), int(rank)))
        for row in model.userFactors.collect():
            user_factors[row.id] = row.features
        for row in model.itemFactors.collect():
            item_factors[row.id] = row.features
        scores = user_factors @ item_factors.T
        scores[train.userId.map(users).to_numpy(), train.movieId.map(items).to_numpy()] = -np.inf
        top = np.argsort(-scores, axis=1)[:, :K]
        values = []
        for user, group in held.groupby("userId"):
            wanted = set(group.movieId.map(items).dropna())
            hits = np.array([item in wanted for item in top[users[user]]])
            values.append((hits * discount).sum() / discount[:min(K, len(group))].sum())
        return np.array(values)

    for seed in SEEDS:
        draw = np.random.default_rng(seed).random(len(pairs))
        order = pairs.assign(_q=draw).groupby("userId")._q.rank(pct=True)
        kept, held = pairs[order <= 0.75], pairs[order > 0.75]
        for fraction in FRACTIONS:
            train = kept[order[kept.index] <= 0.75 * fraction]
            first = ndcg_per_user(train, held, DEFAULT_POINT)
            second = ndcg_per_user(train, held, other)
            gap = first - second
            print(f"seed {seed}, {0.75 * fraction:.0%} of the pairs: default point "
                  f"{first.mean():.4f}, {list(other)} {second.mean():.4f}, difference "
                  f"{gap.mean():+.4f} +/- {gap.std() / np.sqrt(len(gap)):.4f}", flush=True)
    first = ndcg_per_user(pairs, test, DEFAULT_POINT)
    second = ndcg_per_user(pairs, test, other)
    print(f"test, all the pairs: default point {first.mean():.4f}, {list(other)} "
          f"{second.mean():.4f}", flush=True)


if __name__ == "__main__":
    main()
