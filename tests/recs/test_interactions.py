"""Confidences from a tiny hand-made history, and the stable id maps."""

from __future__ import annotations

import itertools
import math
from datetime import datetime

import numpy
import pytest
from pyspark.sql import SparkSession

from lakerec.core.lake import Lake
from lakerec.core.schemas import ITEM_ID, USER_ID, USER_IDX
from lakerec.core.tables import GOLD_USER_INDEX
from lakerec.recs.interactions import MIN_STRENGTH, event_confidence, new_index_rows

AS_OF = datetime(2026, 1, 31)
WEIGHTS = {"view": 1.0, "add_to_cart": 3.0, "purchase": 5.0, "return": 5.0, "rating": 1.0}
COLUMNS = (f"{USER_ID} string, {ITEM_ID} string, event_type string, event_ts timestamp, "
           "rating double")


def history(spark: SparkSession):
    rows = [
        ("u1", "a", "view", datetime(2026, 1, 31), None),
        ("u1", "a", "purchase", datetime(2026, 1, 31), None),
        ("u1", "b", "view", datetime(2026, 1, 21), None),       # ten days old: half
        ("u1", "c", "purchase", datetime(2026, 1, 30), None),
        ("u1", "c", "return", datetime(2026, 1, 30), None),     # returned: gone
        ("u2", "a", "add_to_cart", datetime(2026, 1, 31), None),
        ("u2", "b", "purchase", datetime(2026, 1, 30), None),
        ("u2", "b", "return", datetime(2026, 1, 31), None),
        ("u2", "b", "purchase", datetime(2026, 1, 31), None),   # bought twice, returned once
        ("u2", "d", "rating", datetime(2026, 1, 11), 4.0),      # 20 days: a quarter of 4
        ("u2", "d", "rating", datetime(2026, 1, 31), 2.0),      # latest rating: 2
    ]
    return spark.createDataFrame(rows, COLUMNS)


def as_dict(df) -> dict[tuple[str, str], float]:
    return {(r[USER_ID], r[ITEM_ID]): r["confidence"] for r in df.collect()}


def test_weights_decay_and_returns(spark: SparkSession) -> None:
    got = as_dict(event_confidence(history(spark), weights=WEIGHTS, half_life_days=10,
                                   as_of=AS_OF))
    decay_1d = 0.5 ** 0.1
    assert set(got) == {("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b"), ("u2", "d")}
    assert got[("u1", "a")] == pytest.approx(6.0)             # view 1 + purchase 5, fresh
    assert got[("u1", "b")] == pytest.approx(0.5)             # a view ten days old
    assert got[("u2", "a")] == pytest.approx(3.0)
    assert got[("u2", "b")] == pytest.approx(5.0 * decay_1d)  # 5*d - 5 + 5
    assert got[("u2", "d")] == pytest.approx(4.0 * 0.25 + 2.0)


def test_old_history_stays_positive(spark: SparkSession) -> None:
    """A pair decays towards ALS's base confidence, never out of the data: Spark's ALS reads a
    float rating of 0 as unobserved, so a customer with only old events would have none."""
    rows = [
        ("u1", "a", "purchase", datetime(2006, 1, 31), None),   # 20 years: 2 ** -730 of 5
        ("u1", "b", "rating", datetime(2016, 1, 31), 4.0),      # 10 years
        ("u1", "c", "purchase", datetime(2006, 1, 31), None),
        ("u1", "c", "return", datetime(2026, 1, 30), None),     # returned 20 years on: gone
        ("u2", "a", "purchase", datetime(2006, 1, 31), None),
        ("u2", "a", "return", datetime(2006, 2, 1), None),
        ("u2", "a", "purchase", datetime(2006, 2, 28), None),   # bought again: kept
        ("u2", "b", "purchase", datetime(2006, 1, 31), None),
        ("u2", "b", "return", datetime(2006, 2, 1), None),      # returned the next day: gone
    ]
    old = spark.createDataFrame(rows, COLUMNS)
    # a 10-day half-life leaves 1e-220 of the 2006 events; a 1-day one leaves 0 (underflow)
    for half_life, transform in itertools.product((10, 1), ("linear", "log", "binary")):
        got = as_dict(event_confidence(old, weights=WEIGHTS, half_life_days=half_life,
                                       as_of=AS_OF, transform=transform))
        assert set(got) == {("u1", "a"), ("u1", "b"), ("u2", "a")}, (half_life, transform)
        # positive as ALS's float ratings: numpy's float32 is Spark's FloatType
        assert all(numpy.float32(value) > 0 for value in got.values()), (transform, got)
        if transform == "linear":
            assert got[("u1", "a")] == MIN_STRENGTH


def test_confidence_transforms_and_no_decay(spark: SparkSession) -> None:
    linear = as_dict(event_confidence(history(spark), weights=WEIGHTS, half_life_days=None,
                                      as_of=AS_OF))
    assert linear[("u1", "b")] == pytest.approx(1.0)          # the old view, undecayed
    assert linear[("u2", "d")] == pytest.approx(4.0 + 2.0)
    binary = as_dict(event_confidence(history(spark), weights=WEIGHTS, half_life_days=None,
                                      as_of=AS_OF, transform="binary"))
    assert binary == {pair: 1.0 for pair in linear}
    logged = as_dict(event_confidence(history(spark), weights=WEIGHTS, half_life_days=None,
                                      as_of=AS_OF, transform="log", epsilon=2.0))
    assert logged == pytest.approx({pair: math.log1p(r / 2.0) for pair, r in linear.items()})
    with pytest.raises(ValueError, match="transform"):
        event_confidence(history(spark), weights=WEIGHTS, half_life_days=None, as_of=AS_OF,
                         transform="sqrt")


def test_explicit_ratings_take_the_latest_rating(spark: SparkSession) -> None:
    got = as_dict(event_confidence(history(spark), weights=WEIGHTS, half_life_days=10,
                                   as_of=AS_OF, explicit_ratings=True))
    assert got == {("u2", "d"): 2.0}


def test_index_is_extended_never_renumbered(spark: SparkSession, lake: Lake) -> None:
    first = spark.createDataFrame([("u3",), ("u1",), ("u2",), ("u1",)], f"{USER_ID} string")
    rows = new_index_rows(None, first, key_col=USER_ID, index_col=USER_IDX)
    lake.upsert(rows, GOLD_USER_INDEX, [USER_ID], update=False)
    existing = lake.read(GOLD_USER_INDEX)
    assert {r[USER_ID]: r[USER_IDX] for r in existing.collect()} == {"u1": 0, "u2": 1, "u3": 2}

    second = spark.createDataFrame([("u0",), ("u2",), ("u4",)], f"{USER_ID} string")
    added = new_index_rows(existing, second, key_col=USER_ID, index_col=USER_IDX)
    lake.upsert(added, GOLD_USER_INDEX, [USER_ID], update=False)
    final = {r[USER_ID]: r[USER_IDX] for r in lake.read(GOLD_USER_INDEX).collect()}
    # u0 sorts first but existing ids stay; new keys go above the maximum, in key order
    assert final == {"u1": 0, "u2": 1, "u3": 2, "u0": 3, "u4": 4}
    rerun = new_index_rows(lake.read(GOLD_USER_INDEX), second, key_col=USER_ID,
                           index_col=USER_IDX)
    assert rerun.count() == 0
