"""Differentially private reports: the noise has the spread the configured epsilon implies,
one customer moves the figures by at most the configured bounds, small groups are never
published, and the step writes the reports and logs the budget it spent.

PipelineDP draws its noise from a secure generator that takes no seed, so the noise tests
are statistical: many groups in one Spark job give many independent draws (the noise of
each group is drawn on its own, with a scale set by epsilon and the bounds, never by the
data), and their spread is compared with the Laplace scale the budget implies.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from lakerec.cli.runner import run_step
from lakerec.core.config import load_config
from lakerec.core.errors import ConfigError
from lakerec.core.lake import Lake
from lakerec.core.schemas import (
    CATEGORY,
    CUSTOMER_SEGMENTS_SCHEMA,
    DP_CUSTOMERS,
    DP_DELTA,
    DP_EPSILON,
    DP_GROUPS_PUBLISHED,
    DP_GROUPS_SUPPRESSED,
    DP_REPORT,
    DP_REVENUE_MEAN,
    DP_REVENUE_SUM,
    EVENT_TS,
    EVENT_TYPE,
    ITEM_ID,
    NET_REVENUE,
    PRICE,
    QUANTITY,
    RUN_DATE,
    SEGMENT_LABEL,
    SILVER_EVENTS_SCHEMA,
    SILVER_ITEMS_SCHEMA,
    USER_ID,
)
from lakerec.core.settings import DpReportsConfig
from lakerec.core.tables import (
    GOLD_CUSTOMER_SEGMENTS,
    GOLD_SEGMENT_CATEGORY_REVENUE_DP,
    GOLD_SEGMENT_PROFILES_DP,
    OPS_PRIVACY_BUDGET,
    SILVER_EVENTS,
    SILVER_ITEMS,
)
from lakerec.privacy.dp_reports import (
    VALUE,
    customer_category_revenue,
    latest_segments,
    report_budget,
    segment_category_contributions,
    segment_category_report,
    segment_contributions,
    segment_report,
)
from tests.conftest import REPO, make_config

RUN_DATE_ = date(2026, 11, 20)
BOUGHT_AT = datetime(2026, 11, 1, 12, 0)
QUIET = {"out": lambda _: None}
# PipelineDP's NaiveBudgetAccountant splits a report's epsilon evenly over its three
# mechanisms: private group selection, the count's noise, the normalised sum's noise.
MECHANISMS = 3


def settings(**changes: object) -> DpReportsConfig:
    base = {"enabled": True, "epsilon": 2.0, "delta": 1e-5, "window_days": 365,
            "max_revenue_per_customer": 20.0, "max_revenue_per_category": 15.0,
            "max_categories_per_customer": 2,
            "min_group_size": 5}
    return DpReportsConfig(**{**base, **changes})


def sales(spark: SparkSession, rows: list[tuple[str, str, str, float, int]]) -> DataFrame:
    """Events ``(user_id, item_id, event_type, price, quantity)``, all on BOUGHT_AT."""
    return spark.createDataFrame(
        [(u, i, t, BOUGHT_AT, q, p) for u, i, t, p, q in rows],
        f"{USER_ID} string, {ITEM_ID} string, {EVENT_TYPE} string, {EVENT_TS} timestamp, "
        f"{QUANTITY} int, {PRICE} double")


def catalog(spark: SparkSession, categories: dict[str, str]) -> DataFrame:
    return spark.createDataFrame([(i, c, None) for i, c in categories.items()],
                                 f"{ITEM_ID} string, {CATEGORY} string, {PRICE} double")


def segmented(spark: SparkSession, labels: dict[str, str]) -> DataFrame:
    return spark.createDataFrame([(u, s, RUN_DATE_) for u, s in labels.items()],
                                 f"{USER_ID} string, {SEGMENT_LABEL} string, {RUN_DATE} date")


def replicated_groups(spark: SparkSession, *, groups: int, size: int,
                      price: float) -> tuple[DataFrame, DataFrame]:
    """``groups`` segments of ``size`` customers, each customer one purchase of ``price``."""
    customers = spark.range(groups * size).select(
        F.concat(F.lit("u"), F.col("id").cast("string")).alias(USER_ID),
        F.concat(F.lit("s"), (F.col("id") % groups).cast("string")).alias(SEGMENT_LABEL),
        F.lit(RUN_DATE_).alias(RUN_DATE))
    events = customers.select(
        USER_ID, F.lit("i1").alias(ITEM_ID), F.lit("purchase").alias(EVENT_TYPE),
        F.lit(BOUGHT_AT).alias(EVENT_TS), F.lit(1).alias(QUANTITY), F.lit(price).alias(PRICE))
    return customers, events


def spread(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


# --- (a) the spread of the noise matches the configured epsilon --------------------------
@pytest.mark.parametrize("epsilon", [2.0, 4.0])
def test_noise_spread_matches_the_configured_epsilon(spark: SparkSession,
                                                     epsilon: float) -> None:
    groups, size, max_value, price = 400, 60, 20.0, 10.0
    config = settings(epsilon=epsilon, max_revenue_per_customer=max_value)
    customers, events = replicated_groups(spark, groups=groups, size=size, price=price)
    revenue = customer_category_revenue(events, catalog(spark, {"i1": "c1"}), as_of=RUN_DATE_,
                                        window_days=30)

    release = segment_report(customers, revenue, config, run_date=RUN_DATE_)
    rows = release.groups.collect()

    # The report's share of the run, then the mechanism's share of the report.
    assert release.budget.epsilon == pytest.approx(epsilon / 2)
    mechanism_epsilon = epsilon / 2 / MECHANISMS
    # One customer is in one segment: count sensitivity 1, Laplace scale b = 1 / epsilon.
    count_b = 1 / mechanism_epsilon
    # The sum is middle x noisy count + noisy normalised sum (values minus the middle of
    # [0, max], so sensitivity max / 2): the variance of both Laplace draws, added.
    middle = max_value / 2
    sum_sd = math.sqrt(2 * (middle * count_b) ** 2 + 2 * (middle / mechanism_epsilon) ** 2)
    assert len(rows) > 0.8 * groups  # nearly every group of 60 passes private selection
    count_noise = [r[DP_CUSTOMERS] - size for r in rows]
    sum_noise = [r[DP_REVENUE_SUM] - size * price for r in rows]
    print(f"epsilon {epsilon}: {len(rows)} groups; count noise sd {spread(count_noise):.3f} "
          f"(Laplace {math.sqrt(2) * count_b:.3f}), mean |noise| "
          f"{sum(map(abs, count_noise)) / len(rows):.3f} (b {count_b:.3f}); sum noise sd "
          f"{spread(sum_noise):.2f} (expected {sum_sd:.2f})")
    # Rounding counts to whole customers adds a variance of 1/12 to the count's noise.
    assert spread(count_noise) == pytest.approx(math.sqrt(2 * count_b ** 2 + 1 / 12), rel=0.2)
    assert sum(map(abs, count_noise)) / len(rows) == pytest.approx(count_b, rel=0.2)
    assert abs(sum(count_noise) / len(rows)) < 4 * math.sqrt(2) * count_b / math.sqrt(len(rows))
    assert spread(sum_noise) == pytest.approx(sum_sd, rel=0.2)
    assert {r[DP_EPSILON] for r in rows} == {epsilon / 2}
    assert [r[DP_DELTA] for r in rows] == pytest.approx([1e-5 / 2] * len(rows))


# --- (b) one customer moves the figures by at most the bounds -----------------------------
def whale_world(spark: SparkSession) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Two segments of 30 customers buying in 3 categories, and one customer (``whale``)
    who spends a fortune in 5 categories and returns part of it."""
    categories = {f"i{c}": f"c{c}" for c in range(5)}
    labels = {f"u{n}": f"s{n % 2}" for n in range(60)} | {"whale": "s0"}
    rows = [(f"u{n}", f"i{(n + k) % 3}", "purchase", 4.0 + k, 1 + n % 3)
            for n in range(60) for k in range(2)]
    rows += [("whale", f"i{c}", "purchase", 1e6 * (c + 1), 1) for c in range(5)]
    rows += [("whale", "i4", "return", 4e6, 1), ("u1", "i1", "return", 4.0, 50)]
    revenue = customer_category_revenue(sales(spark, rows), catalog(spark, categories),
                                        as_of=RUN_DATE_, window_days=30)
    everyone = segmented(spark, labels)
    return everyone, everyone.where(F.col(USER_ID) != "whale"), revenue


