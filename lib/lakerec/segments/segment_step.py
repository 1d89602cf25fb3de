"""Step ``segment``: ``gold.user_features`` -> KMeans model in MLflow -> ``gold.customer_segments``.

Fits the segmentation model on the run date's features (choosing k unless
``segment.k`` is set), logs it to the experiment ``<prefix>-segmentation`` with its
silhouette per k, profile table and plots, and registers it as ``lakerec-segmentation``.
The first version becomes ``champion``; a later one only when it passes the checks
(``segment.min_silhouette``, ``segment.min_segment_share``) and beats the champion's
silhouette on the same customers by ``segment.promotion_margin``, else ``challenger``.
Customers are then segmented by the champion and MERGEd into ``gold.customer_segments``
(one row per customer, the latest run's segment).

``--score-only`` (the daily DAG) segments with the champion without fitting; the weekly
retrain DAG fits. Fewer than two customers with a purchase skip the step with the reason;
customers who do not differ at all get one segment, with a warning.
"""

from __future__ import annotations

import argparse
import logging
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.registry import (
    CHALLENGER,
    CHAMPION,
    SEGMENTATION_MODEL,
    alias_version,
    champion_uri,
    ensure_experiment,
    log_spark_model,
    register,
    set_alias,
    tracking,
)
from lakerec.core.schemas import (
    CUSTOMER_SEGMENTS_SCHEMA,
    HAS_PURCHASE,
    MODEL_VERSION,
    MONETARY,
    RECENCY_DAYS,
    RUN_DATE,
    SEGMENT_ID,
    SEGMENT_LABEL,
    USER_ID,
)
from lakerec.core.settings import SegmentConfig
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import GOLD_CUSTOMER_SEGMENTS, GOLD_USER_FEATURES
from lakerec.segments import plots
from lakerec.segments.model import (
    Candidate,
    Selection,
    clusters_found,
    fit_segmentation,
    silhouette_of,
)
from lakerec.segments.profiles import (
    CUSTOMER_SHARE,
    CUSTOMERS,
    with_segment_labels,
)
from lakerec.segments.scoring import Scored, score

log = logging.getLogger("lakerec.segment")

EXPERIMENT = "segmentation"
# KMeans needs two customers (Spark's fails on one, with k >= 2).
MIN_BUYERS = 2


def smallest_cluster_share(profile: pd.DataFrame) -> float:
    """The smallest share of customers held by a clustered (not rule-based) segment."""
    clustered = profile[profile[SEGMENT_ID] >= 0]
    return float(clustered[CUSTOMER_SHARE].min()) if len(clustered) else 0.0


