"""Train/test split protocols for offline evaluation.

- :func:`split_by_time` (the default protocol): the last ``test_days`` days before the run
  date are the test period, as in production, where the model predicts what comes next.
- :func:`split_random_stratified`: 75/25 per user at random, the protocol of the
  Microsoft Recommenders benchmarks, so figures compare with their published tables.

Both are pure transforms: they return two lazy frames with the input's columns.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakerec.core.dates import midnight
from lakerec.core.schemas import EVENT_TS, ITEM_ID, USER_ID
from lakerec.recs.metrics import require_columns


def time_split_boundaries(test_days: int, run_date: date) -> tuple[datetime, datetime]:
    """``(test_start, test_end)``: midnights bounding the test period, end exclusive."""
    if test_days < 1:
        raise ValueError(f"test_days must be positive, got {test_days}")
    end = midnight(run_date)
    return end - timedelta(days=test_days), end


def split_by_time(interactions: DataFrame, *, test_days: int, run_date: date,
                  ts_col: str = EVENT_TS, user_col: str = USER_ID, item_col: str = ITEM_ID,
                  remove_seen: bool = True) -> tuple[DataFrame, DataFrame]:
    """Split at the midnight ``test_days`` days before ``run_date``.

    Parameters
    ----------
    interactions
        Rows with a timestamp ``ts_col`` (events, or interactions stamped with their latest
        event).
    test_days
        Length of the test period in days.
    run_date
        The test period ends at midnight starting ``run_date`` (exclusive): rows of the run
        date itself and later are in neither part.
    remove_seen
        Drop test rows whose (user, item) pair also occurs in train: a recommender that
        excludes what the user already has can never hit them.

    Returns
    -------
    train, test
        ``train``: rows with ``ts < run_date - test_days``. ``test``: rows with
        ``run_date - test_days <= ts < run_date`` of users that occur in ``train`` (a model
        cannot score users it has never seen; cold start is evaluated elsewhere).

    Notes
    -----
    Timestamps compare in the session time zone (``spark.sql.session.timeZone``, UTC in
    lakerec's config).
    """
    require_columns(interactions, "interactions", ts_col, user_col, item_col)
    test_start, test_end = time_split_boundaries(test_days, run_date)
    ts = F.col(ts_col)
    train = interactions.where(ts < F.lit(test_start))
    test = (interactions.where((ts >= F.lit(test_start)) & (ts < F.lit(test_end)))
            .join(train.select(user_col).distinct(), user_col, "left_semi"))
    if remove_seen:
        test = test.join(train.select(user_col, item_col).distinct(),
                         [user_col, item_col], "left_anti")
    return train, test.select(*interactions.columns)


def split_random_stratified(df: DataFrame, *, ratio: float = 0.75, seed: int = 42,
                            user_col: str = USER_ID,
                            item_col: str = ITEM_ID) -> tuple[DataFrame, DataFrame]:
    """Per-user random split: ``ratio`` of each user's rows to train, the rest to test.

    Follows ``recommenders.datasets.python_splitters.python_stratified_split``: each
    user's rows are shuffled and the first ``round(ratio * n)`` go to train (Python's
    round, half to even: a user with 1 or 2 rows stays wholly in train at 0.75). Test rows
    whose item the same user also has in train are then removed, and every remaining test
    row counts as relevant.

    Notes
    -----
    The shuffle orders rows by a seeded hash of their content rather than ``rand()``, so
    the split depends only on the data and ``seed``, not on how the input is partitioned.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must lie strictly between 0 and 1, got {ratio}")
    require_columns(df, "interactions", user_col, item_col)
    columns = df.columns
    by_user = Window.partitionBy(user_col)
    shuffled = by_user.orderBy(F.xxhash64(F.lit(seed), *columns), item_col)
    numbered = (df.withColumn("_position", F.row_number().over(shuffled))
                .withColumn("_train_rows", F.bround(F.count("*").over(by_user) * ratio)))
    in_train = F.col("_position") <= F.col("_train_rows")
    train = numbered.where(in_train).select(*columns)
    test = (numbered.where(~in_train).select(*columns)
            .join(train.select(user_col, item_col).distinct(), [user_col, item_col],
                  "left_anti")
            .select(*columns))
    return train, test
