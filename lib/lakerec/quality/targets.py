"""Which frames of a layer are validated, with which suite: reads tables through the Lake.

Each ``*_targets`` function returns the :class:`~lakerec.quality.validate.Target` list of one
layer and notes for the run summary (tables skipped because they do not exist yet, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.conform.rules import pending_bronze
from lakerec.core.config import QualityConfig
from lakerec.core.errors import ConfigError, TableNotFoundError
from lakerec.core.lake import Lake
from lakerec.core.schemas import (
    BASKET_SIZE,
    CUSTOMER_SEGMENTS,
    CUSTOMERS_REQUIRED,
    EVENT_TS,
    EVENT_TYPE,
    EVENTS_REQUIRED,
    ITEM_ID,
    ITEMS_REQUIRED,
    PRICE,
    QUANTITY,
    RATING,
    RECOMMENDATION_GAPS,
    RECOMMENDATIONS_TABLE,
    RUN_DATE,
    SILVER_CUSTOMERS,
    SILVER_EVENTS,
    SILVER_ITEMS,
    USER_FEATURES,
    USER_ID,
)
from lakerec.quality import derive, suites
from lakerec.quality.history import ROW_COUNT, History
from lakerec.quality.validate import Target
from lakerec.recs.candidates import active_users

LAYERS = ("bronze", "silver", "gold")
SILVER_HINT = "run `lakerec conform` first"


@dataclass
class LayerPlan:
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions_read: dict[str, int] = field(default_factory=dict)
    versions_written: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """The times checks compare with: the run date and the allowed event-time range."""

    run_date: date
    min_ts: datetime
    max_ts: datetime


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def history_keys(quality: QualityConfig) -> list[str]:
    """Expectation ids whose earlier observed values volume and drift checks need."""
    kinds = ("expect_column_mean_to_be_between", "expect_column_quantiles_to_be_between")
    return [ROW_COUNT, *(f"{k}({c})" for k in kinds for c in quality.silver.drift.columns)]


def layer_tables(layer: str) -> list[str]:
    if layer == "gold":
        return [f"gold.{t}" for t in (USER_FEATURES, CUSTOMER_SEGMENTS, RECOMMENDATIONS_TABLE)]
    return [f"{layer}.{e}" for e in ("events", "customers", "items")]


def bronze_targets(lake: Lake, quality: QualityConfig, window: Window,
                   history: History) -> LayerPlan:
    """Rows of bronze not conformed yet (this load), tolerant thresholds."""
    plan, checks = LayerPlan(), quality.bronze
    shapes = {
        "events": (derive.with_parsed_values(keys=(USER_ID, ITEM_ID),
                                             numbers=(QUANTITY, PRICE, RATING),
                                             timestamps=(EVENT_TS,), lowercase=(EVENT_TYPE,)),
                   suites.bronze_events(checks.columns, checks.keys_not_null, checks.event_types,
                                        checks.timestamps, checks.values, quality.ranges,
                                        required=EVENTS_REQUIRED, min_ts=window.min_ts,
                                        max_ts=window.max_ts)),
        "customers": (derive.with_parsed_values(keys=(USER_ID,)),
                      suites.bronze_keyed(USER_ID, CUSTOMERS_REQUIRED, checks.columns,
                                          checks.keys_not_null)),
        "items": (derive.with_parsed_values(keys=(ITEM_ID,)),
                  suites.bronze_keyed(ITEM_ID, ITEMS_REQUIRED, checks.columns,
                                      checks.keys_not_null)),
    }
    for entity, (parse, expectations) in shapes.items():
        table = f"bronze.{entity}"
        version = lake.version("bronze", entity)
        pending = None if version is None else pending_bronze(lake, entity, version=version)
        if pending is None:
            plan.notes.append(f"{table} does not exist: skipped")
            continue
        plan.versions_read[table] = version  # type: ignore[assignment]
        if pending.isEmpty():
            plan.notes.append(f"{table} v{version}: no rows waiting for conform: nothing to check")
            continue
        plan.targets.append(Target(
            table, version, suites.suite(table, [*expectations, *suites.volume(
                table, checks.volume, history)]), pending.transform(parse)))
    return plan


def _drift_split(columns: Sequence[str]) -> tuple[list[str], bool]:
    event_columns = [c for c in columns if c != BASKET_SIZE]
    unknown = [c for c in event_columns if c not in SILVER_EVENTS.fieldNames()]
    if unknown:
        raise ConfigError(f"quality.silver.drift.columns: {unknown} are neither silver.events "
                          f"columns nor '{BASKET_SIZE}'")
    return event_columns, BASKET_SIZE in columns


def silver_targets(lake: Lake, quality: QualityConfig, window: Window,
                   history: History) -> LayerPlan:
    """Silver events, customers and items: strict, plus referential, volume, freshness, drift."""
    plan, checks = LayerPlan(), quality.silver
    event_drift, basket_drift = _drift_split(checks.drift.columns)
    frames: dict[str, DataFrame | None] = {}
    for entity in ("events", "customers", "items"):
        version = lake.version("silver", entity)
        if version is None:
            frames[entity] = None
            continue
        plan.versions_read[f"silver.{entity}"] = version
        frames[entity] = lake.read("silver", entity, version=version)
    events, customers, items = frames["events"], frames["customers"], frames["items"]
    if events is None:
        raise TableNotFoundError("silver.events", lake.path("silver", "events"), SILVER_HINT)
    table = "silver.events"
    version = plan.versions_read[table]
    expectations = [
        *suites.silver_events(SILVER_EVENTS, checks.columns, checks.keys_not_null,
                              checks.keys_unique, checks.event_types, checks.timestamps,
                              checks.values, quality.ranges, min_ts=window.min_ts,
                              max_ts=window.max_ts),
        *suites.volume(table, checks.volume, history),
        *suites.freshness(EVENT_TS, window.run_date, checks.freshness),
        *(e for c in event_drift for e in suites.drift(table, c, checks.drift, history)),
    ]
    checked = events
    if items is not None:
        checked = events.transform(derive.with_known_references(items, customers))
        expectations += suites.references(checks.referential,
                                          with_customers=customers is not None)
    else:
        plan.notes.append("silver.items does not exist: referential checks skipped")
    plan.targets.append(Target(table, version, suites.suite(table, expectations), checked))
    if basket_drift:
        plan.targets.append(Target(
            table, version, suites.suite(f"{table}.baskets", suites.drift(
                table, BASKET_SIZE, checks.drift, history)), derive.basket_sizes(events)))
    for entity, schema, key in (("customers", SILVER_CUSTOMERS, USER_ID),
                                ("items", SILVER_ITEMS, ITEM_ID)):
        frame, name = frames[entity], f"silver.{entity}"
        if frame is None:
            plan.notes.append(f"{name} does not exist: skipped")
            continue
        plan.targets.append(Target(name, plan.versions_read[name], suites.suite(name, [
            *suites.silver_keyed(schema, key, checks.columns, checks.keys_not_null,
                                 checks.keys_unique),
            *suites.volume(name, checks.volume, history)]), frame))
    return plan


def gold_targets(lake: Lake, quality: QualityConfig, window: Window, history: History, *,
                 k: int, active_window_days: int) -> LayerPlan:
    """This run date's gold rows: keys, segment coverage, recommendation rules, volume."""
    plan, checks = LayerPlan(), quality.gold
    today = F.col(RUN_DATE) == F.lit(window.run_date)
    frames: dict[str, DataFrame | None] = {}
    for name in (USER_FEATURES, CUSTOMER_SEGMENTS, RECOMMENDATIONS_TABLE, RECOMMENDATION_GAPS):
        version = lake.version("gold", name)
        if version is None:
            frames[name] = None
            if name != RECOMMENDATION_GAPS:
                plan.notes.append(f"gold.{name} does not exist yet: skipped")
            continue
        plan.versions_read[f"gold.{name}"] = version
        frames[name] = lake.read("gold", name, version=version).where(today)

    def add(name: str, suite_name: str, expectations: list, frame: DataFrame) -> None:
        table = f"gold.{name}"
        plan.targets.append(Target(table, plan.versions_read[table],
                                   suites.suite(suite_name, expectations), frame))

    features, segments = frames[USER_FEATURES], frames[CUSTOMER_SEGMENTS]
    recommendations = frames[RECOMMENDATIONS_TABLE]
    for name in (USER_FEATURES, CUSTOMER_SEGMENTS):
        frame = frames[name]
        if frame is not None:
            add(name, f"gold.{name}", [*suites.gold_keyed(checks.keys),
                                       *suites.volume(f"gold.{name}", checks.volume, history)],
                frame)
    if features is not None and segments is not None:
        add(CUSTOMER_SEGMENTS, f"gold.{CUSTOMER_SEGMENTS}.coverage",
            suites.segment_coverage(checks.segment_coverage),
            features.transform(derive.with_segment_flag(segments)))
    if recommendations is None:
        return plan
    events = lake.read_if_exists("silver", "events")
    if events is None:
        plan.notes.append("silver.events does not exist: recommendation checks skipped")
        return plan
    before_run = events.where(F.col(EVENT_TS) < F.lit(midnight(window.run_date)))
    table = f"gold.{RECOMMENDATIONS_TABLE}"
    add(RECOMMENDATIONS_TABLE, table, [
        *suites.recommendations(checks.keys, checks.recommendation_duplicates,
                                checks.already_purchased),
        *suites.volume(table, checks.volume, history)],
        recommendations.transform(derive.with_already_purchased(
            derive.purchased_pairs(before_run))))
    active = active_users(events, run_date=window.run_date, window_days=active_window_days)
    add(RECOMMENDATIONS_TABLE, f"{table}.per_user",
        suites.recommendation_count(checks.recommendation_count),
        derive.recommendation_counts(recommendations, frames[RECOMMENDATION_GAPS], active, k=k))
    return plan
