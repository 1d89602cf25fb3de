"""No raw personal data at rest, consent honoured, erasure complete: on a real lake.

One small generated lake (300 customers) runs generate, ingest, conform, features, segment
and recommend; the tests then read every file under it. The erasure test comes last: it
changes the lake.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakerec.cli.runner import run_step
from lakerec.core import schemas as S
from lakerec.core.config import Config
from lakerec.core.lake import Lake
from lakerec.core.pii import pii_key
from lakerec.core.tables import (
    GOLD_CUSTOMER_SEGMENTS,
    GOLD_RECOMMENDATION_GAPS,
    GOLD_RECOMMENDATIONS,
    OPS_ERASURES,
    OPS_PIPELINE_RUNS,
    SILVER_CUSTOMERS,
    SILVER_EVENTS,
)
from tests.conftest import make_config

RUN_DATE = date(2026, 6, 1)
SUPPRESSED = ("U000003", "U000004")  # the suppression file's customers


@pytest.fixture(scope="module")
def lake_config(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Config:
    root = tmp_path_factory.mktemp("privacy")
    config = make_config(root, "generate.customers=300", "generate.items=60",
                         "generate.events=6000", "generate.files=1",
                         "generate.opt_out_share=0.1",
                         "privacy.consent.suppression_file=suppressed.txt",
                         "segment.k=3", "segment.seeds=[7]")
    run_step("generate", config, RUN_DATE, spark=spark, out=lambda _: None)
    Path(config.paths.landing, "suppressed.txt").write_text("user_id\n" + "\n".join(SUPPRESSED))
    for step in ("ingest", "conform", "features", "segment", "recommend"):
        run_step(step, config, RUN_DATE, spark=spark, out=lambda _: None)
    return config


def landed_personal_values(config: Config) -> set[str]:
    """Every non-blank email, name and phone of the landed customer files, as landed."""
    values = set()
    for path in Path(config.paths.landing, S.CUSTOMERS).rglob("*.json"):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            values |= {str(row[c]).strip() for c in S.PII_COLUMNS if str(row.get(c) or "").strip()}
    return values


def lake_files(config: Config, *, skip: tuple[str, ...] = ()) -> list[Path]:
    root = Path(config.paths.root)
    return [p for p in root.rglob("*") if p.is_file()
            and not any(part in p.relative_to(root).parts[:2] for part in skip)]


def found_in_files(files: list[Path], needles: set[str]) -> dict[str, set[str]]:
    """Which needles each file holds: raw bytes (logs, checkpoints, .crc) and, for Parquet,
    every decoded string value (compression can hide a value from a byte search)."""
    found: dict[str, set[str]] = {}
    encoded = {n: n.encode() for n in needles}
    for path in files:
        data = path.read_bytes()
        hits = {n for n, b in encoded.items() if b in data}
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for column in table.columns:
                for value in column.to_pylist():
                    text = value if isinstance(value, str) else json.dumps(value, default=str)
                    hits |= {n for n in needles if n in text}
        if hits:
            found[str(path)] = hits
    return found


def test_no_raw_personal_data_in_any_file_of_the_lake(lake_config: Config) -> None:
    raw = landed_personal_values(lake_config)
    assert len(raw) > 500                      # emails, names and phones of 300 customers
    files = lake_files(lake_config)
    assert any(p.suffix == ".crc" for p in files) and any(p.suffix == ".json" for p in files)
    assert found_in_files(files, raw) == {}


def test_personal_columns_hold_pseudonyms_from_bronze_on(spark: SparkSession,
                                                         lake_config: Config) -> None:
    lake = Lake(spark, lake_config.paths.root)
    key = pii_key(lake_config)
    for layer in ("bronze", "silver", "quarantine"):
        table = next(t for t in lake.tables() if t.layer == layer and t.name == S.CUSTOMERS)
        emails = [r[0] for r in lake.read(table).select(S.EMAIL).where(
            F.col(S.EMAIL).isNotNull()).collect()]
        assert emails and all(len(e) == 64 and "@" not in e for e in emails), layer
    silver = lake.read(SILVER_CUSTOMERS)
    first = silver.where(F.col(S.USER_ID) == "U000000").first()
    landed = next(json.loads(line) for p in Path(lake_config.paths.landing, S.CUSTOMERS)
                  .rglob("*.json") for line in p.read_text().splitlines()
                  if json.loads(line)[S.USER_ID] == "U000000")
    assert first[S.EMAIL] == key.pseudonym_of(landed[S.EMAIL].strip().lower())
    quarantined = lake.read(next(t for t in lake.tables()
                                 if t.layer == "quarantine" and t.name == S.CUSTOMERS))
    assert quarantined.where(F.col(S.REJECT_REASON) == S.INVALID_EMAIL).count() > 0


def test_opted_out_customers_get_no_recommendations_and_the_run_counts_them(
        spark: SparkSession, lake_config: Config) -> None:
    lake = Lake(spark, lake_config.paths.root)
    opted_out = {r[0] for r in lake.read(SILVER_CUSTOMERS).where(
        ~F.col(S.MARKETING_CONSENT)).select(S.USER_ID).collect()}
    assert 10 < len(opted_out) < 60              # 10% of 300 landed "no"
    excluded = opted_out | set(SUPPRESSED)
    recs = lake.read(GOLD_RECOMMENDATIONS)
    recommended = {r[0] for r in recs.select(S.USER_ID).distinct().collect()}
    assert recommended and not recommended & excluded
    active = {r[0] for r in lake.read(SILVER_EVENTS).where(
        F.col(S.EVENT_TS) >= F.date_sub(F.lit(RUN_DATE), lake_config.recommend.active_window_days))
        .select(S.USER_ID).distinct().collect()}
    run = lake.read(OPS_PIPELINE_RUNS).where(F.col("step") == "recommend").first()
    assert run["customers_suppressed"] == len(active & excluded) > 0
    gaps = lake.read(GOLD_RECOMMENDATION_GAPS).where(F.col(S.GAP_REASON) == S.OPTED_OUT_REASON)
    assert {r[0] for r in gaps.select(S.USER_ID).collect()} == active & excluded


def test_forget_erases_customers_from_every_table_and_file(
        spark: SparkSession, lake_config: Config, tmp_path: Path) -> None:
    lake = Lake(spark, lake_config.paths.root)
    segments = lake.read(GOLD_CUSTOMER_SEGMENTS)
    erased = sorted(r[0] for r in segments.select(S.USER_ID).orderBy(S.USER_ID).limit(3)
                    .collect())
    customers = lake.read(SILVER_CUSTOMERS).where(F.col(S.USER_ID).isin(*erased))
    pseudonyms = {v for r in customers.select(*S.PII_COLUMNS).collect() for v in r if v}
    assert len(pseudonyms) >= 6
    with_ids = [t for t in lake.tables() if S.USER_ID in lake.read(t).columns]

    def rows(table, users):
        return lake.read(table).where(
            F.trim(F.col(S.USER_ID).cast("string")).isin(*users)).count()

    before = {t: (lake.read(t).count(), rows(t, erased)) for t in with_ids}
    assert sum(1 for _, theirs in before.values() if theirs) >= 8   # bronze to gold
    users_file = tmp_path / "erase.txt"
    users_file.write_text("\n".join(erased) + "\n")

    result = run_step("forget", lake_config, RUN_DATE, spark=spark,
                      options={"users_file": str(users_file)}, out=lambda _: None)

    for table, (total, theirs) in before.items():
        assert rows(table, erased) == 0, table
        assert lake.read(table).count() == total - theirs, table   # exactly their rows
    key = pii_key(lake_config)
    audit = lake.read(OPS_ERASURES).collect()
    assert {r[S.USER_PSEUDONYM] for r in audit} == {key.pseudonym_of(u) for u in erased}
    assert sum(r["rows_deleted"] for r in audit) == sum(t for _, t in before.values())
    assert result.rows_out == sum(t for _, t in before.values())
    # no file under the lake holds their ids or pseudonyms; the audit holds only its own
    assert found_in_files(lake_files(lake_config), {*erased, *pseudonyms}) == {}
    audit_hits = found_in_files(lake_files(lake_config), {key.pseudonym_of(erased[0])})
    assert audit_hits and all("/ops/erasures/" in path for path in audit_hits)

    run_step("recommend", lake_config, RUN_DATE, spark=spark, out=lambda _: None)
    recommended = {r[0] for r in lake.read(GOLD_RECOMMENDATIONS).select(S.USER_ID).collect()}
    assert recommended and not recommended & set(erased)
