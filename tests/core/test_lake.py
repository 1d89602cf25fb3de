"""The table-IO module: every write reports the Delta version it committed itself."""

from __future__ import annotations

import threading

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakerec.core.lake import Lake
from lakerec.core.tables import Layer, Table

SHARED = Table(Layer.OPS, "two_writers")


def test_two_writers_each_record_their_own_commit(spark: SparkSession, tmp_path) -> None:
    root = str(tmp_path / "lake")
    Lake(spark, root).append(spark.range(0).withColumn("writer", F.lit("none")), SHARED)
    recorded: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def write(name: str) -> None:
        session = spark.newSession()  # a session of its own, as another process has
        lake = Lake(session, root)
        try:
            for i in range(4):
                rows = session.range(1).select(F.lit(name).alias("writer"),
                                               F.lit(i).cast("bigint").alias("id"))
                recorded[name].append(lake.append(rows.select("id", "writer"), SHARED))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(name,)) for name in recorded]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors

    lake = Lake(spark, root)
    assert sorted(recorded["a"] + recorded["b"]) == list(range(1, 9))  # each commit once
    for name, versions in recorded.items():
        for version in versions:
            added = lake.read(SHARED, version=version).exceptAll(
                lake.read(SHARED, version=version - 1))
            assert [r["writer"] for r in added.collect()] == [name], (name, version)


def test_a_merge_that_changes_nothing_reports_the_version_it_left(spark: SparkSession,
                                                                  tmp_path) -> None:
    lake = Lake(spark, str(tmp_path / "lake"))
    rows = spark.range(3).withColumn("value", F.lit(1))
    assert lake.upsert(rows, SHARED, ["id"]) == 0
    # inserts none, updates none: Delta commits nothing
    assert lake.upsert(rows, SHARED, ["id"], update=False) == 0 == lake.version(SHARED)
    assert lake.upsert(spark.range(4).withColumn("value", F.lit(2)), SHARED, ["id"]) == 1
