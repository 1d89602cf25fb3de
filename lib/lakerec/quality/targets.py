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

from lakerec.conform.pending import pending_bronze
from lakerec.core.dates import midnight
from lakerec.core.errors import ConfigError
from lakerec.core.lake import Lake
from lakerec.core.schemas import (
    BASKET_SIZE,
    CONTACT_KEY,
    CONTACT_TYPE,
    CONTACT_TYPES,
    CONTACTS,
    CONTACTS_REQUIRED,
    CUSTOMERS,
    CUSTOMERS_REQUIRED,
    EVENT_TS,
    EVENT_TYPE,
    EVENTS,
    EVENTS_REQUIRED,
    ITEM_ID,
    ITEMS,
    ITEMS_REQUIRED,
    PRICE,
    QUANTITY,
    RATING,
    RUN_DATE,
    SILVER_CONTACTS_SCHEMA,
    SILVER_EVENTS_SCHEMA,
    USER_ID,
)
from lakerec.core.settings import QualityConfig
from lakerec.core.tables import (
    BRONZE,
    GOLD_CUSTOMER_SEGMENTS,
    GOLD_RECOMMENDATION_GAPS,
    GOLD_RECOMMENDATIONS,
    GOLD_USER_FEATURES,
    SILVER,
    SILVER_EVENTS,
    Layer,
    Table,
)
from lakerec.quality import derive, suites
from lakerec.quality.history import ROW_COUNT, History
from lakerec.quality.validate import Target
from lakerec.recs.candidates import active_users

LAYERS = (Layer.BRONZE, Layer.SILVER, Layer.GOLD)
GOLD_CHECKED = (GOLD_USER_FEATURES, GOLD_CUSTOMER_SEGMENTS, GOLD_RECOMMENDATIONS)
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


def history_keys(quality: QualityConfig) -> list[str]:
    """Expectation ids whose earlier observed values volume and drift checks need."""
    kinds = ("expect_column_mean_to_be_between", "expect_column_quantiles_to_be_between")
    return [ROW_COUNT, *(f"{k}({c})" for k in kinds for c in quality.silver.drift.columns)]


def layer_tables(layer: str) -> list[str]:
    """The tables a layer's checks validate, as ``layer.name``."""
    tables = GOLD_CHECKED if layer == Layer.GOLD else (BRONZE if layer == Layer.BRONZE
                                                        else SILVER).values()
    return [table.qualified_name for table in tables]


def bronze_targets(lake: Lake, quality: QualityConfig, window: Window,
                   history: History) -> LayerPlan:
    """Rows of bronze not conformed yet (this load), tolerant thresholds."""
    plan, checks = LayerPlan(), quality.bronze
    shapes = {
        EVENTS: (derive.with_parsed_values(keys=(USER_ID, ITEM_ID),
                                             numbers=(QUANTITY, PRICE, RATING),
                                             timestamps=(EVENT_TS,), lowercase=(EVENT_TYPE,)),
                   suites.bronze_events(checks.columns, checks.keys_not_null, checks.event_types,
                                        checks.timestamps, checks.values, quality.ranges,
                                        required=EVENTS_REQUIRED, min_ts=window.min_ts,
                                        max_ts=window.max_ts)),
        CUSTOMERS: (derive.with_parsed_values(keys=(USER_ID,)),
                      suites.bronze_keyed(USER_ID, CUSTOMERS_REQUIRED, checks.columns,
                                          checks.keys_not_null)),
        ITEMS: (derive.with_parsed_values(keys=(ITEM_ID,)),
                  suites.bronze_keyed(ITEM_ID, ITEMS_REQUIRED, checks.columns,
                                      checks.keys_not_null)),
        CONTACTS: (derive.with_parsed_values(keys=(USER_ID,)),
                   suites.bronze_keyed(USER_ID, CONTACTS_REQUIRED, checks.columns,
                                       checks.keys_not_null)),
    }
    for entity, (parse, expectations) in shapes.items():
        table = BRONZE[entity].qualified_name
        found = pending_bronze(lake, entity)
        if found is None:
            plan.notes.append(f"{table} does not exist: skipped")
            continue
        pending, version = found
        plan.versions_read[table] = version
        if pending.isEmpty():
            plan.notes.append(f"{table} v{version}: no rows waiting for conform: nothing to check")
            continue
        plan.targets.append(Target(
            table, version, suites.suite(table, [*expectations, *suites.volume(
                table, checks.volume, history)]), pending.transform(parse)))
    return plan


def _snapshots(lake: Lake, tables: Sequence[Table],
               plan: LayerPlan) -> dict[Table, DataFrame | None]:
    """Each table at its latest version (None where absent, with a note), versions recorded."""
    frames: dict[Table, DataFrame | None] = {}
    for table in tables:
        if not lake.exists(table):
            frames[table] = None
            plan.notes.append(f"{table} does not exist yet: skipped")
            continue
        frames[table], plan.versions_read[table.qualified_name] = lake.snapshot(table)
    return frames


def _drift_split(columns: Sequence[str]) -> tuple[list[str], bool]:
    event_columns = [c for c in columns if c != BASKET_SIZE]
    unknown = [c for c in event_columns if c not in SILVER_EVENTS_SCHEMA.fieldNames()]
    if unknown:
        raise ConfigError(f"quality.silver.drift.columns: {unknown} are neither silver.events "
                          f"columns nor '{BASKET_SIZE}'")
    return event_columns, BASKET_SIZE in columns


