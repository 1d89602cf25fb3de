"""What a campaign caused: outcomes per customer (Spark), then lift per segment (SciPy).

**Audience.** A campaign lakerec planned is measured on its rows of
``gold.campaign_audiences``. A campaign sent outside lakerec is measured on its channel's
contact log (:func:`audience_from_contacts`), imported into ``gold.campaign_audiences`` first.

**Attribution (last touch).** A purchase counts for a campaign when it falls within the
attribution window after the campaign's send date (the send day excluded, the last day
included). When a customer was in the audience of several campaigns whose windows cover the
purchase, it counts for the one sent last (ties: the campaign id). Control customers are
attributed by the same rule on the same windows, so treatment and control are compared on
equal terms. With ``objective.kind: offered_item`` only purchases of an offered item count
(control customers carry the offer they would have had).

**Figures.** Per group and segment (and overall): customers, converters, conversion rate and
revenue per customer; the lift (treatment minus control) in both with 95% intervals: a
two-proportion test for conversion, Welch's test for revenue; incremental conversions and
revenue (lift times the treated customers); the verdict of the campaign's pre-registered
decision rule, with p-values Holm-adjusted across the segments (the overall row is the
primary test and is not adjusted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakerec.campaigns.audience import CONTROL, GROUP, TREATMENT
from lakerec.campaigns.stats import Lift, Verdict, conversion_lift, holm, mean_lift
from lakerec.core.campaigns import Campaign
from lakerec.core.schemas import (
    CAMPAIGN_ID,
    CONTACT_TS,
    CONTACT_TYPE,
    EVENT_TS,
    EVENT_TYPE,
    ITEM_ID,
    OFFERED_ITEMS,
    PRICE,
    QUANTITY,
    SEGMENT_LABEL,
    SEND_DATE,
    USER_ID,
    ContactType,
    EventType,
)

CONVERTED = "converted"
REVENUE = "revenue"
OVERALL = "(all)"


def attributed_purchases(events: DataFrame, audiences: DataFrame,
                         windows: dict[str, int]) -> DataFrame:
    """``(campaign_id, user_id, item_id, revenue)``: each purchase attributed to at most one
    campaign, by last touch (module docstring). ``windows`` maps campaign id to its
    attribution window in days."""
    window_days = F.create_map(*[x for name, days in windows.items()
                                 for x in (F.lit(name), F.lit(days))])
    touches = (audiences.where(F.col(CAMPAIGN_ID).isin(list(windows)))
               .select(CAMPAIGN_ID, USER_ID, SEND_DATE,
                       window_days[F.col(CAMPAIGN_ID)].alias("_days")))
    purchases = (events.where(F.col(EVENT_TYPE) == EventType.PURCHASE.value)
                 .select(USER_ID, ITEM_ID, F.to_date(EVENT_TS).alias("_day"), EVENT_TS,
                         (F.coalesce(F.col(QUANTITY), F.lit(1))
                          * F.coalesce(F.col(PRICE), F.lit(0.0))).alias(REVENUE))
                 .withColumn("_purchase", F.monotonically_increasing_id()))
    covered = purchases.join(touches, USER_ID).where(
        (F.col("_day") > F.col(SEND_DATE))
        & (F.col("_day") <= F.date_add(F.col(SEND_DATE), F.col("_days"))))
    last = Window.partitionBy("_purchase").orderBy(F.col(SEND_DATE).desc(),
                                                   F.col(CAMPAIGN_ID).desc())
    return (covered.withColumn("_n", F.row_number().over(last)).where(F.col("_n") == 1)
            .select(CAMPAIGN_ID, USER_ID, ITEM_ID, REVENUE))


def outcomes(audience: DataFrame, attributed: DataFrame, campaign: Campaign) -> DataFrame:
    """``audience`` (one campaign's rows) with ``converted`` (0/1) and ``revenue`` (of the
    purchases that count for its objective) per customer."""
    mine = attributed.where(F.col(CAMPAIGN_ID) == F.lit(campaign.name)).drop(CAMPAIGN_ID)
    joined = audience.join(mine, USER_ID, "left")
    if campaign.objective.kind == "offered_item":
        counts = F.array_contains(F.col(OFFERED_ITEMS), F.col(ITEM_ID))
    else:
        counts = F.col(ITEM_ID).isNotNull()
    counted = F.when(F.coalesce(counts, F.lit(False)), F.col(REVENUE))
    return (joined.groupBy(USER_ID, GROUP, SEGMENT_LABEL)
            .agg(F.max(F.when(F.coalesce(counts, F.lit(False)), 1).otherwise(0))
                 .alias(CONVERTED),
                 F.coalesce(F.sum(counted), F.lit(0.0)).alias(REVENUE)))


@dataclass(frozen=True)
class GroupFigures:
    """One group's aggregates within one segment."""

    customers: int
    converters: int
    revenue_mean: float
    revenue_var: float  # sample variance


