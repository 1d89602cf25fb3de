"""Compact every Delta table, add missing constraints and VACUUM old files (weekly).

Run it on one machine (after ``make setup``)::

    spark-submit --jars "$(ls .jars/delta/*.jar | paste -sd,)" \
        jobs/maintain.py --conf conf/local.yaml

and on a cluster, with the library shipped as a zip (``make dist``)::

    spark-submit --master yarn --packages io.delta:delta-spark_4.2_2.13:4.4.0 \
        --py-files dist/lakerec.zip jobs/maintain.py --conf conf/prod.example.yaml
"""

import sys

from lakerec.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["maintain", *sys.argv[1:]]))