def silver_targets(lake: Lake, quality: QualityConfig, window: Window,
                   history: History) -> LayerPlan:
    """Silver events, customers and items: strict, plus referential, volume, freshness, drift."""
    plan, checks = LayerPlan(), quality.silver
    event_drift, basket_drift = _drift_split(checks.drift.columns)
    events, version = lake.snapshot(SILVER_EVENTS, hint=SILVER_HINT)
    table = SILVER_EVENTS.qualified_name
    plan.versions_read[table] = version
    frames = _snapshots(lake, [SILVER[CUSTOMERS], SILVER[ITEMS]], plan)
    customers, items = frames[SILVER[CUSTOMERS]], frames[SILVER[ITEMS]]
    expectations = [
        *suites.silver_events(SILVER_EVENTS_SCHEMA, checks.columns, checks.keys_not_null,
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
        plan.notes.append(f"{SILVER[ITEMS]} does not exist: referential checks skipped")
    plan.targets.append(Target(table, version, suites.suite(table, expectations), checked))
    if basket_drift:
        plan.targets.append(Target(
            table, version, suites.suite(f"{table}.baskets", suites.drift(
                table, BASKET_SIZE, checks.drift, history)), derive.basket_sizes(events)))
    for silver, key in ((SILVER[CUSTOMERS], USER_ID), (SILVER[ITEMS], ITEM_ID)):
        frame, name = frames[silver], silver.qualified_name
        if frame is None:
            plan.notes.append(f"{name} does not exist: skipped")
            continue
        assert silver.schema is not None
        plan.targets.append(Target(name, plan.versions_read[name], suites.suite(name, [
            *suites.silver_keyed(silver.schema, key, checks.columns, checks.keys_not_null,
                                 checks.keys_unique),
            *suites.volume(name, checks.volume, history)]), frame))
    contacts = _snapshots(lake, [SILVER[CONTACTS]], plan)[SILVER[CONTACTS]]
    if contacts is not None:  # no volume check: contacts come in bursts, one per campaign
        name = SILVER[CONTACTS].qualified_name
        plan.targets.append(Target(name, plan.versions_read[name], suites.suite(name, [
            *suites.silver_keyed(SILVER_CONTACTS_SCHEMA, CONTACT_KEY, checks.columns,
                                 checks.keys_not_null, checks.keys_unique),
            *suites.in_set(CONTACT_TYPE, CONTACT_TYPES, checks.event_types)]), contacts))
    return plan


def gold_targets(lake: Lake, quality: QualityConfig, window: Window, history: History, *,
                 k: int, active_window_days: int) -> LayerPlan:
    """This run date's gold rows: keys, segment coverage, recommendation rules, volume."""
    plan, checks = LayerPlan(), quality.gold
    today = F.col(RUN_DATE) == F.lit(window.run_date)
    frames = {table: None if frame is None else frame.where(today) for table, frame in
              _snapshots(lake, [*GOLD_CHECKED, GOLD_RECOMMENDATION_GAPS], plan).items()}
    plan.notes = [n for n in plan.notes if not n.startswith(str(GOLD_RECOMMENDATION_GAPS))]

    def add(table: Table, suite_name: str, expectations: list, frame: DataFrame) -> None:
        plan.targets.append(Target(table.qualified_name,
                                   plan.versions_read[table.qualified_name],
                                   suites.suite(suite_name, expectations), frame))

    features, segments = frames[GOLD_USER_FEATURES], frames[GOLD_CUSTOMER_SEGMENTS]
    recommendations = frames[GOLD_RECOMMENDATIONS]
    for keyed in (GOLD_USER_FEATURES, GOLD_CUSTOMER_SEGMENTS):
        frame = frames[keyed]
        if frame is not None:
            add(keyed, keyed.qualified_name, [
                *suites.gold_keyed(checks.keys),
                *suites.volume(keyed.qualified_name, checks.volume, history)], frame)
    if features is not None and segments is not None:
        add(GOLD_CUSTOMER_SEGMENTS, f"{GOLD_CUSTOMER_SEGMENTS}.coverage",
            suites.segment_coverage(checks.segment_coverage),
            features.transform(derive.with_segment_flag(segments)))
    if recommendations is None:
        return plan
    events = lake.read_if_exists(SILVER_EVENTS)
    if events is None:
        plan.notes.append(f"{SILVER_EVENTS} does not exist: recommendation checks skipped")
        return plan
    before_run = events.where(F.col(EVENT_TS) < F.lit(midnight(window.run_date)))
    table = GOLD_RECOMMENDATIONS.qualified_name
    add(GOLD_RECOMMENDATIONS, table, [
        *suites.recommendations(checks.keys, checks.recommendation_duplicates,
                                checks.already_purchased),
        *suites.volume(table, checks.volume, history)],
        recommendations.transform(derive.with_already_purchased(
            derive.purchased_pairs(before_run))))
    active = active_users(events, run_date=window.run_date, window_days=active_window_days)
    add(GOLD_RECOMMENDATIONS, f"{table}.per_user",
        suites.recommendation_count(checks.recommendation_count),
        derive.recommendation_counts(recommendations, frames[GOLD_RECOMMENDATION_GAPS], active,
                                     k=k))
    return plan
