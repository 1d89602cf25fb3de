"""Action ``uplift`` of step ``campaign``: ``lakerec campaign uplift`` learns who campaigns
move from every measured campaign (:mod:`lakerec.campaigns.uplift`: the T-learner and the
Qini), evaluates it on held-out customers, and registers it in MLflow as ``lakerec-uplift``,
promoted to champion only when it beats random targeting, targeting by the lift measured in
each customer's segment, and the current champion. :mod:`lakerec.campaigns.campaign_step`
dispatches the action here.
"""

from __future__ import annotations

import re
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.campaigns import audience as A
from lakerec.campaigns import measure as M
from lakerec.campaigns import uplift as U
from lakerec.campaigns.as_of import features_at
from lakerec.campaigns.attribution import attributed_outcomes
from lakerec.core import registry
from lakerec.core.campaigns import find_campaign
from lakerec.core.errors import ConfigError
from lakerec.core.schemas import CAMPAIGN_ID, SEGMENT_LABEL, SEND_DATE, USER_ID
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import GOLD_CAMPAIGN_AUDIENCES, GOLD_CAMPAIGN_RESULTS, SILVER_EVENTS

SEGMENT_RULE = "segment lift"  # uplift baseline: rank by the lift measured in one's segment


def run(ctx: StepContext) -> StepResult:
    """``lakerec campaign uplift``: fit the T-learner on every measured campaign's audience
    and outcomes, evaluate its Qini on held-out customers against random targeting, against
    targeting by the lift measured in each customer's segment, and against the champion;
    register it and promote it only when it beats all three."""
    lake, settings = ctx.lake, ctx.config.uplift
    results = lake.read_if_exists(GOLD_CAMPAIGN_RESULTS)
    measured = (sorted(r[0] for r in results.select(CAMPAIGN_ID).distinct().collect())
                if results is not None else [])
    if results is None or not measured:
        return StepResult(status="skipped", summary=[
            "no measured campaign to learn from: `lakerec campaign measure NAME` first"])
    audiences, audiences_version = lake.snapshot(GOLD_CAMPAIGN_AUDIENCES)
    events, events_version = lake.snapshot(SILVER_EVENTS, hint="run `lakerec conform` first")
    result = StepResult(versions_read={
        GOLD_CAMPAIGN_AUDIENCES.qualified_name: audiences_version,
        SILVER_EVENTS.qualified_name: events_version})
    parts = []
    for name in measured:
        try:
            campaign = find_campaign(ctx.config.paths.campaigns, name)
        except ConfigError:
            result.summary.append(f"campaign {name}: no definition, left out")
            continue
        mine = audiences.where(F.col(CAMPAIGN_ID) == F.lit(name))
        sent = mine.agg(F.min(SEND_DATE)).first()
        assert sent is not None and sent[0] is not None
        campaign = campaign.model_copy(update={"send_date": sent[0]})
        # the segment-level alternative: target by the lift measured in one's segment
        segment_lift = (results.where(F.col(CAMPAIGN_ID) == F.lit(name))
                        .select(SEGMENT_LABEL, F.col("conversion_lift").alias("_segment_lift")))
        outcomes = (attributed_outcomes(ctx.config.paths.campaigns, campaign, audiences,
                                        mine, events)
                    .withColumn(SEGMENT_LABEL, F.coalesce(F.col(SEGMENT_LABEL), F.lit("?")))
                    .join(segment_lift, SEGMENT_LABEL, "left")
                    .select(USER_ID, A.GROUP, F.col(M.CONVERTED).alias(U.LABEL),
                            F.coalesce(F.col("_segment_lift"), F.lit(0.0))
                            .alias("_segment_lift")))
        parts.append(outcomes.join(features_at(ctx, sent[0]), USER_ID)
                     .withColumn(CAMPAIGN_ID, F.lit(name)))
    if not parts:
        return StepResult(status="skipped", summary=result.summary)
    rows = reduce(DataFrame.unionByName, parts).localCheckpoint()
    held_out = U.is_holdout(settings.evaluation_share, "lakerec")
    train, test = rows.where(~held_out), rows.where(held_out)
    why_not = U.single_class(train)
    if why_not is not None:
        return StepResult(status="skipped", summary=[*result.summary, why_not])
    model = U.fit_t_learner(train, max_iter=settings.max_iter, max_depth=settings.max_depth,
                            seed=settings.seed)

    def ranked(frame: DataFrame) -> tuple[list[float], list[bool], list[int], list[float]]:
        got = (frame.select(U.UPLIFT, A.GROUP, U.LABEL, "_segment_lift", USER_ID)
               .orderBy(USER_ID).collect())
        return ([r[0] for r in got], [r[1] == A.TREATMENT for r in got],
                [int(r[2]) for r in got], [float(r[3]) for r in got])

    uplift, treated, converted, by_segment = ranked(U.predict_uplift(model, test))
    draw = _draws(test)  # random order, and the tie-break within a segment
    found = {"model": U.qini(uplift, treated, converted),
             "random": U.qini([-d for d in draw], treated, converted),
             SEGMENT_RULE: U.qini([lift - 1e-9 * d for lift, d in zip(by_segment, draw,
                                                                       strict=True)],
                                  treated, converted)}
    client = registry.tracking(ctx.config.mlflow)
    champion = registry.alias_version(client, U.UPLIFT_MODEL, registry.CHAMPION)
    if champion is not None:
        import mlflow.spark

        old = mlflow.spark.load_model(registry.champion_uri(U.UPLIFT_MODEL))
        found[f"champion v{champion}"] = U.qini(ranked(U.predict_uplift(old, test))[0],
                                                 treated, converted)
    best_other = max(q.coefficient for k, q in found.items() if k != "model")
    promote = found["model"].coefficient > max(0.0, best_other)
    version = _register_uplift(ctx, client, model, found, measured, promote,
                               train.count(), len(uplift))
    result.rows_in, result.rows_out = rows.count(), len(uplift)
    result.summary += [
        f"T-learner (GBT, {settings.max_iter} rounds, depth {settings.max_depth}) on "
        f"{', '.join(measured)}; Qini on {len(uplift):,} held-out customers:",
        *[f"  {k}: Qini coefficient {q.coefficient:+.4f}, AUUC {q.auuc:+.4f}"
          for k, q in found.items()],
        f"{U.UPLIFT_MODEL} v{version}: "
        + (f"champion (beats random, the {SEGMENT_RULE} and the champion)" if promote else
           "challenger (does not beat " + ("random" if found["model"].coefficient <= 0
                                           else "the best of the others") + ")")]
    result.highlights.append(
        f"uplift model v{version}: Qini {found['model'].coefficient:+.4f} vs random "
        f"{found['random'].coefficient:+.4f}, {SEGMENT_RULE} "
        f"{found[SEGMENT_RULE].coefficient:+.4f}; "
        + ("promoted to champion" if promote else "kept as challenger"))
    return result


