"""Segmentation: ARI, labelling rules, distances, and recovery of planted segments."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from math import comb
from pathlib import Path

import pytest
from pyspark.ml.linalg import Vectors
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from sklearn.metrics import adjusted_rand_score

from lakerec.cli.runner import run_step
from lakerec.core.config import Config
from lakerec.core.lake import Lake
from lakerec.core.schemas import (
    DISTANCE_TO_CENTROID,
    GT_SEGMENT,
    HAS_PURCHASE,
    RUN_DATE,
    SEGMENT_ID,
    SEGMENT_LABEL,
    USER_ID,
)
from lakerec.core.tables import GOLD_CUSTOMER_SEGMENTS, GOLD_USER_FEATURES
from lakerec.segments.model import (
    BROWSERS_SEGMENT_ID,
    NEW_SEGMENT_ID,
    RULE_LABELS,
    SCALED_FEATURES,
    adjusted_rand_index,
    with_distance_to_centroid,
)
from lakerec.segments.profiles import label_segments
from tests.conftest import make_config

RUN_DATE_ = date(2026, 11, 27)
PLANTED_CLUSTERS = 4  # champions, loyal, big_spenders, at_risk; browsers never purchase
QUIET = {"out": lambda _: None}


def ari_from_contingency(counts: list[int], row_sums: list[int], col_sums: list[int]) -> float:
    """Hubert & Arabie's adjusted Rand index, written out independently of the library."""
    n = sum(row_sums)
    index = sum(comb(c, 2) for c in counts)
    rows, cols = sum(comb(r, 2) for r in row_sums), sum(comb(c, 2) for c in col_sums)
    expected = rows * cols / comb(n, 2)
    return (index - expected) / ((rows + cols) / 2 - expected)


# --- pure pieces ------------------------------------------------------------------------
def test_adjusted_rand_index_matches_scikit_learn() -> None:
    rng = random.Random(3)
    a = [rng.randrange(4) for _ in range(300)]
    b = [x if rng.random() < 0.7 else rng.randrange(5) for x in a]
    table = Counter(zip(a, b, strict=True))
    assert adjusted_rand_index((x, y, n) for (x, y), n in table.items()) == pytest.approx(
        adjusted_rand_score(a, b))
    renamed = Counter(zip(a, [x + 10 for x in a], strict=True))
    assert adjusted_rand_index((x, y, n) for (x, y), n in renamed.items()) == 1.0


def _profile(segment: int, recency: float, frequency: float, monetary: float,
             basket: float, tenure: float = 300) -> dict:
    return {SEGMENT_ID: segment, "median_recency_days": recency,
            "median_frequency": frequency, "median_monetary": monetary,
            "median_avg_basket_value": basket, "median_tenure_days": tenure}


def test_labels_follow_the_documented_rules_and_are_unique() -> None:
    population = _profile(0, 60, 5, 200, 40)
    profiles = [
        _profile(0, 10, 20, 900, 45),      # frequent, recent, high spend
        _profile(1, 30, 5, 150, 30),       # usual frequency, recent: loyal before promising
        _profile(2, 40, 3, 600, 200),      # big baskets
        _profile(3, 250, 3, 150, 45),      # few purchases, long ago
        _profile(4, 35, 4, 160, 40),       # a little more recent than usual
        _profile(NEW_SEGMENT_ID, 0, 0, 0, 0),
        _profile(BROWSERS_SEGMENT_ID, 0, 0, 0, 0),
    ]
    labels = label_segments(profiles, population, RULE_LABELS)
    assert labels == {0: "champions", 1: "loyal", 2: "big spenders", 3: "hibernating",
                      4: "promising", NEW_SEGMENT_ID: "new", BROWSERS_SEGMENT_ID: "browsers"}


def test_segments_without_positive_score_fall_back_to_numbered_occasional() -> None:
    population = _profile(0, 60, 5, 200, 40)
    same = [_profile(i, 60, 5, 200, 40) for i in range(3)]  # every score is 0
    assert label_segments(same, population, {}) == {
        0: "occasional", 1: "occasional 2", 2: "occasional 3"}