def write_artifacts(folder: Path, selection: Selection, scored: Scored,
                    points: pd.DataFrame) -> Path:
    """Profile (CSV, HTML), candidates (CSV) and the three plots, into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    scored.profile.to_csv(folder / "segment_profile.csv", index=False)
    scored.profile.to_html(folder / "segment_profile.html", index=False,
                           float_format=lambda v: f"{v:,.2f}")
    candidates = pd.DataFrame([vars(c) for c in selection.candidates])
    candidates.to_csv(folder / "k_candidates.csv", index=False)
    plots.silhouette_by_k(candidates["k"], candidates["silhouette"], selection.k,
                          folder / "silhouette_by_k.png")
    plots.segment_sizes(scored.profile[SEGMENT_LABEL], scored.profile[CUSTOMERS],
                        folder / "segment_sizes.png")
    plots.recency_vs_monetary(points, recency=RECENCY_DAYS, monetary=MONETARY,
                              label=SEGMENT_LABEL, path=folder / "recency_vs_monetary.png")
    return folder


def _params(settings: SegmentConfig, run_date: date, fit_rows: int) -> dict[str, Any]:
    return {
        "run_date": run_date.isoformat(), "k_fixed": settings.k, "k_min": settings.k_min,
        "k_max": settings.k_max, "seeds": ",".join(map(str, settings.seeds)),
        "max_iter": settings.max_iter, "model_features": ",".join(settings.model_features),
        "log_features": ",".join(settings.log_features),
        "min_stability": settings.min_stability,
        "stability_cost_tolerance": settings.stability_cost_tolerance, "fit_rows": fit_rows,
        "new_customer_days": settings.new_customer_days,
        "min_silhouette": settings.min_silhouette,
        "min_segment_share": settings.min_segment_share,
    }


def gold_rows(scored: Scored, model_version: int, run_date: date) -> DataFrame:
    labelled = with_segment_labels(scored.assignments, scored.labels)
    return (labelled.withColumn(MODEL_VERSION, F.lit(model_version))
            .withColumn(RUN_DATE, F.lit(run_date))
            .select(*[F.col(f.name).cast(f.dataType) for f in CUSTOMER_SEGMENTS_SCHEMA]))


def count_changes(previous: DataFrame | None, current: DataFrame) -> int:
    """Customers already segmented before whose segment label is now another."""
    if previous is None:
        return 0
    before = previous.select(USER_ID, F.col(SEGMENT_LABEL).alias("_before"))
    return (current.join(before, USER_ID)
            .where(F.col("_before") != F.col(SEGMENT_LABEL)).count())


def _stability(candidate: Candidate) -> str:
    if candidate.stability is None:
        return "stability not measured: no other seed came near the best cost"
    return (f"stability {candidate.stability:.3f} over {candidate.near_best_seeds} "
            "near-best seeds")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--score-only", action="store_true",
                        help="segment customers with the champion model without fitting a new "
                        "one (the daily DAG); fits one only when there is no champion yet")


def run(ctx: StepContext) -> StepResult:
    settings = ctx.config.segment
    if not settings.enabled:
        return StepResult(status="skipped", summary=["segment disabled (segment.enabled)"])
    lake, run_date = ctx.lake, ctx.run_date
    features, features_version = lake.snapshot(GOLD_USER_FEATURES,
                                               hint="run `lakerec features` first")
    features = (features.where(F.col(RUN_DATE) == F.lit(run_date)).cache())
    counts = features.agg(F.count(F.lit(1)).alias("all"),
                          F.count(F.when(F.col(HAS_PURCHASE), 1)).alias("buyers")).collect()[0]
    customers, buyers_n = int(counts["all"]), int(counts["buyers"])
    read = {GOLD_USER_FEATURES.qualified_name: features_version}
    if buyers_n < MIN_BUYERS:
        features.unpersist()
        reason = (f"{buyers_n} customer(s) of {GOLD_USER_FEATURES} with a purchase on "
                  f"{run_date}: too few to cluster (at least {MIN_BUYERS}), segmentation skipped")
        return StepResult(status="skipped", rows_in=customers, versions_read=read,
                          summary=[reason], warnings=[reason])
    client = tracking(ctx.config.mlflow)
    champion = alias_version(client, SEGMENTATION_MODEL, CHAMPION)
    try:
        if ctx.options.get("score_only") and champion is not None:
            return _score_with_champion(ctx, features, champion, read, customers)
        return _fit_and_score(ctx, features, champion, read, customers, buyers_n)
    finally:
        features.unpersist()


def _score_with_champion(ctx: StepContext, features: DataFrame, champion: int,
                         read: dict[str, int], customers: int) -> StepResult:
    """Segment with the champion as it is: no fit, no new version (``--score-only``)."""
    import mlflow.spark

    settings = ctx.config.segment
    model = mlflow.spark.load_model(champion_uri(SEGMENTATION_MODEL))
    scored = score(model, features, settings)
    changed, written = _publish(ctx, scored, champion)
    scored.assignments.unpersist()
    return StepResult(
        rows_in=customers, rows_out=customers, versions_read=read,
        versions_written={GOLD_CUSTOMER_SEGMENTS.qualified_name: written},
        summary=[f"score only: segments by {SEGMENTATION_MODEL} champion v{champion} "
                 "(no model fitted; `lakerec_retrain` fits and promotes)",
                 f"segments: {_sizes(scored)}",
                 f"{GOLD_CUSTOMER_SEGMENTS} v{written}: {customers} customers, "
                 f"{changed} changed segment since the previous run"])


def _publish(ctx: StepContext, scored: Scored, version: int) -> tuple[int, int]:
    """MERGE the customers' segments by model ``version`` into the gold table; the number
    who changed segment, and the version written."""
    gold = gold_rows(scored, version, ctx.run_date)
    changed = count_changes(ctx.lake.read_if_exists(GOLD_CUSTOMER_SEGMENTS), gold)
    log.info("%d customers changed segment since the previous run", changed)
    return changed, ctx.lake.upsert(gold, GOLD_CUSTOMER_SEGMENTS, keys=[USER_ID])


def _sizes(scored: Scored) -> str:
    return ", ".join(f"{row[SEGMENT_LABEL]} {row[CUSTOMERS]}"
                     for row in scored.profile.to_dict("records"))


def _fit_and_score(ctx: StepContext, features: DataFrame, champion: int | None,
                   read: dict[str, int], customers: int, buyers_n: int) -> StepResult:
    """Fit a model, register it, promote it when it passes the checks and beats the champion
    on the same customers, and segment with the champion."""
    import mlflow
    import mlflow.spark

    settings = ctx.config.segment
    run_date = ctx.run_date
    k_values = [settings.k] if settings.k else list(range(settings.k_min, settings.k_max + 1))
    # KMeans needs k >= 2; with fewer customers than k it finds as many clusters as points
    k_values = [k for k in k_values if k <= buyers_n] or [2]
    buyers = features.where(F.col(HAS_PURCHASE))
    if buyers_n > settings.fit_sample:
        buyers = buyers.sample(fraction=settings.fit_sample / buyers_n, seed=settings.seeds[0])
    fit_rows = min(buyers_n, settings.fit_sample)
    log.info("fitting on %d of %d customers with purchases, k in %s", fit_rows, buyers_n,
             k_values)
    model, selection = fit_segmentation(
        buyers, model_features=settings.model_features, log_features=settings.log_features,
        k_values=k_values, seeds=settings.seeds, max_iter=settings.max_iter,
        min_stability=settings.min_stability,
        cost_tolerance=settings.stability_cost_tolerance)
    chosen = next(c for c in selection.candidates if c.k == selection.k)
    single = clusters_found(selection.model) < 2
    fresh = score(model, features, settings)
    min_share = smallest_cluster_share(fresh.profile)
    points = (fresh.assignments.where(F.col(HAS_PURCHASE))
              .sample(fraction=min(1.0, settings.plot_sample / max(buyers_n, 1)), seed=1)
              .transform(lambda df: with_segment_labels(df, fresh.labels))
              .select(RECENCY_DAYS, MONETARY, SEGMENT_LABEL).toPandas())
    champion_model = (mlflow.spark.load_model(champion_uri(SEGMENTATION_MODEL))
                      if champion is not None else None)
    # the new model and the champion on the same customers, in the new model's feature space
    compared: tuple[float, float] | None = None
    if champion_model is not None:
        space = PipelineModel(stages=model.stages[:-1])
        compared = (silhouette_of(model, buyers, space),
                    silhouette_of(champion_model, buyers, space))

    client = tracking(ctx.config.mlflow)
    experiment_id = ensure_experiment(ctx.config.mlflow, EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id,
                          run_name=f"segment {run_date.isoformat()}") as mlflow_run:
        run_id = mlflow_run.info.run_id
        mlflow.log_params(_params(settings, run_date, fit_rows))
        mlflow.set_tags({"lakerec.run_id": ctx.run_id, "lakerec.features_version":
                         str(read[GOLD_USER_FEATURES.qualified_name]),
                         "k_stable": str(selection.stable)})
        for candidate in selection.candidates:
            mlflow.log_metric("silhouette", candidate.silhouette, step=candidate.k)
            mlflow.log_metric("training_cost", candidate.training_cost, step=candidate.k)
            if candidate.stability is not None:
                mlflow.log_metric("stability_ari", candidate.stability, step=candidate.k)
        mlflow.log_metrics({"chosen_k": selection.k, "chosen_silhouette": chosen.silhouette,
                            "min_segment_share": min_share, "customers": customers,
                            "customers_with_purchases": buyers_n,
                            **({"compared.silhouette": compared[0],
                                "compared.champion_silhouette": compared[1]}
                               if compared is not None else {})})
        artifacts = write_artifacts(
            Path(ctx.config.paths.artifacts) / "segment" / ctx.run_id, selection, fresh, points)
        mlflow.log_artifacts(str(artifacts), artifact_path="report")
        info = log_spark_model(model)
        version = register(client, info.model_uri, SEGMENTATION_MODEL, run_id=run_id,
                           tags={"run_date": run_date.isoformat(), "k": str(selection.k),
                                 "silhouette": f"{chosen.silhouette:.4f}"})
        promoted, why = segmentation_promotion(
            chosen.silhouette, min_share, compared, settings)
        set_alias(client, SEGMENTATION_MODEL, CHAMPION if promoted else CHALLENGER, version)
        mlflow.set_tags({"alias": CHAMPION if promoted else CHALLENGER, "promotion_reason": why})
        scored, scoring_version = fresh, version
        if champion_model is not None and champion is not None and not promoted:
            log.info("version %d stays challenger (%s): segmenting with champion version %s",
                     version, why, champion)
            scored, scoring_version = score(champion_model, features, settings), champion
        changed, written = _publish(ctx, scored, scoring_version)
        mlflow.log_metric("customers_changed_segment", changed)
    fresh.assignments.unpersist()
    scored.assignments.unpersist()
    warnings = []
    if single:
        warnings.append(f"the {buyers_n} customers with purchases do not differ in "
                        f"{', '.join(settings.model_features)}: one segment for all of them")
    return StepResult(
        rows_in=customers, rows_out=customers, versions_read=read,
        versions_written={GOLD_CUSTOMER_SEGMENTS.qualified_name: written},
        summary=[
            f"k = {selection.k} (silhouette {chosen.silhouette:.3f}, {_stability(chosen)}) over "
            f"{fit_rows} customers with purchases",
            f"{SEGMENTATION_MODEL} version {version} -> "
            f"{CHAMPION if promoted else CHALLENGER} ({why}); segments by version "
            f"{scoring_version}",
            f"segments: {_sizes(scored)}",
            f"{GOLD_CUSTOMER_SEGMENTS} v{written}: {customers} customers, "
            f"{changed} changed segment since the previous run",
            f"MLflow run {run_id} in experiment {ctx.config.mlflow.experiment_prefix}-"
            f"{EXPERIMENT}",
        ], warnings=warnings)


def segmentation_promotion(silhouette: float, min_share: float,
                           compared: tuple[float, float] | None,
                           settings: SegmentConfig) -> tuple[bool, str]:
    """Whether a new segmentation model becomes champion, and why.

    The first version (``compared`` None: no champion) always does. Later ones must pass
    the fixed checks and beat the champion's silhouette, ``compared`` = (new, champion) both
    measured on the same customers in the new model's feature space, by
    ``segment.promotion_margin``: the same clusters found again keep the champion, so segment
    labels do not churn.
    """
    if compared is None:
        return True, "first version"
    if silhouette < settings.min_silhouette:
        return False, f"silhouette {silhouette:.3f} < {settings.min_silhouette}"
    if min_share < settings.min_segment_share:
        return False, f"smallest segment {min_share:.3f} < {settings.min_segment_share}"
    new, champion = compared
    if new < champion + settings.promotion_margin:
        return False, (f"silhouette {new:.3f} does not beat the champion's {champion:.3f} "
                       f"on the same customers by {settings.promotion_margin}")
    return True, f"silhouette {new:.3f} beats the champion's {champion:.3f}"
