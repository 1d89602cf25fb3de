"""Split protocols: time boundaries, per-user ratios, seen items removed, the validation
split's share."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest
from pyspark.sql import SparkSession

from lakerec.core.config import Config, with_overrides
from lakerec.core.lake import Lake
from lakerec.core.step import StepContext
from lakerec.recs.holdout import random_holdout
from lakerec.recs.splits import split_by_time, split_random_stratified, time_split_boundaries
from lakerec.recs.training import confidence_spec
from lakerec.recs.tuning import validation_split

SCHEMA = "user_id string, item_id string, event_ts timestamp"


def test_time_split_boundaries() -> None:
    assert time_split_boundaries(10, date(2024, 3, 31)) == (
        datetime(2024, 3, 21), datetime(2024, 3, 31))
    with pytest.raises(ValueError):
        time_split_boundaries(0, date(2024, 3, 31))


def test_split_by_time(spark: SparkSession) -> None:
    rows = [
        ("u1", "a", datetime(2024, 3, 20, 23, 59, 59)),  # last second of train
        ("u1", "b", datetime(2024, 3, 21, 0, 0, 0)),     # first second of test
        ("u1", "c", datetime(2024, 3, 30, 23, 59, 59)),  # last second of test
        ("u1", "a", datetime(2024, 3, 25)),              # seen in train: removed from test
        ("u1", "d", datetime(2024, 3, 31, 0, 0, 0)),     # the run date: in neither part
        ("u2", "b", datetime(2024, 3, 22)),              # user absent from train: dropped
        ("u3", "c", datetime(2024, 1, 1)),               # train only
    ]
    events = spark.createDataFrame(rows, SCHEMA)
    train, test = split_by_time(events, test_days=10, run_date=date(2024, 3, 31))
    assert train.columns == events.columns and test.columns == events.columns
    assert sorted((r.user_id, r.item_id) for r in train.collect()) == [("u1", "a"), ("u3", "c")]
    assert sorted((r.user_id, r.item_id) for r in test.collect()) == [("u1", "b"), ("u1", "c")]

    _, test_with_seen = split_by_time(events, test_days=10, run_date=date(2024, 3, 31),
                                      remove_seen=False)
    assert sorted(r.item_id for r in test_with_seen.collect()) == ["a", "b", "c"]


def _interactions(spark: SparkSession):
    rows = [(f"u{n}", f"i{j}", datetime(2024, 1, 1 + j)) for n in (1, 2, 3, 4, 8, 12)
            for j in range(n)]
    rows += [("dup", "same", datetime(2024, 1, day)) for day in (1, 2, 3, 4)]
    return spark.createDataFrame(rows, SCHEMA)


def test_stratified_split_ratio_per_user(spark: SparkSession) -> None:
    df = _interactions(spark)
    train, test = split_random_stratified(df, ratio=0.75, seed=42)
    train_rows = train.collect()
    test_rows = test.collect()
    per_user_train = Counter(r.user_id for r in train_rows)
    per_user_test = Counter(r.user_id for r in test_rows)
    # round(0.75 n), half to even as Python's round: 1->1, 2->2, 3->2, 4->3, 8->6, 12->9.
    assert per_user_train == {"u1": 1, "u2": 2, "u3": 2, "u4": 3, "u8": 6, "u12": 9, "dup": 3}
    # dup's held-out row repeats an item it has in train: removed.
    assert per_user_test == {"u3": 1, "u4": 1, "u8": 2, "u12": 3}
    train_pairs = {(r.user_id, r.item_id) for r in train_rows}
    assert not train_pairs & {(r.user_id, r.item_id) for r in test_rows}
    assert len(train_rows) + len(test_rows) + 1 == df.count()


def test_stratified_split_is_reproducible_and_seeded(spark: SparkSession) -> None:
    df = _interactions(spark)
    first, _ = split_random_stratified(df, seed=42)
    again, _ = split_random_stratified(df.repartition(3), seed=42)
    other, _ = split_random_stratified(df, seed=7)
    pairs = {(r.user_id, r.item_id) for r in first.collect()}
    assert pairs == {(r.user_id, r.item_id) for r in again.collect()}
    assert pairs != {(r.user_id, r.item_id) for r in other.collect()}
    with pytest.raises(ValueError):
        split_random_stratified(df, ratio=1.0)


@pytest.mark.parametrize(("validation_ratio", "validation_train"), [("0.9", 27), ("null", 22)])
def test_validation_trains_on_its_own_share_of_the_training_part(
        spark: SparkSession, config: Config, validation_ratio: str,
        validation_train: int) -> None:
    """Under the random protocol the validation split keeps ``split.validation_ratio`` of
    each customer's training pairs (null: ``split.ratio``): 40 pairs, 30 of them to the
    evaluation's training part, 27 (or round(22.5) = 22) of those to validation's."""
    config = with_overrides(config, ["recommend.split.protocol=random",
                                     f"recommend.split.validation_ratio={validation_ratio}"])
    interactions = spark.createDataFrame([("u1", f"i{j}") for j in range(40)],
                                         "user_id string, item_id string")
    holdout = random_holdout(interactions, interactions, ratio=0.75, seed=42,
                             trained_until=datetime(2024, 3, 31))
    ctx = StepContext(config=config, spark=spark, lake=Lake(spark, config.paths.root),
                      run_date=date(2024, 3, 31), run_id="validation-ratio")

    validation = validation_split(ctx, holdout, confidence_spec(ctx))

    assert validation is not None and holdout.train.count() == 30
    assert validation.train.count() == validation_train
    assert validation.relevant.count() == 30 - validation_train
    assert not ({tuple(r) for r in validation.train.collect()}
                - {tuple(r) for r in holdout.train.collect()})