def test_distance_to_centroid_is_euclidean_in_scaled_space(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(0, Vectors.dense([3.0, 4.0])), (1, Vectors.dense([1.0, 1.0]))],
        [SEGMENT_ID, SCALED_FEATURES])
    rows = with_distance_to_centroid(df, [[0.0, 0.0], [1.0, 2.0]]).orderBy(SEGMENT_ID).collect()
    assert [r[DISTANCE_TO_CENTROID] for r in rows] == pytest.approx([5.0, 1.0])


# --- on generated data with planted segments ----------------------------------------------
# The default planted segments overlap on purpose (a real shop's do): at_risk customers
# with one or two purchases look like a segment of their own (ARI 0.85 there at k = 4).
# Well separated here: at_risk buy as often as loyal customers, only long ago; big spenders
# as often, in large baskets.
WELL_SEPARATED = (
    "generate.segments.at_risk.events_per_customer=30",
    "generate.segments.big_spenders.events_per_customer=20",
)
MEAN_EVENTS = 0.15 * 80 + 0.30 * 30 + 0.10 * 20 + 0.25 * 30 + 0.20 * 10  # per customer


@pytest.fixture(scope="module")
def generated(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """1,500 generated customers through generate -> ingest -> conform -> features."""
    root = tmp_path_factory.mktemp("planted")
    config = make_config(root, "generate.customers=1500", "generate.items=300",
                         f"generate.events={int(1500 * MEAN_EVENTS)}", *WELL_SEPARATED,
                         "segment.k_min=2", "segment.k_max=6", "segment.seeds=[7, 17]")
    for step in ("generate", "ingest", "conform", "features"):
        run_step(step, config, RUN_DATE_, spark=spark, **QUIET)
    return config


@pytest.fixture(scope="module")
def segmented(spark: SparkSession, generated: Config) -> dict:
    result = run_step("segment", generated, RUN_DATE_, spark=spark, **QUIET)
    return {"result": result, "lake": Lake(spark, generated.paths.root)}


@pytest.mark.slow
def test_recovered_segments_match_planted_ones(spark: SparkSession, generated: Config,
                                               segmented: dict) -> None:
    lake: Lake = segmented["lake"]
    truth = spark.read.parquet(str(Path(generated.paths.ground_truth) / "customers"))
    found = lake.read(GOLD_CUSTOMER_SEGMENTS)
    cells = (found.join(truth.select(USER_ID, GT_SEGMENT), USER_ID)
             .groupBy(SEGMENT_ID, GT_SEGMENT).count().collect())
    counts = [r["count"] for r in cells]
    rows = Counter()
    cols = Counter()
    for r in cells:
        rows[r[SEGMENT_ID]] += r["count"]
        cols[r[GT_SEGMENT]] += r["count"]
    ari = ari_from_contingency(counts, list(rows.values()), list(cols.values()))
    assert ari >= 0.8, f"ARI {ari:.3f}; contingency {sorted(map(tuple, cells))}"


@pytest.mark.slow
def test_chosen_k_is_the_planted_k(segmented: dict) -> None:
    assert any(line.startswith(f"k = {PLANTED_CLUSTERS} ")
               for line in segmented["result"].summary), segmented["result"].summary


@pytest.mark.slow
def test_every_customer_gets_one_segment_and_buyers_are_clustered(
        segmented: dict) -> None:
    lake: Lake = segmented["lake"]
    features = lake.read(GOLD_USER_FEATURES).where(F.col(RUN_DATE) == RUN_DATE_)
    segments = lake.read(GOLD_CUSTOMER_SEGMENTS)
    joined = features.join(segments, USER_ID, "left")
    assert joined.count() == features.count() == segments.count()
    assert joined.where(F.col(SEGMENT_LABEL).isNull()).count() == 0
    misplaced = joined.where(F.col(HAS_PURCHASE) != (F.col(SEGMENT_ID) >= 0)).count()
    assert misplaced == 0
