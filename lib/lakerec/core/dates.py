"""Day boundaries of a run date (naive UTC timestamps, as the event tables store them)."""

from __future__ import annotations

from datetime import date, datetime, time


def midnight(day: date) -> datetime:
    """The first instant of ``day``: events before it happened before the run date."""
    return datetime.combine(day, time())
