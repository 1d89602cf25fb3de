"""Step ``campaign``: ``lakerec campaign plan NAME`` plans the campaign of
``<paths.campaigns>/NAME.yaml``; ``lakerec campaign measure NAME`` measures it once its
attribution window has closed (:mod:`lakerec.campaigns.measure`).

Planning writes ``gold.campaign_audiences`` (one row per customer: group, segment, offered
items, the model versions used, the send date, the planned time), replacing the campaign's
earlier plan, so a rerun gives the same rows (the groups come from a hash, never from a
random generator). It prints the minimum detectable effect per segment and overall, from
the audience, the holdout share and the segment's baseline conversion measured in the lake,
and warns when the campaign cannot detect the lift its decision rule asks for. It exports
the treatment group for the channel (Parquet and CSV: the shop's customer id, the channel
and the offer; no other personal data) under ``<paths.artifacts>/campaigns/NAME/``.

Baseline conversion: the customers the audience rule would have admitted one attribution
window before the send date, and the share of them who bought within that window. A
campaign of recommendations counts a purchase of any item for the baseline (which items
would have been offered then is unknown), so its minimum detectable effect is conservative.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.campaigns import audience as A
from lakerec.campaigns import measure as M
from lakerec.campaigns.definition import Campaign, find_campaign
from lakerec.campaigns.report import write_report
from lakerec.campaigns.stats import Lift, minimum_detectable_effect, sample_ratio_p_value
from lakerec.conform.consent import opted_out
from lakerec.core import registry
from lakerec.core.errors import ConfigError, InputError, QualityError
from lakerec.core.schemas import (
    CAMPAIGN_ID,
    CAMPAIGN_RESULTS_SCHEMA,
    CATEGORY,
    EVENT_TS,
    EVENT_TYPE,
    ITEM_ID,
    MODEL_VERSION,
    OFFERED_ITEMS,
    RANK,
    RUN_DATE,
    SEGMENT_LABEL,
    SEND_DATE,
    USER_ID,
    EventType,
)
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import (
    GOLD_CAMPAIGN_AUDIENCES,
    GOLD_CAMPAIGN_RESULTS,
    GOLD_CUSTOMER_SEGMENTS,
    GOLD_RECOMMENDATIONS,
    SILVER_EVENTS,
    SILVER_ITEMS,
)
from lakerec.privacy.dp_reports import latest_segments

log = logging.getLogger("lakerec.campaigns")
EXPERIMENT = "campaigns"  # MLflow experiment of the measurements
OVERALL = M.OVERALL


SRM_ALPHA = 0.001  # a sample-ratio-mismatch p-value below it stops the measurement


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["plan", "measure"],
                        help="plan: write the audience and export; measure: the lift, after "
                             "the attribution window")
    parser.add_argument("name", help="the campaign: <paths.campaigns>/<name>.yaml")


def _contacted(ctx: StepContext, campaign: Campaign) -> DataFrame:
    """``(user_id)`` contacted by another campaign within the cool-down before the send."""
    earlier = ctx.lake.read_if_exists(GOLD_CAMPAIGN_AUDIENCES)
    empty = ctx.spark.createDataFrame([], f"{USER_ID} string")
    if earlier is None or campaign.audience.contact_cooldown_days == 0:
        return empty
    since = campaign.send_date - timedelta(days=campaign.audience.contact_cooldown_days)
    return (earlier.where((F.col(CAMPAIGN_ID) != campaign.name)
                          & (F.col(A.GROUP) == A.TREATMENT)
                          & F.col(SEND_DATE).between(F.lit(since), F.lit(campaign.send_date)))
            .select(USER_ID).distinct())


def _offers(ctx: StepContext, campaign: Campaign, events: DataFrame
            ) -> tuple[DataFrame | None, list[str], dict[str, int]]:
    """Per-customer offers ``(user_id, offered_items)`` (recommendations), or one list for
    everybody (category, items); and the model versions used."""
    offer = campaign.offer
    if offer.kind == "items":
        return None, list(offer.items), {}
    if offer.kind == "category":
        items = ctx.lake.read(SILVER_ITEMS, hint="run `lakerec conform` first")
        bought = (events.where(F.col(EVENT_TYPE) == EventType.PURCHASE.value)
                  .groupBy(ITEM_ID).count())
        top = (items.where(F.col(CATEGORY) == F.lit(offer.category)).join(bought, ITEM_ID, "left")
               .orderBy(F.coalesce(F.col("count"), F.lit(0)).desc(), ITEM_ID)
               .limit(offer.top_n).collect())
        if not top:
            raise InputError(f"campaign {campaign.name}: no item of category "
                             f"'{offer.category}' in silver.items")
        return None, [r[ITEM_ID] for r in top], {}
    recs = ctx.lake.read(GOLD_RECOMMENDATIONS, hint="run `lakerec recommend` first")
    upto = recs.where(F.col(RUN_DATE) <= F.lit(campaign.send_date))
    latest = upto.agg(F.max(RUN_DATE)).first()
    if latest is None or latest[0] is None:
        raise InputError(f"campaign {campaign.name}: gold.recommendations has no run on or "
                         f"before the send date {campaign.send_date}")
    today = upto.where(F.col(RUN_DATE) == F.lit(latest[0]))
    version = today.agg(F.max(MODEL_VERSION)).first()
    per_user = (today.where(F.col(RANK) <= offer.top_n)
                .groupBy(USER_ID)
                .agg(F.sort_array(F.collect_list(F.struct(RANK, ITEM_ID))).alias("_ranked"))
                .select(USER_ID, F.col(f"_ranked.{ITEM_ID}").alias(OFFERED_ITEMS)))
    versions = {"recommendations": int(version[0])} if version and version[0] else {}
    return per_user, [], versions


def _baseline(events: DataFrame, segments: DataFrame, opted: DataFrame,
              campaign: Campaign) -> dict[str, tuple[int, float]]:
    """Per segment (and :data:`OVERALL`): customers the rule admitted one window before the
    send, and the share of them who bought within that window."""
    window = campaign.objective.window_days
    before = campaign.send_date - timedelta(days=window)
    empty = segments.sparkSession.createDataFrame([], f"{USER_ID} string")
    then = A.eligible(segments, A.last_purchases(events, before), opted, empty,
                      campaign.audience)
    bought = (events.where((F.col(EVENT_TYPE) == EventType.PURCHASE.value)
                           & (F.to_date(EVENT_TS) > F.lit(before))
                           & (F.to_date(EVENT_TS) <= F.lit(campaign.send_date)))
              .select(USER_ID).distinct().withColumn("_bought", F.lit(1)))
    rows = (then.join(bought, USER_ID, "left")
            .groupBy(F.coalesce(F.col(SEGMENT_LABEL), F.lit("?")).alias(SEGMENT_LABEL))
            .agg(F.count("*").alias("n"), F.count("_bought").alias("buyers")).collect())
    out = {r[SEGMENT_LABEL]: (int(r["n"]), r["buyers"] / r["n"]) for r in rows}
    n = sum(v[0] for v in out.values())
    buyers = sum(r["buyers"] for r in rows)
    out[OVERALL] = (n, buyers / n if n else 0.0)
    return out


def _mde_lines(counts: dict[str, tuple[int, int]], baseline: dict[str, tuple[int, float]],
               campaign: Campaign) -> tuple[list[str], float]:
    """One line per segment and overall; the overall minimum detectable effect."""
    decision = campaign.decision
    lines, overall = [], float("nan")
    for segment, (control, treated) in sorted(counts.items(), key=lambda kv: kv[0] != OVERALL):
        _, rate = baseline.get(segment, (0, 0.0))
        if 0 < rate < 1:
            mde = minimum_detectable_effect(treated, control, rate, alpha=decision.alpha,
                                            power=decision.power)
            said = f"minimum detectable lift {100 * mde:.1f} points on a baseline of " \
                   f"{100 * rate:.1f}%"
        else:
            mde = float("inf")
            said = "no baseline conversion measurable in the lake"
        if segment == OVERALL:
            overall = mde
        lines.append(f"  {segment}: {treated:,} treatment + {control:,} control; {said}")
    return lines, overall


def _export(planned: DataFrame, campaign: Campaign, folder: Path) -> Path:
    """The treatment group for the channel: the shop's customer id, the channel, the offer."""
    treated = (planned.where(F.col(A.GROUP) == A.TREATMENT)
               .select(USER_ID, F.lit(campaign.channel).alias("channel"), OFFERED_ITEMS)
               .orderBy(USER_ID).coalesce(1))
    folder.mkdir(parents=True, exist_ok=True)
    treated.write.mode("overwrite").parquet(str(folder / "treatment.parquet"))
    (treated.withColumn(OFFERED_ITEMS, F.concat_ws(";", OFFERED_ITEMS))
     .write.mode("overwrite").option("header", "true").csv(str(folder / "treatment.csv")))
    return folder