def true_figures(rows: list[Row], keys: list[str]) -> dict[tuple, tuple[int, float]]:
    """Customers and the sum of their values per group, before any noise."""
    figures: dict[tuple, tuple[int, float]] = {}
    for row in rows:
        n, v = figures.get(tuple(row[k] for k in keys), (0, 0.0))
        figures[tuple(row[k] for k in keys)] = (n + 1, v + row[VALUE])
    return figures


def test_one_customer_changes_the_true_figures_by_at_most_the_bounds(
        spark: SparkSession) -> None:
    config = settings()
    max_groups = config.max_categories_per_customer
    per_customer, per_category = config.max_revenue_per_customer, config.max_revenue_per_category
    everyone, without, revenue = whale_world(spark)
    revenue = revenue.cache()
    cases = [
        (segment_contributions(everyone, revenue, max_value=per_customer).collect(),
         segment_contributions(without, revenue, max_value=per_customer).collect(),
         [SEGMENT_LABEL], 1, per_customer),
        (segment_category_contributions(everyone, revenue, max_categories=max_groups,
                                        max_value=per_category).collect(),
         segment_category_contributions(without, revenue, max_categories=max_groups,
                                        max_value=per_category).collect(),
         [SEGMENT_LABEL, CATEGORY], max_groups, per_category),
    ]
    for with_whale, without_whale, keys, groups_bound, cap in cases:
        whale = [r for r in with_whale if r[USER_ID] == "whale"]
        assert 1 <= len(whale) <= groups_bound
        assert all(0 <= r[VALUE] <= cap for r in with_whale)
        assert len({(r[USER_ID], *(r[k] for k in keys)) for r in with_whale}) == len(with_whale)
        a, b = true_figures(with_whale, keys), true_figures(without_whale, keys)
        changed = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
        assert 1 <= len(changed) <= groups_bound
        for key in changed:
            (n_a, v_a), (n_b, v_b) = a.get(key, (0, 0.0)), b.get(key, (0, 0.0))
            assert abs(n_a - n_b) <= 1 and abs(v_a - v_b) <= cap + 1e-9, key
    # The whale's categories are its top ones by net revenue: c3 (4e6), then c2 (3e6); c4
    # (5e6 bought, 4e6 returned) nets 1e6. A customer who returned more than they bought in
    # a category counts 0 there (u1 in c1).
    by_category = cases[1][0]
    assert sorted(r[CATEGORY] for r in by_category if r[USER_ID] == "whale") == ["c2", "c3"]
    net = {r[CATEGORY]: r[NET_REVENUE] for r in revenue.where(F.col(USER_ID) == "u1").collect()}
    assert net["c1"] < 0
    assert [r[VALUE] for r in by_category if (r[USER_ID], r[CATEGORY]) == ("u1", "c1")] == [0.0]
    revenue.unpersist()


