"""
### lakerec_campaigns: plan a campaign with a control group, measure it after its window

Triggered by hand on the campaign's send date, with the `campaign` param: the name of a
definition `<paths.campaigns>/<campaign>.yaml` (`conf/campaigns/` by default), and
`window_days`: its attribution window (`objective.window_days`).

1. **plan** submits `jobs/campaign.py plan <campaign>`, which
   * writes the audience to `gold.campaign_audiences`: the customers the audience rule
     admits (segments, recency, consent, no other campaign within the cool-down), capped at
     random or by the `lakerec-uplift` champion's predicted uplift, each assigned to
     treatment or control by a hash of (salt, campaign, customer), so a rerun never moves
     anyone from one group to the other;
   * prints the minimum detectable lift per segment and overall, and warns when the
     campaign cannot detect the lift its decision rule asks for;
   * exports the treatment group for the channel (Parquet and CSV: customer id, channel,
     offer) under `<paths.artifacts>/campaigns/<campaign>/<send date>/`.
2. **wait_for_window** waits, deferred (no worker slot held), until the day after the
   window closes: the send date plus `window_days` plus one.
3. **measure** submits `jobs/campaign.py measure <campaign>`: lift per segment with 95%
   intervals, Holm-corrected verdicts, the sample-ratio check, `gold.campaign_results`, the
   HTML report in MLflow (experiment `lakerec-campaigns`); then **uplift** relearns the
   `lakerec-uplift` model from every measured campaign.

A campaign sent by a channel outside lakerec (`audience_source: contacts`) is not planned:
`lakerec run` (the `campaign due` step) measures it once its window has closed. See
`docs/campaigns.md`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import Param
from lakerec_airflow import lakerec_dag, lakerec_job


@lakerec_dag(
    "lakerec_campaigns",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    doc_md=__doc__,
    extra_params={
        "campaign": Param("", type="string", minLength=1,
                          description="the campaign to plan: <paths.campaigns>/<campaign>.yaml"),
        "window_days": Param(14, type="integer", minimum=1,
                             description="the campaign's attribution window "
                                         "(objective.window_days): measure after it"),
    },
    tags=("lakerec", "campaigns"),
)
def lakerec_campaigns() -> None:
    plan = lakerec_job("campaign", "plan", "{{ params.campaign }}", task_id="plan")
    wait = DateTimeSensorAsync(
        task_id="wait_for_window",
        target_time="{{ macros.ds_add(ds, params.window_days + 1) }}T00:00:00+00:00")
    measure = lakerec_job("campaign", "measure", "{{ params.campaign }}", task_id="measure")
    uplift = lakerec_job("campaign", "uplift", task_id="uplift")
    plan >> wait >> measure >> uplift


lakerec_campaigns()
