"""lakerec's ranking metrics equal Spark ML's ``RankingEvaluator`` on the same lists."""

from __future__ import annotations

import random

import pytest
from pyspark.ml.evaluation import RankingEvaluator
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakerec.recs.metrics import ranking_metrics

SPARK_NAMES = {"precision": "precisionAtK", "recall": "recallAtK", "ndcg": "ndcgAtK",
               "map": "meanAveragePrecisionAtK"}


def test_metrics_equal_spark_ranking_evaluator(spark: SparkSession) -> None:
    rng = random.Random(3)
    recommended, relevant = [], []
    for user in range(40):
        items = rng.sample(range(30), 12)
        recommended += [(f"u{user}", f"i{item}", rank) for rank, item in enumerate(items, 1)]
        truth = rng.sample(range(30), rng.randint(1, 8))
        relevant += [(f"u{user}", f"i{item}") for item in truth]
    recs = spark.createDataFrame(recommended, "user_id string, item_id string, rank int")
    truth = spark.createDataFrame(relevant, "user_id string, item_id string")
    ours = ranking_metrics(recs, truth, ks=(5, 10))

    as_number = F.expr("cast(substring(item_id, 2) as double)")
    predictions = (recs.groupBy("user_id").agg(F.sort_array(F.collect_list(
        F.struct("rank", as_number.alias("item")))).alias("_ranked"))
        .select("user_id", F.col("_ranked.item").alias("prediction")))
    labels = truth.groupBy("user_id").agg(F.collect_set(as_number).alias("label"))
    lists = predictions.join(labels, "user_id")
    for k in (5, 10):
        for ours_name, spark_name in SPARK_NAMES.items():
            theirs = RankingEvaluator(metricName=spark_name, k=k, predictionCol="prediction",
                                      labelCol="label").evaluate(lists)
            assert ours[f"{ours_name}@{k}"] == pytest.approx(theirs, abs=1e-9), (ours_name, k)
