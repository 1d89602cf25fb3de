"""Step ``recommend``: the champion (ALS, or its blend with item-item, EASE and popularity,
as ``train`` chose) -> ``gold.recommendations`` for every active customer,
``gold.similar_items`` and ``gold.recommendation_gaps``.

Active customers have an event in the ``recommend.active_window_days`` before the run date
(or are listed in ``--users-file``). Scoring runs through the blocked scorer with bought and
out-of-stock items masked; business rules, cold-start fallbacks and explanations come from
:mod:`lakerec.recs.candidates`. Without a champion (no model has beaten popularity yet) everyone
gets popularity recommendations, and the summary says so. Per-date outputs are written with
replaceWhere on ``run_date``, so a rerun replaces them.
"""

from __future__ import annotations

import argparse
import logging

from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.conform.consent import opted_out, read_id_list
from lakerec.core import registry
from lakerec.core.dates import midnight
from lakerec.core.errors import InputError
from lakerec.core.schemas import (
    CATEGORY,
    FACTOR_FEATURES,
    FACTOR_ID,
    IN_STOCK,
    ITEM_ID,
    ITEM_IDX,
    MODEL_SOURCES,
    MODEL_VERSION,
    PRICE,
    RANK,
    REASON_ITEM_ID,
    RECOMMENDATIONS_SCHEMA,
    RUN_DATE,
    SCORE,
    SOURCE,
    TITLE,
    USER_ID,
    USER_IDX,
    EventType,
    Source,
)
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import (
    GOLD_CUSTOMER_SEGMENTS,
    GOLD_RECOMMENDATION_GAPS,
    GOLD_RECOMMENDATIONS,
    GOLD_SIMILAR_ITEMS,
)
from lakerec.recs.als import score_factors
from lakerec.recs.blend import blend
from lakerec.recs.candidates import (
    active_users,
    candidate_depth,
    final_recommendations,
    history_items,
    opted_out_gaps,
    popular_by_segment,
    popular_candidates,
    recommendation_gaps,
)
from lakerec.recs.content import (
    borrowed_factors,
    content_neighbours,
    content_tokens,
    normalised,
    similar_items_from_scores,
    with_reason_item,
)
from lakerec.recs.ease import ease_top_k, gram_within, no_recommendations
from lakerec.recs.interactions import positive_pairs
from lakerec.recs.training import (
    EASE_LAMBDA_PARAM,
    TrainedOn,
    component_lists,
    confidence_spec,
    foreign_to,
    load_version,
    read_inputs,
    trained_on,
    write_indices,
)

log = logging.getLogger("lakerec.recommend")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users-file", help="recommend for these customers only: a text file "
                        "with one user_id per line (a 'user_id' header line is skipped)")


def catalogue(items: DataFrame | None, item_index: DataFrame) -> DataFrame:
    """``(item_id, title, category, price, in_stock)``; every indexed item when no items table."""
    if items is not None:
        return items.select(ITEM_ID, TITLE, CATEGORY, PRICE, IN_STOCK)
    return item_index.select(ITEM_ID, F.lit(None).cast("string").alias(TITLE),
                             F.lit(None).cast("string").alias(CATEGORY),
                             F.lit(None).cast("double").alias(PRICE), F.lit(True).alias(IN_STOCK))


def item_factors_with_content(model: ALSModel, items: DataFrame, item_index: DataFrame,
                              neighbours: int) -> tuple[DataFrame, DataFrame]:
    """Factors ``(id, features)`` of known items plus borrowed ones of new in-stock items,
    and ``(item_id)`` of those new items."""
    known = model.itemFactors.join(item_index.withColumnRenamed(ITEM_IDX, FACTOR_ID), FACTOR_ID)
    new_items = (items.where(F.col(IN_STOCK)).select(ITEM_ID)
                 .join(known.select(ITEM_ID), ITEM_ID, "left_anti"))
    tokens = content_tokens(items)
    close = content_neighbours(tokens.join(new_items, ITEM_ID),
                               tokens.join(known.select(ITEM_ID), ITEM_ID), neighbours)
    borrowed = (borrowed_factors(close, known.select(ITEM_ID, FACTOR_FEATURES))
                .join(item_index, ITEM_ID)
                .select(F.col(ITEM_IDX).alias(FACTOR_ID), FACTOR_FEATURES))
    factors = model.itemFactors.select(FACTOR_ID, FACTOR_FEATURES).unionByName(borrowed)
    return factors.cache(), new_items


