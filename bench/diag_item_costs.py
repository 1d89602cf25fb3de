"""The item models' costs on a ``make run`` workspace's validation split, part by part.

A diagnostic of bench/train_time.md, "Item-item and EASE's Gram matrix, part by part". It
builds ``train``'s validation split, then times each part three times:

- item-item's co-occurrence, its similarity, and its scoring, with Spark's join planning
  and with the similarity broadcast by hand;
- EASE's Gram matrix two ways. One is ``lakerec.recs.ease.item_gram``: the distinct pairs
  are collected to the driver and multiplied there as a sparse matrix. The other is Spark
  MLlib's ``RowMatrix.computeGramianMatrix``: one sparse row per customer, accumulated on
  the executors. It checks that both give the same matrix.

Run it from the directory whose ``workspace/`` a ``make run`` filled, alone on the
machine::

    .venv/bin/python bench/diag_item_costs.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from make_run_split import make_run_validation
from pyspark.mllib.linalg import Vectors
from pyspark.mllib.linalg.distributed import RowMatrix
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.schemas import ITEM_ID, USER_ID
from lakerec.recs import item_similarity as ii
from lakerec.recs.ease import item_gram
from lakerec.recs.tuning import PRIMARY_K

REPEATS = 3
T = TypeVar("T")


def timed(label: str, work: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = work()
    print(f"  {label}: {time.perf_counter() - start:.1f} s", flush=True)
    return result


def gram_on_executors(interactions: DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Items (sorted, as ``item_gram``'s) and ``X'X`` by ``RowMatrix.computeGramianMatrix``."""
    pairs = interactions.select(USER_ID, ITEM_ID).distinct()
    items = np.array(sorted(row[0] for row in pairs.select(ITEM_ID).distinct().collect()),
                     dtype=object)
    n = len(items)
    positions = interactions.sparkSession.createDataFrame(
        [(str(item), p) for p, item in enumerate(items)], f"{ITEM_ID} string, _p int")
    rows = (pairs.join(F.broadcast(positions), ITEM_ID).groupBy(USER_ID)
            .agg(F.array_sort(F.collect_list("_p")).alias("_ps")))
    vectors = rows.rdd.map(lambda row: Vectors.sparse(n, row[1], [1.0] * len(row[1])))
    return items, RowMatrix(vectors, numCols=n).computeGramianMatrix().toArray()


def main() -> None:
    ctx, _, fitter, validation = make_run_validation("diag-item-costs")
    config = ctx.config
    affinities = validation.train_with(fitter.spec).cache()
    users = validation.relevant.select(USER_ID).distinct().cache()
    print(f"{affinities.count():,} training pairs, {users.count():,} validation customers")
    cfg = config.recommend.item_item
    depth = max(config.recommend.blend.depth, PRIMARY_K)
    for run in range(1, REPEATS + 1):
        print(f"run {run}")
        cooccurrence = ii.item_cooccurrence(affinities,
                                            max_items_per_user=cfg.max_items_per_user)
        timed("item-item co-occurrence", cooccurrence.count)
        similarity = ii.item_similarity(cooccurrence, metric=cfg.similarity,
                                        min_cooccurrence=cfg.min_cooccurrence,
                                        neighbours=cfg.neighbours).cache()
        timed("item-item co-occurrence and similarity", similarity.count)
        timed("item-item scoring", ii.item_similarity_top_k(
            affinities, similarity, depth, users=users).count)
        timed("item-item scoring, similarity broadcast", ii.item_similarity_top_k(
            affinities, F.broadcast(similarity), depth, users=users).count)
        similarity.unpersist()
        on_driver = timed("EASE Gram on the driver (item_gram)",
                          lambda: item_gram(validation.train, max_items=10**9))
        items, matrix = timed("EASE Gram on the executors (RowMatrix)",
                              lambda: gram_on_executors(validation.train))
        assert list(items) == list(on_driver.items)
        assert np.array_equal(matrix, on_driver.matrix)
        print("  the two Gram matrices are equal")


if __name__ == "__main__":
    main()
