"""Expectation suites per layer and table, built in code from the ``quality`` config.

Each function returns the expectations of one frame; :func:`suite` names them. Thresholds
(``mostly``) and severities come from the checks passed in; volume and drift bounds come
from :class:`~lakerec.quality.history.History`. Where there is no earlier run, volume and
drift expectations run unbounded: they record the observed value for the next run and pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, datetime

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation
from pyspark.sql import types as T

from lakerec.core.schemas import (
    ALREADY_PURCHASED,
    COUNT_OK,
    CUSTOMER_KNOWN,
    EVENT_ID,
    EVENT_TS,
    EVENT_TYPE,
    EVENT_TYPES,
    HAS_SEGMENT,
    ITEM_ID,
    ITEM_KNOWN,
    PRICE,
    QUANTITY,
    RANK,
    RATING,
    RUN_DATE,
    USER_ID,
)
from lakerec.core.settings import DriftCheck, FreshnessCheck, QualityCheck, ValueRanges, VolumeCheck
from lakerec.quality.derive import parsed
from lakerec.quality.expectations import (
    ExpectColumnQuantilesToBeBetween,
    expectation_id,
    gx_severity,
)
from lakerec.quality.history import History

NO_HISTORY = "no earlier run to compare with: observed value recorded"


def suite(name: str, expectations: Sequence[Expectation]) -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name=name, expectations=list(expectations))


def _sev(check: QualityCheck | VolumeCheck | FreshnessCheck | DriftCheck) -> dict:
    return {"severity": gx_severity(check.severity)}


def _mostly(check: QualityCheck) -> dict:
    return {"mostly": check.mostly, **_sev(check)}


def columns_with_types(schema: T.StructType, check: QualityCheck,
                       required: Sequence[str] | None = None) -> list[Expectation]:
    """Each column (all of ``schema`` or only ``required``) exists with its Spark type."""
    fields = [f for f in schema.fields if required is None or f.name in required]
    out: list[Expectation] = []
    for f in fields:
        out.append(gxe.ExpectColumnToExist(column=f.name, **_sev(check)))
        out.append(gxe.ExpectColumnValuesToBeOfType(column=f.name,
                                                    type_=type(f.dataType).__name__,
                                                    **_sev(check)))
    return out


def not_null(columns: Sequence[str], check: QualityCheck) -> list[Expectation]:
    return [gxe.ExpectColumnValuesToNotBeNull(column=c, **_mostly(check)) for c in columns]


def unique(columns: Sequence[str], check: QualityCheck) -> list[Expectation]:
    if len(columns) == 1:
        return [gxe.ExpectColumnValuesToBeUnique(column=columns[0], **_mostly(check))]
    return [gxe.ExpectCompoundColumnsToBeUnique(column_list=list(columns), **_mostly(check))]


def in_set(column: str, values: Sequence[object], check: QualityCheck) -> list[Expectation]:
    return [gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values),
                                            **_mostly(check))]


Bound = float | date | datetime | None


def between(column: str, low: Bound, high: Bound, check: QualityCheck) -> list[Expectation]:
    return [gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high,
                                              **_mostly(check))]


def event_values(ranges: ValueRanges, check: QualityCheck, *,
                 column: Callable[[str], str] = str) -> list[Expectation]:
    """Quantity, price and rating within ``ranges`` (``column`` maps a name to the checked one)."""
    return [*between(column(QUANTITY), *ranges.quantity, check),
            *between(column(PRICE), *ranges.price, check),
            *between(column(RATING), *ranges.rating, check)]


def volume(table: str, check: VolumeCheck, history: History) -> list[Expectation]:
    """Row count within ``[min_ratio, max_ratio]`` x the mean row count of earlier runs."""
    counts = history.row_counts(table, check.history_runs)
    if not counts:
        return [gxe.ExpectTableRowCountToBeBetween(min_value=None, max_value=None,
                                                   notes=NO_HISTORY, **_sev(check))]
    mean = sum(counts) / len(counts)
    return [gxe.ExpectTableRowCountToBeBetween(
        min_value=math.floor(check.min_ratio * mean), max_value=math.ceil(check.max_ratio * mean),
        notes=f"band {check.min_ratio} to {check.max_ratio} x the mean of {len(counts)} "
              f"earlier run(s), {mean:.0f} rows", **_sev(check))]


def freshness(column: str, run_date: date, check: FreshnessCheck) -> list[Expectation]:
    """The newest value of ``column`` at most ``max_days`` before the run date."""
    oldest_allowed = datetime.fromordinal(run_date.toordinal() - check.max_days)
    return [gxe.ExpectColumnMaxToBeBetween(
        column=column, min_value=oldest_allowed, max_value=None,
        notes=f"newest value within {check.max_days} days of the run date", **_sev(check))]


def _band(previous: float | None, change: float) -> tuple[float | None, float | None]:
    if previous is None:
        return None, None
    spread = abs(previous) * change
    return previous - spread, previous + spread


def drift(table: str, column: str, check: DriftCheck, history: History) -> list[Expectation]:
    """Mean and quantiles of ``column`` within ``max_relative_change`` of the previous run."""
    mean_check = gxe.ExpectColumnMeanToBeBetween(column=column, min_value=None, max_value=None)
    quantile_check = ExpectColumnQuantilesToBeBetween(
        column=column, quantile_ranges={"quantiles": list(check.quantiles),
                                        "value_ranges": [[None, None]] * len(check.quantiles)})
    previous_mean = history.previous(table, expectation_id(mean_check.configuration))
    low, high = _band(previous_mean, check.max_relative_change)
    note = (NO_HISTORY if previous_mean is None else
            f"within {check.max_relative_change:.0%} of the previous run's {previous_mean:.4g}")
    out: list[Expectation] = [gxe.ExpectColumnMeanToBeBetween(
        column=column, min_value=low, max_value=high, notes=note, **_sev(check))]
    previous_q = history.previous(table, expectation_id(quantile_check.configuration))
    same_quantiles = (isinstance(previous_q, dict)
                      and previous_q.get("quantiles") == list(check.quantiles))
    ranges = ([list(_band(v, check.max_relative_change)) for v in previous_q["values"]]
              if same_quantiles and isinstance(previous_q, dict)
              else [[None, None]] * len(check.quantiles))
    out.append(ExpectColumnQuantilesToBeBetween(
        column=column, quantile_ranges={"quantiles": list(check.quantiles),
                                        "value_ranges": ranges},
        notes=(f"within {check.max_relative_change:.0%} of the previous run's quantiles"
               if same_quantiles else NO_HISTORY), **_sev(check)))
    return out


# --- per layer ---------------------------------------------------------------------------

def bronze_events(check_columns: QualityCheck, keys: QualityCheck, event_types: QualityCheck,
                  timestamps: QualityCheck, values: QualityCheck, ranges: ValueRanges, *,
                  required: Sequence[str], min_ts: datetime, max_ts: datetime) -> list[Expectation]:
    """Raw events: required columns as strings; keys set, types known, times and values
    plausible for ``mostly`` of the rows (the bad rows conform quarantines are tolerated)."""
    as_strings = T.StructType([T.StructField(c, T.StringType()) for c in required])
    return [
        *columns_with_types(as_strings, check_columns),
        *not_null([parsed(USER_ID), parsed(ITEM_ID), parsed(EVENT_TYPE), parsed(EVENT_TS)],
                  keys),
        *in_set(parsed(EVENT_TYPE), EVENT_TYPES, event_types),
        *between(parsed(EVENT_TS), min_ts, max_ts, timestamps),
        *event_values(ranges, values, column=parsed),
    ]


def bronze_keyed(key: str, required: Sequence[str], check_columns: QualityCheck,
                 keys: QualityCheck) -> list[Expectation]:
    """Raw customers or items: required columns as strings, the key set."""
    as_strings = T.StructType([T.StructField(c, T.StringType()) for c in required])
    return [*columns_with_types(as_strings, check_columns), *not_null([parsed(key)], keys)]


def silver_events(schema: T.StructType, check_columns: QualityCheck, keys: QualityCheck,
                  keys_unique: QualityCheck, event_types: QualityCheck,
                  timestamps: QualityCheck, values: QualityCheck, ranges: ValueRanges, *,
                  min_ts: datetime, max_ts: datetime) -> list[Expectation]:
    return [
        *columns_with_types(schema, check_columns),
        *not_null([EVENT_ID, USER_ID, ITEM_ID, EVENT_TYPE, EVENT_TS], keys),
        *unique([EVENT_ID], keys_unique),
        *in_set(EVENT_TYPE, EVENT_TYPES, event_types),
        *between(EVENT_TS, min_ts, max_ts, timestamps),
        *event_values(ranges, values),
    ]


def references(check: QualityCheck, *, with_customers: bool) -> list[Expectation]:
    """Events point at known items (and customers): the share that don't is observed."""
    out = in_set(ITEM_KNOWN, [True], check)
    return out + (in_set(CUSTOMER_KNOWN, [True], check) if with_customers else [])


def silver_keyed(schema: T.StructType, key: str, check_columns: QualityCheck,
                 keys: QualityCheck, keys_unique: QualityCheck) -> list[Expectation]:
    return [*columns_with_types(schema, check_columns), *not_null([key], keys),
            *unique([key], keys_unique)]


def gold_keyed(keys: QualityCheck) -> list[Expectation]:
    """One row per customer and run date."""
    return [*not_null([USER_ID, RUN_DATE], keys), *unique([USER_ID, RUN_DATE], keys)]


def segment_coverage(check: QualityCheck) -> list[Expectation]:
    return in_set(HAS_SEGMENT, [True], check)


def recommendations(keys: QualityCheck, duplicates: QualityCheck,
                    purchased: QualityCheck) -> list[Expectation]:
    return [*not_null([USER_ID, ITEM_ID, RANK], keys),
            *unique([USER_ID, ITEM_ID], duplicates), *unique([USER_ID, RANK], duplicates),
            *in_set(ALREADY_PURCHASED, [False], purchased)]


def recommendation_count(check: QualityCheck) -> list[Expectation]:
    return in_set(COUNT_OK, [True], check)
