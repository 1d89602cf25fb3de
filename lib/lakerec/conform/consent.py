"""Marketing consent: who must not be targeted.

A customer is opted out when silver.customers says ``marketing_consent = false`` (landed with
the customer's row), when the flag is unknown and ``privacy.consent.default`` is false, or
when their id is in the suppression file (``privacy.consent.suppression_file``). Recommend
drops them; campaign audiences will too.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakerec.core.errors import InputError
from lakerec.core.lake import Lake
from lakerec.core.schemas import MARKETING_CONSENT, USER_ID
from lakerec.core.settings import Config
from lakerec.core.tables import SILVER_CUSTOMERS


def read_id_list(spark: SparkSession, path: str, *, what: str) -> DataFrame:
    """``(user_id)`` of a text file with one customer id per line; blank lines and a
    ``user_id`` header line are skipped, repeats dropped."""
    if not Path(path).is_file():
        raise InputError(f"{what} {path} does not exist")
    lines = spark.read.text(str(Path(path).resolve()))
    return (lines.select(F.trim(F.col("value")).alias(USER_ID))
            .where((F.col(USER_ID) != "") & (F.col(USER_ID) != USER_ID)).distinct())


def suppression_file(config: Config) -> str | None:
    """The configured suppression file's path (relative paths are under the landing folder)."""
    name = config.privacy.consent.suppression_file
    if not name:
        return None
    return name if Path(name).is_absolute() else str(Path(config.paths.landing) / name)


def opted_out(spark: SparkSession, lake: Lake, config: Config) -> DataFrame:
    """``(user_id)`` of every customer who must not receive marketing."""
    consent = F.coalesce(F.col(MARKETING_CONSENT), F.lit(config.privacy.consent.default))
    parts = []
    customers = lake.read_if_exists(SILVER_CUSTOMERS)
    if customers is not None and MARKETING_CONSENT in customers.columns:
        parts.append(customers.where(~consent).select(USER_ID))
    path = suppression_file(config)
    if path is not None:
        parts.append(read_id_list(spark, path, what="privacy.consent.suppression_file"))
    if not parts:
        return spark.createDataFrame([], f"{USER_ID} string")
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out.distinct()
