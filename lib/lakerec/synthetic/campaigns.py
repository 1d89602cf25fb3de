"""Past campaigns planted in synthetic data: who was in them, what the channel logged, and
what they caused, by planted segment.

A planted campaign (``generate.campaigns.<name>``, defined like any campaign in
``<paths.campaigns>/<name>.yaml``, whose holdout share, attribution window and channel it
uses) was sent ``send_days_ago`` days before the run date:

- **audience**: a share ``audience_share`` of the customers who did not opt out, each in
  control with probability ``holdout_share`` (a hash draw per customer, like lakerec's own);
- **contact log** (landing ``contacts/``): ``held_out`` for control customers; ``sent``,
  then ``delivered`` (95%), ``opened`` (35% of those) and ``clicked`` (25% of those) for
  treated ones;
- **effect**: ``lift[segment]``, an absolute change in the share of customers who buy within
  the window. With ``b`` the organic share (customers of the segment in the audience who buy
  in the window anyway, measured on the planned events), a positive lift makes each treated
  customer who would not have bought buy once with probability ``lift / (1 - b)``; a
  negative one removes every in-window purchase of each treated customer who would have
  bought with probability ``-lift / b`` (a lift below ``-b`` is impossible and is planted as
  ``-b``). Either way the expected lift of the segment is the planted one.

The ground truth (``<paths.ground_truth>/campaigns``) holds one row per audience customer:
campaign, customer, group, planted segment, the segment's organic share and planted lift,
so the planted lift of any grouping of the audience (a segment label of lakerec's own) is
the mean of its customers' planted lifts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakerec.core import schemas as S
from lakerec.core.campaigns import Campaign
from lakerec.core.settings import PlantedCampaign
from lakerec.synthetic.draws import DAY_S, draw_index, epoch_seconds, uniform, utc_text
from lakerec.synthetic.population import EPOCH_S, IDX

CONTROL, TREATMENT = "control", "treatment"
ORGANIC = "_organic"            # bought in the window without the campaign
DELIVERY_RATE, OPEN_RATE, CLICK_RATE = 0.95, 0.35, 0.25
SEND_HOUR_S = 9 * 3600          # campaigns go out at 09:00 UTC on their send date


@dataclass(frozen=True)
class Planted:
    """One planted campaign, resolved against its definition and the run date."""

    name: str
    send_date: date
    window_days: int
    holdout_share: float
    channel: str
    audience_share: float
    lift: Mapping[str, float]

    @property
    def window(self) -> tuple[int, int]:
        """Epoch seconds of the attribution window: after the send day, to its last day."""
        start = epoch_seconds(self.send_date + timedelta(days=1))
        return start, start + self.window_days * DAY_S


def resolve(name: str, planted: PlantedCampaign, definition: Campaign, run_date: date
            ) -> Planted:
    return Planted(name, run_date - timedelta(days=planted.send_days_ago),
                   definition.objective.window_days, definition.holdout_share,
                   definition.channel, planted.audience_share, dict(planted.lift))


def audience(customers: DataFrame, campaign: Planted, *, seed: int) -> DataFrame:
    """``_idx, user_id, segment, taste_cluster, group`` of the campaign's customers."""
    idx = F.col(IDX)
    salt = f"campaign:{campaign.name}"
    consented = F.lower(F.col(S.MARKETING_CONSENT)) != "no"
    group = F.when(uniform(seed, f"{salt}:group", idx) < campaign.holdout_share,
                   F.lit(CONTROL)).otherwise(F.lit(TREATMENT))
    return (customers.where(consented & (uniform(seed, f"{salt}:audience", idx)
                                         < campaign.audience_share))
            .select(IDX, S.USER_ID, S.GT_SEGMENT, S.GT_TASTE_CLUSTER,
                    group.alias(S.CAMPAIGN_GROUP)))


def _in_window(campaign: Planted) -> Column:
    start, end = campaign.window
    return ((F.col(S.EVENT_TYPE) == S.EventType.PURCHASE) & (F.col(EPOCH_S) >= start)
            & (F.col(EPOCH_S) < end))


