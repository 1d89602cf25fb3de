"""Erase customers from every table of the lake (ids in --users-file).

Run it on one machine (after ``make setup``)::

    spark-submit --jars "$(ls .jars/delta/*.jar | paste -sd,)" \
        jobs/forget.py --conf conf/local.yaml --users-file erase.txt

and on a cluster, with the library shipped as a zip (``make dist``)::

    spark-submit --master yarn --packages io.delta:delta-spark_4.2_2.13:4.4.0 \
        --py-files dist/lakerec.zip jobs/forget.py --conf conf/prod.example.yaml \
        --users-file erase.txt
"""

import sys

from lakerec.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["forget", *sys.argv[1:]]))
