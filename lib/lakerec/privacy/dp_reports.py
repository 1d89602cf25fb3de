"""Differentially private customer and revenue aggregates, the figures partners may see.

Every noisy figure comes from PipelineDP (``pipeline_dp``, OpenMined and Google's library,
on its Spark RDD backend); nothing here draws noise itself. The privacy unit is the
customer (``user_id``): what a report publishes changes little, in distribution, whether
any one customer is in the data or not.

Reports (each a set of groups, each group a row of ``customers``, ``revenue_sum`` and
``revenue_mean``):

- per segment (:func:`segment_report`): every customer of the latest segmentation counts in
  their one segment, with their net revenue;
- per segment and category (:func:`segment_category_report`): a customer counts in the
  categories they bought in, at most ``max_categories`` of them (their top by net revenue),
  with their net revenue in each.

Contribution bounds, enforced here before the library sees the data (deterministically, so
they can be checked) and again by the library: a customer adds one row to at most
``max_groups`` groups, and their value in a group is clipped to ``[0, max_value]``. Net
revenue is purchases minus returns (``|quantity| * price``, as in the customer features)
in the window of days up to the run date; a customer who returned more than they bought
counts 0.

Mechanisms, per report, as PipelineDP's ``NaiveBudgetAccountant`` splits the report's
budget (basic composition): epsilon in three equal parts, to private group selection
(truncated geometric, also spending all of delta), to the Laplace noise of the count and
to the Laplace noise of the normalised sum (values minus the middle of the clipping range);
the mean is the middle plus their ratio, the sum the mean times the count. Groups with fewer than
``min_group_size`` customers are never published (PipelineDP's ``pre_threshold``, applied
before its private selection and still differentially private); published counts are then
rounded, and groups whose noisy count falls under the threshold dropped, sums and means
kept within their possible range: post-processing, which spends no budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pipeline_dp
from pipeline_dp.report_generator import ExplainComputationReport
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakerec.core.dates import latest_run_rows
from lakerec.core.schemas import (
    CATEGORY,
    DP_CUSTOMERS,
    DP_DELTA,
    DP_EPSILON,
    DP_REVENUE_MEAN,
    DP_REVENUE_SUM,
    EVENT_TS,
    EVENT_TYPE,
    NET_REVENUE,
    RUN_DATE,
    SEGMENT_CATEGORY_REVENUE_DP_SCHEMA,
    SEGMENT_LABEL,
    SEGMENT_PROFILES_DP_SCHEMA,
    USER_ID,
    EventType,
)
from lakerec.core.settings import DpReportsConfig
from lakerec.segments.features import LINE_VALUE, cutoff_ts, events_as_of, with_line_values

REPORTS_PER_RUN = 2  # segment_report and segment_category_report share a run's budget
VALUE = "_value"     # a customer's clipped contribution to one group
_BOUGHT = "_bought"


@dataclass(frozen=True)
class Budget:
    """The (epsilon, delta) one release spends."""

    epsilon: float
    delta: float


@dataclass(frozen=True)
class Bounds:
    """How much one customer may weigh in a report.

    Attributes
    ----------
    max_groups
        Groups one customer counts in (L0).
    max_value
        A customer's value in one group is clipped to ``[0, max_value]`` (Linf).
    min_group_size
        Groups with fewer customers are never published.
    """

    max_groups: int
    max_value: float
    min_group_size: int


@dataclass
class Release:
    """One report's noisy groups (lazy), the bounded contributions they were computed from
    (for internal counts only) and the library's account of how they were made.

    Notes
    -----
    ``groups`` draws fresh noise every time an action evaluates it: evaluate it once
    (collect it, then write and count what was collected), or the run publishes two noisy
    versions of the same figures and spends its budget twice.
    """

    groups: DataFrame
    contributions: DataFrame
    keys: tuple[str, ...]
    budget: Budget
    explanation: str


def report_budget(epsilon: float, delta: float, reports: int = REPORTS_PER_RUN) -> Budget:
    """Each report's share of a run's budget (even split; basic composition)."""
    return Budget(epsilon / reports, delta / reports)


def latest_segments(segments: DataFrame, *, as_of: date) -> DataFrame:
    """``user_id, segment_label, run_date`` of the latest segmentation run on or before
    ``as_of``."""
    return latest_run_rows(segments, as_of=as_of).select(USER_ID, SEGMENT_LABEL, RUN_DATE)


def customer_category_revenue(events: DataFrame, items: DataFrame, *, as_of: date,
                              window_days: int) -> DataFrame:
    """Per customer and category: net revenue in the window and whether they bought there.

    Columns ``user_id, category, net_revenue, _bought``; only purchases and returns made in
    the ``window_days`` days up to the end of ``as_of`` count.
    """
    start = cutoff_ts(as_of) - timedelta(days=window_days)
    is_purchase = F.col(EVENT_TYPE) == EventType.PURCHASE
    sales = (events_as_of(events, as_of)
             .where((F.col(EVENT_TS) >= F.lit(start))
                    & F.col(EVENT_TYPE).isin(EventType.PURCHASE, EventType.RETURN)))
    return (with_line_values(sales, items)
            .groupBy(USER_ID, CATEGORY)
            .agg(F.sum(F.when(is_purchase, F.col(LINE_VALUE)).otherwise(-F.col(LINE_VALUE)))
                 .alias(NET_REVENUE),
                 F.max(is_purchase).alias(_BOUGHT)))


def _clipped(column: str, max_value: float) -> F.Column:
    return F.least(F.greatest(F.coalesce(F.col(column), F.lit(0.0)), F.lit(0.0)),
                   F.lit(float(max_value)))


def segment_contributions(segments: DataFrame, revenue: DataFrame, *,
                          max_value: float) -> DataFrame:
    """One row per segmented customer: ``user_id, segment_label, _value``, the customer's
    net revenue over all categories clipped to ``[0, max_value]`` (0 without purchases)."""
    per_customer = revenue.groupBy(USER_ID).agg(F.sum(NET_REVENUE).alias(NET_REVENUE))
    return (segments.join(per_customer, USER_ID, "left")
            .select(USER_ID, SEGMENT_LABEL, _clipped(NET_REVENUE, max_value).alias(VALUE)))


def segment_category_contributions(segments: DataFrame, revenue: DataFrame, *,
                                   max_categories: int, max_value: float) -> DataFrame:
    """Per segmented customer, the (at most ``max_categories``) categories they bought in
    with the most net revenue: ``user_id, segment_label, category, _value``, the value
    clipped to ``[0, max_value]``. Ties go to the category first in name order."""
    rank = F.row_number().over(
        Window.partitionBy(USER_ID).orderBy(F.desc(NET_REVENUE), F.asc(CATEGORY)))
    return (revenue.where(F.col(_BOUGHT))
            .join(segments, USER_ID)
            .withColumn("_rank", rank)
            .where(F.col("_rank") <= max_categories)
            .select(USER_ID, SEGMENT_LABEL, CATEGORY,
                    _clipped(NET_REVENUE, max_value).alias(VALUE)))


def dp_aggregate(contributions: DataFrame, *, keys: Sequence[str], bounds: Bounds,
                 budget: Budget, run_date: date, schema: T.StructType) -> Release:
    """Noisy ``customers``, ``revenue_sum`` and ``revenue_mean`` per group of ``keys``.

    Parameters
    ----------
    contributions
        ``user_id``, the ``keys`` and ``_value``: at most one row per customer and group.
    schema
        Of the result: the keys, then the figures, the budget and ``run_date``.

    Notes
    -----
    PipelineDP works on an RDD of ``(user_id, group, value)``; it bounds contributions
    again (a no-op on rows from the functions above), selects groups privately with
    ``pre_threshold = min_group_size``, then adds Laplace noise. Nothing runs until the
    result is evaluated (see :class:`Release`).
    """
    spark = contributions.sparkSession
    width = len(keys)
    rows = (contributions.select(USER_ID, *keys, VALUE).rdd
            .map(lambda row: (row[0], tuple(row[1:1 + width]), float(row[1 + width]))))
    accountant = pipeline_dp.NaiveBudgetAccountant(total_epsilon=budget.epsilon,
                                                   total_delta=budget.delta)
    engine = pipeline_dp.DPEngine(accountant, pipeline_dp.SparkRDDBackend(spark.sparkContext))
    params = pipeline_dp.AggregateParams(
        metrics=[pipeline_dp.Metrics.COUNT, pipeline_dp.Metrics.SUM, pipeline_dp.Metrics.MEAN],
        noise_kind=pipeline_dp.NoiseKind.LAPLACE,
        max_partitions_contributed=bounds.max_groups,
        max_contributions_per_partition=1,
        min_value=0.0, max_value=float(bounds.max_value),
        pre_threshold=bounds.min_group_size)
    extractors = pipeline_dp.DataExtractors(privacy_id_extractor=lambda row: row[0],
                                            partition_extractor=lambda row: row[1],
                                            value_extractor=lambda row: row[2])
    explain = ExplainComputationReport()
    result = engine.aggregate(rows, params, extractors, out_explain_computation_report=explain)
    accountant.compute_budgets()  # before any evaluation: the mechanisms read their share

    def flatten(group_and_metrics: tuple[tuple[Any, ...], Any]) -> tuple[Any, ...]:
        group, metrics = group_and_metrics
        return (*group, float(metrics.count), float(metrics.sum), float(metrics.mean))

    raw = T.StructType([*[T.StructField(k, T.StringType()) for k in keys],
                        *[T.StructField(c, T.DoubleType())
                          for c in (DP_CUSTOMERS, DP_REVENUE_SUM, DP_REVENUE_MEAN)]])
    noisy = spark.createDataFrame(result.map(flatten), raw)
    groups = (noisy
              .withColumn(DP_CUSTOMERS, F.greatest(F.round(DP_CUSTOMERS), F.lit(0.0))
                          .cast(T.LongType()))
              .where(F.col(DP_CUSTOMERS) >= bounds.min_group_size)
              .withColumn(DP_REVENUE_SUM, F.greatest(F.col(DP_REVENUE_SUM), F.lit(0.0)))
              .withColumn(DP_REVENUE_MEAN, F.least(F.greatest(F.col(DP_REVENUE_MEAN),
                                                              F.lit(0.0)),
                                                   F.lit(float(bounds.max_value))))
              .withColumn(DP_EPSILON, F.lit(budget.epsilon))
              .withColumn(DP_DELTA, F.lit(budget.delta))
              .withColumn(RUN_DATE, F.lit(run_date))
              .select(*[F.col(f.name).cast(f.dataType) for f in schema]))
    return Release(groups, contributions, tuple(keys), budget, explain.text())


def segment_report(segments: DataFrame, revenue: DataFrame, settings: DpReportsConfig, *,
                   run_date: date) -> Release:
    """Noisy customers and net revenue per segment (``gold.segment_profiles_dp`` rows).

    ``segments`` as from :func:`latest_segments`, ``revenue`` from
    :func:`customer_category_revenue`.
    """
    bounds = Bounds(max_groups=1, max_value=settings.max_revenue_per_customer,
                    min_group_size=settings.min_group_size)
    contributions = segment_contributions(segments, revenue, max_value=bounds.max_value)
    return dp_aggregate(contributions, keys=[SEGMENT_LABEL], bounds=bounds,
                        budget=report_budget(settings.epsilon, settings.delta),
                        run_date=run_date, schema=SEGMENT_PROFILES_DP_SCHEMA)


def segment_category_report(segments: DataFrame, revenue: DataFrame,
                            settings: DpReportsConfig, *, run_date: date) -> Release:
    """Noisy customers and net revenue per segment and category
    (``gold.segment_category_revenue_dp`` rows)."""
    bounds = Bounds(max_groups=settings.max_categories_per_customer,
                    max_value=settings.max_revenue_per_category,
                    min_group_size=settings.min_group_size)
    contributions = segment_category_contributions(
        segments, revenue, max_categories=bounds.max_groups, max_value=bounds.max_value)
    return dp_aggregate(contributions, keys=[SEGMENT_LABEL, CATEGORY], bounds=bounds,
                        budget=report_budget(settings.epsilon, settings.delta),
                        run_date=run_date, schema=SEGMENT_CATEGORY_REVENUE_DP_SCHEMA)
