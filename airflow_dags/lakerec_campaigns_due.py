"""
### lakerec_campaigns_due: every day, the campaigns whose day it is

Scheduled daily at 06:00 UTC, after `lakerec_daily` (02:00) has refreshed segments and
recommendations. One task submits `jobs/campaign.py due`, the same step `lakerec run` ends
with:

* every campaign of `paths.campaigns` whose send date is the run date (or that has none and
  was never planned) is planned: audience, control group, treatment export;
* every campaign planned, or sent by a channel (`audience_source: contacts`, its log landed
  in `landing/contacts/` and conformed by `lakerec_daily`), whose attribution window has
  closed and that has no result yet is measured into `gold.campaign_results`;
* a campaign whose inputs are missing is left for another day with a warning.

Then `uplift` relearns the `lakerec-uplift` model from every measured campaign (champion only
when it beats random targeting, segment targeting and the champion on Qini). For one
campaign by hand, with a wait for its window, use `lakerec_campaigns`. See
`docs/campaigns.md`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lakerec_airflow import lakerec_dag, lakerec_job


@lakerec_dag(
    "lakerec_campaigns_due",
    schedule="0 6 * * *",  # after lakerec_daily
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    doc_md=__doc__,
    tags=("lakerec", "campaigns"),
)
def lakerec_campaigns_due() -> None:
    due = lakerec_job("campaign", "due", task_id="due")
    uplift = lakerec_job("campaign", "uplift", task_id="uplift")
    due >> uplift


lakerec_campaigns_due()
