"""``ingest``: landing files to bronze Delta tables, append-only.

A file already in bronze (same path) is skipped, so ingesting twice adds nothing. A file
that cannot be read, or lacks a required column, is reported by name and skipped; the
others go on. Only ``events/`` is required.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import reduce

from pyspark.sql import DataFrame

from lakerec.core.errors import InputError, MissingColumnError
from lakerec.core.pii import pii_key
from lakerec.core.schemas import ENTITIES, EVENTS, SOURCE_FILE
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import BRONZE, SILVER
from lakerec.ingest.adapters import transaction_log_hint
from lakerec.ingest.contract import adapter_for, check_columns, with_lineage
from lakerec.ingest.landing import RejectedFile, list_files, read_files
from lakerec.ingest.personal import dropped_columns, pseudonymised

log = logging.getLogger("lakerec.ingest")


def _ingested_files(ctx: StepContext, entity: str) -> set[str]:
    bronze = ctx.lake.read_if_exists(BRONZE[entity])
    if bronze is None:
        return set()
    return {r[0] for r in bronze.select(SOURCE_FILE).distinct().collect()}


def run(ctx: StepContext) -> StepResult:
    config = ctx.config
    result = StepResult(rows_in=0, rows_out=0, rows_quarantined=0)
    batch_id = f"{ctx.run_date:%Y%m%d}-{ctx.run_id}"
    ingest_ts = datetime.now(UTC).replace(tzinfo=None)
    all_rejected: list[RejectedFile] = []
    new_total = 0
    key = pii_key(config)
    if key.development:
        result.warnings.append("personal data pseudonymised with the public development key "
                               f"(profile local): set ${config.privacy.pii_key_env} for real data")
    for entity in ENTITIES:
        folder = f"{config.paths.landing.rstrip('/')}/{entity}"
        try:
            files, ignored = list_files(ctx.spark, folder)
        except InputError:
            if entity == EVENTS:
                raise
            result.summary.append(f"{entity}: no landing folder; {SILVER[entity]} will be "
                                  "derived from events")
            continue
        for path in ignored:
            result.summary.append(f"{entity}: ignored {path} (not .csv, .json, .jsonl, "
                                  ".parquet)")
        if not files:
            if entity == EVENTS:
                raise InputError(f"landing folder {folder} holds no CSV, JSON lines or Parquet "
                                 "files")
            continue
        known = _ingested_files(ctx, entity)
        new = [f for f in files if f.path not in known]
        new_total += len(new)
        if not new:
            result.summary.append(f"{entity}: {len(files)} files, all ingested before; "
                                  "nothing new")
            continue
        log.info("%s: reading %d new files from %s", entity, len(new), folder)
        frames, rejected = read_files(ctx.spark, new, csv_delimiter=config.ingest.csv_delimiter)
        parts: list[DataFrame] = []
        adapted = 0
        for file, df in frames:
            adapter = adapter_for(entity, df.columns, config.ingest)
            if adapter is not None:
                df = df.transform(adapter[1])
                adapted += 1
            try:
                check_columns(entity, df.columns, file.path)
            except MissingColumnError as exc:
                hint = (transaction_log_hint(df.columns, config.ingest.online_retail)
                        if entity == EVENTS and adapter is None else None)
                reason = f"{exc}; {hint}" if hint else str(exc)
                log.warning("skipping %s", reason)
                rejected.append(RejectedFile(file.path, reason))
                continue
            dropped = dropped_columns(entity, df.columns)
            if dropped:
                result.summary.append(f"{entity}: dropped {', '.join(dropped)} of {file.path} "
                                      "(not in the contract, possibly personal)")
            parts.append(df.transform(pseudonymised(entity, key)).transform(with_lineage(
                source_file=file.path, batch_id=batch_id, ingest_ts=ingest_ts)))
        all_rejected += rejected
        if not parts:
            continue
        batch = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), parts)
        bronze = BRONZE[entity]
        version = ctx.lake.append(batch, bronze, merge_schema=True)
        rows = int(ctx.lake.operation_metrics(bronze, version).get("numOutputRows", 0))
        result.rows_in = (result.rows_in or 0) + rows
        result.rows_out = (result.rows_out or 0) + rows
        result.versions_written[bronze.qualified_name] = version
        via = f", {adapted} through the online_retail adapter" if adapted else ""
        result.summary.append(f"{entity}: {len(parts)} new files{via}, {rows:,} rows -> "
                              f"{bronze} v{version} ({ctx.lake.path(bronze)})")
    for bad in all_rejected:
        result.summary.append(f"REJECTED FILE {bad.reason}")
    if all_rejected:
        accepted_files = new_total - len(all_rejected)
        if accepted_files == 0:
            raise InputError(f"no landing file could be ingested: {all_rejected[0].reason}"
                             + (f" (and {len(all_rejected) - 1} more)"
                                if len(all_rejected) > 1 else ""))
        result.status = "partial"
        result.message = "; ".join(r.reason for r in all_rejected)[:4000]
    result.summary.append(f"batch {batch_id}")
    return result
