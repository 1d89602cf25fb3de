"""Cost of pseudonymising customers with the key out of the plan (pandas UDF) against the
earlier Spark-native HMAC, whose key was a literal of every plan (``sha2`` over the padded
key; kept here only as the reference it is measured against).

    .venv/bin/python bench/pii_hmac.py --customers 20000 --repeats 5 \
        --record bench/results/pii_hmac.jsonl

Each repeat pseudonymises email, name and phone of ``--customers`` rows (cached first) and
writes them to Spark's ``noop`` sink; one untimed warm-up run per method first. Prints the
medians and appends one JSON line per method to ``--record``. See ``bench/privacy.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakerec.cli.bench import append_record, machine
from lakerec.core.config import load_config
from lakerec.core.pii import PiiKey, normalized_email, normalized_name, normalized_phone
from lakerec.core.session import build_spark

KEY = b"bench-key"


def literal_key_hmac(value: Column, key: bytes) -> Column:
    """The earlier implementation: HMAC-SHA256 with Spark's ``sha2``, the padded key a
    binary literal (so the key was in every plan). The reference only."""
    padded = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest()
    inner_key = bytes(b ^ 0x36 for b in padded.ljust(64, b"\0"))
    outer_key = bytes(b ^ 0x5C for b in padded.ljust(64, b"\0"))
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_key), F.encode(value, "UTF-8")), 256))
    return F.sha2(F.concat(F.lit(outer_key), inner), 256)


def customers(spark, n: int) -> DataFrame:
    idx = F.col("id")
    return spark.range(n).select(
        F.format_string("first%d.last%d@example.com", idx, idx % 997).alias("email"),
        F.format_string("First%d  Last%d", idx, idx % 997).alias("name"),
        F.format_string("+44 %09d", (idx * 7919) % 1_000_000_000).alias("phone"),
    ).cache()


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--customers", type=int, default=20_000)
    args.add_argument("--repeats", type=int, default=5)
    args.add_argument("--record")
    opts = args.parse_args()
    config = load_config("conf/local.yaml", ["spark.conf.spark.ui.enabled=false",
                                             "spark.log_level=ERROR"])
    spark = build_spark(config.spark, "/tmp/lakerec-bench-checkpoints")
    frame = customers(spark, opts.customers)
    frame.count()
    key = PiiKey(KEY)
    methods: dict[str, Callable[[Column], Column]] = {
        "pandas_udf (key in closure)": key.pseudonym,
        "sha2 literal key (leaks the key; reference)": lambda c: literal_key_hmac(c, KEY),
    }
    normalise = {"email": normalized_email, "name": normalized_name, "phone": normalized_phone}
    for method, hmac_of in methods.items():
        out = frame.select(*[hmac_of(normalise[c](F.col(c))).alias(c) for c in normalise])
        out.write.format("noop").mode("overwrite").save()  # warm-up: Python workers, JIT
        seconds = []
        for _ in range(opts.repeats):
            start = time.perf_counter()
            out.write.format("noop").mode("overwrite").save()
            seconds.append(time.perf_counter() - start)
        median = statistics.median(seconds)
        print(f"{method}: median {median:.2f} s of {opts.repeats} "
              f"({', '.join(f'{s:.2f}' for s in seconds)}) for {opts.customers:,} customers")
        if opts.record:
            append_record(opts.record, {
                    "bench": "pii_hmac", "method": method, "customers": opts.customers,
                    "columns": len(normalise), "median_s": round(median, 3),
                    "runs_s": [round(s, 3) for s in seconds],
                    "machine": machine(),
                    "spark_master": config.spark.master,
                    "at": datetime.now(UTC).isoformat(timespec="seconds")})
    spark.stop()


if __name__ == "__main__":
    main()
