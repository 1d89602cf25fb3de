"""Cost of ``lakerec forget`` for ``--customers`` customers on an existing lake (for example
the workspace ``make run`` leaves).

    .venv/bin/python bench/erasure.py --conf conf/local.yaml --customers 100 --repeats 3 \
        --record bench/results/erasure.jsonl

Each repeat erases another ``--customers`` customers with purchases (the first ones by a
seeded hash of their id, so reruns pick the same ones), timing the whole ``forget`` step:
finding their rows in every table, the MERGE deletes, the purge (REORG and VACUUM) and the
audit. It changes the lake: run it on a copy you can lose. Prints the median and appends one
JSON line to ``--record``. See ``bench/privacy.md``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from pyspark.sql import functions as F

from lakerec.cli.bench import append_record, machine
from lakerec.cli.runner import run_step, spark_for
from lakerec.core.config import load_config
from lakerec.core.lake import Lake
from lakerec.core.schemas import USER_ID
from lakerec.core.tables import GOLD_USER_FEATURES


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--conf", default="conf/local.yaml")
    args.add_argument("--customers", type=int, default=100)
    args.add_argument("--repeats", type=int, default=3)
    args.add_argument("--record")
    opts = args.parse_args()
    config = load_config(opts.conf, [])
    spark = spark_for(config)
    lake = Lake(spark, config.paths.root)
    tables = len(lake.tables())
    ordered = (lake.read(GOLD_USER_FEATURES).select(USER_ID).distinct()
               .orderBy(F.xxhash64(F.col(USER_ID), F.lit(7))).limit(opts.customers * opts.repeats)
               .collect())
    ids = [r[USER_ID] for r in ordered]
    seconds, rows = [], []
    for repeat in range(opts.repeats):
        batch = ids[repeat * opts.customers:(repeat + 1) * opts.customers]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as users:
            users.write("\n".join(batch) + "\n")
        start = time.perf_counter()
        result = run_step("forget", config, date.today(), spark=spark,
                          options={"users_file": users.name})
        seconds.append(time.perf_counter() - start)
        rows.append(result.rows_out)
        Path(users.name).unlink()
    median = statistics.median(seconds)
    print(f"forget {opts.customers} customers: median {median:.1f} s of {opts.repeats} "
          f"({', '.join(f'{s:.1f}' for s in seconds)}); rows deleted {rows}; {tables} tables")
    if opts.record:
        append_record(opts.record, {
                "bench": "erasure", "customers": opts.customers, "median_s": round(median, 1),
                "runs_s": [round(s, 1) for s in seconds], "rows_deleted": rows,
                "tables_in_lake": tables,
                "lake_customers": lake.read(GOLD_USER_FEATURES).select(USER_ID).distinct().count(),
                "machine": machine(),
                "spark_master": config.spark.master,
                "at": datetime.now(UTC).isoformat(timespec="seconds")})
    spark.stop()


if __name__ == "__main__":
    main()
