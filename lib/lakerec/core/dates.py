"""Run dates: a day's boundaries (naive UTC timestamps, as the event tables store them), and
the latest run of a table partitioned by run date."""

from __future__ import annotations

from datetime import date, datetime, time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.schemas import RUN_DATE


def midnight(day: date) -> datetime:
    """The first instant of ``day``: events before it happened before the run date."""
    return datetime.combine(day, time())


def latest_run_rows(frame: DataFrame, *, as_of: date) -> DataFrame:
    """The rows of ``frame``'s latest ``run_date`` on or before ``as_of`` (none if it has
    none): a gold table's state as a run on ``as_of`` saw it."""
    upto = frame.where(F.col(RUN_DATE) <= F.lit(as_of))
    return upto.join(upto.agg(F.max(RUN_DATE).alias(RUN_DATE)), RUN_DATE)
