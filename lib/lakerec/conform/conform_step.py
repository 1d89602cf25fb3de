"""``conform``: bronze to silver, every rejected row to quarantine with its reason.

Only bronze batches not conformed before are read, so a rerun changes nothing. Silver
events are inserted with a MERGE on ``event_id``; customers and items are upserted with a
MERGE (derived from events when no customer or item files were landed). Quarantine rows are
written per batch with ``replaceWhere``, so a rerun after a crash replaces rather than adds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from lakerec.conform import rules as C
from lakerec.core import schemas as S
from lakerec.core.errors import ConfigError, LakerecError, TableNotFoundError
from lakerec.core.step import StepContext, StepResult

log = logging.getLogger("lakerec.conform.rules")


def pii_key(ctx: StepContext) -> bytes:
    """The pseudonymisation key from the environment; only the local profile has a fallback."""
    conf = ctx.config.conform
    key = os.environ.get(conf.pii_key_env)
    if key:
        return key.encode("utf-8")
    if ctx.config.profile == "local":
        log.warning("$%s is not set: pseudonymising with the local development key",
                    conf.pii_key_env)
        return conf.local_pii_key.encode("utf-8")
    raise ConfigError(f"profile '{ctx.config.profile}' needs a pseudonymisation key in "
                      f"${conf.pii_key_env}; refusing to run without it")


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
    bronze_version = lake.version("bronze", entity)
    if bronze_version is None:
        return []
    result.versions_read[f"bronze.{entity}"] = bronze_version
    pending = C.pending_bronze(lake, entity, version=bronze_version)
    assert pending is not None
    batches = sorted(r[0] for r in pending.select(S.BATCH_ID).distinct().collect())
    if not batches:
        result.summary.append(f"{entity}: nothing new in bronze.{entity}")
        return []
    log.info("%s: conforming %d batch(es)", entity, len(batches))
    classified = classify(pending).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = {r[0]: int(r[1]) for r in
                  classified.groupBy(S.REJECT_REASON).count().collect()}
        accepted = counts.pop(None, 0)
        rejected = sum(counts.values())
        silver_version = write_silver(to_silver(classified))
        quarantine_version = lake.replace_where(
            C.quarantined(classified, ctx.run_id), "quarantine", entity, _in_batches(batches),
            merge_schema=True)
    finally:
        classified.unpersist()
    written = lake.read("silver", entity, version=silver_version).where(
        _in_batches(batches)).count() if entity == "events" else accepted
    if written != accepted:
        raise LakerecError(f"{entity}: {accepted} rows accepted but {written} in silver for "
                           f"batches {batches}; nothing was marked conformed")
    result.rows_in = (result.rows_in or 0) + accepted + rejected
    result.rows_out = (result.rows_out or 0) + accepted
    result.rows_quarantined = (result.rows_quarantined or 0) + rejected
    result.versions_written[f"silver.{entity}"] = silver_version
    result.versions_written[f"quarantine.{entity}"] = quarantine_version
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    result.summary.append(
        f"{entity}: {accepted + rejected:,} in = {accepted:,} accepted + {rejected:,} "
        f"quarantined" + (f" ({reasons})" if reasons else ""))
    return batches


def _refresh_seen(ctx: StepContext, result: StepResult, entity: str, key: str,
                  seen: DataFrame, *, derive: bool) -> None:
    """Update first/last seen times from events; insert unseen keys when deriving."""
    update = {
        S.FIRST_SEEN_TS: f"least(coalesce(t.{S.FIRST_SEEN_TS}, s.{S.FIRST_SEEN_TS}), "
                         f"s.{S.FIRST_SEEN_TS})",
        S.LAST_SEEN_TS: f"greatest(coalesce(t.{S.LAST_SEEN_TS}, s.{S.LAST_SEEN_TS}), "
                        f"s.{S.LAST_SEEN_TS})",
    }
    if entity == "items":
        update[S.TITLE] = f"coalesce(t.{S.TITLE}, s.{S.TITLE})"
        update[S.PRICE] = f"coalesce(t.{S.PRICE}, s.{S.PRICE})"
    if not derive and not ctx.lake.exists("silver", entity):
        return
    version = ctx.lake.upsert(seen, "silver", entity, [key], update=update, insert=derive)
    result.versions_written[f"silver.{entity}"] = version
    if derive:
        metrics = ctx.lake.operation_metrics("silver", entity, version)
        inserted = metrics.get("numTargetRowsInserted", metrics.get("numOutputRows", "0"))
        result.summary.append(f"{entity}: derived from events ({int(inserted):,} new)")


def run(ctx: StepContext) -> StepResult:
    config, lake = ctx.config.conform, ctx.lake
    key = pii_key(ctx)
    if not lake.exists("bronze", "events"):
        raise TableNotFoundError("bronze.events", lake.path("bronze", "events"),
                                 "run `lakerec ingest` first")
    result = StepResult(rows_in=0, rows_out=0, rows_quarantined=0)
    silver_events_version = lake.version("silver", "events")
    known = None
    if silver_events_version is not None:
        result.versions_read["silver.events"] = silver_events_version
        known = lake.read("silver", "events", version=silver_events_version)

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
        ctx, result, "events", classify_events, C.silver_events,
        lambda df: lake.insert_new(df, "silver", "events", [S.EVENT_ID]))
    customer_batches = _conform_entity(
        ctx, result, "customers", C.classify_customers,
        lambda df: C.silver_customers(df, pii_key=key),
        lambda df: lake.upsert(df, "silver", "customers", [S.USER_ID], update={
            c: f"s.{c}" for c in (*S.PII_COLUMNS, S.COUNTRY, S.SIGNUP_TS, S.BATCH_ID)}))
    item_batches = _conform_entity(
        ctx, result, "items", C.classify_items(max_price=config.max_price), C.silver_items,
        lambda df: lake.upsert(df, "silver", "items", [S.ITEM_ID], update={
            c: f"s.{c}" for c in (S.TITLE, S.CATEGORY, S.PRICE, S.IN_STOCK, S.BATCH_ID)}))

    if event_batches:
        new_events = lake.read("silver", "events").where(_in_batches(event_batches))
        batch_id = event_batches[-1]
        _refresh_seen(ctx, result, "customers", S.USER_ID,
                      C.customers_seen_in(new_events, batch_id),
                      derive=not lake.exists("bronze", "customers"))
        _refresh_seen(ctx, result, "items", S.ITEM_ID, C.items_seen_in(new_events, batch_id),
                      derive=not lake.exists("bronze", "items"))

    done = [(entity, b) for entity, batches in (("events", event_batches),
                                                 ("customers", customer_batches),
                                                 ("items", item_batches)) for b in batches]
    if done:
        now = datetime.now(UTC).replace(tzinfo=None)
        marks = ctx.spark.createDataFrame(
            [(e, b, ctx.run_id, now) for e, b in done],
            f"entity string, {S.BATCH_ID} string, run_id string, conformed_at timestamp")
        lake.append(marks, C.OPS, C.CONFORMED_BATCHES)
    for entity in S.ENTITIES:
        if lake.exists("silver", entity):
            total = lake.read("silver", entity).count()
            where = lake.path("silver", entity)
            result.summary.append(f"silver.{entity}: {total:,} rows ({where})")
    if result.rows_quarantined:
        result.summary.append(f"quarantine: {lake.root}/quarantine/<table>, reasons in "
                              f"column {S.REJECT_REASON}")
    return result