def with_organic(members: DataFrame, planned: DataFrame, campaign: Planted) -> DataFrame:
    """``members`` with ``_organic``: a planned purchase of theirs falls in the window."""
    buyers = (planned.where(_in_window(campaign)).select(S.USER_ID).distinct()
              .withColumn(ORGANIC, F.lit(True)))
    return (members.join(buyers, S.USER_ID, "left")
            .withColumn(ORGANIC, F.coalesce(F.col(ORGANIC), F.lit(False))))


def truth(members: DataFrame, campaign: Planted) -> DataFrame:
    """One row per audience customer: the planted lift of their segment, as achievable."""
    organic = members.groupBy(S.GT_SEGMENT).agg(
        F.avg(F.col(ORGANIC).cast("double")).alias(S.GT_ORGANIC_RATE))
    lift = _lift_of(campaign)
    return (members.join(organic, S.GT_SEGMENT)
            .withColumn(S.GT_PLANTED_LIFT, F.greatest(lift, -F.col(S.GT_ORGANIC_RATE)))
            .select(F.lit(campaign.name).alias(S.CAMPAIGN_ID), IDX, S.USER_ID,
                    S.CAMPAIGN_GROUP, S.GT_SEGMENT, S.GT_TASTE_CLUSTER, ORGANIC,
                    S.GT_ORGANIC_RATE, S.GT_PLANTED_LIFT))


def _lift_of(campaign: Planted) -> Column:
    lift: Column = F.lit(0.0)
    for segment, value in campaign.lift.items():
        lift = F.when(F.col(S.GT_SEGMENT) == segment, F.lit(value)).otherwise(lift)
    return lift


def responders(truth_rows: DataFrame, campaign: Planted, *, seed: int) -> DataFrame:
    """Treated customers the campaign made buy (positive lift): ``_idx, user_id,
    taste_cluster``."""
    lift, base = F.col(S.GT_PLANTED_LIFT), F.col(S.GT_ORGANIC_RATE)
    chance = F.when(base < 1, lift / (1 - base)).otherwise(F.lit(0.0))
    return truth_rows.where(
        (F.col(S.CAMPAIGN_GROUP) == TREATMENT) & (lift > 0) & ~F.col(ORGANIC)
        & (uniform(seed, f"campaign:{campaign.name}:respond", F.col(IDX)) < chance)
    ).select(IDX, S.USER_ID, S.GT_TASTE_CLUSTER)


def deterred(truth_rows: DataFrame, campaign: Planted, *, seed: int) -> DataFrame:
    """Treated customers the campaign put off buying (negative lift): ``user_id``."""
    lift, base = F.col(S.GT_PLANTED_LIFT), F.col(S.GT_ORGANIC_RATE)
    chance = F.when(base > 0, -lift / base).otherwise(F.lit(0.0))
    return truth_rows.where(
        (F.col(S.CAMPAIGN_GROUP) == TREATMENT) & (lift < 0) & F.col(ORGANIC)
        & (uniform(seed, f"campaign:{campaign.name}:deter", F.col(IDX)) < chance)
    ).select(S.USER_ID)


def without_deterred(planned: DataFrame, deterred_: DataFrame, campaign: Planted
                     ) -> DataFrame:
    """``planned`` less the in-window purchases of the deterred customers."""
    marked = deterred_.withColumn("_deterred", F.lit(True))
    return (planned.join(marked, S.USER_ID, "left")
            .where(~(F.coalesce(F.col("_deterred"), F.lit(False)) & _in_window(campaign)))
            .drop("_deterred"))


