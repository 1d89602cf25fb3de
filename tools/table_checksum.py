"""Row count and an order-independent checksum of Delta tables, to compare two runs.

Usage: ``.venv/bin/python tools/table_checksum.py [--ignore COLUMN ...] TABLE_PATH ...``
(``--ignore _batch_id``: lineage columns that carry a run id differ between any two runs).

The checksum is the sum over rows of ``xxhash64`` of every column (in name order; a map as its
sorted entries), so it does
not depend on row or file order; two tables with the same rows give the same figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakerec.core.config import load_config
from lakerec.core.session import build_spark


def main(paths: list[str], ignore: list[str]) -> None:
    config = load_config(Path(__file__).resolve().parents[1] / "conf" / "local.yaml",
                         ["spark.log_level=ERROR", "spark.conf.spark.ui.enabled=false"])
    spark = build_spark(config.spark, config.paths.checkpoint)
    for path in paths:
        df = spark.read.format("delta").load(path)
        columns = [F.to_json(F.array_sort(F.map_entries(field.name)))  # maps: sorted entries
                   if isinstance(field.dataType, T.MapType) else F.col(field.name)
                   for field in sorted(df.schema.fields, key=lambda field: field.name)
                   if field.name not in ignore]
        row = df.agg(F.count(F.lit(1)).alias("rows"),
                     F.sum(F.xxhash64(*columns).cast("decimal(38,0)")).alias("checksum")).first()
        print(f"{path}: {row['rows']:,} rows, checksum {row['checksum']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", metavar="TABLE_PATH")
    parser.add_argument("--ignore", action="append", default=[], metavar="COLUMN",
                        help="leave this column out of the checksum (repeatable)")
    args = parser.parse_args()
    main(args.paths, args.ignore)