def blended_candidates(ctx: StepContext, champion: TrainedOn, als_candidates: DataFrame,
                       events: DataFrame, pairs: DataFrame, users: DataFrame,
                       new_items: DataFrame, depth: int) -> tuple[DataFrame, list[str]]:
    """The champion's blend of ``als_candidates`` with item-item, EASE (at the champion's
    lambda and dropout, on ``pairs``: the default confidences', as in ``train``) and popular
    candidates computed from the events before the run date, as ``(user_id, item_id, score,
    rank, source)``; source ``content`` for new items, else the champion's family. And warnings:
    EASE proposes nothing when the catalogue has grown past ``recommend.ease.max_items``
    since ``train`` chose it."""
    params = champion.params
    interactions = confidence_spec(ctx).with_settings(
        transform=params.transform, half_life_days=params.half_life_days
    ).of(events, midnight(ctx.run_date))
    ease, warnings = None, []
    if champion.weights.ease > 0:
        if champion.ease_lambda is None:
            raise InputError(f"the champion weighs EASE but logged no {EASE_LAMBDA_PARAM}")
        cfg = ctx.config.recommend
        gram, too_many = gram_within(pairs, max_items=cfg.ease.max_items)
        if gram is None:
            warnings.append(f"{too_many}: EASE proposes nothing, the champion's other "
                            "families serve (`train` will leave EASE out)")
            ease = no_recommendations(ctx.spark)
        else:
            model = gram.model(champion.ease_lambda, champion.ease_dropout)
            ease = ease_top_k(model, pairs, depth, users=users,
                              users_per_block=cfg.users_per_block)
    lists = component_lists(als_candidates, interactions, users, depth, ctx, ease=ease)
    blended = blend(lists, champion.weights, depth=depth, k=depth)
    return (blended.join(new_items.withColumn("_new", F.lit(True)), ITEM_ID, "left")
            .select(USER_ID, ITEM_ID, SCORE, RANK,
                    F.when(F.col("_new"), Source.CONTENT)
                    .otherwise(F.lit(champion.weights.family)).alias(SOURCE))), warnings


