"""``ops.pipeline_runs``: one row per job run, whatever its outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

ABSENT_VERSION = -1  # in versions_before: the step created the table

PIPELINE_RUNS_SCHEMA = T.StructType([
    T.StructField("run_id", T.StringType(), False),
    T.StructField("pipeline_run_id", T.StringType(), True),
    T.StructField("step", T.StringType(), False),
    T.StructField("run_date", T.DateType(), False),
    T.StructField("status", T.StringType(), False),
    T.StructField("started_at", T.TimestampType(), False),
    T.StructField("finished_at", T.TimestampType(), False),
    T.StructField("duration_s", T.DoubleType(), False),
    T.StructField("rows_in", T.LongType(), True),
    T.StructField("rows_out", T.LongType(), True),
    T.StructField("rows_quarantined", T.LongType(), True),
    T.StructField("versions_read", T.MapType(T.StringType(), T.LongType()), True),
    T.StructField("versions_written", T.MapType(T.StringType(), T.LongType()), True),
    T.StructField("message", T.StringType(), True),
    # customers left out for want of marketing consent (recommend; campaigns)
    T.StructField("customers_suppressed", T.LongType(), True),
    # the versions of the tables a step wrote as they were before it (-1: it created them),
    # so that a failed gate can put them back (conform, before the silver gate)
    T.StructField("versions_before", T.MapType(T.StringType(), T.LongType()), True),
])


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    pipeline_run_id: str | None
    step: str
    run_date: date
    status: str
    started_at: datetime
    finished_at: datetime
    rows_in: int | None = None
    rows_out: int | None = None
    rows_quarantined: int | None = None
    versions_read: dict[str, int] = field(default_factory=dict)
    versions_written: dict[str, int] = field(default_factory=dict)
    message: str = ""
    customers_suppressed: int | None = None
    versions_before: dict[str, int] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


def run_record_frame(spark: SparkSession, record: RunRecord) -> DataFrame:
    row = (record.run_id, record.pipeline_run_id, record.step, record.run_date, record.status,
           record.started_at, record.finished_at, record.duration_s, record.rows_in,
           record.rows_out, record.rows_quarantined, record.versions_read,
           record.versions_written, record.message[:4000], record.customers_suppressed,
           record.versions_before)
    return spark.createDataFrame([row], PIPELINE_RUNS_SCHEMA)