def run(ctx: StepContext) -> StepResult:
    campaign = find_campaign(ctx.config.paths.campaigns, ctx.options["name"])
    if ctx.options.get("action") == "measure":
        return _measure(ctx, campaign)
    return _plan(ctx, campaign)


def _windows(folder: str, names: list[str]) -> dict[str, int]:
    """Attribution windows of the campaigns named, from their definitions where they exist."""
    windows = {}
    for name in names:
        try:
            windows[name] = find_campaign(folder, name).objective.window_days
        except ConfigError:
            log.warning("campaign %s has no definition in %s: its purchases are attributed "
                        "to the others", name, folder)
    return windows


def _fmt(value: float | None, scale: float = 100.0, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{scale * value:+.{digits}f}"


def _measure(ctx: StepContext, campaign: Campaign) -> StepResult:
    name, lake = campaign.name, ctx.lake
    closes = M.window_closes(campaign)
    if ctx.run_date < closes:
        raise InputError(f"campaign {name}: its attribution window closes on {closes}; "
                         f"measure on or after it (--run-date), not on {ctx.run_date}")
    result = StepResult()
    audiences, audiences_version = lake.snapshot(
        GOLD_CAMPAIGN_AUDIENCES, hint=f"run `lakerec campaign plan {name}` first")
    events, events_version = lake.snapshot(SILVER_EVENTS, hint="run `lakerec conform` first")
    result.versions_read = {GOLD_CAMPAIGN_AUDIENCES.qualified_name: audiences_version,
                            SILVER_EVENTS.qualified_name: events_version}
    mine = audiences.where(F.col(CAMPAIGN_ID) == F.lit(name)).cache()
    sizes = {r[A.GROUP]: int(r["count"]) for r in mine.groupBy(A.GROUP).count().collect()}
    treated, control = sizes.get(A.TREATMENT, 0), sizes.get(A.CONTROL, 0)
    if treated == 0 or control == 0:
        raise InputError(f"campaign {name}: gold.campaign_audiences holds {treated} treatment "
                         f"and {control} control customers; plan it first (`lakerec campaign "
                         f"plan {name}`)")
    srm = sample_ratio_p_value(treated, control, 1 - campaign.holdout_share)
    if srm < SRM_ALPHA:
        raise QualityError(
            f"campaign {name}: sample ratio mismatch: {treated:,} treatment and {control:,} "
            f"control for a planned {1 - campaign.holdout_share:.0%}/"
            f"{campaign.holdout_share:.0%} split (chi-square p = {srm:.2g} < {SRM_ALPHA}); the "
            "assignment or the audience table is broken, so no result was written")
    others = [r[0] for r in audiences.select(CAMPAIGN_ID).distinct().collect()]
    windows = _windows(ctx.config.paths.campaigns, others) | {
        name: campaign.objective.window_days}
    attributed = M.attributed_purchases(events, audiences, windows)
    per_customer = M.outcomes(mine, attributed, campaign)
    results = M.segment_results(M.group_figures(per_customer), campaign)
    rows = [_result_row(name, r, srm, ctx.run_date) for r in results]
    frame = ctx.spark.createDataFrame(rows, CAMPAIGN_RESULTS_SCHEMA)
    version = lake.replace_where(frame, GOLD_CAMPAIGN_RESULTS, f"{CAMPAIGN_ID} = '{name}'")
    result.versions_written[GOLD_CAMPAIGN_RESULTS.qualified_name] = version
    result.rows_in, result.rows_out = treated + control, len(rows)
    folder = (Path(ctx.config.paths.artifacts) / "campaigns" / name
              / f"measured-{ctx.run_date.isoformat()}")
    html, png = write_report(campaign, results, srm, folder)
    run_id = _log_to_mlflow(ctx, campaign, results, srm, html, png, result.versions_read)
    correction = "Holm across segments"
    result.summary.append(f"campaign {name}: {treated:,} treatment, {control:,} control, "
                          f"window {campaign.send_date} + {campaign.objective.window_days} "
                          f"days; sample ratio p = {srm:.2f} -> {GOLD_CAMPAIGN_RESULTS} "
                          f"v{version}")
    for r in results:
        conv = r.conversion
        result.summary.append(
            f"  {r.segment}: conversion {100 * conv.treatment:.1f}% vs {100 * conv.control:.1f}%"
            f", lift {_fmt(conv.absolute)} points [{_fmt(conv.low)}, {_fmt(conv.high)}], "
            f"p {conv.p_value:.3g}" + ("" if r.segment == M.OVERALL
                                       else f" ({correction}: {r.p_adjusted:.3g})")
            + f"; {r.verdict}")
    result.summary.append(f"report: {html} (lift by segment: {png}); MLflow run {run_id} "
                          f"of experiment {ctx.config.mlflow.experiment_prefix}-{EXPERIMENT}")
    overall = results[0]
    result.highlights.append(
        f"campaign {name}: {overall.verdict}, conversion lift "
        f"{_fmt(overall.conversion.absolute)} points [{_fmt(overall.conversion.low)}, "
        f"{_fmt(overall.conversion.high)}], {overall.incremental_conversions:+.1f} "
        "incremental conversions")
    mine.unpersist()
    return result


def _log_to_mlflow(ctx: StepContext, campaign: Campaign, results: list[M.SegmentResult],
                   srm: float, html: Path, png: Path, versions: dict[str, int]) -> str:
    """One run of experiment ``lakerec-campaigns``: figures, the report and the plot."""
    import mlflow

    registry.tracking(ctx.config.mlflow)
    experiment = registry.ensure_experiment(ctx.config.mlflow, EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment, run_name=f"measure {campaign.name} "
                          f"{ctx.run_date.isoformat()}") as run:
        mlflow.set_tags({"step": "campaign measure", "campaign": campaign.name,
                         "verdict": results[0].verdict,
                         **{f"delta.{n}.version": str(v) for n, v in versions.items()}})
        mlflow.log_params({"send_date": campaign.send_date.isoformat(),
                           "holdout_share": campaign.holdout_share,
                           "window_days": campaign.objective.window_days,
                           "objective": campaign.objective.kind})
        metrics = {"sample_ratio_p_value": srm}
        for r in results:
            key = ("overall" if r.segment == M.OVERALL
                   else "segment." + re.sub(r"[^\w\-. /]", "_", r.segment))
            metrics |= {f"{key}.conversion_lift": r.conversion.absolute,
                        f"{key}.conversion_p_value": r.conversion.p_value,
                        f"{key}.incremental_conversions": r.incremental_conversions}
        mlflow.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)})
        mlflow.log_artifact(str(html), "report")
        mlflow.log_artifact(str(png), "report")
        return str(run.info.run_id)


