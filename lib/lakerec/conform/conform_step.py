"""``conform``: bronze to silver, every rejected row to quarantine with its reason.

Only bronze batches not conformed before are read, so a rerun changes nothing. Silver
events are inserted with a MERGE on ``event_id``; customers and items are upserted with a
MERGE (derived from events when no customer or item files were landed); channel contacts
are inserted with a MERGE on their content's key. Quarantine rows are
written per batch with ``replaceWhere``, so a rerun after a crash replaces rather than adds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from lakerec.conform import contacts as K
from lakerec.conform import entities as E
from lakerec.conform import rules as C
from lakerec.conform.pending import pending_bronze
from lakerec.core import schemas as S
from lakerec.core.errors import LakerecError, TableNotFoundError
from lakerec.core.lake import Lake
from lakerec.core.runlog import ABSENT_VERSION
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import (
    BRONZE,
    CONFORM_WRITES,
    OPS_CONFORMED_BATCHES,
    QUARANTINE,
    SILVER,
    SILVER_EVENTS,
    Table,
)

log = logging.getLogger("lakerec.conform")
INSERT_ONLY = (S.EVENTS, S.CONTACTS)  # entities whose silver rows are inserted, never updated


def _in_batches(batches: list[str]) -> str:
    quoted = ", ".join("'" + b.replace("'", "''") + "'" for b in batches)
    return f"{S.BATCH_ID} IN ({quoted})"


def _conform_entity(ctx: StepContext, result: StepResult, entity: str,
                    classify: Callable[[DataFrame], DataFrame],
                    to_silver: Callable[[DataFrame], DataFrame],
                    write_silver: Callable[[DataFrame], int]) -> list[str]:
    """Classify the pending bronze rows of ``entity``, write both sides, check the counts.

    Returns the batch ids conformed.
    """
    lake = ctx.lake
    found = pending_bronze(lake, entity)
    if found is None:
        return []
    pending, bronze_version = found
    result.versions_read[BRONZE[entity].qualified_name] = bronze_version
    batches = sorted(r[0] for r in pending.select(S.BATCH_ID).distinct().collect())
    if not batches:
        result.summary.append(f"{entity}: nothing new in {BRONZE[entity]}")
        return []
    log.info("%s: conforming %d batch(es)", entity, len(batches))
    pending_rows = pending.count()  # measured before classifying, not derived from it
    silver_before = lake.version(SILVER[entity])
    quarantine_before = lake.version(QUARANTINE[entity])
    # Events and contacts are inserted once (MERGE on their key): those an interrupted earlier
    # attempt at these batches already committed are not inserted again, and count as landed.
    landed_before = (lake.read(SILVER[entity], version=silver_before)
                     .where(_in_batches(batches)).count()
                     if entity in INSERT_ONLY and silver_before is not None else 0)
    classified = classify(pending).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = {r[0]: int(r[1]) for r in
                  classified.groupBy(S.REJECT_REASON).count().collect()}
        accepted = counts.pop(None, 0)
        rejected = sum(counts.values())
        silver_version = write_silver(to_silver(classified))
        quarantine_version = lake.replace_where(
            C.quarantined(classified, ctx.run_id), QUARANTINE[entity], _in_batches(batches),
            merge_schema=True)
    finally:
        classified.unpersist()
    # What the two commits themselves report they wrote, against the pending bronze rows.
    landed = landed_before + _rows_committed(lake, SILVER[entity], silver_version,
                                             silver_before)
    held = _rows_committed(lake, QUARANTINE[entity], quarantine_version, quarantine_before)
    if (landed, held) != (accepted, rejected) or landed + held != pending_rows:
        raise LakerecError(
            f"{entity}: {pending_rows:,} pending rows in {BRONZE[entity]} but {landed:,} "
            f"committed to {SILVER[entity]} and {held:,} to {QUARANTINE[entity]} (classified "
            f"{accepted:,} accepted, {rejected:,} rejected) for batches {batches}; nothing "
            "was marked conformed, so the next run conforms them again")
    result.rows_in = (result.rows_in or 0) + accepted + rejected
    result.rows_out = (result.rows_out or 0) + accepted
    result.rows_quarantined = (result.rows_quarantined or 0) + rejected
    result.versions_written[SILVER[entity].qualified_name] = silver_version
    result.versions_written[QUARANTINE[entity].qualified_name] = quarantine_version
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    result.summary.append(
        f"{entity}: {accepted + rejected:,} in = {accepted:,} accepted + {rejected:,} "
        f"quarantined" + (f" ({reasons})" if reasons else ""))
    return batches


def _version_or_absent(lake: Lake, table: Table) -> int:
    version = lake.version(table)
    return ABSENT_VERSION if version is None else version


def _rows_committed(lake: Lake, table: Table, version: int, before: int | None) -> int:
    """Rows the commit at ``version`` wrote (inserted or updated by a MERGE, written by an
    overwrite), from Delta's operation metrics; 0 when nothing was committed."""
    if version == before:
        return 0
    metrics = lake.operation_metrics(table, version)
    if "numTargetRowsInserted" in metrics:
        return int(metrics["numTargetRowsInserted"]) + int(metrics.get("numTargetRowsUpdated", 0))
    # a replaceWhere rewrites files it touches: their other rows are copied, not written
    return int(metrics.get("numOutputRows", 0)) - int(metrics.get("numCopiedRows", 0))


