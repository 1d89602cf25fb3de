"""All reads, writes and MERGEs of Delta tables.

Tables (:mod:`lakerec.core.tables`) live at ``<root>/<layer>/<name>``. Jobs call this
module; transforms never do. Every write returns the Delta version it committed, so runs can
record what they wrote.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    DeltaConcurrentModificationException,
    MetadataChangedException,
    ProtocolChangedException,
)
from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from lakerec.core.errors import LakeNotWritableError, TableNotFoundError
from lakerec.core.schemas import IDENTIFYING_COLUMNS
from lakerec.core.tables import Layer, Table

# What a Delta commit raises when another writer's commit conflicts with it.
CONCURRENT_WRITE_ERRORS = (
    ConcurrentAppendException, ConcurrentDeleteDeleteException, ConcurrentDeleteReadException,
    ConcurrentTransactionException, ConcurrentWriteException,
    DeltaConcurrentModificationException, MetadataChangedException, ProtocolChangedException)

# Delta sets this session setting to the version of the session's latest commit: the version
# a write made, even when another writer commits to the same table at the same time (the
# table's latest version may then be the other writer's).
_LAST_COMMIT = "spark.databricks.delta.lastCommitVersionInSession"
_CONSTRAINT_PREFIX = "delta.constraints."

# Delta collects min/max statistics of these column types only; others are left out of the
# statistics-column list rather than named in it.
_STATS_TYPES = ("string", "int", "bigint", "smallint", "tinyint", "double", "float", "date",
                "timestamp", "timestamp_ntz", "decimal")


def _creation_options(df: DataFrame, table: Table,
                      partition_by: Sequence[str] = ()) -> dict[str, str]:
    """Table properties for a new table: its CHECK constraints, and no min/max statistics of
    identifying columns.

    Constraints given as properties of the creating write land in the same commit as the
    first rows (and Delta checks those rows), so a new table's first version holds both.
    Delta keeps each file's column minima and maxima in ``_delta_log`` JSON, checkpoints and
    ``.crc`` files, which outlive the data (an erased customer's id would stay in the log as
    some file's minimum). Tables holding customer ids or pseudonyms therefore collect
    statistics of their other columns only.
    """
    options = {f"{_CONSTRAINT_PREFIX}{name}": condition for name, condition in table.checks}
    if not set(df.columns) & set(IDENTIFYING_COLUMNS):
        return options
    kept = [name for name, kind in df.dtypes
            if name not in (*IDENTIFYING_COLUMNS, *partition_by)
            and kind.split("(")[0] in _STATS_TYPES]
    return {**options, "delta.dataSkippingStatsColumns": ",".join(f"`{c}`" for c in kept)}


@contextmanager
def _session_conf(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """Set session confs for the duration of a block, then restore the earlier values."""
    before: dict[str, str | None] = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, earlier in before.items():
            if earlier is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, earlier)


def _hadoop(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """Hadoop's file system for ``path`` (local, HDFS, object storage), and the path."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def path_exists(spark: SparkSession, path: str) -> bool:
    """Whether a file or folder exists, without a Spark read that would log a stack trace
    when it does not."""
    fs, hadoop_path = _hadoop(spark, path)
    return bool(fs.exists(hadoop_path))


def list_tree(spark: SparkSession, folder: str) -> list[tuple[str, int]]:
    """``(path, bytes)`` of every file under ``folder``, at any depth, through Hadoop's file
    system (local, HDFS, object storage); empty files included (Spark's file sources skip
    them), files and folders whose names start with ``.`` or ``_`` left out."""
    fs, root = _hadoop(spark, folder)
    found = []
    files = fs.listFiles(root, True)
    prefix = len(str(fs.makeQualified(root)).rstrip("/")) + 1
    while files.hasNext():
        status = files.next()
        path = str(status.getPath().toString())
        if any(part.startswith((".", "_")) for part in path[prefix:].split("/")):
            continue
        found.append((path, int(status.getLen())))
    return sorted(found)


def java_message(exc: BaseException) -> str:
    """The first line of an error, without the Java stack trace a Py4J error carries."""
    java = getattr(exc, "java_exception", None)
    text = str(java.toString()) if java is not None else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def unwritable_reason(spark: SparkSession, folder: str) -> str | None:
    """Why no file can be written under ``folder`` (created when missing), or None when a
    probe file can be created and deleted there."""
    fs, hadoop_folder = _hadoop(spark, folder)
    probe = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(  # type: ignore[union-attr]
        hadoop_folder, f"_lakerec_write_probe-{os.getpid()}")
    try:
        if not fs.mkdirs(hadoop_folder):
            return f"cannot create {folder}"
        fs.create(probe, True).close()
        fs.delete(probe, False)
    except Exception as exc:  # Py4J: AccessDeniedException, IOException ("Mkdirs failed")
        return java_message(exc)
    return None


def _resolve_root(root: str) -> str:
    if "://" in root:
        return root.rstrip("/")
    return str(Path(root).resolve())


class Lake:
    """The Delta tables under one root.

    Parameters
    ----------
    spark
        Session with Delta enabled.
    root
        Folder or object-store URI holding ``<layer>/<name>`` tables.
    """

    def __init__(self, spark: SparkSession, root: str) -> None:
        self.spark = spark
        self.root = _resolve_root(root)

    def ensure_writable(self) -> None:
        """Raise :class:`LakeNotWritableError` when no file can be written to the lake's
        ``ops`` folder (its run log and lease): before a run changes or records anything."""
        folder = f"{self.root}/{Layer.OPS}"
        reason = unwritable_reason(self.spark, folder)
        if reason is not None:
            raise LakeNotWritableError(
                f"the lake at {self.root} cannot be written ({reason}): nothing was run, and "
                f"this run could not be recorded in ops.pipeline_runs; make {folder} and the "
                "tables writable by this user, or point paths.root at a writable lake")

    def path(self, table: Table) -> str:
        return f"{self.root}/{table.layer}/{table.name}"

    def exists(self, table: Table) -> bool:
        return DeltaTable.isDeltaTable(self.spark, self.path(table))

    def version(self, table: Table) -> int | None:
        """The table's latest Delta version, or None where it does not exist."""
        if not self.exists(table):
            return None
        row = DeltaTable.forPath(self.spark, self.path(table)).history(1).first()
        return int(row["version"]) if row else None

    def _detail(self, table: Table) -> dict[str, Any]:
        """``DESCRIBE DETAIL`` of the table (id, numFiles, properties, ...)."""
        row = DeltaTable.forPath(self.spark, self.path(table)).detail().first()
        return row.asDict() if row else {}

    def table_id(self, table: Table) -> str | None:
        """The table's Delta id (a UUID fixed at creation), or None where it does not exist:
        unlike its path or version, it tells two lakes' tables apart."""
        return str(self._detail(table)["id"]) if self.exists(table) else None

    def read(self, table: Table, *, version: int | None = None, hint: str = "") -> DataFrame:
        """Read a table, at ``version`` (time travel) when given."""
        if not self.exists(table):
            raise TableNotFoundError(table.qualified_name, self.path(table), hint)
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.path(table))

    def read_if_exists(self, table: Table, *, version: int | None = None) -> DataFrame | None:
        return self.read(table, version=version) if self.exists(table) else None

    def snapshot(self, table: Table, *, hint: str = "") -> tuple[DataFrame, int]:
        """The table as of its latest version, and that version.

        Reading at the version looked up, rather than at "latest", keeps what a step reads
        and what it records as read the same commit, even while another job writes.

        Raises
        ------
        TableNotFoundError
            Where the table does not exist; ``hint`` says which step writes it.
        """
        version = self.version(table)
        if version is None:
            raise TableNotFoundError(table.qualified_name, self.path(table), hint)
        return self.read(table, version=version), version

    def _commit(self, table: Table, write: Callable[[], object]) -> int:
        """Run ``write`` (at most one Delta commit to ``table``) and return the version it
        committed, as Delta reports it to this session; the table's current version when it
        committed nothing (a MERGE that changes no row)."""
        conf = self.spark.conf
        conf.unset(_LAST_COMMIT)
        write()
        committed = conf.get(_LAST_COMMIT, None)
        if committed is None:
            current = self.version(table)
            assert current is not None, f"{table} exists after a write"
            return current
        return int(committed)

    def checks(self, table: Table) -> dict[str, str]:
        """The table's Delta CHECK constraints, ``{name: condition}``."""
        properties = self._detail(table).get("properties") or {}
        return {k[len(_CONSTRAINT_PREFIX):]: v for k, v in properties.items()
                if k.startswith(_CONSTRAINT_PREFIX)}

    def ensure_checks(self, table: Table) -> list[str]:
        """Add the constraints of ``table.checks`` the table lacks (Delta verifies the rows
        already there); the names added. Tables get them from the write that creates them,
        and tables created by an older lakerec from ``lakerec maintain``."""
        present = self.checks(table)
        added = []
        for name, condition in table.checks:
            if name.lower() not in present:
                self.spark.sql(f"ALTER TABLE delta.`{self.path(table)}` "
                               f"ADD CONSTRAINT {name} CHECK ({condition})")
                added.append(name)
        return added

    def _save(self, df: DataFrame, table: Table, mode: str, *, merge_schema: bool,
              partition_by: Sequence[str], options: Mapping[str, str]) -> int:
        writer = df.write.format("delta").mode(mode).options(**options)
        if merge_schema:
            writer = writer.option("mergeSchema", "true")
        if not self.exists(table):
            writer = writer.options(**_creation_options(df, table, partition_by))
            if partition_by:
                writer = writer.partitionBy(*partition_by)
        return self._commit(table, lambda: writer.save(self.path(table)))

    def append(self, df: DataFrame, table: Table, *, merge_schema: bool = False,
               partition_by: Sequence[str] = ()) -> int:
        return self._save(df, table, "append", merge_schema=merge_schema,
                          partition_by=partition_by, options={})

    def overwrite(self, df: DataFrame, table: Table) -> int:
        writer = (df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
                  .options(**_creation_options(df, table)))
        return self._commit(table, lambda: writer.save(self.path(table)))

    def replace_where(self, df: DataFrame, table: Table, predicate: str, *,
                      partition_by: Sequence[str] = (), merge_schema: bool = False) -> int:
        """Replace the rows matching ``predicate`` with ``df`` (creating the table if needed).

        Notes
        -----
        Every row of ``df`` must match ``predicate``; Delta rejects the write otherwise, which
        guards against a per-date output leaking into other dates.
        """
        return self._save(df, table, "overwrite", merge_schema=merge_schema,
                          partition_by=partition_by, options={"replaceWhere": predicate})

    def create_if_absent(self, table: Table, *, wait_seconds: float = 60.0) -> None:
        """Create an empty table with ``table.schema`` unless it exists.

        Two runs may race to create it: the one that loses finds it created, or finds the
        other's log folder before its first commit and waits up to ``wait_seconds`` for that
        commit. A folder of other files is refused at once, and a log folder whose first
        commit does not come after the wait."""
        assert table.schema is not None, f"{table} has no declared schema"
        try:
            builder = (DeltaTable.createIfNotExists(self.spark).location(self.path(table))
                       .addColumns(table.schema))
            for name, condition in table.checks:
                builder = builder.property(f"{_CONSTRAINT_PREFIX}{name}", condition)
            builder.execute()
        except CONCURRENT_WRITE_ERRORS:
            if not self.exists(table):
                raise
        except AnalysisException:
            # A log folder without a commit is another run's creation under way (Delta then
            # raises DELTA_TABLE_NOT_FOUND or DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION,
            # depending on what the folder holds yet): wait for its first commit.
            creating = path_exists(self.spark, f"{self.path(table)}/_delta_log")
            if not creating or not self._created_within(table, wait_seconds):
                raise

    def _created_within(self, table: Table, seconds: float) -> bool:
        """Whether the table's first commit appears within ``seconds``."""
        deadline = time.monotonic() + seconds
        while not self.exists(table):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)
        return True

    def upsert(self, df: DataFrame, table: Table, keys: Sequence[str], *,
               update: Mapping[str, str] | Literal[False] | None = None,
               insert: bool = True, when: str | None = None) -> int:
        """MERGE ``df`` into the table on ``keys``; creates the table from ``df`` if absent.

        Parameters
        ----------
        update
            What a matched row becomes: ``None`` updates every column from the source;
            a mapping sets target columns to SQL expressions over ``t`` (target) and ``s``
            (source); ``False`` leaves matched rows as they are (insert only new keys).
        when
            A SQL condition over ``t`` and ``s``: only matched rows meeting it are updated.
        insert
            Whether rows whose keys are not in the table are inserted.

        Notes
        -----
        MERGE clause order matters: the matched clause runs first, so a row that matches is
        never inserted twice. ``df`` must hold at most one row per key, or Delta refuses.
        """
        if not self.exists(table):
            return self.overwrite(df, table)
        condition = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
        merge = (DeltaTable.forPath(self.spark, self.path(table)).alias("t")
                 .merge(df.alias("s"), condition))
        if update is None:
            merge = merge.whenMatchedUpdateAll(condition=when)
        elif update is not False:
            merge = merge.whenMatchedUpdate(condition=when, set=dict(update))
        if insert:
            merge = merge.whenNotMatchedInsertAll()
        return self._commit(table, merge.execute)

    def delete_matching(self, table: Table, keys: DataFrame, condition: str) -> tuple[int, int]:
        """Delete the rows matching any row of ``keys`` (aliased ``s``; the table is ``t``).

        A MERGE rather than a DELETE with the values in its predicate: the commit records
        only ``condition``, never the values (customer ids) being deleted.

        Returns
        -------
        tuple of int
            The version committed and the rows deleted.
        """
        merge = (DeltaTable.forPath(self.spark, self.path(table)).alias("t")
                 .merge(keys.alias("s"), condition).whenMatchedDelete())
        version = self._commit(table, merge.execute)
        deleted = self.operation_metrics(table, version).get("numTargetRowsDeleted", 0)
        return version, int(deleted)

    def purge(self, table: Table, retention_hours: int) -> None:
        """Rewrite files holding deleted rows (deletion vectors) and VACUUM old files away.

        After this, versions older than ``retention_hours`` can no longer be read (time
        travel); with 0, only the latest version remains.
        """
        self.spark.sql(f"REORG TABLE delta.`{self.path(table)}` APPLY (PURGE)")
        self.vacuum(table, retention_hours)

    def vacuum(self, table: Table, retention_hours: float) -> None:
        """Delete the files no version younger than ``retention_hours`` needs: versions older
        than that can no longer be read (time travel)."""
        # Retentions under Delta's 7-day safety check are allowed (erasure needs them).
        # VACUUM lists files in as many tasks as partition discovery's parallelism (10,000
        # by default): one per core is plenty.
        with _session_conf(self.spark, {
                "spark.databricks.delta.retentionDurationCheck.enabled": "false",
                "spark.sql.sources.parallelPartitionDiscovery.parallelism":
                    str(max(1, self.spark.sparkContext.defaultParallelism))}):
            DeltaTable.forPath(self.spark, self.path(table)).vacuum(float(retention_hours))

    def restore(self, table: Table, version: int) -> None:
        """Make ``version`` the table's content again (a new commit; history is kept)."""
        DeltaTable.forPath(self.spark, self.path(table)).restoreToVersion(version)

    def clear(self, table: Table) -> None:
        """Delete every row (a new, empty version; history is kept)."""
        DeltaTable.forPath(self.spark, self.path(table)).delete()

    def compact(self, table: Table) -> None:
        """OPTIMIZE: rewrite small files into fewer, larger ones (rows unchanged)."""
        DeltaTable.forPath(self.spark, self.path(table)).optimize().executeCompaction()

    def file_count(self, table: Table) -> int:
        """Data files of the table's current version."""
        return int(self._detail(table).get("numFiles") or 0)

    def tables(self) -> list[Table]:
        """Every Delta table under the root, whether or not :mod:`lakerec.core.tables` names
        it, layer by layer."""
        found = []
        for layer in Layer:
            fs, folder = _hadoop(self.spark, f"{self.root}/{layer}")
            if not fs.exists(folder):
                continue
            names = sorted(status.getPath().getName() for status in fs.listStatus(folder)
                           if status.isDirectory())
            found += [Table(layer, name) for name in names
                      if self.exists(Table(layer, name))]
        return found

    def operation_metrics(self, table: Table, version: int) -> dict[str, Any]:
        """Delta's operation metrics of the commit at ``version`` (rows written, ...)."""
        rows = self.history(table).where(f"version = {int(version)}").select(
            "operationMetrics").collect()
        return dict(rows[0]["operationMetrics"] or {}) if rows else {}

    def history(self, table: Table, limit: int | None = None) -> DataFrame:
        delta_table = DeltaTable.forPath(self.spark, self.path(table))
        return delta_table.history(limit) if limit else delta_table.history()
