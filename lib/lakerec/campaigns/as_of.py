"""Customers' segments and features as of a past day (a campaign's send date), read from the
lake: what the campaign step's actions compare customers on, as they were before a send."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.campaigns import uplift as U
from lakerec.core import registry
from lakerec.core.schemas import (
    CUSTOMERS,
    EVENTS,
    ITEMS,
    MODEL_VERSION,
    RUN_DATE,
    SEGMENT_LABEL,
    USER_ID,
)
from lakerec.core.step import StepContext
from lakerec.core.tables import GOLD_CUSTOMER_SEGMENTS, SILVER
from lakerec.privacy.dp_reports import latest_segments
from lakerec.segments.features import user_features
from lakerec.segments.scoring import score


def _user_features(ctx: StepContext, day: date) -> DataFrame:
    """``gold.user_features`` as of ``day``, computed from silver."""
    settings = ctx.config.features
    return user_features(
        *(ctx.lake.read(SILVER[entity], hint="run `lakerec conform` first")
          for entity in (EVENTS, CUSTOMERS, ITEMS)),
        as_of=day, top_categories_n=settings.top_categories,
        recent_days=settings.trend_recent_days, baseline_days=settings.trend_baseline_days)


def segments_at(ctx: StepContext, day: date) -> tuple[DataFrame, str, dict[str, int]]:
    """``(user_id, segment_label)`` as of ``day``: the latest segmentation run on or before
    it, else the champion segmentation model scoring the customers' features as of ``day``
    (segments after a send would be shaped by the campaign itself); how, and the model
    version used."""
    lake = ctx.lake
    stored = lake.read_if_exists(GOLD_CUSTOMER_SEGMENTS)
    if stored is not None:
        latest = latest_segments(stored, as_of=day)
        found = latest.agg(F.max(RUN_DATE)).first()
        if found is not None and found[0] is not None:
            version = (stored.where(F.col(RUN_DATE) == F.lit(found[0]))
                       .agg(F.max(MODEL_VERSION)).first())
            versions = {"segmentation": int(version[0])} if version and version[0] else {}
            return (latest.select(USER_ID, SEGMENT_LABEL),
                    f"{GOLD_CUSTOMER_SEGMENTS} of {found[0]}", versions)
    client = registry.tracking(ctx.config.mlflow)
    champion = registry.alias_version(client, registry.SEGMENTATION_MODEL, registry.CHAMPION)
    if champion is None:
        return (ctx.spark.createDataFrame([], f"{USER_ID} string, {SEGMENT_LABEL} string"),
                f"none (no segmentation on or before {day}, no champion model)", {})
    import mlflow.spark

    model = mlflow.spark.load_model(registry.champion_uri(registry.SEGMENTATION_MODEL))
    scored = score(model, _user_features(ctx, day), ctx.config.segment)
    return (scored.labelled().select(USER_ID, SEGMENT_LABEL).localCheckpoint(),
            f"features as of {day} scored by {registry.SEGMENTATION_MODEL} champion "
            f"v{champion}", {"segmentation": champion})


def features_at(ctx: StepContext, day: date) -> DataFrame:
    """Every customer's features as of ``day`` (:func:`U.feature_columns`), from silver."""
    return U.feature_columns(_user_features(ctx, day))
