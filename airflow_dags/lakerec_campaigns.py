"""
### lakerec_campaigns: plan a campaign with a control group

Triggered by hand (no schedule) on the campaign's send date, with the `campaign` param: the
name of a definition `<paths.campaigns>/<campaign>.yaml` (`conf/campaigns/` by default). One
task submits `jobs/campaign.py plan <campaign>`, which

* writes the audience to `gold.campaign_audiences`: the customers the audience rule admits
  (segments, recency, consent, no other campaign within the cool-down), capped at random,
  each assigned to treatment or control by a hash of (salt, campaign, customer), so a
  rerun never moves anyone from one group to the other;
* prints the minimum detectable lift per segment and overall, and warns when the campaign
  cannot detect the lift its decision rule asks for;
* exports the treatment group for the channel (Parquet and CSV: customer id, channel, offer)
  under `<paths.artifacts>/campaigns/<campaign>/<send date>/`.

See `docs/campaigns.md`. Measuring the campaign after its window (`campaign measure`) is
not built yet (issue 15).
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Param
from lakerec_airflow import lakerec_dag, lakerec_job


@lakerec_dag(
    "lakerec_campaigns",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    doc_md=__doc__,
    extra_params={"campaign": Param("", type="string", minLength=1,
                                    description="the campaign to plan: "
                                                "<paths.campaigns>/<campaign>.yaml")},
    tags=("lakerec", "campaigns"),
)
def lakerec_campaigns() -> None:
    lakerec_job("campaign", "plan", "{{ params.campaign }}", task_id="plan")


lakerec_campaigns()