def test_the_published_sums_carry_only_the_clipped_contribution(spark: SparkSession) -> None:
    # Generous epsilon, so the noise is small next to what an unclipped whale would add.
    config = settings(epsilon=20.0)
    everyone, _, revenue = whale_world(spark)
    for report, keys, cap in (
            (segment_report, [SEGMENT_LABEL], config.max_revenue_per_customer),
            (segment_category_report, [SEGMENT_LABEL, CATEGORY], config.max_revenue_per_category)):
        release = report(everyone, revenue, config, run_date=RUN_DATE_)
        truth = true_figures(release.contributions.collect(), keys)
        published = release.groups.collect()
        assert published
        for row in published:
            n, v = truth[tuple(row[k] for k in keys)]
            # Noise here: count scale at most 0.6, sum sd at most 9; the whale unclipped adds 1e6.
            assert abs(row[DP_CUSTOMERS] - n) < 10 and abs(row[DP_REVENUE_SUM] - v) < 100
            assert 0 <= row[DP_REVENUE_MEAN] <= cap


# --- (c) small groups are never published -------------------------------------------------
def test_groups_smaller_than_the_threshold_are_suppressed(spark: SparkSession) -> None:
    # 100 segments of 9 customers and 20 of 40, under a threshold of 10; epsilon so large
    # that private selection alone would keep every group of 9.
    config = settings(epsilon=200.0, min_group_size=10)
    small, _ = replicated_groups(spark, groups=100, size=9, price=5.0)
    large, _ = replicated_groups(spark, groups=20, size=40, price=5.0)
    customers = small.unionByName(large.select(
        F.concat(F.lit("big-"), F.col(USER_ID)).alias(USER_ID),
        F.concat(F.lit("big-"), F.col(SEGMENT_LABEL)).alias(SEGMENT_LABEL), RUN_DATE))
    events = customers.select(USER_ID, F.lit("i1").alias(ITEM_ID),
                              F.lit("purchase").alias(EVENT_TYPE),
                              F.lit(BOUGHT_AT).alias(EVENT_TS), F.lit(1).alias(QUANTITY),
                              F.lit(5.0).alias(PRICE))
    revenue = customer_category_revenue(events, catalog(spark, {"i1": "c1"}),
                                        as_of=RUN_DATE_, window_days=30)
    for report in (segment_report, segment_category_report):
        release = report(customers, revenue, config, run_date=RUN_DATE_)
        labels = {r[SEGMENT_LABEL] for r in release.groups.collect()}
        assert labels == {f"big-s{g}" for g in range(20)}, report.__name__


