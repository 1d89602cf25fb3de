"""The order of ``lakerec run``: (step, options) pairs, run one after another.

A step that fails stops the run: nothing after it runs.
"""

from __future__ import annotations

from typing import Any

PIPELINE: tuple[tuple[str, dict[str, Any]], ...] = (
    ("generate", {"if_landing_empty": True}),
    ("ingest", {}),
    ("conform", {}),
)

STEPS: tuple[str, ...] = ("generate", "ingest", "conform")
