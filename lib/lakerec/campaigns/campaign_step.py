"""Step ``campaign``: ``lakerec campaign plan NAME`` plans the campaign of
``<paths.campaigns>/NAME.yaml``; ``lakerec campaign measure NAME`` measures it once its
attribution window has closed (:mod:`lakerec.campaigns.measure`), a campaign lakerec planned
from its audience, one a channel sent from its contact log; ``lakerec campaign due`` does
both for every campaign whose day it is (``lakerec run`` runs it after ``recommend``);
``lakerec campaign uplift`` learns who campaigns move (:mod:`lakerec.campaigns.uplift_training`).

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
import math
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakerec.campaigns import audience as A
from lakerec.campaigns import measure as M
from lakerec.campaigns import uplift as U
from lakerec.campaigns import uplift_training
from lakerec.campaigns.as_of import features_at, segments_at
from lakerec.campaigns.attribution import attributed_outcomes
from lakerec.campaigns.report import write_report
from lakerec.campaigns.stats import Lift, minimum_detectable_effect, sample_ratio_p_value
from lakerec.conform.consent import opted_out
from lakerec.core import registry
from lakerec.core.campaigns import Campaign, find_campaign
from lakerec.core.dates import latest_run_rows
from lakerec.core.errors import ConfigError, InputError, QualityError
from lakerec.core.schemas import (
    CAMPAIGN_ID,
    CAMPAIGN_RESULTS_SCHEMA,
    CATEGORY,
    CONTACT_TS,
    CONTACTS,
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
    SILVER,
    SILVER_EVENTS,
    SILVER_ITEMS,
    Table,
)
from lakerec.privacy.dp_reports import latest_segments
from lakerec.synthetic.campaigns import planted_lifts

EXPERIMENT = "campaigns"  # MLflow experiment of the measurements
OVERALL = M.OVERALL
SRM_ALPHA = 0.001  # a sample-ratio-mismatch p-value below it stops the measurement


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["plan", "measure", "due", "uplift"],
                        help="plan: write the audience and export; measure: the lift, after "
                             "the attribution window; due: plan and measure every campaign "
                             "whose day it is; uplift: learn who campaigns move from the "
                             "measured ones")
    parser.add_argument("name", nargs="?",
                        help="the campaign: <paths.campaigns>/<name>.yaml (plan, measure)")


def _contacted(ctx: StepContext, campaign: Campaign) -> DataFrame:
    """``(user_id)`` contacted by another campaign within the cool-down before the send."""
    earlier = ctx.lake.read_if_exists(GOLD_CAMPAIGN_AUDIENCES)
    empty = ctx.spark.createDataFrame([], f"{USER_ID} string")
    if earlier is None or campaign.audience.contact_cooldown_days == 0:
        return empty
    since = campaign.sent_on - timedelta(days=campaign.audience.contact_cooldown_days)
    return (earlier.where((F.col(CAMPAIGN_ID) != campaign.name)
                          & (F.col(A.GROUP) == A.TREATMENT)
                          & F.col(SEND_DATE).between(F.lit(since), F.lit(campaign.sent_on)))
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
    today = latest_run_rows(recs, as_of=campaign.sent_on)
    version = today.agg(F.max(MODEL_VERSION), F.count(F.lit(1))).first()
    if version is None or not version[1]:
        raise InputError(f"campaign {campaign.name}: gold.recommendations has no run on or "
                         f"before the send date {campaign.sent_on}")
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
    before = campaign.sent_on - timedelta(days=window)
    empty = segments.sparkSession.createDataFrame([], f"{USER_ID} string")
    then = A.eligible(segments, A.last_purchases(events, before), opted, empty,
                      campaign.audience)
    bought = (events.where((F.col(EVENT_TYPE) == EventType.PURCHASE.value)
                           & (F.to_date(EVENT_TS) > F.lit(before))
                           & (F.to_date(EVENT_TS) <= F.lit(campaign.sent_on)))
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
    if ctx.options.get("action") == "due":
        return _due(ctx)
    if ctx.options.get("action") == "uplift":
        return uplift_training.run(ctx)
    if not ctx.options.get("name"):
        raise ConfigError(f"campaign {ctx.options.get('action')} needs the campaign's name")
    campaign = find_campaign(ctx.config.paths.campaigns, ctx.options["name"])
    if ctx.options.get("action") == "measure":
        return _measure(ctx, campaign)
    if campaign.audience_source == "contacts":
        raise ConfigError(f"campaign {campaign.name} takes its audience from its channel's "
                          f"contact log (audience_source: contacts): measure it, do not plan it")
    if campaign.send_date is None:  # sent on the day it is planned
        campaign = campaign.model_copy(update={"send_date": ctx.run_date})
    return _plan(ctx, campaign)


def _campaign_ids(ctx: StepContext, table: Table) -> dict[str, date]:
    """Campaign id -> send date (first contact day for contacts) of the rows of ``table``."""
    frame = ctx.lake.read_if_exists(table)
    if frame is None:
        return {}
    day = (F.col(SEND_DATE) if SEND_DATE in frame.columns else F.to_date(CONTACT_TS))
    return {r[0]: r[1] for r in frame.groupBy(CAMPAIGN_ID).agg(F.min(day)).collect()}


def _due(ctx: StepContext) -> StepResult:
    """Plan every campaign of ``paths.campaigns`` whose send date is the run date (or that
    has none), unless it was planned already or a channel sent it; measure every campaign
    planned or sent whose attribution window has closed and that has no result yet. A
    campaign whose inputs are missing (no segmentation, no recommendations: degenerate data)
    is left for another day with a warning, and the others go on."""
    folder = Path(ctx.config.paths.campaigns)
    names = sorted(p.stem for p in folder.glob("*.yaml"))
    planned = _campaign_ids(ctx, GOLD_CAMPAIGN_AUDIENCES)
    contacted = _campaign_ids(ctx, SILVER[CONTACTS])
    results = ctx.lake.read_if_exists(GOLD_CAMPAIGN_RESULTS)
    measured = ({r[0] for r in results.select(CAMPAIGN_ID).distinct().collect()}
                if results is not None else set())
    due = StepResult(rows_out=0)
    for name in names:
        campaign = find_campaign(folder, name)
        sent = planned.get(name) or contacted.get(name)
        if sent is not None:
            closes = M.window_closes(campaign, sent)
            if name in measured:
                due.summary.append(f"campaign {name}: measured already")
                continue
            if ctx.run_date < closes:
                due.summary.append(f"campaign {name}: sent {sent}, window closes on {closes}")
                continue
            action, act = "measured", lambda c=campaign: _measure(ctx, c)
        elif campaign.audience_source == "contacts":
            due.summary.append(f"campaign {name}: no contact in {SILVER[CONTACTS]} yet")
            continue
        elif campaign.send_date in (None, ctx.run_date):
            action, act = "planned", lambda c=campaign: _plan(
                ctx, c.model_copy(update={"send_date": ctx.run_date}))
        else:
            due.summary.append(f"campaign {name}: sends on {campaign.send_date}")
            continue
        try:
            done = act()
        except InputError as exc:  # what it needs is missing (no segments, say): not today
            due.warnings.append(f"campaign {name} not {action}: {exc}")
            continue
        due.rows_out = (due.rows_out or 0) + (done.rows_out or 0)
        due.versions_read |= done.versions_read
        due.versions_written |= done.versions_written
        due.summary += done.summary
        due.highlights += done.highlights
        due.warnings += done.warnings
    if not names:
        due.summary.append(f"no campaign definitions in {folder}")
    return due


def _import_contacts(ctx: StepContext, campaign: Campaign, result: StepResult
                     ) -> tuple[int, str]:
    """Write the audience of a campaign a channel sent (its contact log in silver.contacts)
    into gold.campaign_audiences, segmented as of its send date; the version written and
    how the segments were found. :class:`InputError` when there is no log either."""
    name, lake = campaign.name, ctx.lake
    hint = (f"campaign {name} was neither planned (`lakerec campaign plan {name}`) nor "
            f"logged by a channel ({SILVER[CONTACTS]})")
    contacts, contacts_version = lake.snapshot(SILVER[CONTACTS], hint=hint)
    result.versions_read[SILVER[CONTACTS].qualified_name] = contacts_version
    audience = M.audience_from_contacts(contacts, name).cache()
    found = audience.agg(F.max(SEND_DATE)).first()
    if found is None or found[0] is None:
        raise InputError(f"{hint}: {SILVER[CONTACTS]} has no contact of it")
    send = found[0]
    closes = M.window_closes(campaign, send)
    if ctx.run_date < closes:
        raise InputError(f"campaign {name}: its attribution window closes on {closes}; "
                         f"measure on or after it (--run-date), not on {ctx.run_date}")
    dated = campaign.model_copy(update={"send_date": send})
    segments, how, versions = segments_at(ctx, send)
    events = lake.read(SILVER_EVENTS, hint="run `lakerec conform` first")
    per_user, same_for_all, offer_versions = _offers(ctx, dated, events)
    rows = audience.join(segments, USER_ID, "left")
    rows = (rows.join(per_user, USER_ID, "left") if per_user is not None
            else rows.withColumn(OFFERED_ITEMS, F.array(*[F.lit(i) for i in same_for_all])))
    imported_at = datetime.now(UTC).replace(tzinfo=None)
    frame = rows.select(
        F.lit(name).alias(CAMPAIGN_ID), USER_ID, A.GROUP, SEGMENT_LABEL, OFFERED_ITEMS,
        _versions_map(versions | offer_versions), SEND_DATE,
        F.lit(imported_at).cast("timestamp").alias("planned_at"))
    version = lake.replace_where(frame, GOLD_CAMPAIGN_AUDIENCES, f"{CAMPAIGN_ID} = '{name}'")
    audience.unpersist()
    result.versions_written[GOLD_CAMPAIGN_AUDIENCES.qualified_name] = version
    result.summary.append(f"campaign {name}: not planned by lakerec; audience imported from "
                          f"{SILVER[CONTACTS]} v{contacts_version} (sent {send}), segments: "
                          f"{how} -> {GOLD_CAMPAIGN_AUDIENCES} v{version}")
    return version, how


def _versions_map(versions: dict[str, int]) -> Column:
    return (F.create_map(*[x for k, v in versions.items() for x in (F.lit(k), F.lit(v))])
            .cast("map<string,bigint>").alias("model_versions"))


def _fmt(value: float | None, scale: float = 100.0, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{scale * value:+.{digits}f}"


def _measure(ctx: StepContext, campaign: Campaign) -> StepResult:
    name, lake = campaign.name, ctx.lake
    result = StepResult()
    if campaign.audience_source == "contacts":  # re-imported on every measurement
        _import_contacts(ctx, campaign, result)
    audiences, audiences_version = lake.snapshot(GOLD_CAMPAIGN_AUDIENCES)
    mine = audiences.where(F.col(CAMPAIGN_ID) == F.lit(name)).cache()
    sent = mine.agg(F.min(SEND_DATE)).first()
    assert sent is not None and sent[0] is not None
    campaign = campaign.model_copy(update={"send_date": sent[0]})
    closes = M.window_closes(campaign, sent[0])
    if ctx.run_date < closes:
        mine.unpersist()
        raise InputError(f"campaign {name}: its attribution window closes on {closes}; "
                         f"measure on or after it (--run-date), not on {ctx.run_date}")
    events, events_version = lake.snapshot(SILVER_EVENTS, hint="run `lakerec conform` first")
    result.versions_read |= {GOLD_CAMPAIGN_AUDIENCES.qualified_name: audiences_version,
                             SILVER_EVENTS.qualified_name: events_version}
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
    per_customer = attributed_outcomes(ctx.config.paths.campaigns, campaign, audiences, mine,
                                       events)
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
    planted = planted_lifts(ctx.spark, ctx.config.paths.ground_truth, name,
                            mine.select(USER_ID, SEGMENT_LABEL))
    correction = "Holm across segments"
    result.summary.append(f"campaign {name}: {treated:,} treatment, {control:,} control, "
                          f"window {campaign.sent_on} + {campaign.objective.window_days} "
                          f"days; sample ratio p = {srm:.2f} -> {GOLD_CAMPAIGN_RESULTS} "
                          f"v{version}")
    for r in results:
        conv = r.conversion
        result.summary.append(
            f"  {r.segment}: conversion {100 * conv.treatment:.1f}% vs {100 * conv.control:.1f}%"
            f", lift {_fmt(conv.absolute)} points [{_fmt(conv.low)}, {_fmt(conv.high)}], "
            f"p {conv.p_value:.3g}" + ("" if r.segment == M.OVERALL
                                       else f" ({correction}: {r.p_adjusted:.3g})")
            + f"; {r.verdict}" + _planted_text(planted, r))
    result.summary.append(f"report: {html} (lift by segment: {png}); MLflow run {run_id} "
                          f"of experiment {ctx.config.mlflow.experiment_prefix}-{EXPERIMENT}")
    overall = results[0]
    result.highlights.append(
        f"campaign {name}: {overall.verdict}, conversion lift "
        f"{_fmt(overall.conversion.absolute)} points [{_fmt(overall.conversion.low)}, "
        f"{_fmt(overall.conversion.high)}], {overall.incremental_conversions:+.1f} "
        "incremental conversions" + _planted_text(planted, overall))
    if planted is not None:  # synthetic data: each segment's measured lift beside the planted
        result.highlights += [
            f"  {r.segment}: measured {_fmt(r.conversion.absolute)} points "
            f"[{_fmt(r.conversion.low)}, {_fmt(r.conversion.high)}]{_planted_text(planted, r)}"
            for r in results[1:]]
    mine.unpersist()
    return result


def _planted_text(planted: tuple[dict[str, float], float] | None, r: M.SegmentResult) -> str:
    """``; planted +x.x points (inside|outside the interval)`` on generated data."""
    if planted is None:
        return ""
    by_segment, overall = planted
    lift = overall if r.segment == M.OVERALL else by_segment.get(r.segment)
    if lift is None:
        return ""
    inside = r.conversion.low <= lift <= r.conversion.high
    return (f"; planted {_fmt(lift)} points ({'inside' if inside else 'OUTSIDE'} the "
            "95% interval)")


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
        mlflow.log_params({"send_date": campaign.sent_on.isoformat(),
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


def _capped(ctx: StepContext, campaign: Campaign, audience: DataFrame, result: StepResult,
            versions: dict[str, int]) -> DataFrame:
    """The audience under its cap: at random, or by the uplift champion's predicted uplift
    (its version recorded in ``versions``); the holdout is drawn afterwards either way."""
    if campaign.selection == "random" or campaign.max_audience is None:
        return A.capped(audience, campaign)
    client = registry.tracking(ctx.config.mlflow)
    champion = registry.alias_version(client, U.UPLIFT_MODEL, registry.CHAMPION)
    if champion is None:
        raise ConfigError(f"campaign {campaign.name}: selection 'uplift' needs a "
                          f"{U.UPLIFT_MODEL} champion; measure a campaign and run `lakerec "
                          "campaign uplift`, or use selection 'random'")
    import mlflow.spark

    model = mlflow.spark.load_model(registry.champion_uri(U.UPLIFT_MODEL))
    scores = U.predict_uplift(model, features_at(ctx, campaign.sent_on)).select(
        USER_ID, U.UPLIFT)
    versions["uplift"] = champion
    result.summary.append(f"audience capped at {campaign.max_audience:,} by the uplift "
                          f"predicted by {U.UPLIFT_MODEL} champion v{champion}")
    ranked = audience.join(scores, USER_ID, "left")
    return A.capped(ranked, campaign, best_first=F.coalesce(F.col(U.UPLIFT), F.lit(-1.0)).desc()
                    ).drop(U.UPLIFT)


def _plan(ctx: StepContext, campaign: Campaign) -> StepResult:
    name = campaign.name
    result = StepResult()
    lake = ctx.lake
    events, events_version = lake.snapshot(SILVER_EVENTS, hint="run `lakerec conform` first")
    result.versions_read[SILVER_EVENTS.qualified_name] = events_version
    all_segments = lake.read(GOLD_CUSTOMER_SEGMENTS, hint="run `lakerec segment` first")
    segments = latest_segments(all_segments, as_of=campaign.sent_on).cache()
    seg_run = segments.agg(F.max(RUN_DATE)).first()
    if seg_run is None or seg_run[0] is None:
        raise InputError(f"campaign {name}: gold.customer_segments has no run on or before "
                         f"the send date {campaign.sent_on}")
    seg_version = (all_segments.where(F.col(RUN_DATE) == F.lit(seg_run[0]))
                   .agg(F.max(MODEL_VERSION)).first())
    opted = opted_out(ctx.spark, lake, ctx.config).cache()

    audience = A.eligible(segments, A.last_purchases(events, campaign.sent_on), opted,
                          _contacted(ctx, campaign), campaign.audience)
    versions: dict[str, int] = {}
    planned = A.assign_groups(_capped(ctx, campaign, audience, result, versions), campaign)
    per_user, same_for_all, offer_versions = _offers(ctx, campaign, events)
    versions |= offer_versions
    if per_user is not None:
        planned = planned.join(per_user, USER_ID, "left")
    else:
        planned = planned.withColumn(OFFERED_ITEMS, F.array(*[F.lit(i) for i in same_for_all]))
    if seg_version and seg_version[0]:
        versions["segmentation"] = int(seg_version[0])
    planned_at = datetime.now(UTC).replace(tzinfo=None)
    rows = planned.select(
        F.lit(name).alias(CAMPAIGN_ID), USER_ID, A.GROUP, SEGMENT_LABEL, OFFERED_ITEMS,
        _versions_map(versions),
        F.lit(campaign.sent_on).alias(SEND_DATE),
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
                               f"{campaign.sent_on}; nothing to send")
    baseline = _baseline(events, segments, opted, campaign)
    lines, overall_mde = _mde_lines(counts, baseline, campaign)
    folder = _export(written, campaign, Path(ctx.config.paths.artifacts) / "campaigns" / name
                     / campaign.sent_on.isoformat())
    result.summary += [f"campaign {name}: {treated:,} treatment + {control:,} control "
                       f"(holdout {campaign.holdout_share:.0%}), send date "
                       f"{campaign.sent_on}, channel {campaign.channel} -> "
                       f"{GOLD_CAMPAIGN_AUDIENCES} v{version}", *lines,
                       f"treatment export (customer id, channel, offer): {folder}"]
    wanted = campaign.decision.min_lift
    mde_text = (f"{100 * overall_mde:.1f} points" if math.isfinite(overall_mde)
                else "unknown (no baseline conversion in the lake)")
    if result.rows_out and wanted > 0 and not math.isfinite(overall_mde):
        result.warnings.append(
            f"campaign {name}: its power cannot be checked: nobody its rule admitted one "
            f"window before the send bought within the window, so there is no baseline "
            f"conversion to size the test on (min_lift {100 * wanted:.1f} points)")
    elif result.rows_out and wanted > 0 and not overall_mde <= wanted:
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

