"""The one Spark session factory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from lakerec.core.settings import SparkConfig

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def delta_jars(jars_dir: str) -> list[str]:
    """The jar files in ``jars_dir`` (absolute paths), or none where it is unset or empty."""
    if not jars_dir:
        return []
    folder = Path(jars_dir)
    return sorted(str(p.resolve()) for p in folder.glob("*.jar")) if folder.is_dir() else []


def build_spark(spark_config: SparkConfig, checkpoint_dir: str) -> SparkSession:
    """Build (or return the running) Spark session with Delta Lake enabled.

    Parameters
    ----------
    spark_config
        Master, app name, Delta package and any ``spark.*`` settings.
    checkpoint_dir
        Spark checkpoint directory; ALS overflows its stack without one.

    Notes
    -----
    ``spark.jars`` and ``spark.jars.packages`` put Delta on the driver's classpath only when
    this call starts the JVM (``python``, ``lakerec``, pytest). Under ``spark-submit`` the JVM
    is already running: pass Delta there with ``--jars`` or ``--packages``.
    """
    builder = SparkSession.builder.appName(spark_config.app_name)
    if spark_config.master:
        builder = builder.master(spark_config.master)
    if (spark_config.master or "").startswith("local"):
        # Python workers must run this interpreter (it has lakerec and its dependencies), not
        # the first python3 on PATH. On a cluster the executors' Python is the cluster's.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    jars = delta_jars(spark_config.delta_jars_dir)
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    elif spark_config.delta_package:
        builder = builder.config("spark.jars.packages", spark_config.delta_package)
    for key, value in {**DELTA_CONF, **spark_config.conf}.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        builder = builder.config(key, text)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(spark_config.log_level)
    if "://" not in checkpoint_dir:
        Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
    spark.sparkContext.setCheckpointDir(checkpoint_dir)
    return spark
