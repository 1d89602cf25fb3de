"""Customers segmented by a fitted model: assignments, the profile and the labels of its
segments, shared by ``segment`` and by whatever scores customers as of another date."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.schemas import SEGMENT_ID, SEGMENT_LABEL, USER_ID
from lakerec.core.settings import SegmentConfig
from lakerec.segments.model import RULE_LABELS, assign_segments
from lakerec.segments.profiles import (
    buyer_medians,
    label_segments,
    segment_profiles,
    with_segment_labels,
)


@dataclass
class Scored:
    """Customers segmented by one model, with the profile and labels of its segments."""

    assignments: DataFrame
    profile: pd.DataFrame
    labels: dict[int, str]

    def labelled(self) -> DataFrame:
        """``(user_id, segment_id, segment_label)`` of every customer scored."""
        return with_segment_labels(self.assignments, self.labels).select(
            USER_ID, SEGMENT_ID, F.col(SEGMENT_LABEL))


def score(model: PipelineModel, features: DataFrame, settings: SegmentConfig) -> Scored:
    """Segment ``features`` (``gold.user_features`` rows) with ``model``: buyers by its
    clusters, the others by rule; then profile and label the segments (cached
    assignments: unpersist them when done)."""
    assignments = assign_segments(model, features,
                                  new_customer_days=settings.new_customer_days).cache()
    profile: pd.DataFrame = segment_profiles(
        assignments, top_categories_n=settings.profile_top_categories).toPandas()
    population = buyer_medians(assignments).first()
    labels = label_segments(profile.to_dict("records"),
                            population.asDict() if population else {}, RULE_LABELS)
    profile.insert(1, SEGMENT_LABEL, profile[SEGMENT_ID].map(labels))
    return Scored(assignments, profile, labels)