def run(ctx: StepContext) -> StepResult:
    cfg = ctx.config.recommend
    if not cfg.enabled:
        return StepResult(status="skipped", summary=["recommendations disabled"])
    inputs = read_inputs(ctx)
    events, run_date = inputs.events, ctx.run_date
    items = catalogue(inputs.items, inputs.item_index).cache()
    users_file = ctx.options.get("users_file")
    audience = (read_id_list(ctx.spark, users_file, what="--users-file") if users_file else
                active_users(events, run_date=run_date, window_days=cfg.active_window_days))
    excluded = opted_out(ctx.spark, ctx.lake, ctx.config)
    users = audience.join(excluded, USER_ID, "left_anti").cache()
    suppressed_users = audience.join(excluded, USER_ID, "left_semi").cache()
    bought = positive_pairs(events, [EventType.PURCHASE])
    segments = inputs.segments
    depth = candidate_depth(cfg.k, cfg.max_per_category)
    interactions = confidence_spec(ctx).of(events, midnight(run_date))
    popular = popular_by_segment(interactions, segments, top=2 * depth)
    candidates = popular_candidates(users, segments, popular)

    client = registry.tracking(ctx.config.mlflow)
    version = registry.alias_version(client, registry.ALS_MODEL, registry.CHAMPION)
    warnings = []
    champion = trained_on(client, version) if version is not None else None
    foreign = foreign_to(champion.binding, ctx.lake) if champion is not None else None
    if foreign:
        message = f"{registry.ALS_MODEL} v{version} (champion) cannot score this lake: {foreign}"
        if cfg.foreign_champion == "refuse":
            raise InputError(f"{message}. Give each lake its own MLflow registry "
                             "(mlflow.tracking_uri), or set recommend.foreign_champion="
                             "popularity to serve popularity to everyone meanwhile")
        warnings.append(f"{message}: popularity for everyone (recommend.foreign_champion)")
        version, champion = None, None
    factors_by_id = None
    similar = None
    if version is not None and champion is not None:
        model = load_version(ctx.config.mlflow, version)
        factors, new_items = item_factors_with_content(model, items, inputs.item_index,
                                                       cfg.content_neighbours)
        blocked = (items.where(~F.col(IN_STOCK) | F.col(ITEM_ID).isin(list(cfg.excluded_items)))
                   .join(inputs.item_index, ITEM_ID).select(ITEM_IDX).collect())
        user_factors = model.userFactors.join(
            users.join(inputs.user_index, USER_ID).select(F.col(USER_IDX).alias(FACTOR_ID)),
            FACTOR_ID)
        bought_idx = (bought.join(inputs.user_index, USER_ID).join(inputs.item_index, ITEM_ID)
                      .select(USER_IDX, ITEM_IDX))
        scored = score_factors(user_factors, factors, depth, exclude_pairs=bought_idx,
                               exclude_items=[r[ITEM_IDX] for r in blocked],
                               users_per_block=cfg.users_per_block)
        model_candidates = (
            scored.join(inputs.user_index, USER_IDX).join(inputs.item_index, ITEM_IDX)
            .join(new_items.withColumn("_new", F.lit(True)), ITEM_ID, "left")
            .select(USER_ID, ITEM_ID, SCORE, RANK,
                    F.when(F.col("_new"), Source.CONTENT).otherwise(Source.ALS).alias(SOURCE)))
        if champion.weights.family != Source.ALS:
            model_candidates, blend_warnings = blended_candidates(
                ctx, champion, model_candidates, events, interactions, users, new_items,
                depth)
            warnings += blend_warnings
        candidates = model_candidates.unionByName(candidates)
        factors_by_id = factors.join(inputs.item_index.withColumnRenamed(ITEM_IDX, FACTOR_ID),
                                     FACTOR_ID).select(ITEM_ID, FACTOR_FEATURES)
        unit = normalised(factors)
        self_pairs = unit.select(F.col(FACTOR_ID).alias(USER_IDX), F.col(FACTOR_ID).alias(ITEM_IDX))
        similar = similar_items_from_scores(
            score_factors(unit, unit, cfg.similar_items_k, exclude_pairs=self_pairs,
                          users_per_block=cfg.users_per_block), inputs.item_index)

    final = final_recommendations(candidates, items=items, excluded_pairs=bought,
                                  excluded_items=cfg.excluded_items, k=cfg.k,
                                  max_per_category=cfg.max_per_category)
    if factors_by_id is not None:
        from_factors = F.col(SOURCE).isin(*MODEL_SOURCES)
        explained = with_reason_item(final.where(from_factors), history_items(events),
                                     factors_by_id)
        final = explained.unionByName(final.where(~from_factors)
                                      .withColumn(REASON_ITEM_ID, F.lit(None).cast("string")))
    else:
        final = final.withColumn(REASON_ITEM_ID, F.lit(None).cast("string"))
    output = final.select(
        *[F.col(f.name).cast(f.dataType) for f in RECOMMENDATIONS_SCHEMA.fields
          if f.name not in (MODEL_VERSION, RUN_DATE)],
        F.lit(version).cast("int").alias(MODEL_VERSION), F.lit(run_date).alias(RUN_DATE))

    predicate = f"{RUN_DATE} = '{run_date.isoformat()}'"
    written = write_indices(ctx, inputs)
    rec_version = ctx.lake.replace_where(output, GOLD_RECOMMENDATIONS, predicate,
                                         partition_by=(RUN_DATE,))
    recs = ctx.lake.read(GOLD_RECOMMENDATIONS, version=rec_version).where(predicate)
    gaps = recommendation_gaps(users, recs, k=cfg.k, run_date=run_date).unionByName(
        opted_out_gaps(suppressed_users, run_date=run_date))
    gap_version = ctx.lake.replace_where(gaps, GOLD_RECOMMENDATION_GAPS, predicate,
                                         partition_by=(RUN_DATE,))
    written[GOLD_RECOMMENDATIONS.qualified_name] = rec_version
    written[GOLD_RECOMMENDATION_GAPS.qualified_name] = gap_version
    if similar is not None:
        written[GOLD_SIMILAR_ITEMS.qualified_name] = ctx.lake.overwrite(similar,
                                                                        GOLD_SIMILAR_ITEMS)

    by_source = {r[SOURCE]: r["n"] for r in recs.groupBy(SOURCE).agg(F.count("*").alias("n"))
                 .collect()}
    totals = recs.agg(F.count("*").alias("rows"), F.countDistinct(USER_ID).alias("users")).first()
    assert totals is not None, "an aggregate without grouping returns one row"
    n_gaps = ctx.lake.read(GOLD_RECOMMENDATION_GAPS, version=gap_version).where(predicate).count()
    n_users = users.count()
    suppressed = suppressed_users.count()
    audience_named = (f"of {users_file}" if users_file else
                      f"active in the {cfg.active_window_days} days before {run_date} (of "
                      f"{events.select(USER_ID).distinct().count():,} with events; "
                      "recommend.active_window_days sets the window)")
    summary = [
        f"model: {registry.ALS_MODEL} v{version} (champion: {champion.weights.family}, "
        f"{champion.weights})" if champion is not None else
        (f"model: none ({registry.ALS_MODEL}'s champion is another lake's): popularity for "
         "everyone" if foreign else
         f"model: none ({registry.ALS_MODEL} has no champion yet): popularity for everyone"),
        f"{GOLD_RECOMMENDATIONS} v{rec_version}: {totals['rows']} rows for "
        f"{totals['users']} of {n_users} customers {audience_named}, k={cfg.k}; by source "
        + ", ".join(f"{s}={n}" for s, n in sorted(by_source.items())),
        f"{GOLD_RECOMMENDATION_GAPS} v{gap_version}: {n_gaps} customers with fewer than "
        f"{cfg.k} (the {suppressed:,} opted out included)",
        "segments: " + (f"{GOLD_CUSTOMER_SEGMENTS}" if segments is not None
                        else "none (global popularity)"),
        f"consent: {suppressed:,} customers opted out of marketing get no recommendations",
    ]
    if similar is not None:
        summary.append(f"{GOLD_SIMILAR_ITEMS} v{written[GOLD_SIMILAR_ITEMS.qualified_name]}: top "
                       f"{cfg.similar_items_k} per item")
    served = (f"{champion.weights.family} v{version}" if champion is not None
              else "popularity fallback (no champion)")
    highlight = (f"{totals['users']:,} customers get {cfg.k} recommendations from {served}; "
                 "by source " + ", ".join(f"{s}={n:,}" for s, n in sorted(by_source.items()))
                 + f"; {suppressed:,} opted out, suppressed")
    return StepResult(rows_in=n_users, rows_out=int(totals["rows"]),
                      versions_read=inputs.versions, versions_written=written, summary=summary,
                      highlights=[highlight], warnings=warnings,
                      customers_suppressed=suppressed)
