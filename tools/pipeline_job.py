"""The whole pipeline (``lakerec run``) as one Spark application, for ``spark-submit``.

``jobs/<step>.py`` submit one step each (what Airflow does); this runs every step of
:data:`lakerec.cli.pipeline.PIPELINE` in one session, paying the JVM start once::

    spark-submit --master spark://127.0.0.1:7077 --py-files dist/lakerec.zip \
        --jars "$(ls .jars/delta/*.jar | paste -sd,)" tools/pipeline_job.py \
        --conf conf/local.yaml --run-date 2026-11-27 --set spark.master=null \
        --set spark.delta_jars_dir= --set spark.delta_package=
"""

import sys

from lakerec.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