def _refresh_seen(ctx: StepContext, result: StepResult, entity: str, key: str,
                  seen: DataFrame, *, derive: bool) -> None:
    """Update first/last seen times from events; insert unseen keys when deriving."""
    update = {
        S.FIRST_SEEN_TS: f"least(coalesce(t.{S.FIRST_SEEN_TS}, s.{S.FIRST_SEEN_TS}), "
                         f"s.{S.FIRST_SEEN_TS})",
        S.LAST_SEEN_TS: f"greatest(coalesce(t.{S.LAST_SEEN_TS}, s.{S.LAST_SEEN_TS}), "
                        f"s.{S.LAST_SEEN_TS})",
    }
    if entity == S.ITEMS:
        update[S.TITLE] = f"coalesce(t.{S.TITLE}, s.{S.TITLE})"
        update[S.PRICE] = f"coalesce(t.{S.PRICE}, s.{S.PRICE})"
    silver = SILVER[entity]
    if not derive and not ctx.lake.exists(silver):
        return
    before = ctx.lake.version(silver)
    version = ctx.lake.upsert(seen, silver, [key], update=update, insert=derive)
    result.versions_written[silver.qualified_name] = version
    if derive:
        metrics = ctx.lake.operation_metrics(silver, version) if version != before else {}
        inserted = metrics.get("numTargetRowsInserted", metrics.get("numOutputRows", "0"))
        result.summary.append(f"{entity}: derived from events ({int(inserted):,} new)")


def run(ctx: StepContext) -> StepResult:
    config, lake = ctx.config.conform, ctx.lake
    if not lake.exists(BRONZE[S.EVENTS]):
        raise TableNotFoundError(BRONZE[S.EVENTS].qualified_name, lake.path(BRONZE[S.EVENTS]),
                                 "run `lakerec ingest` first")
    result = StepResult(rows_in=0, rows_out=0, rows_quarantined=0)
    # what the silver gate puts back if the new silver fails it (write, audit, publish)
    result.versions_before = {table.qualified_name: _version_or_absent(lake, table)
                              for table in CONFORM_WRITES}
    known = None
    if lake.exists(SILVER_EVENTS):
        known, silver_events_version = lake.snapshot(SILVER_EVENTS)
        result.versions_read[SILVER_EVENTS.qualified_name] = silver_events_version

    def classify_events(pending: DataFrame) -> DataFrame:
        batches = pending.select(S.BATCH_ID).distinct()
        earlier = (known.join(batches, on=S.BATCH_ID, how="left_anti")
                   .select(S.EVENT_ID, S.EVENT_KEY) if known is not None else None)
        return pending.transform(C.classify_events(
            ingest_tolerance_hours=config.future_tolerance_hours,
            min_event_ts=config.min_event_ts, max_quantity=config.max_quantity,
            max_price=config.max_price, non_product_items=config.non_product_items,
        )).transform(C.flag_known_events(earlier))

    event_batches = _conform_entity(
        ctx, result, S.EVENTS, classify_events, C.silver_events,
        lambda df: lake.upsert(df, SILVER_EVENTS, [S.EVENT_ID], update=False))
    customer_batches = _conform_entity(
        ctx, result, S.CUSTOMERS, E.classify_customers,
        E.silver_customers,
        lambda df: lake.upsert(df, SILVER[S.CUSTOMERS], [S.USER_ID], update={
            c: f"s.{c}" for c in (*S.PII_COLUMNS, S.COUNTRY, S.SIGNUP_TS, S.MARKETING_CONSENT,
                                  S.BATCH_ID)}))
    item_batches = _conform_entity(
        ctx, result, S.ITEMS, E.classify_items(max_price=config.max_price), E.silver_items,
        lambda df: lake.upsert(df, SILVER[S.ITEMS], [S.ITEM_ID], update={
            c: f"s.{c}" for c in (S.TITLE, S.CATEGORY, S.PRICE, S.IN_STOCK, S.BATCH_ID)}))

    known_contacts = lake.read_if_exists(SILVER[S.CONTACTS])
    contact_batches = _conform_entity(
        ctx, result, S.CONTACTS,
        K.classify_contacts(ingest_tolerance_hours=config.future_tolerance_hours,
                            known=known_contacts),
        K.silver_contacts,
        lambda df: lake.upsert(df, SILVER[S.CONTACTS], [S.CONTACT_KEY], update=False))

    if event_batches:
        new_events = lake.read(SILVER_EVENTS).where(_in_batches(event_batches))
        batch_id = event_batches[-1]
        _refresh_seen(ctx, result, S.CUSTOMERS, S.USER_ID,
                      E.customers_seen_in(new_events, batch_id),
                      derive=not lake.exists(BRONZE[S.CUSTOMERS]))
        _refresh_seen(ctx, result, S.ITEMS, S.ITEM_ID, E.items_seen_in(new_events, batch_id),
                      derive=not lake.exists(BRONZE[S.ITEMS]))

    done = [(entity, b) for entity, batches in ((S.EVENTS, event_batches),
                                                 (S.CUSTOMERS, customer_batches),
                                                 (S.ITEMS, item_batches),
                                                 (S.CONTACTS, contact_batches))
            for b in batches]
    if done:
        now = datetime.now(UTC).replace(tzinfo=None)
        marks = ctx.spark.createDataFrame(
            [(e, b, ctx.run_id, now) for e, b in done],
            f"{S.ENTITY} string, {S.BATCH_ID} string, run_id string, conformed_at timestamp")
        lake.append(marks, OPS_CONFORMED_BATCHES)
    for entity in S.ENTITIES:
        if lake.exists(SILVER[entity]):
            total = lake.read(SILVER[entity]).count()
            result.summary.append(f"{SILVER[entity]}: {total:,} rows "
                                  f"({lake.path(SILVER[entity])})")
    if result.rows_quarantined:
        result.summary.append(f"quarantine: {lake.root}/quarantine/<table>, reasons in "
                              f"column {S.REJECT_REASON}")
    return result
