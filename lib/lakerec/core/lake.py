"""All reads, writes and MERGEs of Delta tables.

Tables live at ``<root>/<layer>/<name>``. Jobs call this module; transforms never do.
Every write returns the Delta version it committed, so runs can record what they wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from lakerec.core.errors import TableNotFoundError


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

    def path(self, layer: str, name: str) -> str:
        return f"{self.root}/{layer}/{name}"

    def exists(self, layer: str, name: str) -> bool:
        return DeltaTable.isDeltaTable(self.spark, self.path(layer, name))

    def version(self, layer: str, name: str) -> int | None:
        """The table's latest Delta version, or None where it does not exist."""
        if not self.exists(layer, name):
            return None
        row = DeltaTable.forPath(self.spark, self.path(layer, name)).history(1).first()
        return int(row["version"]) if row else None

    def read(self, layer: str, name: str, *, version: int | None = None,
             hint: str = "") -> DataFrame:
        """Read a table, at ``version`` (time travel) when given."""
        if not self.exists(layer, name):
            raise TableNotFoundError(f"{layer}.{name}", self.path(layer, name), hint)
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.path(layer, name))

    def read_if_exists(self, layer: str, name: str, *,
                       version: int | None = None) -> DataFrame | None:
        return self.read(layer, name, version=version) if self.exists(layer, name) else None

    def _committed(self, layer: str, name: str) -> int:
        version = self.version(layer, name)
        assert version is not None, f"{layer}.{name} was just written"
        return version

    def append(self, df: DataFrame, layer: str, name: str, *, merge_schema: bool = False,
               partition_by: Sequence[str] = ()) -> int:
        writer = df.write.format("delta").mode("append")
        if merge_schema:
            writer = writer.option("mergeSchema", "true")
        if partition_by and not self.exists(layer, name):
            writer = writer.partitionBy(*partition_by)
        writer.save(self.path(layer, name))
        return self._committed(layer, name)

    def overwrite(self, df: DataFrame, layer: str, name: str) -> int:
        (df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
         .save(self.path(layer, name)))
        return self._committed(layer, name)

    def replace_where(self, df: DataFrame, layer: str, name: str, predicate: str, *,
                      partition_by: Sequence[str] = (), merge_schema: bool = False) -> int:
        """Replace the rows matching ``predicate`` with ``df`` (creating the table if needed).

        Notes
        -----
        Every row of ``df`` must match ``predicate``; Delta rejects the write otherwise, which
        guards against a per-date output leaking into other dates.
        """
        writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
        if merge_schema:
            writer = writer.option("mergeSchema", "true")
        if partition_by and not self.exists(layer, name):
            writer = writer.partitionBy(*partition_by)
        writer.save(self.path(layer, name))
        return self._committed(layer, name)

    def upsert(self, df: DataFrame, layer: str, name: str, keys: Sequence[str], *,
               update: Mapping[str, str] | None = None, insert: bool = True) -> int:
        """MERGE ``df`` into the table on ``keys``: update matches, insert the rest.

        ``update`` maps target columns to SQL expressions over ``t`` (target) and ``s``
        (source); by default every column is updated. With ``insert=False`` unmatched rows are
        left out. Creates the table from ``df`` when it does not exist yet.

        Notes
        -----
        MERGE clause order matters: the matched clause runs first, so a row that matches is
        never inserted twice. ``df`` must hold at most one row per key, or Delta refuses.
        """
        if not self.exists(layer, name):
            return self.overwrite(df, layer, name)
        condition = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
        merge = (DeltaTable.forPath(self.spark, self.path(layer, name)).alias("t")
                 .merge(df.alias("s"), condition))
        merge = (merge.whenMatchedUpdate(set=dict(update)) if update is not None
                 else merge.whenMatchedUpdateAll())
        if insert:
            merge = merge.whenNotMatchedInsertAll()
        merge.execute()
        return self._committed(layer, name)

    def insert_new(self, df: DataFrame, layer: str, name: str, keys: Sequence[str]) -> int:
        """MERGE that only inserts rows whose keys are not in the table yet."""
        if not self.exists(layer, name):
            return self.overwrite(df, layer, name)
        condition = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
        (DeltaTable.forPath(self.spark, self.path(layer, name)).alias("t")
         .merge(df.alias("s"), condition)
         .whenNotMatchedInsertAll()
         .execute())
        return self._committed(layer, name)

    def operation_metrics(self, layer: str, name: str, version: int) -> dict[str, Any]:
        """Delta's operation metrics of the commit at ``version`` (rows written, ...)."""
        table = DeltaTable.forPath(self.spark, self.path(layer, name))
        rows = table.history().where(f"version = {int(version)}").select(
            "operationMetrics").collect()
        return dict(rows[0]["operationMetrics"] or {}) if rows else {}

    def history(self, layer: str, name: str, limit: int | None = None) -> DataFrame:
        table = DeltaTable.forPath(self.spark, self.path(layer, name))
        return table.history(limit) if limit else table.history()
