"""``ingest``: landing files to bronze Delta tables, append-only.

A file already in bronze is skipped: by path, and by content (its SHA-256), so the same file
landed again under a new name adds nothing. Only ``events/`` is required; ``customers/``,
``items/`` and ``contacts/`` (channels' logs of campaign sends, deliveries, opens, clicks and
holdouts) are optional.

A file that cannot be read, or lacks a required column, is *rejected*. By default one
rejected file stops the step before anything is written (exit 2, one line naming the file
and why), so the lake stays as it was and the next run, after the file is fixed or moved,
ingests the whole landing. With ``ingest.allow_partial_loads: true`` the readable files are
ingested, the rejected ones are recorded in ``quarantine.landing_files`` (path, checksum,
rows, reason; never their content, which may hold personal data) and skipped by later runs
until their content changes, and the step ends ``partial``. Either way the rows of rejected
files are counted: rows in = rows to bronze + rows refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core.errors import InputError, MissingColumnError
from lakerec.core.pii import pii_key
from lakerec.core.schemas import (
    CONTACTS,
    ENTITIES,
    ENTITY,
    EVENTS,
    REJECTED_FILES_SCHEMA,
    REQUIRED_COLUMNS,
    SOURCE_CHECKSUM,
    SOURCE_FILE,
)
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import BRONZE, QUARANTINE_LANDING_FILES, SILVER
from lakerec.ingest.adapters import transaction_log_hint
from lakerec.ingest.contract import adapter_for, check_columns, with_lineage
from lakerec.ingest.landing import (
    LandingFile,
    checksums,
    data_lines,
    delimiter_hint,
    list_files,
    read_files,
)
from lakerec.ingest.personal import dropped_columns, pseudonymised

log = logging.getLogger("lakerec.ingest")


@dataclass(frozen=True)
class _Refused:
    """A landing file ingest refused: why, its data lines and its checksum."""

    file: LandingFile
    reason: str
    rows: int
    checksum: str


@dataclass
class _EntityLoad:
    """What one entity's new files gave: frames ready for bronze, and the files refused."""

    entity: str
    parts: list[DataFrame] = field(default_factory=list)
    adapted: int = 0
    refused: list[_Refused] = field(default_factory=list)


@dataclass
class _Seen:
    """What earlier runs handled: bronze's files (path, and each checksum with a path it came
    from) and the files an earlier partial load refused, by (path, checksum)."""

    paths: set[str] = field(default_factory=set)
    sums: dict[str, str] = field(default_factory=dict)
    refused: set[tuple[str, str]] = field(default_factory=set)


def _seen(ctx: StepContext, entity: str) -> _Seen:
    seen = _Seen()
    bronze = ctx.lake.read_if_exists(BRONZE[entity])
    if bronze is not None:
        checksum = (F.col(SOURCE_CHECKSUM) if SOURCE_CHECKSUM in bronze.columns
                    else F.lit(None).cast("string"))  # bronze written before checksums
        for row in bronze.select(SOURCE_FILE, checksum).distinct().collect():
            seen.paths.add(row[0])
            if row[1]:
                seen.sums.setdefault(row[1], row[0])
    refused = ctx.lake.read_if_exists(QUARANTINE_LANDING_FILES)
    if refused is not None:
        seen.refused = {(r[0], r[1]) for r in refused.where(F.col(ENTITY) == entity)
                        .select(SOURCE_FILE, SOURCE_CHECKSUM).collect()}
    return seen