def group_figures(per_customer: DataFrame) -> dict[tuple[str, str], GroupFigures]:
    """``{(segment, group): figures}``, the overall segment (:data:`OVERALL`) included."""
    aggregates = [F.count("*").alias("n"), F.sum(CONVERTED).alias("c"),
                  F.mean(REVENUE).alias("m"), F.var_samp(REVENUE).alias("v")]
    segment = F.coalesce(F.col(SEGMENT_LABEL), F.lit("?"))
    rows = [r.asDict() for r in per_customer.groupBy(segment.alias(SEGMENT_LABEL), GROUP)
            .agg(*aggregates).collect()]
    rows += [r.asDict() | {SEGMENT_LABEL: OVERALL}
             for r in per_customer.groupBy(GROUP).agg(*aggregates).collect()]
    return {(r[SEGMENT_LABEL], r[GROUP]): GroupFigures(int(r["n"]), int(r["c"] or 0),
                                                       float(r["m"] or 0.0),
                                                       float(r["v"] or 0.0))
            for r in rows}


@dataclass(frozen=True)
class SegmentResult:
    """One row of ``gold.campaign_results``."""

    segment: str
    treatment: GroupFigures
    control: GroupFigures
    conversion: Lift
    revenue: Lift | None       # None with fewer than two customers in a group
    p_adjusted: float          # Holm across segments; the overall row: its own p-value
    verdict: Verdict

    @property
    def incremental_conversions(self) -> float:
        return self.conversion.absolute * self.treatment.customers

    @property
    def incremental_revenue(self) -> float:
        return self.revenue.absolute * self.treatment.customers if self.revenue else math.nan


def decide(lift: Lift, p_value: float, campaign: Campaign) -> Verdict:
    """The campaign's pre-registered rule: ``won`` when significant at ``alpha`` and at
    least ``min_lift`` up, ``lost`` when significantly down, else ``inconclusive``."""
    verdict = lift.verdict(alpha=campaign.decision.alpha, p_value=p_value)
    if verdict == "won" and lift.absolute < campaign.decision.min_lift:
        return "inconclusive"
    return verdict


def segment_results(figures: dict[tuple[str, str], GroupFigures], campaign: Campaign
                    ) -> list[SegmentResult]:
    """Lift per segment and overall; segments with an empty group are left out."""
    alpha = campaign.decision.alpha
    segments = sorted({s for s, _ in figures if s != OVERALL})
    rows: list[tuple[str, GroupFigures, GroupFigures, Lift, Lift | None]] = []
    for segment in [OVERALL, *segments]:
        t, c = figures.get((segment, TREATMENT)), figures.get((segment, CONTROL))
        if t is None or c is None:
            continue
        conversion = conversion_lift(t.converters, t.customers, c.converters, c.customers,
                                     alpha=alpha)
        revenue = (mean_lift(t.revenue_mean, t.revenue_var, t.customers, c.revenue_mean,
                             c.revenue_var, c.customers, alpha=alpha)
                   if min(t.customers, c.customers) >= 2 else None)
        rows.append((segment, t, c, conversion, revenue))
    primary = [(conv if campaign.decision.metric == "conversion" else (rev or conv))
               for _, _, _, conv, rev in rows]
    segment_ps = [lift.p_value for (segment, *_), lift in zip(rows, primary, strict=True)
                  if segment != OVERALL]
    adjusted = iter(holm(segment_ps)) if segment_ps else iter(())
    results = []
    for (segment, t, c, conversion, revenue), lift in zip(rows, primary, strict=True):
        p = lift.p_value if segment == OVERALL else next(adjusted)
        results.append(SegmentResult(segment, t, c, conversion, revenue, p,
                                     decide(lift, p, campaign)))
    return results


def window_closes(campaign: Campaign, send_date: date) -> date:
    """The last day of the attribution window: measure on or after it."""
    return send_date + timedelta(days=campaign.objective.window_days)


def audience_from_contacts(contacts: DataFrame, name: str) -> DataFrame:
    """``(user_id, group, send_date)`` of a campaign a channel sent, from its contact log:
    treatment for the customers it contacted, control for those it held out. The send date
    is the day of the campaign's first contact, one date for everybody, so that both groups
    are measured on the same window."""
    mine = contacts.where(F.col(CAMPAIGN_ID) == F.lit(name))
    contacted = F.max((F.col(CONTACT_TYPE) != ContactType.HELD_OUT.value).cast("int"))
    first = mine.agg(F.min(F.to_date(CONTACT_TS)).alias(SEND_DATE))
    return (mine.groupBy(USER_ID).agg(contacted.alias("_contacted")).crossJoin(first)
            .select(USER_ID, F.when(F.col("_contacted") == 1, F.lit(TREATMENT))
                    .otherwise(F.lit(CONTROL)).alias(GROUP), SEND_DATE))
