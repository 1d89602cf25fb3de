"""Score customers with the ALS champion into gold.recommendations and gold.similar_items.

Run it on one machine (after ``make setup``)::

    spark-submit --jars "$(ls .jars/delta/*.jar | paste -sd,)" \
        jobs/recommend.py --conf conf/local.yaml --run-date 2026-11-27

and on a cluster, with the library shipped as a zip (``make dist``)::

    spark-submit --master yarn --packages io.delta:delta-spark_4.2_2.13:4.4.0 \
        --py-files dist/lakerec.zip jobs/recommend.py --conf conf/prod.example.yaml
"""

import sys

from lakerec.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["recommend", *sys.argv[1:]]))
