"""
### lakerec_retrain: weekly retraining with champion promotion

Each task submits one packaged job (`spark-submit jobs/<step>.py`) for the run's logical
date (`{{ ds }}`):

`quality_silver` → `features` → `segment` → `train`

* `quality_silver` refuses to train on silver tables that fail their error-level checks;
* `features` refreshes `gold.user_features` as of the run date;
* `segment` fits the segmentation pipeline (KMeans, k chosen by silhouette), registers it
  as `lakerec-segmentation` and promotes it to `champion` when it passes its checks and
  beats the champion's silhouette on the same customers (`segment.promotion_margin`);
* `train` searches implicit ALS's settings (Optuna; the champion's settings are tried
  first, so each week's search carries on from the last one's) and EASE's lambda, chooses on
  validation between ALS, item-item collaborative filtering, EASE (a closed-form item model;
  left out above `recommend.ease.max_items` items), popularity and a weighted blend of them,
  measures every
  family, the chosen one and the current champion on the same held-out data (accuracy,
  Gini and long-tail share, NDCG per segment; logged to MLflow), refits on everything,
  registers it as `lakerec-als` (tag `family`) and promotes it to `champion` only when it
  beats popularity by 5% and the champion by the configured margin on NDCG@10.

`lakerec_daily` scores with whatever model holds the `champion` alias when it runs, so a
promotion here takes effect from the next daily run.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import chain
from lakerec_airflow import lakerec_dag, lakerec_job, quality_gate


@lakerec_dag(
    "lakerec_retrain",
    schedule="0 5 * * 0",  # Sundays, after the daily run
    start_date=datetime(2026, 1, 4, tzinfo=UTC),
    doc_md=__doc__,
)
def lakerec_retrain() -> None:
    chain(
        quality_gate("silver"),
        lakerec_job("features"),
        lakerec_job("segment"),
        lakerec_job("train"),
    )


lakerec_retrain()
