"""All reads, writes and MERGEs of Delta tables.

Tables (:mod:`lakerec.core.tables`) live at ``<root>/<layer>/<name>``. Jobs call this
module; transforms never do. Every write returns the Delta version it committed, so runs can
record what they wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from lakerec.core.errors import TableNotFoundError
from lakerec.core.tables import Table


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

    def _committed(self, table: Table) -> int:
        version = self.version(table)
        assert version is not None, f"{table} was just written"
        return version

    def _save(self, df: DataFrame, table: Table, mode: str, *, merge_schema: bool,
              partition_by: Sequence[str], options: Mapping[str, str]) -> int:
        writer = df.write.format("delta").mode(mode).options(**options)
        if merge_schema:
            writer = writer.option("mergeSchema", "true")
        if partition_by and not self.exists(table):
            writer = writer.partitionBy(*partition_by)
        writer.save(self.path(table))
        return self._committed(table)

    def append(self, df: DataFrame, table: Table, *, merge_schema: bool = False,
               partition_by: Sequence[str] = ()) -> int:
        return self._save(df, table, "append", merge_schema=merge_schema,
                          partition_by=partition_by, options={})

    def overwrite(self, df: DataFrame, table: Table) -> int:
        (df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
         .save(self.path(table)))
        return self._committed(table)

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

    def upsert(self, df: DataFrame, table: Table, keys: Sequence[str], *,
               update: Mapping[str, str] | Literal[False] | None = None,
               insert: bool = True) -> int:
        """MERGE ``df`` into the table on ``keys``; creates the table from ``df`` if absent.

        Parameters
        ----------
        update
            What a matched row becomes: ``None`` updates every column from the source;
            a mapping sets target columns to SQL expressions over ``t`` (target) and ``s``
            (source); ``False`` leaves matched rows as they are (insert only new keys).
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
            merge = merge.whenMatchedUpdateAll()
        elif update is not False:
            merge = merge.whenMatchedUpdate(set=dict(update))
        if insert:
            merge = merge.whenNotMatchedInsertAll()
        merge.execute()
        return self._committed(table)

    def operation_metrics(self, table: Table, version: int) -> dict[str, Any]:
        """Delta's operation metrics of the commit at ``version`` (rows written, ...)."""
        rows = self.history(table).where(f"version = {int(version)}").select(
            "operationMetrics").collect()
        return dict(rows[0]["operationMetrics"] or {}) if rows else {}

    def history(self, table: Table, limit: int | None = None) -> DataFrame:
        delta_table = DeltaTable.forPath(self.spark, self.path(table))
        return delta_table.history(limit) if limit else delta_table.history()
