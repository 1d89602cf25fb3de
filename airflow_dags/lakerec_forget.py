"""
### lakerec_forget: erase customers on request

Triggered by hand (no schedule), with the `users_file` param: a text file of customer ids,
one per line, readable by the Spark driver. One task submits `jobs/forget.py`, which

* deletes every row of those customers from every Delta table of the lake (bronze, silver,
  quarantine, gold, the index tables, ops), by MERGE, so no commit records an id;
* purges the touched tables: rewrites files with deletion vectors and VACUUMs them with
  `privacy.erasure.vacuum_retention_hours` (0 by default: no time travel to versions before
  the erasure on those tables);
* writes one audit row per customer to `ops.erasures`, holding the id's pseudonym only.

Run it between pipeline runs: a daily run reading a table while it is vacuumed can fail.
It is not retried (a half-done erasure is finished by triggering it again). See
`docs/privacy.md` for what an erasure leaves (models trained before it, until the next
retrain).
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Param
from lakerec_airflow import lakerec_dag, lakerec_job


@lakerec_dag(
    "lakerec_forget",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    doc_md=__doc__,
    extra_params={"users_file": Param("", type="string", minLength=1,
                                      description="text file of the customer ids to erase, "
                                                  "one per line, as the Spark driver sees it")},
    tags=("lakerec", "privacy"),
)
def lakerec_forget() -> None:
    lakerec_job("forget", "--users-file", "{{ params.users_file }}", retries=0)


lakerec_forget()
