"""``lakerec generate``: synthetic landing data with planted ground truth.

Writes, for run date ``D`` and seed ``S`` (folders replaced on a rerun)::

    <paths.landing>/events/generated_D_seedS/part-*.csv        all values as text
    <paths.landing>/customers/generated_D_seedS/part-*.json    JSON lines
    <paths.landing>/items/generated_D_seedS/part-*.parquet
    <paths.landing>/contacts/generated_D_seedS/part-*.csv      planted campaigns' channel log
    <paths.ground_truth>/{customers,items,bad_rows,campaigns}/ Parquet
    <paths.ground_truth>/summary.json

See docs/generate.md for what is planted.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from datetime import UTC, date, datetime
from functools import reduce
from typing import Any

from pydantic import ValidationError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakerec.core import schemas as S
from lakerec.core.campaigns import find_campaign
from lakerec.core.errors import ConfigError
from lakerec.core.settings import GenerateConfig
from lakerec.core.step import StepContext, StepResult
from lakerec.synthetic import campaigns as C
from lakerec.synthetic import draws as D
from lakerec.synthetic import generator as G
from lakerec.synthetic import population as P

log = logging.getLogger("lakerec.generate")

SIZE_OPTIONS = ("customers", "items", "events", "days", "seed")
LANDING_EVENTS = (S.EVENT_ID, S.USER_ID, S.ITEM_ID, S.EVENT_TYPE, S.EVENT_TS, S.QUANTITY,
                  S.PRICE, S.RATING, S.ORDER_ID)
LANDING_CUSTOMERS = (S.USER_ID, S.EMAIL, S.NAME, S.PHONE, S.COUNTRY, S.SIGNUP_TS,
                     S.MARKETING_CONSENT)
LANDING_ITEMS = (S.ITEM_ID, S.TITLE, S.CATEGORY, S.PRICE, S.IN_STOCK)
CAMPAIGN_RESPONSE = "campaign_response"  # row kind of a purchase a planted campaign caused
_SPARK_PART = re.compile(r"^(part-\d+)-.+?-c\d+(\..+)$")  # part-00000-<uuid>-c000.csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name in SIZE_OPTIONS:
        parser.add_argument(f"--{name}", type=int, metavar="N",
                            help=f"override generate.{name}")
    parser.add_argument("--if-landing-empty", dest="if_landing_empty", action="store_true",
                        help="do nothing when <landing>/events already holds a data file")


def effective_config(config: GenerateConfig, options: dict[str, Any]) -> GenerateConfig:
    """``config`` with the size options applied, checked as a whole."""
    overrides = {k: options[k] for k in SIZE_OPTIONS if options.get(k) is not None}
    try:
        cfg = GenerateConfig.model_validate({**config.model_dump(), **overrides})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"generate.{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    check_config(cfg)
    return cfg


def check_config(cfg: GenerateConfig) -> None:
    """Raise :class:`ConfigError` for combinations the generator cannot honour."""
    if not cfg.segments:
        raise ConfigError("generate.segments is empty: define at least one segment")
    for name, shape in cfg.segments.items():
        low, high = shape.active_days_ago
        if not 0 <= low < min(high, cfg.days):
            raise ConfigError(
                f"generate.segments.{name}.active_days_ago {[low, high]} must satisfy "
                f"0 <= lo < hi and lo < generate.days ({cfg.days})")
    if cfg.taste_clusters > cfg.categories or cfg.categories > cfg.items:
        raise ConfigError(
            f"generate needs taste_clusters ({cfg.taste_clusters}) <= categories "
            f"({cfg.categories}) <= items ({cfg.items})")
    if cfg.bad_row_share > 0:
        purchases = D.expected_purchase_fraction(cfg.segments)
        kinds = len(P.EVENT_BAD_KINDS)
        general = kinds - len(P.PURCHASE_ONLY_KINDS)
        needed = cfg.bad_row_share / kinds * (general + len(P.PURCHASE_ONLY_KINDS) / purchases
                                              if purchases else float("inf"))
        if needed > 1:
            raise ConfigError(
                f"generate.bad_row_share {cfg.bad_row_share} is too large for a purchase "
                f"share of {purchases:.3f}: quantity defects need enough purchases")


# --- files through Hadoop's FileSystem, so object stores work too --------------------------
def _fs(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def holds_data_file(spark: SparkSession, folder: str) -> bool:
    """Whether ``folder`` holds, at any depth, a file other than _SUCCESS, .crc or hidden."""
    fs, path = _fs(spark, folder)
    if not fs.exists(path):
        return False
    files = fs.listFiles(path, True)
    while files.hasNext():
        name = files.next().getPath().getName()
        if not name.startswith(("_", ".")) and not name.endswith(".crc"):
            return True
    return False


def _stable_part_names(spark: SparkSession, folder: str) -> None:
    """Rename Spark's ``part-00000-<uuid>-c000.csv`` to ``part-00000.csv``, so a rerun
    gives the same file names (and ingest the same ``_source_file``)."""
    fs, path = _fs(spark, folder)
    for status in fs.listStatus(path):
        match = _SPARK_PART.match(status.getPath().getName())
        if match:
            target = status.getPath().getParent().suffix(f"/{match[1]}{match[2]}")
            fs.rename(status.getPath(), target)


def _write(df: DataFrame, folder: str, fmt: str, files: int, key: str,
           **options: str) -> None:
    (df.repartition(files, key).sortWithinPartitions(key)
     .write.mode("overwrite").format(fmt).options(**options).save(folder))
    _stable_part_names(df.sparkSession, folder)


def _write_text(spark: SparkSession, path: str, text: str) -> None:
    fs, hadoop_path = _fs(spark, path)
    stream = fs.create(hadoop_path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


# --- planted campaigns ---------------------------------------------------------------------
def planted_campaigns(cfg: GenerateConfig, folder: str, run_date: date) -> list[C.Planted]:
    """``generate.campaigns`` resolved against their definitions in ``folder``."""
    out = []
    for name, planted in cfg.campaigns.items():
        definition = find_campaign(folder, name)
        campaign = C.resolve(name, planted, definition, run_date)
        if definition.objective.window_days >= planted.send_days_ago:
            raise ConfigError(
                f"generate.campaigns.{name}.send_days_ago {planted.send_days_ago} must exceed "
                f"its attribution window ({definition.objective.window_days} days), so that "
                "the window has closed by the run date")
        if planted.send_days_ago >= cfg.days:
            raise ConfigError(f"generate.campaigns.{name}.send_days_ago "
                              f"{planted.send_days_ago} must be below generate.days ({cfg.days})")
        unknown = sorted(set(planted.lift) - set(cfg.segments))
        if unknown:
            raise ConfigError(f"generate.campaigns.{name}.lift names {unknown}, which are not "
                              f"planted segments ({', '.join(cfg.segments)})")
        out.append(campaign)
    return out


def _planted_summary(truths: list[DataFrame]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per campaign and planted segment: audience, groups, organic share, planted lift."""
    rows = (reduce(DataFrame.unionByName, truths)
            .groupBy(S.CAMPAIGN_ID, S.GT_SEGMENT)
            .agg(F.count("*").alias("audience"),
                 F.count(F.when(F.col(S.CAMPAIGN_GROUP) == C.TREATMENT, 1)).alias("treatment"),
                 F.first(S.GT_ORGANIC_RATE).alias(S.GT_ORGANIC_RATE),
                 F.first(S.GT_PLANTED_LIFT).alias(S.GT_PLANTED_LIFT))
            .orderBy(S.CAMPAIGN_ID, S.GT_SEGMENT).collect())
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r[S.CAMPAIGN_ID], {})[r[S.GT_SEGMENT]] = {
            "audience": r["audience"], "treatment": r["treatment"],
            "control": r["audience"] - r["treatment"],
            S.GT_ORGANIC_RATE: round(r[S.GT_ORGANIC_RATE], 4),
            S.GT_PLANTED_LIFT: round(r[S.GT_PLANTED_LIFT], 4)}
    return out


