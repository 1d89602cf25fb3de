"""The pseudonymisation key: equal to Python's HMAC, and never in a Spark plan."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pyspark.sql import functions as F

from lakerec.core import schemas as S
from lakerec.core.pii import PiiKey
from lakerec.ingest.personal import pseudonymised

BLOCK_SIZE = 64  # SHA-256 block, to which HMAC pads the key
EXPLAIN_MODES = ("simple", "extended", "codegen", "cost", "formatted")


@pytest.mark.parametrize("key", [b"k", b"lakerec-local-development-key", b"x" * 64, b"y" * 100])
def test_pseudonyms_equal_pythons_hmac(spark, key):
    values = ["ann@example.com", "", "Ünïcödé näme", "a" * 300]
    df = spark.createDataFrame([(v,) for v in values] + [(None,)], "v string")
    got = {r[0]: r[1] for r in df.select("v", PiiKey(key).pseudonym(F.col("v"))).collect()}
    for value in values:
        assert got[value] == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    assert got[None] is None


def forms_of(key: bytes) -> list[bytes]:
    """The key and its HMAC-padded forms (RFC 2104), as text and as hex in either case."""
    padded = key.ljust(BLOCK_SIZE, b"\0")
    inner, outer = bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)
    forms = [key]
    for raw in (key, inner, outer, inner.rstrip(b"\x36"), outer.rstrip(b"\x5c")):
        forms += [raw.hex().encode(), raw.hex().upper().encode()]
    return forms


def test_the_key_never_enters_a_plan(spark, capsys):
    """Build the customers transform with a known key and print its plan in every mode: the
    key appears nowhere, neither as text nor as hex, nor its padded forms."""
    key = b"supersecretkey"
    landed = spark.createDataFrame(
        [("U1", "ann@example.com", "Ann Lee", "+44 1", "2025-01-01", "x")],
        "user_id string, email string, name string, phone string, signup_ts string, "
        "_corrupt_record string")
    out = landed.transform(pseudonymised(S.CUSTOMERS, PiiKey(key)))
    assert out.first()[S.EMAIL] == hmac.new(key, b"ann@example.com", hashlib.sha256).hexdigest()
    texts = []
    for mode in EXPLAIN_MODES:
        out.explain(mode=mode)
        texts.append(capsys.readouterr().out)
    qe = out._jdf.queryExecution()
    texts += [qe.toString(), qe.analyzed().toString(), qe.optimizedPlan().toString(),
              qe.executedPlan().toString()]
    plans = "\n".join(texts).encode()
    assert b"hmac_sha256" in plans  # the plans were printed, and name the UDF
    for form in forms_of(key):
        assert form not in plans and form.lower() not in plans.lower()


def test_the_key_is_not_in_its_repr():
    assert "supersecret" not in repr(PiiKey(b"supersecret"))
