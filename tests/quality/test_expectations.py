"""The one override of a private Great Expectations method, and the exact pin that keeps it valid.

``ExpectColumnQuantilesToBeBetween`` overrides GX's private ``_validate``. If a GX upgrade
renamed or reshaped that method, the override would silently stop applying and every
checkpoint with a quantile check would fail to serialise its results again. These tests fail
first, and say why.
"""

from __future__ import annotations

import inspect
import json
import re
from importlib.metadata import version
from pathlib import Path

from great_expectations.expectations.core.expect_column_quantile_values_to_be_between import (
    ExpectColumnQuantileValuesToBeBetween,
)
from pyspark.sql import SparkSession

from lakerec.quality import suites
from lakerec.quality.expectations import ExpectColumnQuantilesToBeBetween
from lakerec.quality.validate import Target, validate
from tests.conftest import REPO


def test_great_expectations_is_the_locked_version() -> None:
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    locked = re.search(r"^great-expectations==(\S+)$", lock, re.MULTILINE)
    assert locked, "requirements.lock pins no great-expectations version"
    assert version("great-expectations") == locked.group(1), (
        "the installed GX is not the locked one: check quality/expectations.py's override "
        "against it before changing the pin")


def test_the_private_method_the_override_replaces_still_exists() -> None:
    parent = ExpectColumnQuantileValuesToBeBetween
    assert any("_validate" in vars(cls) for cls in parent.__mro__), (
        "GX no longer defines _validate: ExpectColumnQuantilesToBeBetween overrides nothing")
    ours = inspect.signature(ExpectColumnQuantilesToBeBetween._validate).parameters
    theirs = inspect.signature(parent._validate).parameters
    assert list(ours) == list(theirs), f"GX's _validate now takes {list(theirs)}"


def test_a_quantile_check_runs_through_a_checkpoint_with_plain_json(
        spark: SparkSession, tmp_path: Path) -> None:
    frame = spark.createDataFrame([(float(v),) for v in range(1, 101)], "price double")
    check = ExpectColumnQuantilesToBeBetween(column="price", quantile_ranges={
        "quantiles": [0.5, 0.9], "value_ranges": [[40.0, 60.0], [80.0, 95.0]]})
    failing = ExpectColumnQuantilesToBeBetween(column="price", quantile_ranges={
        "quantiles": [0.5], "value_ranges": [[70.0, 80.0]]})
    results = validate([Target("t.prices", 0, suites.suite("t.prices", [check, failing]),
                               frame)], docs_base=tmp_path / "docs", partial_unexpected_count=5)
    assert [r.success for r in results] == [True, False]
    assert all(type(r.success) is bool for r in results)
    observed = json.loads(results[0].observed_value or "{}")
    assert observed["quantiles"] == [0.5, 0.9] and 40 <= observed["values"][0] <= 60