# --- budget and configuration ----------------------------------------------------------
def test_each_report_spends_its_share_of_the_run_budget() -> None:
    budget = report_budget(1.0, 1e-6)
    assert (budget.epsilon, budget.delta) == (0.5, 5e-7)


@pytest.mark.parametrize("override", ["dp_reports.epsilon=0", "dp_reports.delta=0",
                                      "dp_reports.max_revenue_per_category=-1",
                                      "dp_reports.min_group_size=0"])
def test_an_out_of_range_budget_or_bound_is_a_config_error(override: str) -> None:
    with pytest.raises(ConfigError, match="dp_reports"):
        load_config(REPO / "conf" / "local.yaml", [override], environ={})


def test_latest_segments_takes_the_latest_run_up_to_the_date(spark: SparkSession) -> None:
    rows = [("a", "old", RUN_DATE_ - timedelta(days=7)), ("b", "loyal", RUN_DATE_),
            ("c", "future", RUN_DATE_ + timedelta(days=1))]
    segments = spark.createDataFrame(rows, f"{USER_ID} string, {SEGMENT_LABEL} string, "
                                           f"{RUN_DATE} date")
    got = latest_segments(segments, as_of=RUN_DATE_).collect()
    assert [(r[USER_ID], r[SEGMENT_LABEL]) for r in got] == [("b", "loyal")]