# --- the step ------------------------------------------------------------------------------
def run(ctx: StepContext) -> StepResult:
    started = time.monotonic()
    cfg = effective_config(ctx.config.generate, ctx.options)
    landing, truth = ctx.config.paths.landing.rstrip("/"), ctx.config.paths.ground_truth.rstrip("/")
    spark = ctx.spark
    if ctx.options.get("if_landing_empty") and holds_data_file(spark, f"{landing}/events"):
        return StepResult(status="skipped", message="landing events exist", summary=[
            f"skipped: {landing}/events already holds data (--if-landing-empty)"])

    batch = f"generated_{ctx.run_date.isoformat()}_seed{cfg.seed}"
    future_from = max(datetime.now(UTC).date(), ctx.run_date)
    log.info("generating %s customers, %s items, ~%s events over %s days (seed %s)",
             cfg.customers, cfg.items, cfg.events, cfg.days, cfg.seed)
    items = P.build_items(spark, seed=cfg.seed, items=cfg.items, categories=cfg.categories,
                          taste_clusters=cfg.taste_clusters, zipf_exponent=cfg.zipf_exponent,
                          out_of_stock_share=cfg.out_of_stock_share).cache()
    customers = P.build_customers(
        spark, seed=cfg.seed, customers=cfg.customers, events=cfg.events,
        segments=cfg.segments, taste_clusters=cfg.taste_clusters, days=cfg.days,
        run_date=ctx.run_date, bad_email_share=cfg.bad_email_share,
        opt_out_share=cfg.opt_out_share).cache()
    planned = G.planned_events(
        customers, items, seed=cfg.seed, segments=cfg.segments, days=cfg.days,
        run_date=ctx.run_date, taste_clusters=cfg.taste_clusters,
        taste_affinity=cfg.taste_affinity, zipf_exponent=cfg.zipf_exponent,
        cluster_sizes_=D.cluster_sizes(cfg.items, cfg.categories, cfg.taste_clusters))
    campaigns = planted_campaigns(cfg, ctx.config.paths.campaigns, ctx.run_date)
    truths, responses, contacts = [], [], []
    planted_summary: dict[str, dict[str, dict[str, Any]]] = {}
    for campaign in campaigns:
        members = C.with_organic(C.audience(customers, campaign, seed=cfg.seed), planned,
                                 campaign)
        truth_rows = C.truth(members, campaign).cache()
        truths.append(truth_rows)
        planned = C.without_deterred(planned, C.deterred(truth_rows, campaign, seed=cfg.seed),
                                     campaign)
        responses.append(C.response_events(C.responders(truth_rows, campaign, seed=cfg.seed),
                                           items, campaign, seed=cfg.seed))
        contacts.append(C.contact_log(truth_rows, campaign, seed=cfg.seed))
    events = G.landing_events(
        planned, seed=cfg.seed, return_share=cfg.return_share,
        bad_row_share=cfg.bad_row_share,
        purchase_fraction=D.expected_purchase_fraction(cfg.segments),
        absurd_quantity=100 * ctx.config.conform.max_quantity - 1,
        future_from=future_from)
    for response in responses:
        events = events.unionByName(response.withColumns({
            P.EVENT_NO: F.lit(None).cast("long"), P.ROW_KIND: F.lit(CAMPAIGN_RESPONSE)}))
    events = events.cache()
    try:
        paths = {t: f"{landing}/{t}/{batch}" for t in ("events", "customers", "items")}
        if contacts:
            paths[S.CONTACTS] = f"{landing}/{S.CONTACTS}/{batch}"
            _write(reduce(DataFrame.unionByName, contacts), paths[S.CONTACTS], "csv", cfg.files,
                   S.USER_ID, header="true")
            _write(reduce(DataFrame.unionByName, truths).drop(P.IDX), f"{truth}/campaigns",
                   "parquet", 1, S.USER_ID)
            planted_summary = _planted_summary(truths)
        text_options = {"header": "true", "ignoreLeadingWhiteSpace": "false",
                        "ignoreTrailingWhiteSpace": "false"}
        _write(events.select(*LANDING_EVENTS), paths["events"], "csv", cfg.files,
               S.EVENT_ID, **text_options)
        _write(customers.select(*LANDING_CUSTOMERS), paths["customers"], "json", cfg.files,
               S.USER_ID)
        _write(items.select(*LANDING_ITEMS), paths["items"], "parquet", cfg.files, S.ITEM_ID)
        log.info("landing written under %s; writing ground truth to %s", landing, truth)
        _write(customers.select(S.USER_ID, S.GT_SEGMENT, S.GT_TASTE_CLUSTER,
                                S.GT_PLANNED_EVENTS), f"{truth}/customers", "parquet", 1,
               S.USER_ID)
        _write(items.select(S.ITEM_ID, S.CATEGORY, S.GT_TASTE_CLUSTER, S.GT_CLUSTER_RANK,
                            S.GT_EXPECTED_SHARE),
               f"{truth}/items", "parquet", 1, S.ITEM_ID)
        _write(G.bad_rows_truth(events, customers), f"{truth}/bad_rows", "parquet", 1, S.GT_KEY)

        by_kind = {r[P.ROW_KIND]: r["n"] for r in
                   events.groupBy(P.ROW_KIND).agg(F.count("*").alias("n")).collect()}
        email_kinds = {r[P.BAD_KIND]: r["n"] for r in customers.where(
            F.col(P.BAD_KIND).isNotNull()).groupBy(P.BAD_KIND).agg(
            F.count("*").alias("n")).collect()}
        counts = {
            "events": sum(by_kind.values()), "customers": cfg.customers, "items": cfg.items,
            "good_events": by_kind.get(P.GOOD, 0), "returns": by_kind.get(P.RETURN, 0),
            "campaign_responses": by_kind.get(CAMPAIGN_RESPONSE, 0),
            "out_of_stock_items": items.where(~F.col(S.IN_STOCK)).count()}
    finally:
        events.unpersist()
        customers.unpersist()
        items.unpersist()
        for truth_rows in truths:
            truth_rows.unpersist()
    bad_events = {k: by_kind.get(k, 0) for k in P.EVENT_BAD_KINDS}
    bad_customers = {k: email_kinds.get(k, 0) for k in P.CUSTOMER_BAD_KINDS}
    per_reason: dict[str, int] = {}
    for kinds, found in ((P.EVENT_BAD_KINDS, bad_events), (P.CUSTOMER_BAD_KINDS, bad_customers)):
        for kind, reason in kinds.items():
            per_reason[reason] = per_reason.get(reason, 0) + found[kind]
    summary = {
        "run_date": ctx.run_date.isoformat(), "seed": cfg.seed, "batch": batch,
        "future_timestamps_after": future_from.isoformat(), "counts": counts,
        "bad_rows": {"events": bad_events, "customers": bad_customers},
        "bad_rows_per_reason": per_reason, "landing": paths, "ground_truth": truth,
        "campaigns": planted_summary,
        "config": cfg.model_dump(mode="json")}
    _write_text(spark, f"{truth}/summary.json", json.dumps(summary, indent=2) + "\n")

    seconds = time.monotonic() - started
    rows_out = counts["events"] + cfg.customers + cfg.items
    return StepResult(rows_out=rows_out, summary=[
        f"events: {counts['events']:,} rows ({counts['good_events']:,} good, "
        f"{counts['returns']:,} returns, {sum(bad_events.values()):,} bad) -> {paths['events']}",
        f"customers: {cfg.customers:,} rows ({sum(bad_customers.values()):,} bad emails) "
        f"-> {paths['customers']}",
        f"items: {cfg.items:,} rows ({counts['out_of_stock_items']:,} out of stock) "
        f"-> {paths['items']}",
        "bad events: " + ", ".join(f"{k} {v:,}" for k, v in bad_events.items()),
        "bad customers: " + ", ".join(f"{k} {v:,}" for k, v in bad_customers.items()),
        *[f"planted campaign {c.name}: sent {c.send_date} by {c.channel}, "
          + ", ".join(f"{seg} {100 * v['planted_lift']:+.1f} points"
                      for seg, v in planted_summary[c.name].items())
          + f" -> {paths[S.CONTACTS]}" for c in campaigns],
        f"ground truth: {truth} (customers, items, bad_rows, "
        f"{'campaigns, ' if campaigns else ''}summary.json)",
        f"generated in {seconds:.1f} s"])