def response_events(responders_: DataFrame, items: DataFrame, campaign: Planted, *,
                    seed: int) -> DataFrame:
    """One purchase per responder, in the window, of a popular item of their taste cluster
    (one of its five most popular), in the landing events' text columns."""
    idx = F.col(IDX)
    salt = f"campaign:{campaign.name}"
    start, _ = campaign.window
    epoch = (F.lit(start) + F.floor(uniform(seed, f"{salt}:day", idx) * campaign.window_days)
             .cast("long") * DAY_S + F.floor(uniform(seed, f"{salt}:second", idx) * DAY_S)
             .cast("long"))
    catalogue = items.select(F.col(S.GT_TASTE_CLUSTER).alias("_cluster"),
                             F.col(S.GT_CLUSTER_RANK).alias("_rank"), S.ITEM_ID, S.PRICE)
    picked = (responders_
              .withColumn("_rank", 1 + draw_index(uniform(seed, f"{salt}:item", idx), 5))
              .withColumn("_cluster", F.col(S.GT_TASTE_CLUSTER))
              .join(F.broadcast(catalogue), ["_cluster", "_rank"]))
    number = F.format_string("%s-%s", F.lit(campaign.name), F.col(S.USER_ID))
    return picked.select(
        F.concat(F.lit("C"), number).alias(S.EVENT_ID), S.USER_ID, S.ITEM_ID,
        F.lit(S.EventType.PURCHASE.value).alias(S.EVENT_TYPE),
        utc_text(epoch).alias(S.EVENT_TS), F.lit("1").alias(S.QUANTITY),
        F.col(S.PRICE).cast("string").alias(S.PRICE), F.lit(None).cast("string").alias(S.RATING),
        F.concat(F.lit("OC"), number).alias(S.ORDER_ID))


def contact_log(members: DataFrame, campaign: Planted, *, seed: int) -> DataFrame:
    """The channel's log of the campaign (landing ``contacts/``), values as text."""
    idx = F.col(IDX)
    salt = f"campaign:{campaign.name}"
    sent_at = F.lit(epoch_seconds(campaign.send_date) + SEND_HOUR_S) + F.floor(
        uniform(seed, f"{salt}:sent", idx) * 3600).cast("long")
    delivered = uniform(seed, f"{salt}:delivered", idx) < DELIVERY_RATE
    opened = delivered & (uniform(seed, f"{salt}:opened", idx) < OPEN_RATE)
    clicked = opened & (uniform(seed, f"{salt}:clicked", idx) < CLICK_RATE)
    treated = F.col(S.CAMPAIGN_GROUP) == TREATMENT

    def contact(kind: S.ContactType, happened: Column, after_s: int) -> Column:
        return F.when(happened, F.struct(F.lit(kind.value).alias(S.CONTACT_TYPE),
                                         utc_text(sent_at + after_s).alias(S.CONTACT_TS)))

    steps = F.array(contact(S.ContactType.HELD_OUT, ~treated, 0),
                    contact(S.ContactType.SENT, treated, 0),
                    contact(S.ContactType.DELIVERED, treated & delivered, 60),
                    contact(S.ContactType.OPENED, treated & opened, 3600),
                    contact(S.ContactType.CLICKED, treated & clicked, 3700))
    return (members.select(S.USER_ID, F.explode(F.filter(steps, lambda c: c.isNotNull()))
                           .alias("_c"))
            .select(F.lit(campaign.name).alias(S.CAMPAIGN_ID), S.USER_ID,
                    F.lit(campaign.channel).alias(S.CHANNEL), f"_c.{S.CONTACT_TYPE}",
                    f"_c.{S.CONTACT_TS}"))


def planted_lifts(spark: SparkSession, ground_truth: str, name: str,
                  segmented: DataFrame) -> tuple[dict[str, float], float] | None:
    """The planted conversion lift of each segment of ``segmented`` (``user_id,
    segment_label``: a campaign's audience as lakerec segmented it; "?" for none) and of the
    whole audience, from the ground truth under ``ground_truth``; None when the campaign was
    not planted there."""
    folder = f"{ground_truth.rstrip('/')}/campaigns"
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(folder)
    if not path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(path):
        return None
    planted = (spark.read.parquet(folder).where(F.col(S.CAMPAIGN_ID) == name)
               .select(S.USER_ID, S.GT_PLANTED_LIFT))
    joined = segmented.join(planted, S.USER_ID).cache()
    try:
        if joined.isEmpty():
            return None
        label = F.coalesce(F.col(S.SEGMENT_LABEL), F.lit("?"))
        lifts = {r[0]: float(r[1]) for r in joined.groupBy(label).agg(
            F.avg(S.GT_PLANTED_LIFT)).collect()}
        overall = joined.agg(F.avg(S.GT_PLANTED_LIFT)).first()
        return lifts, float(overall[0]) if overall else float("nan")
    finally:
        joined.unpersist()
