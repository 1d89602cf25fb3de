"""One run at a time per lake: a lease in ``ops.lake_lease``.

Every ``lakerec`` command that changes the lake (a step, or ``lakerec run`` for all of its
steps) holds the lease while it runs. Taking it is one MERGE on the table's single row:
insert it when absent, or take it over when it was released or has expired. Delta's
optimistic concurrency decides between two runs that try at once: one commits, the other's
MERGE conflicts (or finds the lease held) and it waits ``lease.wait_seconds``, then refuses
with one line naming the holder. A run killed before it releases the lease (``kill -9``, a
lost node) blocks the lake until the lease expires (``lease.hours``), unless it ran on this
host: a holder whose process no longer exists here is dead, and its lease is taken over at
once (a compare-and-set on its run id, so two runs cannot both take it).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from pyspark.sql import Row

from lakerec.core.errors import LakeBusyError
from lakerec.core.lake import CONCURRENT_WRITE_ERRORS, Lake
from lakerec.core.settings import LeaseConfig
from lakerec.core.tables import OPS_LAKE_LEASE

log = logging.getLogger("lakerec.lease")

_KEY = ["lease"]
# The lease may be taken when it was released, has expired, or is already this run's.
_FREE = "t.released OR t.expires_at < s.acquired_at OR t.holder = s.holder"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _died_here(lease: Row) -> bool:
    """Whether the lease's holder ran on this host and its process is gone."""
    if lease["released"] or lease["host"] != socket.gethostname():
        return False
    try:
        os.kill(int(lease["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _claim(lake: Lake, holder: str, hours: float) -> Row | None:
    """Try once to take the lease: None when taken, else the row of the run holding it."""
    lake.create_if_absent(OPS_LAKE_LEASE)
    now = _now()
    claim = lake.spark.createDataFrame(
        [("lake", holder, socket.gethostname(), os.getpid(), now,
          now + timedelta(hours=hours), False)], OPS_LAKE_LEASE.schema)
    free = _FREE
    current = lake.read(OPS_LAKE_LEASE).first()
    if current is not None and current["holder"] != holder and _died_here(current):
        log.warning("run %s (pid %s on this host) died holding the lake's lease since %s: "
                    "taking it over", current["holder"], current["pid"], current["acquired_at"])
        free = f"{_FREE} OR t.holder = '{current['holder'].replace(chr(39), '')}'"
    try:
        lake.upsert(claim, OPS_LAKE_LEASE, _KEY, when=free)
    except CONCURRENT_WRITE_ERRORS:
        log.info("another run took the lease at the same moment")
    current = lake.read(OPS_LAKE_LEASE).first()
    return None if current is not None and current["holder"] == holder else current


@contextmanager
def lake_lease(lake: Lake, config: LeaseConfig, holder: str) -> Iterator[None]:
    """Hold the lake's lease for the body; wait for it up to ``config.wait_seconds``.

    Raises
    ------
    LakeBusyError
        When another run still holds it after the wait.
    """
    deadline = time.monotonic() + config.wait_seconds
    while (current := _claim(lake, holder, config.hours)) is not None:
        if time.monotonic() >= deadline:
            raise LakeBusyError(
                f"another run ({current['holder']} on {current['host']}, pid {current['pid']}) "
                f"holds the lake at {lake.root} since {current['acquired_at']:%Y-%m-%d %H:%M:%S}"
                f" UTC (until {current['expires_at']:%Y-%m-%d %H:%M:%S} UTC at the latest): "
                "try again when it has finished, or set lease.wait_seconds to wait for it")
        log.info("the lake is held by run %s since %s; waiting", current["holder"],
                 current["acquired_at"])
        time.sleep(config.poll_seconds)
    try:
        yield
    finally:
        released = lake.spark.createDataFrame(
            [("lake", holder, socket.gethostname(), os.getpid(), _now(), _now(), True)],
            OPS_LAKE_LEASE.schema)
        lake.upsert(released, OPS_LAKE_LEASE, _KEY, update={"released": "true"},
                    when="t.holder = s.holder", insert=False)