def _draws(frame: DataFrame) -> list[float]:
    """A random order of ``frame``'s customers (a hash), sorted by customer like ``ranked``."""
    return [r[0] for r in frame.select(A.hash_draw(F.col(USER_ID), "uplift", "random"),
                                       USER_ID).orderBy(USER_ID).collect()]


def _register_uplift(ctx: StepContext, client: object, model: object,
                     found: dict[str, U.Qini], campaigns: list[str], promote: bool,
                     fitted: int, evaluated: int) -> int:
    import mlflow

    experiment = registry.ensure_experiment(ctx.config.mlflow, U.EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment,
                          run_name=f"uplift {ctx.run_date.isoformat()}") as run:
        mlflow.set_tags({"step": "campaign uplift", "campaigns": ",".join(campaigns)})
        mlflow.log_params({"features": ",".join(U.FEATURES), "fitted_customers": fitted,
                           "evaluated_customers": evaluated,
                           **ctx.config.uplift.model_dump()})
        keys = {k: re.sub(r"[^\w]", "_", k) for k in found}
        mlflow.log_metrics({f"qini.{keys[k]}": q.coefficient for k, q in found.items()}
                           | {f"auuc.{keys[k]}": q.auuc for k, q in found.items()})
        info = registry.log_spark_model(model)  # type: ignore[arg-type]
        version = registry.register(client, info.model_uri, U.UPLIFT_MODEL,  # type: ignore[arg-type]
                                    run_id=run.info.run_id)
    registry.set_alias(client, U.UPLIFT_MODEL,  # type: ignore[arg-type]
                       registry.CHAMPION if promote else registry.CHALLENGER, version)
    return version
