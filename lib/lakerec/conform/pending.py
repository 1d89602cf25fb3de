"""Which bronze rows are waiting for conform: the IO edge shared by conform and its checks."""

from __future__ import annotations

from pyspark.sql import DataFrame

from lakerec.conform.rules import not_conformed
from lakerec.core.lake import Lake
from lakerec.core.tables import BRONZE, OPS_CONFORMED_BATCHES


def pending_bronze(lake: Lake, entity: str) -> tuple[DataFrame, int] | None:
    """The bronze rows of ``entity`` not conformed yet, and the bronze version read; None
    where the entity has no bronze table."""
    if not lake.exists(BRONZE[entity]):
        return None
    bronze, version = lake.snapshot(BRONZE[entity])
    return bronze.transform(not_conformed(lake.read_if_exists(OPS_CONFORMED_BATCHES),
                                            entity)), version
