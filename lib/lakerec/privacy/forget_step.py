"""Step ``forget``: erase customers from every table of the lake, on request.

``lakerec forget --users-file F`` (one customer id per line) deletes every row carrying one of
the ids from every Delta table under the lake root that has a ``user_id`` column: bronze,
silver, quarantine, gold (features, segments, recommendations, gaps, the index tables) and
ops. Deletes are MERGEs against the list, so no commit records an id. Each touched table is
then purged: files rewritten where deletion vectors hid rows, and VACUUMed with
``privacy.erasure.vacuum_retention_hours`` (0 by default: the old files holding the rows go
at once, and with them time travel to earlier versions). Statistics of identifying columns
are never collected (:mod:`lakerec.core.lake`), so the Delta log keeps no id either.

``ops.erasures`` gets one audit row per customer: the pseudonym of the id (never the id),
when, the rows deleted per table. Models trained before the erasure keep what they learned
until the next retrain; ``docs/privacy.md`` says what that means.
"""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime

from pyspark.sql import functions as F

from lakerec.conform.consent import read_id_list
from lakerec.core.errors import InputError, LakerecError
from lakerec.core.pii import pii_key
from lakerec.core.schemas import ERASURES_SCHEMA, USER_ID
from lakerec.core.step import StepContext, StepResult
from lakerec.core.tables import OPS_ERASURES

log = logging.getLogger("lakerec.forget")

# Bronze keeps ids as landed (text with spaces, or numbers); conform trims them.
MATCH = f"trim(cast(t.`{USER_ID}` as string)) = s.`{USER_ID}`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users-file", help="the customers to erase: a text file with one "
                        "user_id per line (a 'user_id' header line is skipped)")


def run(ctx: StepContext) -> StepResult:
    path = ctx.options.get("users_file")
    if not path:
        raise InputError("forget needs --users-file F: the ids of the customers to erase, one "
                         "per line")
    key = pii_key(ctx.config)  # before deleting anything: the audit needs it
    lake, spark = ctx.lake, ctx.spark
    ids = sorted(r[USER_ID] for r in read_id_list(spark, path, what="--users-file").collect())
    if not ids:
        raise InputError(f"--users-file {path} lists no customer ids")
    keys = spark.createDataFrame([(i,) for i in ids], f"{USER_ID} string")
    deleted: dict[str, dict[str, int]] = {i: {} for i in ids}
    result = StepResult(rows_in=len(ids), rows_out=0)
    touched = []
    for table in lake.tables():
        if table == OPS_ERASURES:
            continue
        frame = lake.read(table)
        if USER_ID not in frame.columns:
            continue
        counts = {r[USER_ID]: int(r["count"]) for r in frame.select(
            F.trim(F.col(USER_ID).cast("string")).alias(USER_ID)).join(keys, USER_ID)
            .groupBy(USER_ID).count().collect()}
        if not counts:
            continue
        log.info("%s: deleting %d rows of %d customers", table, sum(counts.values()),
                 len(counts))
        version, removed = lake.delete_matching(table, keys, MATCH)
        if removed != sum(counts.values()):
            raise LakerecError(f"{table}: {sum(counts.values())} rows of the erased customers "
                               f"found but {removed} deleted (v{version}); run forget again")
        for user, n in counts.items():
            deleted[user][table.qualified_name] = n
        result.versions_written[table.qualified_name] = version
        touched.append(table)
    retention = ctx.config.privacy.erasure.vacuum_retention_hours
    for table in touched:
        log.info("%s: purging files older than %d h", table, retention)
        lake.purge(table, retention)

    erased_at = datetime.now(UTC).replace(tzinfo=None)
    audit = [(ctx.run_id, key.pseudonym_of(user), erased_at, sum(rows.values()), rows,
              retention) for user, rows in deleted.items()]
    result.versions_written[OPS_ERASURES.qualified_name] = lake.append(
        spark.createDataFrame(audit, ERASURES_SCHEMA), OPS_ERASURES)
    total = sum(sum(rows.values()) for rows in deleted.values())
    absent = sum(1 for rows in deleted.values() if not rows)
    result.rows_out = total
    result.summary += [
        f"{len(ids):,} customers erased: {total:,} rows deleted from {len(touched)} tables"
        + (f"; {absent:,} had no rows" if absent else ""),
        *[f"  {t}: {sum(r.get(t.qualified_name, 0) for r in deleted.values()):,} rows"
          for t in touched],
        f"purged: VACUUM with retention {retention} h (no time travel before this erasure on "
        "those tables" + ("" if retention == 0 else f" beyond {retention} h") + ")",
        f"audit: {OPS_ERASURES} (pseudonyms only)",
    ]
    result.highlights.append(f"erased {len(ids):,} customers ({total:,} rows, "
                             f"{len(touched)} tables)")
    return result
