"""What earlier runs observed, read from ``ops.dq_results`` (volume and drift checks)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.schemas import (
    DQ_CHECKED_AT,
    DQ_EXPECTATION,
    DQ_OBSERVED_VALUE,
    DQ_RUN_ID,
    DQ_TABLE,
)

ROW_COUNT = "expect_table_row_count_to_be_between"


@dataclass(frozen=True)
class History:
    """Observed values of earlier runs, newest first, per (table, expectation id)."""

    observed: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def row_counts(self, table: str, runs: int) -> list[int]:
        """Row counts of ``table`` in the last ``runs`` earlier runs."""
        return [int(v) for v in self.observed.get((table, ROW_COUNT), [])[:runs]]

    def previous(self, table: str, expectation: str) -> Any | None:
        """The value the previous run observed for this check, parsed from JSON (or None)."""
        values = self.observed.get((table, expectation))
        return json.loads(values[0]) if values else None


def history_from_results(results: DataFrame | None, tables: Sequence[str],
                         expectations: Sequence[str], *, exclude_run_id: str) -> History:
    """Collect earlier observed values (a few rows per check) from ``ops.dq_results``.

    Only checks with an observed value count; rows of ``exclude_run_id`` (this run) are left out.
    """
    if results is None:
        return History()
    rows = (results.where(F.col(DQ_TABLE).isin(*tables)
                          & F.col(DQ_EXPECTATION).isin(*expectations)
                          & (F.col(DQ_RUN_ID) != exclude_run_id)
                          & F.col(DQ_OBSERVED_VALUE).isNotNull())
            .select(DQ_TABLE, DQ_EXPECTATION, DQ_OBSERVED_VALUE, DQ_CHECKED_AT)
            .orderBy(F.col(DQ_CHECKED_AT).desc())
            .collect())
    observed: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        observed.setdefault((row[DQ_TABLE], row[DQ_EXPECTATION]), []).append(
            row[DQ_OBSERVED_VALUE])
    return History(observed)
