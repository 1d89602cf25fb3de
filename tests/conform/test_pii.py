from __future__ import annotations

import hashlib
import hmac

import pytest
from pyspark.sql import functions as F

from lakerec.conform.pii import hmac_sha256


@pytest.mark.parametrize("key", [b"k", b"lakerec-local-development-key", b"x" * 64, b"y" * 100])
def test_spark_hmac_equals_pythons(spark, key):
    values = ["ann@example.com", "", "Ünïcödé näme", "a" * 300]
    df = spark.createDataFrame([(v,) for v in values] + [(None,)], "v string")
    got = {r[0]: r[1] for r in df.select("v", hmac_sha256(F.col("v"), key)).collect()}
    for value in values:
        assert got[value] == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    assert got[None] is None
