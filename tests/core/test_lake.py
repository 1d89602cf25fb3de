"""The table-IO module: every write reports the Delta version it committed itself."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakerec.core.lake import Lake
from lakerec.core.tables import Layer, Table

SHARED = Table(Layer.OPS, "two_writers")
DECLARED = Table(Layer.OPS, "declared", T.StructType([T.StructField("id", T.LongType())]))


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


def test_a_table_another_run_is_creating_is_waited_for_not_refused(spark: SparkSession,
                                                                    tmp_path: Path) -> None:
    lake = Lake(spark, str(tmp_path / "lake"))
    (Path(lake.path(DECLARED)) / "_delta_log").mkdir(parents=True)  # its first commit to come

    def commit_first_version() -> None:
        time.sleep(2)
        Lake(spark.newSession(), lake.root).append(spark.range(3), DECLARED)

    other = threading.Thread(target=commit_first_version)
    other.start()
    lake.create_if_absent(DECLARED)
    other.join()
    assert lake.read(DECLARED).count() == 3


def test_a_folder_of_other_files_is_refused_as_a_table(spark: SparkSession,
                                                        tmp_path: Path) -> None:
    lake = Lake(spark, str(tmp_path / "lake"))
    folder = Path(lake.path(DECLARED))
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("not a table")
    with pytest.raises(AnalysisException, match="is not a Delta table"):
        lake.create_if_absent(DECLARED)
    (folder / "_delta_log").mkdir()  # and a log folder whose first commit never comes
    with pytest.raises(AnalysisException, match="DELTA_TABLE_NOT_FOUND"):
        lake.create_if_absent(DECLARED, wait_seconds=1)
