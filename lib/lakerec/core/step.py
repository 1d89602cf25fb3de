"""Pipeline steps. Each module ``lakerec.core.step.<name>`` defines ``run(ctx) -> StepResult``
and may define ``add_arguments(parser)`` for options of its own.

A step reads tables through ``ctx.lake``, calls pure transforms, and writes at its end; the
runner (:mod:`lakerec.cli.runner`) times it, records it in ``ops.pipeline_runs`` and prints its
summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pyspark.sql import SparkSession

from lakerec.core.config import Config
from lakerec.core.lake import Lake


@dataclass
class StepContext:
    config: Config
    spark: SparkSession
    lake: Lake
    run_date: date
    run_id: str
    pipeline_run_id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult:
    rows_in: int | None = None
    rows_out: int | None = None
    rows_quarantined: int | None = None
    versions_read: dict[str, int] = field(default_factory=dict)
    versions_written: dict[str, int] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    status: str = "succeeded"
    message: str = ""
    warnings: list[str] = field(default_factory=list)  # repeated in `lakerec run`'s report
    highlights: list[str] = field(default_factory=list)  # the result in a line, ditto
    customers_suppressed: int | None = None  # opted out of marketing, left out
    versions_before: dict[str, int] = field(default_factory=dict)  # see ops.pipeline_runs