# --- the step on a real lake -------------------------------------------------------------
def write_inputs(spark: SparkSession, lake: Lake) -> None:
    """Two segments of 40 customers (and 30 customers of an older segmentation run) with
    purchases in two categories."""
    def segment_row(user: str, label: str, day: date) -> tuple:
        return (user, 0 if label == "s0" else 1, label, 0.1, 1, day)
    segments = [segment_row(f"u{n}", f"s{n % 2}", RUN_DATE_) for n in range(80)]
    segments += [segment_row(f"gone{n}", "ghost", RUN_DATE_ - timedelta(days=7))
                 for n in range(30)]
    lake.overwrite(spark.createDataFrame(segments, CUSTOMER_SEGMENTS_SCHEMA),
                   GOLD_CUSTOMER_SEGMENTS)
    events = [(f"e{n}-{k}", user, f"i{k}", "purchase", BOUGHT_AT, 1, 10.0 + n % 5, None,
               f"o{n}", None, None, f"key{n}-{k}", "b1")
              for n, user in enumerate([f"u{n}" for n in range(80)]
                                       + [f"gone{n}" for n in range(30)])
              for k in range(2)]
    lake.overwrite(spark.createDataFrame(events, SILVER_EVENTS_SCHEMA), SILVER_EVENTS)
    items = [(f"i{k}", f"item {k}", f"c{k}", 10.0, True, BOUGHT_AT, BOUGHT_AT, "b1")
             for k in range(2)]
    lake.overwrite(spark.createDataFrame(items, SILVER_ITEMS_SCHEMA), SILVER_ITEMS)


def test_the_step_publishes_both_reports_and_logs_the_budget_of_every_run(
        spark: SparkSession, tmp_path: Path) -> None:
    config = make_config(tmp_path, "dp_reports.epsilon=40.0", "dp_reports.min_group_size=10")
    lake = Lake(spark, config.paths.root)
    write_inputs(spark, lake)

    first = run_step("dp_report", config, RUN_DATE_, spark=spark, **QUIET)
    second = run_step("dp_report", config, RUN_DATE_, spark=spark, **QUIET)

    profiles = lake.read(GOLD_SEGMENT_PROFILES_DP).collect()
    assert sorted(r[SEGMENT_LABEL] for r in profiles) == ["s0", "s1"]  # the rerun replaced
    assert all(abs(r[DP_CUSTOMERS] - 40) < 10 for r in profiles)
    assert {r[RUN_DATE] for r in profiles} == {RUN_DATE_}
    categories = lake.read(GOLD_SEGMENT_CATEGORY_REVENUE_DP).collect()
    assert sorted((r[SEGMENT_LABEL], r[CATEGORY]) for r in categories) == [
        ("s0", "c0"), ("s0", "c1"), ("s1", "c0"), ("s1", "c1")]
    ledger = lake.read(OPS_PRIVACY_BUDGET).collect()
    assert len(ledger) == 4  # two reports, two runs: every run spends its budget
    assert sorted({r[DP_REPORT] for r in ledger}) == [
        GOLD_SEGMENT_CATEGORY_REVENUE_DP.qualified_name, GOLD_SEGMENT_PROFILES_DP.qualified_name]
    assert {(r[DP_EPSILON], r[DP_DELTA]) for r in ledger} == {(20.0, 5e-7)}
    assert {(r[DP_REPORT], r[DP_GROUPS_PUBLISHED], r[DP_GROUPS_SUPPRESSED]) for r in ledger} == {
        (GOLD_SEGMENT_PROFILES_DP.qualified_name, 2, 0),
        (GOLD_SEGMENT_CATEGORY_REVENUE_DP.qualified_name, 4, 0)}
    for result in (first, second):
        assert result.highlights == [
            "DP report: 2 segments, 4 segment×category groups published (ε=40, δ=1e-06), "
            "0 suppressed"]
        assert any("privacy budget spent by this run: ε=40, δ=1e-06" in line
                   for line in result.summary)
    explained = tmp_path / "artifacts" / "dp_report"
    assert len(list(explained.glob("*/segment_profiles_dp.txt"))) == 2
