"""Severities, stable expectation ids, and the one expectation GX lacks in a JSON-safe form."""

from __future__ import annotations

from typing import Any

from great_expectations.expectations.core.expect_column_quantile_values_to_be_between import (
    ExpectColumnQuantileValuesToBeBetween,
)
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.metadata_types import FailureSeverity

ERROR = "error"
WARN = "warn"
_GX_SEVERITY = {ERROR: FailureSeverity.CRITICAL, WARN: FailureSeverity.WARNING}


def gx_severity(severity: str) -> FailureSeverity:
    """GX's own failure severity for ``error`` / ``warn`` (shown in Data Docs)."""
    return _GX_SEVERITY[severity]


def our_severity(config: ExpectationConfiguration) -> str:
    """``warn`` for GX's WARNING, else ``error`` (lakerec sets only these two)."""
    return WARN if config.severity == FailureSeverity.WARNING else ERROR


def expectation_id(config: ExpectationConfiguration) -> str:
    """``type(column)``, ``type(a,b)`` or ``type``: the key of a check across runs."""
    kwargs: dict[str, Any] = config.kwargs
    if "column" in kwargs:
        return f"{config.type}({kwargs['column']})"
    if "column_list" in kwargs:
        return f"{config.type}({','.join(kwargs['column_list'])})"
    return config.type


class ExpectColumnQuantilesToBeBetween(ExpectColumnQuantileValuesToBeBetween):
    """``expect_column_quantile_values_to_be_between`` with a plain-bool result.

    Notes
    -----
    On Spark, GX 1.24's own version returns ``numpy.bool_`` as its success flag, which its
    validation results store then fails to serialise (``TypeError: Object of type bool is not
    JSON serializable``), so a checkpoint with it never finishes. This subclass only converts
    the flags; metrics, arguments and rendering are GX's.
    """

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: Any = None) -> dict:
        result = super()._validate(metrics, runtime_configuration, execution_engine)
        result["success"] = bool(result["success"])
        details = result["result"]["details"]
        details["success_details"] = [bool(flag) for flag in details["success_details"]]
        return result
