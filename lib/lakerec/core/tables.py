"""Every Delta table of the lake, written once: its layer, its name and (where fixed) its schema.

Reads, writes and checks name a :class:`Table`, never a layer and a name as text, so that a
table's name lives here and nowhere else. Tables live at ``<paths.root>/<layer>/<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from pyspark.sql import types as T

from lakerec.core import schemas as S
from lakerec.core.runlog import PIPELINE_RUNS_SCHEMA


class Layer(StrEnum):
    """The layers of the lake, in the order data flows through them; each equals its text."""

    BRONZE = "bronze"          # raw columns as landed, plus lineage
    SILVER = "silver"          # typed, validated, deduplicated, pseudonymised
    QUARANTINE = "quarantine"  # rejected rows with their reason
    GOLD = "gold"              # features, segments, recommendations, indices
    OPS = "ops"                # run log, quality results, bookkeeping


@dataclass(frozen=True)
class Table:
    """One Delta table: ``layer.name``, with its schema where the lake fixes one, and the
    Delta CHECK constraints ``(name, SQL condition)`` every row must meet (added to existing
    tables at their next write; Delta then refuses any write that breaks one)."""

    layer: Layer
    name: str
    schema: T.StructType | None = None
    checks: tuple[tuple[str, str], ...] = ()

    @property
    def qualified_name(self) -> str:
        """``layer.name``, as the run log and messages write it."""
        return f"{self.layer}.{self.name}"

    def __str__(self) -> str:
        return self.qualified_name


def keys_present(*columns: str) -> tuple[str, str]:
    """One CHECK constraint that ``columns`` are never null (one commit, not one each)."""
    return "keys_present", " AND ".join(f"`{column}` IS NOT NULL" for column in columns)


_EVENT_TYPES = ", ".join(f"'{t}'" for t in S.EVENT_TYPES)
SILVER_EVENTS_CHECKS = (
    keys_present(S.EVENT_ID, S.USER_ID, S.ITEM_ID, S.EVENT_TYPE, S.EVENT_TS),
    ("values_in_range", f"{S.EVENT_TYPE} IN ({_EVENT_TYPES}) "
                        f"AND ({S.QUANTITY} IS NULL OR {S.QUANTITY} > 0) "
                        f"AND ({S.PRICE} IS NULL OR {S.PRICE} >= 0) "
                        f"AND ({S.RATING} IS NULL OR {S.RATING} BETWEEN 1 AND 5)"),
)

# --- bronze, silver and quarantine: one table per landing entity -------------------------
BRONZE_EVENTS = Table(Layer.BRONZE, S.EVENTS)
BRONZE_CUSTOMERS = Table(Layer.BRONZE, S.CUSTOMERS)
BRONZE_ITEMS = Table(Layer.BRONZE, S.ITEMS)
SILVER_EVENTS = Table(Layer.SILVER, S.EVENTS, S.SILVER_EVENTS_SCHEMA, SILVER_EVENTS_CHECKS)
SILVER_CUSTOMERS = Table(Layer.SILVER, S.CUSTOMERS, S.SILVER_CUSTOMERS_SCHEMA,
                         (keys_present(S.USER_ID),))
SILVER_ITEMS = Table(Layer.SILVER, S.ITEMS, S.SILVER_ITEMS_SCHEMA, (
    keys_present(S.ITEM_ID), ("values_in_range", f"{S.PRICE} IS NULL OR {S.PRICE} >= 0")))
_CONTACT_TYPES = ", ".join(f"'{t}'" for t in S.CONTACT_TYPES)
BRONZE_CONTACTS = Table(Layer.BRONZE, S.CONTACTS)
SILVER_CONTACTS = Table(Layer.SILVER, S.CONTACTS, S.SILVER_CONTACTS_SCHEMA, (
    keys_present(S.CAMPAIGN_ID, S.USER_ID, S.CONTACT_TYPE, S.CONTACT_TS, S.CONTACT_KEY),
    ("values_in_range", f"{S.CONTACT_TYPE} IN ({_CONTACT_TYPES})")))
QUARANTINE_EVENTS = Table(Layer.QUARANTINE, S.EVENTS)
QUARANTINE_CUSTOMERS = Table(Layer.QUARANTINE, S.CUSTOMERS)
QUARANTINE_ITEMS = Table(Layer.QUARANTINE, S.ITEMS)
QUARANTINE_CONTACTS = Table(Layer.QUARANTINE, S.CONTACTS)

BRONZE: Final = {S.EVENTS: BRONZE_EVENTS, S.CUSTOMERS: BRONZE_CUSTOMERS, S.ITEMS: BRONZE_ITEMS,
                 S.CONTACTS: BRONZE_CONTACTS}
SILVER: Final = {S.EVENTS: SILVER_EVENTS, S.CUSTOMERS: SILVER_CUSTOMERS, S.ITEMS: SILVER_ITEMS,
                 S.CONTACTS: SILVER_CONTACTS}
# landing files ingest refused (partial loads only): path, checksum, rows, reason; never content
QUARANTINE_LANDING_FILES = Table(Layer.QUARANTINE, "landing_files", S.REJECTED_FILES_SCHEMA)
QUARANTINE: Final = {S.EVENTS: QUARANTINE_EVENTS, S.CUSTOMERS: QUARANTINE_CUSTOMERS,
                     S.ITEMS: QUARANTINE_ITEMS, S.CONTACTS: QUARANTINE_CONTACTS}

# --- gold ------------------------------------------------------------------------------------
GOLD_USER_FEATURES = Table(Layer.GOLD, "user_features", S.USER_FEATURES_SCHEMA)
GOLD_CUSTOMER_SEGMENTS = Table(Layer.GOLD, "customer_segments", S.CUSTOMER_SEGMENTS_SCHEMA,
                               (keys_present(S.USER_ID, S.SEGMENT_ID),))
GOLD_USER_INDEX = Table(Layer.GOLD, "user_index",
                        checks=(keys_present(S.USER_ID, S.USER_IDX),))
GOLD_ITEM_INDEX = Table(Layer.GOLD, "item_index",
                        checks=(keys_present(S.ITEM_ID, S.ITEM_IDX),))
GOLD_RECOMMENDATIONS = Table(Layer.GOLD, "recommendations", S.RECOMMENDATIONS_SCHEMA, (
    keys_present(S.USER_ID, S.ITEM_ID, S.RANK), ("values_in_range", f"{S.RANK} >= 1")))
GOLD_SIMILAR_ITEMS = Table(Layer.GOLD, "similar_items")
GOLD_CAMPAIGN_AUDIENCES = Table(Layer.GOLD, "campaign_audiences", S.CAMPAIGN_AUDIENCES_SCHEMA,
                                (keys_present(S.CAMPAIGN_ID, S.USER_ID, S.CAMPAIGN_GROUP),))
GOLD_CAMPAIGN_RESULTS = Table(Layer.GOLD, "campaign_results", S.CAMPAIGN_RESULTS_SCHEMA)
GOLD_RECOMMENDATION_GAPS = Table(Layer.GOLD, "recommendation_gaps")

# --- ops -------------------------------------------------------------------------------------
OPS_PIPELINE_RUNS = Table(Layer.OPS, "pipeline_runs", PIPELINE_RUNS_SCHEMA)
OPS_DQ_RESULTS = Table(Layer.OPS, "dq_results", S.DQ_RESULTS_SCHEMA)
OPS_CONFORMED_BATCHES = Table(Layer.OPS, "conformed_batches")
# Every table conform writes: silver, quarantine and the batches it marks conformed (what a
# failed silver gate puts back as it was).
CONFORM_WRITES: Final = (*SILVER.values(), *QUARANTINE.values(), OPS_CONFORMED_BATCHES)
OPS_LAKE_LEASE = Table(Layer.OPS, "lake_lease", S.LEASE_SCHEMA)  # one run at a time
OPS_ERASURES = Table(Layer.OPS, "erasures", S.ERASURES_SCHEMA)  # one row per erased customer

# --- privacy: differentially private reports for partners, and the budget they spent -----
GOLD_SEGMENT_PROFILES_DP = Table(Layer.GOLD, "segment_profiles_dp", S.SEGMENT_PROFILES_DP_SCHEMA)
GOLD_SEGMENT_CATEGORY_REVENUE_DP = Table(Layer.GOLD, "segment_category_revenue_dp",
                                         S.SEGMENT_CATEGORY_REVENUE_DP_SCHEMA)
OPS_PRIVACY_BUDGET = Table(Layer.OPS, "privacy_budget", S.PRIVACY_BUDGET_SCHEMA)

# Every table above, by ``layer.name``: what a table found on disk is declared as.
DECLARED: Final = {table.qualified_name: table for table in list(globals().values())
                   if isinstance(table, Table)}
