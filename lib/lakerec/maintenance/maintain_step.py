"""Step ``maintain``: keep every Delta table of the lake healthy (weekly DAG
``lakerec_maintenance``).

For every table under the lake root, in layer order:

* adds the CHECK constraints :mod:`lakerec.core.tables` declares for it and it lacks (tables
  created by an older lakerec); Delta verifies the rows already there;
* compacts small files (``OPTIMIZE``): the ops tables take one commit per step, so their
  files pile up;
* deletes files no version younger than ``maintenance.vacuum_retention_hours`` needs
  (``VACUUM``): time travel reaches back that far, no further.
"""

from __future__ import annotations

import logging

from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import DECLARED

log = logging.getLogger("lakerec.maintain")


def run(ctx: StepContext) -> StepResult:
    lake, cfg = ctx.lake, ctx.config.maintenance
    result = StepResult()
    files_before = files_after = 0
    for found in lake.tables():
        table = DECLARED.get(found.qualified_name, found)
        before = lake.file_count(table)
        added = lake.ensure_checks(table) if table.checks else []
        lake.compact(table)
        lake.vacuum(table, cfg.vacuum_retention_hours)
        after = lake.file_count(table)
        files_before, files_after = files_before + before, files_after + after
        result.versions_written[table.qualified_name] = lake.version(table) or 0
        log.info("%s: %d -> %d files%s", table, before, after,
                 f", constraints added: {', '.join(added)}" if added else "")
        if added:
            result.summary.append(f"{table}: constraints added: {', '.join(added)}")
    tables = len(result.versions_written)
    result.summary.insert(0, f"{tables} tables compacted: {files_before:,} -> {files_after:,} "
                             f"data files; files older than {cfg.vacuum_retention_hours:g} h "
                             "that no version needs deleted (VACUUM)")
    result.highlights.append(f"{tables} tables: {files_before:,} -> {files_after:,} data "
                             "files, constraints in place")
    return result