def _result_row(name: str, r: M.SegmentResult, srm: float, run_date: date) -> tuple:
    def group(g: M.GroupFigures) -> list[object]:
        return [g.customers, g.converters, g.converters / g.customers if g.customers else None,
                g.revenue_mean]

    def lift(x: Lift | None) -> list[object]:
        if x is None:
            return [None] * 5
        return [x.absolute, x.low, x.high, None if math.isnan(x.relative) else x.relative,
                x.p_value]

    revenue = r.incremental_revenue
    return (name, r.segment, *group(r.treatment), *group(r.control), *lift(r.conversion),
            *lift(r.revenue), r.p_adjusted, r.incremental_conversions,
            None if math.isnan(revenue) else revenue, r.verdict, srm, run_date)


def _plan(ctx: StepContext, campaign: Campaign) -> StepResult:
    name = campaign.name
    if campaign.selection == "uplift":
        raise ConfigError(f"campaign {name}: selection 'uplift' needs an uplift model, which "
                          "lakerec does not train yet; use 'random'")
    result = StepResult()
    lake = ctx.lake
    events, events_version = lake.snapshot(SILVER_EVENTS, hint="run `lakerec conform` first")
    result.versions_read[SILVER_EVENTS.qualified_name] = events_version
    all_segments = lake.read(GOLD_CUSTOMER_SEGMENTS, hint="run `lakerec segment` first")
    segments = latest_segments(all_segments, as_of=campaign.send_date).cache()
    seg_run = segments.agg(F.max(RUN_DATE)).first()
    if seg_run is None or seg_run[0] is None:
        raise InputError(f"campaign {name}: gold.customer_segments has no run on or before "
                         f"the send date {campaign.send_date}")
    seg_version = (all_segments.where(F.col(RUN_DATE) == F.lit(seg_run[0]))
                   .agg(F.max(MODEL_VERSION)).first())
    opted = opted_out(ctx.spark, lake, ctx.config).cache()

    audience = A.eligible(segments, A.last_purchases(events, campaign.send_date), opted,
                          _contacted(ctx, campaign), campaign.audience)
    planned = A.assign_groups(A.capped(audience, campaign), campaign)
    per_user, same_for_all, versions = _offers(ctx, campaign, events)
    if per_user is not None:
        planned = planned.join(per_user, USER_ID, "left")
    else:
        planned = planned.withColumn(OFFERED_ITEMS, F.array(*[F.lit(i) for i in same_for_all]))
    if seg_version and seg_version[0]:
        versions["segmentation"] = int(seg_version[0])
    planned_at = datetime.now(UTC).replace(tzinfo=None)
    rows = planned.select(
        F.lit(name).alias(CAMPAIGN_ID), USER_ID, A.GROUP, SEGMENT_LABEL, OFFERED_ITEMS,
        F.create_map(*[x for k, v in versions.items() for x in (F.lit(k), F.lit(v))])
        .cast("map<string,bigint>").alias("model_versions"),
        F.lit(campaign.send_date).alias(SEND_DATE),
        F.lit(planned_at).cast("timestamp").alias("planned_at"))
    version = lake.replace_where(rows, GOLD_CAMPAIGN_AUDIENCES, f"{CAMPAIGN_ID} = '{name}'")
    result.versions_written[GOLD_CAMPAIGN_AUDIENCES.qualified_name] = version
    written = lake.read(GOLD_CAMPAIGN_AUDIENCES, version=version).where(
        F.col(CAMPAIGN_ID) == name).cache()

    counts = {r[SEGMENT_LABEL] or "?": (r[A.CONTROL], r[A.TREATMENT])
              for r in A.group_counts(written).collect()}
    counts[OVERALL] = (sum(c for c, _ in counts.values()), sum(t for _, t in counts.values()))
    control, treated = counts[OVERALL]
    result.rows_out = control + treated
    if result.rows_out == 0:
        result.warnings.append(f"campaign {name}: the audience rule admits nobody on "
                               f"{campaign.send_date}; nothing to send")
    baseline = _baseline(events, segments, opted, campaign)
    lines, overall_mde = _mde_lines(counts, baseline, campaign)
    folder = _export(written, campaign, Path(ctx.config.paths.artifacts) / "campaigns" / name
                     / campaign.send_date.isoformat())
    result.summary += [f"campaign {name}: {treated:,} treatment + {control:,} control "
                       f"(holdout {campaign.holdout_share:.0%}), send date "
                       f"{campaign.send_date}, channel {campaign.channel} -> "
                       f"{GOLD_CAMPAIGN_AUDIENCES} v{version}", *lines,
                       f"treatment export (customer id, channel, offer): {folder}"]
    wanted = campaign.decision.min_lift
    mde_text = (f"{100 * overall_mde:.1f} points" if math.isfinite(overall_mde)
                else "unknown (no baseline conversion in the lake)")
    if result.rows_out and wanted > 0 and not overall_mde <= wanted:
        result.warnings.append(
            f"campaign {name} cannot detect the lift its decision rule asks for: minimum "
            f"detectable lift {mde_text} > min_lift {100 * wanted:.1f} points (alpha "
            f"{campaign.decision.alpha}, power {campaign.decision.power}); widen the "
            "audience or the holdout")
    result.highlights.append(f"campaign {name} planned: {treated:,} treatment, {control:,} "
                             f"control, minimum detectable lift {mde_text}")
    written.unpersist()
    segments.unpersist()
    opted.unpersist()
    return result

