"""
### lakerec_daily: the day's data, from landing files to recommendations

Each task submits one packaged job (`spark-submit jobs/<step>.py`) for the run's logical
date (`{{ ds }}`), to the Spark master of the connection named in the `spark_conn_id` param:

`ingest` → `quality_bronze` → `conform` → `quality_silver` → `features` → `segment` →
`recommend` → `quality_gold` → `dp_report`

It produces, under the config's `paths.root`:

* **bronze** `events`, `customers`, `items`: the landing files as they came, append-only;
* **silver** the same, typed, validated, deduplicated and pseudonymised, and **quarantine**
  with every rejected row and its reason;
* **gold** `user_features` (as of the run date), `customer_segments`, `recommendations`
  (scored with the `champion` ALS model of the MLflow registry) and `similar_items`;
* **gold** `segment_profiles_dp` and `segment_category_revenue_dp`: differentially private
  customer and revenue figures per segment and category, the tables meant for partners
  (`dp_report`; each run spends the privacy budget `dp_reports.epsilon`/`delta` again);
* **ops** `pipeline_runs` (one row per job), `dq_results` (every quality check) and
  `privacy_budget` (the budget each DP report spent).

`segment` runs score-only: it segments customers with the `champion` version of
`lakerec-segmentation` without fitting a new one (it fits one only on a lake that has no
champion yet), so segment labels do not churn from day to day; `lakerec_retrain` fits.

A failed quality gate fails the run: nothing downstream of it runs, and quality tasks are
not retried (bad data stays bad). Other tasks retry with exponential back-off. Every job is
idempotent for its run date, so reruns and backfills
(`airflow backfill create --dag-id lakerec_daily --from-date ... --to-date ...`) process
each date once. No model is trained here: `lakerec_retrain` fits both weekly, and this
DAG's `segment` and `recommend` score with the current champions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import chain
from lakerec_airflow import lakerec_dag, lakerec_job, quality_gate


@lakerec_dag(
    "lakerec_daily",
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    doc_md=__doc__,
)
def lakerec_daily() -> None:
    chain(
        lakerec_job("ingest"),
        quality_gate("bronze"),
        lakerec_job("conform"),
        quality_gate("silver"),
        lakerec_job("features"),
        lakerec_job("segment", "--score-only"),
        lakerec_job("recommend"),
        quality_gate("gold"),
        lakerec_job("dp_report"),
    )


lakerec_daily()
