"""The order of ``lakerec run``: (step, options) pairs, run one after another.

A step that fails stops the run: nothing after it runs.
"""

from __future__ import annotations

from typing import Any

from lakerec.core.tables import Layer

PIPELINE: tuple[tuple[str, dict[str, Any]], ...] = (
    ("generate", {"if_landing_empty": True}),
    ("ingest", {}),
    ("quality", {"layer": Layer.BRONZE}),
    ("conform", {}),
    ("quality", {"layer": Layer.SILVER}),
    ("features", {}),
    ("segment", {}),
    ("train", {}),
    ("recommend", {}),
    ("quality", {"layer": Layer.GOLD}),
    # differentially private reports for partners (docs/privacy.md), only from gold that
    # passed its checks: a failed gate spends no privacy budget
    ("dp_report", {}),
    # campaigns whose day it is (docs/campaigns.md): planned on their send date, measured
    # once their attribution window has closed
    ("campaign", {"action": "due"}),
    # the uplift model, relearned from every measured campaign (champion only on evidence)
    ("campaign", {"action": "uplift"}),
    # compaction, constraints and old files of every table (weekly on its own in Airflow)
    ("maintain", {}),
)

STEPS: tuple[str, ...] = ("generate", "ingest", "conform", "quality", "features", "segment",
                          "train", "evaluate", "recommend", "dp_report", "forget", "maintain",
                          "campaign")
