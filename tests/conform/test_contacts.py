"""Channel contact logs, bronze -> silver: each rule's reason, repeats, conflicting groups,
and contacts silver already holds."""

from __future__ import annotations

from datetime import datetime

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakerec.conform.contacts import classify_contacts, silver_contacts
from lakerec.core import schemas as S

INGEST_TS = datetime(2026, 11, 10, 12, 0, 0)
COLUMNS = ["campaign_id", "user_id", "channel", "contact_type", "contact_ts"]
SENT = ("spring", "U1", "email", "sent", "2026-11-01 09:00:00")


def bronze(spark: SparkSession, rows: list[tuple], batch: str = "b1") -> DataFrame:
    schema = ", ".join(f"{c} string" for c in COLUMNS)
    return spark.createDataFrame(
        [(*r, INGEST_TS, "file:/landing/contacts/a.csv", batch) for r in rows],
        f"{schema}, _ingest_ts timestamp, _source_file string, _batch_id string")


def reasons(df: DataFrame) -> dict[tuple, str | None]:
    return {tuple(r[c] for c in COLUMNS): r[S.REJECT_REASON] for r in df.collect()}


def with_field(index: int, value: str | None, user: str = "U2") -> tuple:
    row = list(SENT)
    row[1] = user
    row[index] = value
    return tuple(row)


@pytest.mark.parametrize(("index", "value", "reason"), [
    (0, None, S.MISSING_CAMPAIGN_ID),
    (0, "  ", S.MISSING_CAMPAIGN_ID),
    (1, None, S.MISSING_USER_ID),
    (0, '{"id": 1}', S.NON_SCALAR_ID),
    (3, "bounced", S.UNKNOWN_CONTACT_TYPE),
    (3, None, S.UNKNOWN_CONTACT_TYPE),
    (4, None, S.MISSING_TIMESTAMP),
    (4, "first of november", S.UNPARSEABLE_TIMESTAMP),
    (4, "2026-11-12 12:00:01", S.FUTURE_TIMESTAMP),
    (3, "CLICKED", None),  # contact types are case-free
])
def test_each_rule_gives_its_reason(spark: SparkSession, index: int, value: str | None,
                                    reason: str | None) -> None:
    row = with_field(index, value)
    found = reasons(bronze(spark, [SENT, row]).transform(
        classify_contacts(ingest_tolerance_hours=24, known=None)))
    assert found == {SENT: None, row: reason}


def test_repeats_and_conflicting_groups_are_quarantined(spark: SparkSession) -> None:
    held_out = ("spring", "U1", "email", "held_out", "2026-11-01 09:00:00")
    opened = ("spring", "U3", "email", "opened", "2026-11-01 10:00:00")
    other_campaign = ("autumn", "U1", "email", "held_out", "2026-11-01 09:00:00")
    classified = bronze(spark, [SENT, held_out, opened, opened, other_campaign]).transform(
        classify_contacts(ingest_tolerance_hours=24, known=None))
    found = sorted((tuple(r[c] for c in COLUMNS), r[S.REJECT_REASON] or "")
                   for r in classified.collect())
    assert found == sorted([
        (SENT, S.CONFLICTING_GROUP), (held_out, S.CONFLICTING_GROUP),  # U1 both, in spring
        (opened, ""), (opened, S.DUPLICATE_ROW),
        (other_campaign, "")])
    silver = silver_contacts(classified).collect()
    assert {(r[S.CAMPAIGN_ID], r[S.USER_ID], r[S.CONTACT_TYPE]) for r in silver} == {
        ("spring", "U3", "opened"), ("autumn", "U1", "held_out")}
    assert all(isinstance(r[S.CONTACT_TS], datetime) and len(r[S.CONTACT_KEY]) == 64
               for r in silver)


def test_contacts_silver_holds_from_other_batches_are_duplicates(spark: SparkSession) -> None:
    first = bronze(spark, [SENT], batch="b1").transform(
        classify_contacts(ingest_tolerance_hours=24, known=None))
    known = silver_contacts(first)
    again = bronze(spark, [SENT], batch="b2").transform(
        classify_contacts(ingest_tolerance_hours=24, known=known))
    assert [r[S.REJECT_REASON] for r in again.collect()] == [S.DUPLICATE_ROW]
    # a rerun of the same batch (an interrupted attempt committed it) is not a duplicate
    rerun = bronze(spark, [SENT], batch="b1").transform(
        classify_contacts(ingest_tolerance_hours=24, known=known))
    assert [r[S.REJECT_REASON] for r in rerun.collect()] == [None]
