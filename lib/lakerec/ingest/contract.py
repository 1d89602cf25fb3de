"""Landing rows to bronze rows: adapt, check the contract's columns, add lineage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.errors import MissingColumnError
from lakerec.core.schemas import (
    BATCH_ID,
    INGEST_TS,
    LINEAGE_COLUMNS,
    REQUIRED_COLUMNS,
    SOURCE_CHECKSUM,
    SOURCE_FILE,
)
from lakerec.core.settings import IngestConfig
from lakerec.ingest.adapters import looks_like_online_retail, online_retail_to_events


def adapter_for(entity: str, columns: list[str], config: IngestConfig
                ) -> tuple[str, Callable[[DataFrame], DataFrame]] | None:
    """The adapter a landing file of ``entity`` with these columns needs, if any."""
    if entity != "events" or config.events_adapter == "none":
        return None
    names = config.online_retail
    if config.events_adapter == "online_retail" or looks_like_online_retail(columns, names):
        return "online_retail", online_retail_to_events(names)
    return None


def check_columns(entity: str, columns: list[str], where: str) -> None:
    """Raise :class:`MissingColumnError` when a required column of ``entity`` is absent."""
    for column in REQUIRED_COLUMNS[entity]:
        if column not in columns:
            raise MissingColumnError(f"{entity} file {where}", column)


def with_lineage(*, source_file: str, checksum: str, batch_id: str, ingest_ts: datetime
                 ) -> Callable[[DataFrame], DataFrame]:
    """Add ``_ingest_ts``, ``_source_file``, ``_source_checksum`` and ``_batch_id``."""

    def transform(df: DataFrame) -> DataFrame:
        return df.select(
            *[F.col(f"`{c}`") for c in df.columns if c not in LINEAGE_COLUMNS],
            F.lit(ingest_ts).cast("timestamp").alias(INGEST_TS),
            F.lit(source_file).alias(SOURCE_FILE),
            F.lit(checksum).alias(SOURCE_CHECKSUM),
            F.lit(batch_id).alias(BATCH_ID),
        )

    return transform
