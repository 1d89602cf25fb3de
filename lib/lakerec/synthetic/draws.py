"""Randomness of the generator: every random number is a hash of the seed, a salt naming its
purpose and the row's identity (:func:`uniform`), never ``F.rand``, so the data do not depend
on partitioning, parallelism or the order of rows. Times are epoch seconds (UTC) inside;
:func:`utc_text` formats them time-zone free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakerec.core.settings import SegmentShape

DAY_S = 86_400
TS_FORMAT = "yyyy-MM-dd HH:mm:ss"
_EPOCH_NTZ = "TIMESTAMP_NTZ'1970-01-01 00:00:00'"
_TWO_53 = 2**53

# --- randomness and small expressions ----------------------------------------------------
def uniform(seed: int, salt: str, *ids: Column) -> Column:
    """A uniform number in [0, 1) from a hash of ``seed``, ``salt`` and ``ids``."""
    hashed = F.xxhash64(F.lit(seed), F.lit(salt), *ids)
    return F.pmod(hashed, F.lit(_TWO_53)) / float(_TWO_53)


def normal(seed: int, salt: str, *ids: Column) -> Column:
    """A standard normal number (Box-Muller on two hashed uniforms)."""
    radius = F.sqrt(-2.0 * F.log(1.0 - uniform(seed, salt + ":r", *ids)))
    return radius * F.cos(2.0 * math.pi * uniform(seed, salt + ":a", *ids))


def pick(values: Sequence[Any], index: Column) -> Column:
    """``values[index]`` for a 0-based integer column."""
    return F.element_at(F.array(*[F.lit(v) for v in values]), index.cast("int") + 1)


def draw_index(u: Column, n: int) -> Column:
    """An integer in [0, n) from a uniform column."""
    return F.least(F.floor(u * n), F.lit(n - 1)).cast("int")


def utc_text(epoch_s: Column, fmt: str = TS_FORMAT) -> Column:
    """Format epoch seconds as UTC text, whatever the session time zone."""
    return F.date_format(F.timestamp_add("SECOND", epoch_s, F.expr(_EPOCH_NTZ)), fmt)


def epoch_seconds(day: date) -> int:
    """Epoch seconds of ``day`` at 00:00 UTC."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def zipf_rank(u: Column, n: Column, exponent: float) -> Column:
    """A 1-based rank in [1, n]: inverse CDF of a power law ``x^-s`` on [1, n + 1)."""
    if math.isclose(exponent, 1.0):
        x = F.pow(n + 1.0, u)
    else:
        a = 1.0 - exponent
        x = F.pow(1.0 + u * (F.pow(n + 1.0, a) - 1.0), 1.0 / a)
    return F.least(F.greatest(F.floor(x), F.lit(1)), n).cast("int")


def zipf_mass(rank: Column, n: Column, exponent: float) -> Column:
    """The probability :func:`zipf_rank` gives ``rank`` among ``n``."""
    if math.isclose(exponent, 1.0):
        return (F.log(rank + 1.0) - F.log(rank)) / F.log(n + 1.0)
    a = 1.0 - exponent
    return (F.pow(rank + 1.0, a) - F.pow(rank, a)) / (F.pow(n + 1.0, a) - 1.0)


def cluster_sizes(items: int, categories: int, taste_clusters: int) -> list[int]:
    """Items per taste cluster: item ``i`` is in category ``i % categories``, which is in
    cluster ``category % taste_clusters``."""
    sizes = [0] * taste_clusters
    for category in range(categories):
        sizes[category % taste_clusters] += items // categories + (category < items % categories)
    return sizes


def expected_purchase_fraction(segments: Mapping[str, SegmentShape]) -> float:
    """Expected share of purchases among the good (non-return) events."""
    weights = [s.share * s.events_per_customer for s in segments.values()]
    purchases = sum(w * s.purchase_share for w, s in zip(weights, segments.values(), strict=True))
    return purchases / sum(weights)
