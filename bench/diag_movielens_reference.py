"""References on the split of ``bench/movielens_benchmark.py``, outside lakerec: plain Spark
ALS as the issue ran it (implicitPrefs, every rating 1, 15 iterations), EASE in numpy at
five lambdas, two item-item families of other kinds (cosine neighbours and RP3beta, the
random walk with a popularity penalty), and rank-point blends of ALS and EASE, each scored
by NDCG@10 on the held-out ratings (items seen in training never recommended; every
held-out film relevant)::

    .venv/bin/python bench/diag_movielens_reference.py \\
        workspace/artifacts/bench/movielens_e2e/by_item \\
        '[{"rank": 32, "reg": 0.1, "alpha": 0.5},
          {"rank": 48, "reg": 0.15, "alpha": 1, "seeds": [42, 7, 11, 13, 17]}]'

A setting with ``seeds`` is a bag: the mean of the scores of one fit per seed. A third
argument, a JSON list of EASE lambdas, scores EASE at those (the first of them blended with
ALS) and skips the item-item families. A fourth, a JSON list of EDLAE dropouts (Steck 2020;
``recommend.ease.dropout``), scores EASE at each lambda with each of them (the first of them
blended)::

    .venv/bin/python bench/diag_movielens_reference.py \
        workspace/artifacts/bench/movielens_e2e/by_item \
        '[{"rank": 32, "reg": 0.1, "alpha": 0.5}]' '[300, 500, 1000]' '[0.5, 0]'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.ml.recommendation import ALS
from pyspark.sql import SparkSession

K = 10
EASE_LAMBDAS = (100.0, 200.0, 300.0, 500.0, 1000.0)
BLENDED_LAMBDA = 300.0
DEPTH = 50   # items each component proposes to a blend, as recommend.blend.depth
RP3_ALPHAS = (0.6, 0.8, 1.0)   # the transition probabilities' exponent
RP3_BETAS = (0.4, 0.5, 0.6, 0.7)   # the popularity penalty's exponent


def main() -> None:
    folder, settings = Path(sys.argv[1]), json.loads(sys.argv[2])
    lambdas = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
    dropouts = json.loads(sys.argv[4]) if len(sys.argv) > 4 else [0.0]
    train = pd.read_parquet(folder / "train.parquet")
    test = pd.read_parquet(folder / "test.parquet")
    users = sorted(set(train.userId) | set(test.userId))
    items = sorted(set(train.movieId))
    user_index = {user: n for n, user in enumerate(users)}
    item_index = {item: n for n, item in enumerate(items)}
    seen = np.zeros((len(users), len(items)))
    seen[train.userId.map(user_index), train.movieId.map(item_index)] = 1.0
    relevant = test.groupby("userId").movieId.apply(set)

    def ndcg(scores: np.ndarray) -> float:
        unseen = np.where(seen > 0, -np.inf, scores)
        top = np.argsort(-unseen, axis=1)[:, :K]
        total = 0.0
        for user, films in relevant.items():
            gains = [items[j] in films for j in top[user_index[user]]]
            dcg = sum(gain / np.log2(n + 2) for n, gain in enumerate(gains))
            total += dcg / sum(1 / np.log2(n + 2) for n in range(min(K, len(films))))
        return total / len(relevant)

    def ease(lamb: float, dropout: float = 0.0) -> np.ndarray:
        gram = seen.T @ seen
        gram[np.diag_indices_from(gram)] += lamb + dropout / (1 - dropout) * np.diag(gram)
        inverse = np.linalg.inv(gram)
        weights = -inverse / np.diag(inverse)
        weights[np.diag_indices_from(weights)] = 0.0
        return seen @ weights

    def rank_points(scores: np.ndarray) -> np.ndarray:
        order = np.argsort(-np.where(seen > 0, -np.inf, scores), axis=1)[:, :DEPTH]
        points = np.zeros_like(scores)
        np.put_along_axis(points, order, DEPTH - np.arange(DEPTH)[None, :], axis=1)
        return points

    def rp3beta(alpha: float, beta: float) -> np.ndarray:
        user_steps = seen / np.maximum(seen.sum(axis=1, keepdims=True), 1.0)
        item_steps = seen.T / np.maximum(seen.T.sum(axis=1, keepdims=True), 1.0)
        weights = (item_steps ** alpha) @ (user_steps ** alpha)
        weights /= np.maximum(seen.sum(axis=0), 1.0)[None, :] ** beta
        weights[np.diag_indices_from(weights)] = 0.0
        return seen @ weights

    def cosine() -> np.ndarray:
        counts = seen.T @ seen
        norms = np.sqrt(np.diag(counts))
        weights = counts / np.maximum(np.outer(norms, norms), 1e-9)
        weights[np.diag_indices_from(weights)] = 0.0
        return seen @ weights

    for lamb in lambdas or EASE_LAMBDAS:
        for dropout in dropouts:
            label = f", EDLAE dropout {dropout:g}" if dropout else ""
            print(f"EASE lambda {lamb:g}{label}: {ndcg(ease(lamb, dropout)):.4f}", flush=True)
    if lambdas is None:
        print(f"item-item cosine: {ndcg(cosine()):.4f}", flush=True)
        for alpha in RP3_ALPHAS:
            figures = [f"beta {beta:g} {ndcg(rp3beta(alpha, beta)):.4f}"
                       for beta in RP3_BETAS]
            print(f"RP3beta alpha {alpha:g}: " + "; ".join(figures), flush=True)
    spark = SparkSession.builder.master("local[2]").getOrCreate()
    spark.sparkContext.setCheckpointDir(str(folder / "reference_checkpoints"))
    ratings = spark.createDataFrame(pd.DataFrame({
        "u": train.userId.map(user_index), "i": train.movieId.map(item_index), "r": 1.0}))
    blended_lambda = lambdas[0] if lambdas else BLENDED_LAMBDA
    blended = rank_points(ease(blended_lambda, dropouts[0]))

    def als(params: dict, seed: int) -> np.ndarray:
        model = ALS(rank=params["rank"], regParam=params["reg"], alpha=params["alpha"],
                    maxIter=params.get("it", 15), implicitPrefs=True, userCol="u",
                    itemCol="i", ratingCol="r", seed=seed).fit(ratings)
        user_factors = np.zeros((len(users), params["rank"]))
        item_factors = np.zeros((len(items), params["rank"]))
        for row in model.userFactors.collect():
            user_factors[row.id] = row.features
        for row in model.itemFactors.collect():
            item_factors[row.id] = row.features
        return user_factors @ item_factors.T

    for params in settings:
        scores = np.mean([als(params, seed) for seed in params.get("seeds", [42])], axis=0)
        blends = [f"{w} ALS + {1 - w} EASE {blended_lambda:g} (dropout {dropouts[0]:g}): "
                  f"{ndcg(w * rank_points(scores) + (1 - w) * blended):.4f}"
                  for w in (0.25, 0.5, 0.75)]
        print(f"ALS {params}: {ndcg(scores):.4f}; " + "; ".join(blends), flush=True)


if __name__ == "__main__":
    main()