def _load(ctx: StepContext, entity: str, result: StepResult, batch_id: str,
          ingest_ts: datetime) -> _EntityLoad | None:
    """Read one entity's new landing files; None where its optional folder is absent."""
    config = ctx.config
    load = _EntityLoad(entity)
    folder = f"{config.paths.landing.rstrip('/')}/{entity}"
    try:
        files, ignored = list_files(ctx.spark, folder)
    except InputError:
        if entity == EVENTS:
            raise
        result.summary.append(f"{entity}: no landing folder" + (
            "" if entity == CONTACTS else f"; {SILVER[entity]} will be derived from events"))
        return None
    for path in ignored:
        result.summary.append(f"{entity}: ignored {path} (not .csv, .json, .jsonl, .parquet)")
    if not files:
        if entity == EVENTS:
            raise InputError(f"landing folder {folder} holds no CSV, JSON lines or Parquet "
                             "files")
        return load
    seen = _seen(ctx, entity)
    new = [f for f in files if f.path not in seen.paths]
    sums = checksums(ctx.spark, new)
    fresh = []
    for file in new:
        first = seen.sums.setdefault(sums[file.path], file.path)
        if (file.path, sums[file.path]) in seen.refused:
            result.summary.append(f"{entity}: skipped {file.path}: refused before "
                                  f"(see {QUARANTINE_LANDING_FILES}), unchanged since")
        elif first != file.path:
            result.summary.append(f"{entity}: skipped {file.path}: same content as {first}, "
                                  "ingested already")
        else:
            fresh.append(file)
    if not fresh:
        result.summary.append(f"{entity}: {len(files)} files, none new")
        return load
    log.info("%s: reading %d new files from %s", entity, len(fresh), folder)
    frames, unreadable = read_files(ctx.spark, fresh, csv_delimiter=config.ingest.csv_delimiter)
    by_path = {f.path: f for f in fresh}
    reasons = [(by_path[bad.path], bad.reason) for bad in unreadable]
    key = pii_key(config)
    for file, df in frames:
        adapter = adapter_for(entity, df.columns, config.ingest)
        if adapter is not None:
            df = df.transform(adapter[1])
            load.adapted += 1
        try:
            check_columns(entity, df.columns, file.path)
        except MissingColumnError as exc:
            hint = (delimiter_hint(df.columns, config.ingest.csv_delimiter,
                                   REQUIRED_COLUMNS[entity]) if file.format == "csv" else None)
            if hint is None and entity == EVENTS and adapter is None:
                hint = transaction_log_hint(df.columns, config.ingest.online_retail)
            reasons.append((file, f"{exc}; {hint}" if hint else str(exc)))
            continue
        dropped = dropped_columns(entity, df.columns)
        if dropped:
            result.summary.append(f"{entity}: dropped {', '.join(dropped)} of {file.path} "
                                  "(not in the contract, possibly personal)")
        load.parts.append(df.transform(pseudonymised(entity, key)).transform(with_lineage(
            source_file=file.path, checksum=sums[file.path], batch_id=batch_id,
            ingest_ts=ingest_ts)))
    for file, reason in reasons:
        refused = _Refused(file, reason, data_lines(ctx.spark, file), sums[file.path])
        log.warning("rejected %s", reason)
        result.summary.append(f"REJECTED FILE {reason} ({refused.rows:,} rows)")
        load.refused.append(refused)
    return load


def run(ctx: StepContext) -> StepResult:
    config = ctx.config
    result = StepResult(rows_in=0, rows_out=0, rows_quarantined=0)
    batch_id = f"{ctx.run_date:%Y%m%d}-{ctx.run_id}"
    ingest_ts = datetime.now(UTC).replace(tzinfo=None)
    if pii_key(config).development:
        result.warnings.append("personal data pseudonymised with the public development key "
                               f"(profile local): set ${config.privacy.pii_key_env} for real data")
    loads = [load for entity in ENTITIES
             if (load := _load(ctx, entity, result, batch_id, ingest_ts)) is not None]
    refused = [(load.entity, r) for load in loads for r in load.refused]
    refused_rows = sum(r.rows for _, r in refused)
    result.rows_in = result.rows_quarantined = refused_rows
    if refused:
        result.message = "; ".join(r.reason for _, r in refused)[:4000]
        if not config.ingest.allow_partial_loads:
            result.status = "failed"
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            error = InputError(
                f"{len(refused)} landing file(s) rejected, nothing ingested: "
                f"{refused[0][1].reason}{more}; fix or move them, or set "
                "ingest.allow_partial_loads: true to ingest the others")
            error.result = result
            raise error
        records = [(entity, r.file.path, r.checksum, r.file.size, r.rows, r.reason[:4000],
                    batch_id, ingest_ts) for entity, r in refused]
        version = ctx.lake.append(ctx.spark.createDataFrame(records, REJECTED_FILES_SCHEMA),
                                  QUARANTINE_LANDING_FILES)
        result.versions_written[QUARANTINE_LANDING_FILES.qualified_name] = version
        result.status = "partial"
    for load in loads:
        if not load.parts:
            continue
        batch = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), load.parts)
        bronze = BRONZE[load.entity]
        before = ctx.lake.version(bronze)
        version = ctx.lake.append(batch, bronze, merge_schema=True)
        rows = (0 if version == before  # Delta commits nothing for files without rows
                else int(ctx.lake.operation_metrics(bronze, version).get("numOutputRows", 0)))
        result.rows_in = (result.rows_in or 0) + rows
        result.rows_out = (result.rows_out or 0) + rows
        via = f", {load.adapted} through the online_retail adapter" if load.adapted else ""
        if version == before:
            result.summary.append(f"{load.entity}: {len(load.parts)} new files{via} without "
                                  "rows: nothing committed")
            continue
        result.versions_written[bronze.qualified_name] = version
        result.summary.append(f"{load.entity}: {len(load.parts)} new files{via}, {rows:,} rows "
                              f"-> {bronze} v{version} ({ctx.lake.path(bronze)})")
    if refused:
        result.summary.append(f"{len(refused)} rejected files ({refused_rows:,} "
                              f"rows) recorded in {QUARANTINE_LANDING_FILES}; later runs skip "
                              "them until their content changes")
    result.summary.append(f"batch {batch_id}")
    return result
