"""Who a campaign targets, and who of them is held out: pure DataFrame transforms.

* **Eligibility** (:func:`eligible`): the audience rule of the campaign's YAML: segment labels,
  recency (days since the last purchase) between a minimum and a maximum, activity within N
  days, consent (opted-out customers never), and nobody another campaign contacted within
  the cool-down.
* **Cap** (:func:`capped`): over ``max_audience``, a random subset chosen by a hash of
  (salt, campaign, customer): the same customers every rerun.
* **Groups** (:func:`assign_groups`): control when a second hash draw, uniform in [0, 1), is
  below the holdout share. The draw depends on the customer, campaign and salt only, so a
  rerun, or a larger audience, never moves anyone from one group to the other; each
  customer is an independent draw, so the share holds within sampling error in every
  segment (a stratified Bernoulli design).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakerec.core.campaigns import Audience, Campaign
from lakerec.core.schemas import (
    CAMPAIGN_GROUP,
    EVENT_TS,
    EVENT_TYPE,
    SEGMENT_LABEL,
    USER_ID,
    EventType,
)

GROUP = CAMPAIGN_GROUP
CONTROL = "control"
TREATMENT = "treatment"
RECENCY_DAYS = "recency_days"
_HEX_DIGITS = 13  # 52 bits of the digest: a double holds them exactly


def hash_draw(user: Column, *parts: str) -> Column:
    """A number in [0, 1) from SHA-256 of ``parts`` and the customer: uniform, and the same
    for the same inputs on any engine and any day."""
    digest = F.sha2(F.concat_ws("|", *[F.lit(p) for p in parts], user), 256)
    return (F.conv(F.substring(digest, 1, _HEX_DIGITS), 16, 10).cast("double")
            / float(16 ** _HEX_DIGITS))


def last_purchases(events: DataFrame, as_of: date) -> DataFrame:
    """``(user_id, recency_days)``: days from each customer's last purchase to ``as_of``
    (events after ``as_of`` are ignored)."""
    purchases = events.where((F.col(EVENT_TYPE) == EventType.PURCHASE.value)
                             & (F.to_date(EVENT_TS) <= F.lit(as_of)))
    return purchases.groupBy(USER_ID).agg(
        F.datediff(F.lit(as_of), F.to_date(F.max(EVENT_TS))).alias(RECENCY_DAYS))


def eligible(segments: DataFrame, recency: DataFrame, opted_out: DataFrame,
             contacted: DataFrame, rule: Audience) -> DataFrame:
    """``(user_id, segment_label, recency_days)`` of the customers ``rule`` admits.

    Parameters
    ----------
    segments
        ``(user_id, segment_label)``: one row per customer (today's segments).
    recency
        :func:`last_purchases`.
    opted_out
        ``(user_id)`` of customers who must not receive marketing.
    contacted
        ``(user_id)`` of customers another campaign contacted within the cool-down.
    """
    audience = segments.select(USER_ID, SEGMENT_LABEL).join(recency, USER_ID, "left")
    if rule.segments:
        audience = audience.where(F.col(SEGMENT_LABEL).isin(list(rule.segments)))
    days = F.col(RECENCY_DAYS)
    if rule.min_recency_days is not None:
        audience = audience.where(days >= rule.min_recency_days)
    if rule.max_recency_days is not None:
        audience = audience.where(days <= rule.max_recency_days)
    if rule.active_within_days is not None:
        audience = audience.where(days <= rule.active_within_days)
    if rule.consent_required:
        audience = audience.join(opted_out.select(USER_ID), USER_ID, "left_anti")
    return audience.join(contacted.select(USER_ID), USER_ID, "left_anti")


def capped(audience: DataFrame, campaign: Campaign, *, best_first: Column | None = None
           ) -> DataFrame:
    """At most ``campaign.max_audience`` customers: those with the smallest draw of a hash
    of their own (``random``), or the first by ``best_first`` (``uplift``: the predicted
    uplift, descending), the draw breaking ties."""
    if campaign.max_audience is None:
        return audience
    draw = hash_draw(F.col(USER_ID), campaign.salt, campaign.name, "cap")
    order = [draw, F.col(USER_ID)] if best_first is None else [best_first, draw, F.col(USER_ID)]
    return audience.orderBy(*order).limit(campaign.max_audience)


def assign_groups(audience: DataFrame, campaign: Campaign) -> DataFrame:
    """``audience`` with ``group``: control when the customer's draw is below the holdout
    share, else treatment."""
    draw = hash_draw(F.col(USER_ID), campaign.salt, campaign.name, GROUP)
    return audience.withColumn(GROUP, F.when(draw < campaign.holdout_share, CONTROL)
                               .otherwise(TREATMENT))


def group_counts(planned: DataFrame, by: Sequence[str] = (SEGMENT_LABEL,)) -> DataFrame:
    """``(by..., control, treatment)`` customers per group."""
    return (planned.groupBy(*by).pivot(GROUP, [CONTROL, TREATMENT]).count()
            .na.fill(0, [CONTROL, TREATMENT]))
