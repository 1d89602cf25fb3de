"""
### lakerec_maintenance: weekly upkeep of every Delta table

One task submits `jobs/maintain.py` (`lakerec maintain`), which for every table of the lake

* adds the CHECK constraints lakerec declares for it and it lacks (tables created by an
  older lakerec; Delta verifies the rows already there);
* compacts small files (`OPTIMIZE`): the ops tables take a commit per step;
* deletes files no version younger than `maintenance.vacuum_retention_hours` (7 days by
  default) needs (`VACUUM`): time travel reaches back that far.

It holds the lake's lease like every job, so it never runs beside a daily run: scheduled on
Saturdays, before the Sunday retrain.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lakerec_airflow import lakerec_dag, lakerec_job


@lakerec_dag(
    "lakerec_maintenance",
    schedule="0 4 * * 6",  # Saturdays, after the daily run
    start_date=datetime(2026, 1, 3, tzinfo=UTC),
    doc_md=__doc__,
)
def lakerec_maintenance() -> None:
    lakerec_job("maintain")


lakerec_maintenance()
